// The null port: a source of fixed frames and a sink that frees, for benchmarks.
import { afterEach, describe, expect, test } from "bun:test";
import type { OpenOptions } from "../../src/ethdev/driver.ts";
import { Burst, type Port } from "../../src/ethdev/port.ts";
import { openPort } from "../../src/index.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { driver, nullFrame, NullPort } from "../../drivers/null/index.ts";

function open(spec: string, options: OpenOptions = {}): NullPort {
  return openPort(spec, options) as NullPort;
}

const cleanup: (Port | Mempool)[] = [];
function track<T extends Port | Mempool>(x: T): T {
  cleanup.push(x);
  return x;
}
afterEach(() => {
  for (const x of cleanup.splice(0).reverse()) {
    if (x instanceof Mempool) x.destroy();
    else x.close();
  }
});

const newPool = (count = 1024, dataRoom = 2048): Mempool => track(Mempool.create({ count, dataRoom, hugepages: "never", name: "null-test" }));

function ipChecksumOk(f: Uint8Array): boolean {
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += (f[i]! << 8) | f[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

describe("null source", () => {
  test("produces frames of the given size: Ethernet/IPv4/UDP with correct lengths and checksum", () => {
    for (const size of [64, 60, 1514, 128]) {
      const pool = newPool();
      const p = track(open(`null:size=${size},mode=source`, { pool }));
      p.start();
      const burst = new Burst(32);
      expect(p.rxBurst(0, burst)).toBe(32);
      expect(burst.count).toBe(32);
      expect(new Set(burst.bufs).size).toBe(32);
      for (let i = 0; i < 32; i++) {
        const b = burst.bufs[i]!;
        expect(pool.isAllocated(b)).toBe(true);
        expect(pool.len[b]).toBe(size);
        expect(pool.port[b]).toBe(p.id);
        const f = pool.bytes.subarray(pool.offset(b), pool.offset(b) + size);
        expect([f[12], f[13]]).toEqual([0x08, 0x00]); // IPv4
        expect(f[14]).toBe(0x45);
        expect((f[16]! << 8) | f[17]!).toBe(size - 14); // IP total length
        expect(f[23]).toBe(17); // UDP
        expect((f[38]! << 8) | f[39]!).toBe(size - 34); // UDP length
        expect(ipChecksumOk(f)).toBe(true);
        expect([...f.subarray(6, 12)].map((x) => x.toString(16).padStart(2, "0")).join(":")).toBe(p.macAddress());
      }
      expect(p.stats()).toMatchObject({ ipackets: 32, ibytes: 32 * size, opackets: 0 });
      expect(p.txBurst(0, burst)).toBe(0); // a source does not take frames
      burst.freeFrom(pool, 0);
      expect(pool.inUse()).toBe(0);
    }
  });

  test("as fast as asked until the pool runs dry; then partial bursts and rxNoMbuf", () => {
    const pool = newPool(100);
    const p = track(open("null:mode=source", { pool }));
    p.start();
    const burst = new Burst(32);
    const taken: number[] = [];
    expect(p.rxBurst(0, burst)).toBe(32);
    taken.push(...burst.bufs.subarray(0, 32));
    expect(p.rxBurst(0, burst)).toBe(32);
    taken.push(...burst.bufs.subarray(0, 32));
    expect(p.rxBurst(0, burst)).toBe(32);
    taken.push(...burst.bufs.subarray(0, 32));
    expect(p.rxBurst(0, burst)).toBe(4); // 100 - 96
    taken.push(...burst.bufs.subarray(0, 4));
    expect(p.rxBurst(0, burst)).toBe(0);
    expect(p.stats()).toMatchObject({ ipackets: 100, rxNoMbuf: 28 + 32 });
    expect(new Set(taken).size).toBe(100);
    for (const b of taken) pool.free(b);
    p.resetStats();
    expect(p.stats().rxNoMbuf).toBe(0);
  });

  test("a stopped port produces nothing; sink mode produces nothing", () => {
    const pool = newPool();
    const p = track(open("null", { pool }));
    const burst = new Burst(8);
    expect(p.rxBurst(0, burst)).toBe(0);
    expect(p.link().up).toBe(false);
    p.start();
    expect(p.link().up).toBe(true);
    const sink = track(open("null:mode=sink", { pool }));
    sink.start();
    expect(sink.rxBurst(0, burst)).toBe(0);
    expect(pool.inUse()).toBe(0);
  });

  test("the template frame", () => {
    const f = nullFrame(20, "02:00:00:00:00:07");
    expect(f.length).toBe(20);
    expect([...f.subarray(0, 14)]).toEqual([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 7, 8, 0]);
  });
});

describe("null sink", () => {
  test("frees everything it is given and counts packets and bytes", () => {
    const pool = newPool(256);
    const p = track(open("null:mode=sink", { pool, txQueues: 2 }));
    p.start();
    const burst = new Burst(64);
    let bytes = 0;
    for (let i = 0; i < 64; i++) {
      const b = pool.take();
      pool.len[b] = 60 + i;
      bytes += 60 + i;
      burst.push(b);
    }
    expect(p.txBurst(1, burst, 10)).toBe(54); // from offset 10
    expect(pool.inUse()).toBe(10);
    let rest = 0;
    for (let i = 0; i < 10; i++) rest += 60 + i;
    expect(p.stats()).toMatchObject({ opackets: 54, obytes: bytes - rest, ipackets: 0 });
    expect(p.queueStats(1, "tx")).toMatchObject({ packets: 54 });
    expect(p.queueStats(0, "tx").packets).toBe(0);
    burst.count = 10;
    expect(p.txBurst(0, burst)).toBe(10);
    expect(pool.inUse()).toBe(0);
    expect(p.stats().opackets).toBe(64);
    expect(() => p.txBurst(2, burst)).toThrow(/tx queue 2 does not exist/);
  });

  test("both: a loop of rx then tx keeps the pool whole", () => {
    const pool = newPool(512);
    const p = track(open("null:size=128", { pool }));
    p.start();
    const burst = new Burst(32);
    for (let i = 0; i < 10_000; i++) {
      p.rxBurst(0, burst);
      p.txBurst(0, burst);
    }
    expect(p.stats()).toMatchObject({ ipackets: 320_000, opackets: 320_000, ibytes: 320_000 * 128, obytes: 320_000 * 128 });
    expect(pool.inUse()).toBe(0);
  });
});

describe("null spec errors", () => {
  test("unknown arguments, bad sizes and modes, frames larger than the pool's buffers", () => {
    expect(() => open("null:speed=10")).toThrow(/port spec "null:speed=10": unknown argument "speed"; accepted: size=<int>.*mode=<string>/);
    expect(() => open("null:size=abc")).toThrow(/size="abc" is not a whole number/);
    expect(() => open("null:size=10")).toThrow(/port spec "null:size=10": size=10 is out of range; give 14\.\.9018 bytes/);
    expect(() => open("null:size=10000")).toThrow(/size=10000 is out of range/);
    expect(() => open("null:mode=fast")).toThrow(/mode=fast is not a null port mode; give mode=source, mode=sink, mode=both/);
    expect(() => open("null:64")).toThrow(/"64" is not key=value/);
    const pool = newPool(16, 1024);
    expect(() => open("null:size=1500", { pool })).toThrow(/frames of 1500 bytes do not fit the pool's 1024-byte buffers; create the pool with dataRoom ≥ 1500/);
    expect(track(open("null:size=1500,mode=sink", { pool })).frameSize).toBe(1500); // a sink makes no frames
    expect(driver.usage).toMatch(/^null\[:size=N,mode=source\|sink\|both\]/);
  });
});
