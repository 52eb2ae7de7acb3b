// The ring port: a 10 M packet forward through two links in one process with every buffer accounted for,
// the same link used from two pinned workers, and the refusals.
import { afterEach, describe, expect, test } from "bun:test";
import type { OpenOptions } from "../../src/ethdev/driver.ts";
import { attachRxQueue, attachTxQueue, Burst, openPort, RxWaiter, type Port, type QueueHandle } from "../../src/index.ts";
import { startWorkers } from "../../src/lcore/worker.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { driver, RingPort, ringLinks } from "../../drivers/ring/index.ts";
import type { RingPortInit, RingPortResult } from "./workers/ring-port-worker.ts";

function open(spec: string, options: OpenOptions = {}): RingPort {
  return openPort(spec, options) as RingPort;
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
  expect(ringLinks()).toEqual([]);
});

function newPool(count = 8192, name = "pool"): Mempool {
  return track(Mempool.create({ count, hugepages: "never", name }));
}

describe("ring → ring forward in one process", () => {
  test("10 M packets through two links: none lost, none duplicated, order and bytes kept", () => {
    const pool = newPool(8192);
    const a1 = track(open("ring:l1", { pool, rxRingSize: 1024 }));
    const b1 = track(open("ring:l1", { pool, rxRingSize: 1024 }));
    const a2 = track(open("ring:l2", { pool, rxRingSize: 1024 }));
    const b2 = track(open("ring:l2", { pool, rxRingSize: 1024 }));
    for (const p of [a1, b1, a2, b2]) p.start();
    expect(a1.link().up && b2.link().up).toBe(true);

    const N = 10_000_000;
    const out = new Uint8Array(pool.count); // 1 while a buffer is in flight
    const u32 = new Uint32Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength >>> 2);
    const gen = new Burst(32);
    const mid = new Burst(32);
    const sink = new Burst(32);
    let sent = 0, received = 0, dropped = 0, dup = 0, wrongSeq = 0, bytesSent = 0, bytesReceived = 0;
    let nextSeq = 0; // the sequence number of the next frame a1 accepts
    let dueSeq = 0;
    const t0 = performance.now();
    while (received + dropped < N) {
      // Generate: alloc on the pool, stamp, send on a1.
      const want = Math.min(32, N - sent - dropped);
      if (want > 0 && pool.allocBulk(gen.bufs, 0, want) === want) {
        for (let i = 0; i < want; i++) {
          const b = gen.bufs[i]!;
          if (out[b]) dup++;
          out[b] = 1;
          u32[pool.offset(b) >>> 2] = nextSeq + i;
          pool.len[b] = 60 + ((nextSeq + i) & 63);
        }
        gen.count = want;
        const k = a1.txBurst(0, gen);
        for (let i = 0; i < k; i++) bytesSent += pool.len[gen.bufs[i]!]!;
        nextSeq += k;
        sent += k;
        for (let i = k; i < want; i++) out[gen.bufs[i]!] = 0;
        gen.freeFrom(pool, k); // not taken: back to the pool, generated again
      }
      // Forward: b1 → a2.
      const n = b1.rxBurst(0, mid);
      if (n > 0) {
        const k = a2.txBurst(0, mid);
        for (let i = k; i < n; i++) out[mid.bufs[i]!] = 0;
        dropped += n - k;
        mid.freeFrom(pool, k);
      }
      // Receive at the far end and free.
      const m = b2.rxBurst(0, sink);
      for (let i = 0; i < m; i++) {
        const b = sink.bufs[i]!;
        if (out[b] !== 1) dup++;
        out[b] = 0;
        const seq = u32[pool.offset(b) >>> 2]!;
        if (seq < dueSeq) wrongSeq++; // frames come in order (drops may skip some)
        dueSeq = seq + 1;
        bytesReceived += pool.len[b]!;
        pool.free(b);
      }
      received += m;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`ring→ring→ring: ${N} packets in ${secs.toFixed(2)} s (${(N / secs / 1e6).toFixed(1)} Mpps)`);
    expect(dup).toBe(0);
    expect(wrongSeq).toBe(0);
    expect(received + dropped).toBe(N);
    expect(sent).toBe(N);
    expect(out.every((x) => x === 0)).toBe(true); // nothing in flight
    expect(pool.inUse()).toBe(0);
    expect(pool.available()).toBe(pool.count);
    // Counters agree along the path.
    expect(a1.stats()).toMatchObject({ opackets: N, obytes: bytesSent });
    expect(b1.stats()).toMatchObject({ ipackets: N, ibytes: bytesSent });
    expect(a2.stats().opackets).toBe(N - dropped);
    expect(b2.stats()).toMatchObject({ ipackets: received, ibytes: bytesReceived, imissed: dropped });
  }, 30_000);
});

describe("ring port semantics", () => {
  test("the link is up when both ends are started; TX to a stopped peer takes nothing", () => {
    const pool = newPool(256);
    const a = track(open("ring:x", { pool, rxRingSize: 64, txRingSize: 64 }));
    const b = track(open("ring:x", { pool, rxRingSize: 64, txRingSize: 64 }));
    expect(a.info()).toMatchObject({ driver: "ring", name: "ring:x end A", maxRxQueues: 16, minRingSize: 64, maxRingSize: 65536 });
    expect(b.info().name).toBe("ring:x end B");
    const burst = new Burst(8);
    for (let i = 0; i < 8; i++) burst.push(pool.take());
    expect(a.link().up).toBe(false);
    a.start();
    expect(a.link().up).toBe(false);
    expect(a.txBurst(0, burst)).toBe(0); // b is not started
    b.start();
    expect(a.link().up && b.link().up).toBe(true);
    expect(a.txBurst(0, burst, 2)).toBe(6); // start offset honoured
    const got = new Burst(32);
    expect(b.rxBurst(0, got)).toBe(6);
    expect([...got.bufs.subarray(0, 6)]).toEqual([...burst.bufs.subarray(2, 8)]);
    expect(pool.port[got.bufs[0]!]).toBe(b.id);
    b.stop();
    expect(a.link().up).toBe(false);
    expect(a.txBurst(0, burst)).toBe(0);
    got.freeFrom(pool, 0);
    burst.count = 2;
    burst.freeFrom(pool, 0);
    expect(pool.inUse()).toBe(0);
  });

  test("a full peer ring: the TX burst takes fewer, the caller keeps the rest, nothing counts as missed (back-pressure, not loss)", () => {
    const pool = newPool(512);
    const a = track(open("ring:full", { pool, rxRingSize: 64 }));
    const b = track(open("ring:full", { pool, rxRingSize: 64 }));
    a.start();
    b.start();
    const burst = new Burst(100);
    for (let i = 0; i < 100; i++) burst.push(pool.take());
    expect(a.txBurst(0, burst)).toBe(64);
    expect(a.stats().opackets).toBe(64);
    expect(a.txBurst(0, burst, 64)).toBe(0); // offered again: still refused, still not lost
    expect(b.stats().imissed).toBe(0);
    // How often the ring was full is an xstat of the sender (a frame offered twice counts twice there).
    expect(a.xstats().find((x) => x.name === "tx_q0_full")?.value).toBe(72);
    a.resetStats();
    expect(a.xstats().find((x) => x.name === "tx_q0_full")?.value).toBe(0);
    burst.freeFrom(pool, 64);
    // Closing b returns what its ring still holds to the pool.
    b.close();
    expect(pool.inUse()).toBe(0);
  });

  test("queue q of one end feeds RX queue q of the other", () => {
    const pool = newPool(256);
    const a = track(open("ring:mq", { pool, rxQueues: 4, txQueues: 4, rxRingSize: 64 }));
    const b = track(open("ring:mq", { pool, rxQueues: 4, txQueues: 4, rxRingSize: 64 }));
    a.start();
    b.start();
    const burst = new Burst(4);
    const rx = new Burst(32);
    for (let q = 0; q < 4; q++) {
      for (let i = 0; i <= q; i++) burst.push(pool.take());
      expect(b.txBurst(q, burst)).toBe(q + 1);
      burst.count = 0;
    }
    for (let q = 0; q < 4; q++) {
      expect(a.rxBurst(q, rx)).toBe(q + 1);
      expect(a.queueStats(q, "rx").packets).toBe(q + 1);
      expect(b.queueStats(q, "tx").packets).toBe(q + 1);
      rx.freeFrom(pool, 0);
    }
    expect(() => a.rxBurst(4, rx)).toThrow(/ring:mq end A: rx queue 4 does not exist; this port was configured with 4 rx queue\(s\): 0\.\.3/);
    expect(() => a.txBurst(-1, rx)).toThrow(/tx queue -1 does not exist/);
  });

  test("the MAC is locally administered, derived from the name, one per end", () => {
    const a = track(open("ring:mac"));
    const b = track(open("ring:mac"));
    const c = track(open("ring:other"));
    for (const p of [a, b, c]) {
      expect(p.macAddress()).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(parseInt(p.macAddress().slice(0, 2), 16) & 3).toBe(2); // locally administered, unicast
    }
    expect(a.macAddress()).not.toBe(b.macAddress());
    expect(a.macAddress().slice(0, 14)).toBe(b.macAddress().slice(0, 14));
    expect(c.macAddress().slice(0, 14)).not.toBe(a.macAddress().slice(0, 14));
    a.close();
    const again = track(open("ring:mac"));
    expect(again.macAddress()).toBe(a.macAddress()); // stable: same name, same end
    expect(() => again.setMacAddress("03:00:00:00:00:01")).toThrow(/multicast/);
    again.setMacAddress("02:AA:00:00:00:01");
    expect(again.macAddress()).toBe("02:aa:00:00:00:01");
  });

  test("close frees the end's place; reconfiguring re-links the peer", () => {
    const pool = newPool(256);
    const a = track(open("ring:re", { pool, rxRingSize: 64 }));
    const b = track(open("ring:re", { pool, rxRingSize: 64 }));
    a.start();
    b.start();
    const burst = new Burst(1);
    burst.push(pool.take());
    expect(a.txBurst(0, burst)).toBe(1);
    b.stop();
    b.configure({ pool, rxRingSize: 128 }); // new rings: the queued frame goes back to the pool
    expect(pool.inUse()).toBe(0);
    b.start();
    burst.count = 0;
    burst.push(pool.take());
    expect(a.txBurst(0, burst)).toBe(1); // a found b's new ring
    const rx = new Burst(4);
    expect(b.rxBurst(0, rx)).toBe(1);
    rx.freeFrom(pool, 0);
    expect(ringLinks()).toEqual([{ name: "re", ends: ["A", "B"] }]);
    a.close();
    expect(ringLinks()).toEqual([{ name: "re", ends: ["B"] }]);
  });
});

describe("ring port refusals", () => {
  test("spec errors", () => {
    expect(() => open("ring:x,foo=1")).toThrow(/port spec "ring:x,foo=1": unknown argument "foo"; accepted: name=<string>/);
    expect(() => open("ring")).toThrow(/port spec "ring": missing name/);
    expect(() => open("ring:a,b")).toThrow(/two bare values/);
    expect(() => open("ring:name=")).toThrow(/name is empty/);
    expect(driver.usage).toContain("ring:NAME");
  });

  test("a third open of one link name", () => {
    track(open("ring:three"));
    const b = track(open("ring:three"));
    expect(() => open("ring:three")).toThrow('ring link "three" already has two ends; close one of them first');
    b.close();
    expect(track(open("ring:three")).end).toBe(1); // the freed place is taken again
  });

  test("ring sizes and queue counts out of range: the errors from resolveConfig", () => {
    const pool = newPool(64);
    const p = track(open("ring:sizes"));
    expect(() => p.configure({ pool, rxRingSize: 0 })).toThrow("ring:sizes end A: rxRingSize 0 is not a power of two in 64..65536; use 256, 512, 1024");
    expect(() => p.configure({ pool, rxRingSize: 1000 })).toThrow("rxRingSize 1000 is not a power of two in 64..65536");
    expect(() => p.configure({ pool, txRingSize: 1000 })).toThrow("txRingSize 1000 is not a power of two in 64..65536");
    expect(() => p.configure({ pool, rxRingSize: 32 })).toThrow("rxRingSize 32 is not a power of two in 64..65536");
    expect(() => p.configure({ pool, rxRingSize: 131072 })).toThrow("rxRingSize 131072 is not a power of two");
    expect(() => p.configure({ pool, rxQueues: 17 })).toThrow("rxQueues 17 is out of range; this port supports 1..16");
    expect(() => p.configure({ pool, txQueues: 0 })).toThrow("txQueues 0 is out of range");
    expect(() => open("ring:sizes", { pool, rxRingSize: 1000 })).toThrow("rxRingSize 1000 is not a power of two");
    expect(ringLinks()).toEqual([{ name: "sizes", ends: ["A"] }]); // the failed open closed its end
    p.configure({ pool, rxRingSize: 65536 });
    expect(p.config!.rxRingSize).toBe(65536);
  });

  test("ends with different mempools are refused, whichever end is configured second", () => {
    const p1 = newPool(64, "one");
    const p2 = newPool(64, "two");
    const a = track(open("ring:pools", { pool: p1 }));
    expect(() => open("ring:pools", { pool: p2 })).toThrow(/ring link "pools": end B uses mempool "two" but end A uses "one"; configure both ends with the same pool/);
    const b = track(open("ring:pools", { pool: p1 }));
    expect(() => a.configure({ pool: p2 })).toThrow(/end A uses mempool "two" but end B uses "one"/);
    b.configure({ pool: p1, rxRingSize: 128 }); // same pool: fine
    a.configure({ pool: p1 });
    a.start();
    b.start();
    expect(a.link().up).toBe(true);
  });

  test("queue counts that cannot pair are refused at start", () => {
    const pool = newPool(64);
    const a = track(open("ring:q", { pool, txQueues: 2, rxQueues: 2 }));
    const b = track(open("ring:q"));
    a.start(); // the peer is not configured yet: nothing to check
    b.configure({ pool });
    expect(() => b.start()).toThrow(/TX queue q of one end feeds RX queue q of the other, but end B has 1 RX \/ 1 TX queues and end A has 2 RX \/ 2 TX/);
    expect(b.started).toBe(false);
  });

  test("queue handles: a TX handle needs the other end configured; the pool is checked; junk is refused", async () => {
    const pool = newPool(64);
    const a = track(open("ring:h", { pool }));
    const early = a.txQueue(0).handle();
    await expect(attachTxQueue(early, { pool })).rejects.toThrow(/the other end of the ring link was not configured when the handle was made/);
    track(open("ring:h", { pool }));
    const h = a.txQueue(0).handle();
    expect(structuredClone(h).state).toBeDefined();
    const txq = await attachTxQueue(h, { pool });
    expect(txq.portId).toBe(a.id);
    await expect(attachRxQueue(h, { pool })).rejects.toThrow(/the handle is of ring:h's TX queue 0; use attachTxQueue/);
    await expect(attachRxQueue(a.rxQueue(0).handle(), { pool: newPool(64, "elsewhere") })).rejects.toThrow(/the pool given is "elsewhere", not the queue's pool "pool"/);
    await expect(attachRxQueue({} as QueueHandle)).rejects.toThrow(/not a queue handle/);
    expect(ringLinks()).toEqual([{ name: "h", ends: ["A", "B"] }]);
  });

  test("RX interrupts: an armed queue's eventfd wakes an RxWaiter on the first burst sent to it", () => {
    const pool = newPool(64);
    const a = track(open("ring:irq", { pool, rxQueues: 2, txQueues: 2 }));
    const b = track(open("ring:irq", { pool, rxQueues: 2, txQueues: 2 }));
    a.start();
    b.start();
    const waiter = new RxWaiter([b.rxQueue(0), b.rxQueue(1)]);
    try {
      expect(b.rxQueue(0).eventFd()).toBeGreaterThan(2);
      expect(waiter.wait(20)).toBe(false); // idle: times out
      // Armed by hand, as a waiter in another thread would be while it sleeps: the TX burst writes the eventfd.
      b.rxQueue(1).enableInterrupt();
      const burst = new Burst(4);
      burst.push(pool.take());
      expect(a.txBurst(1, burst)).toBe(1);
      expect(waiter.wait(1000)).toBe(true);
      const rx = new Burst(4);
      expect(b.rxBurst(1, rx)).toBe(1);
      rx.freeFrom(pool, 0);
      expect(waiter.wait(10)).toBe(false); // disarmed and drained: no stale wake-up
    } finally {
      waiter.close();
    }
  });
});

describe("ring port across two pinned workers", () => {
  test("end A's queues in worker 1, end B's in worker 2: 1 M frames there and back, counted in the owner's stats", async () => {
    const pool = newPool(4096, "xw");
    const a = track(open("ring:xw", { pool, rxRingSize: 1024 }));
    const b = track(open("ring:xw", { pool, rxRingSize: 1024 }));
    a.start();
    b.start();
    const N = 1_000_000;
    const group = await startWorkers<RingPortInit, RingPortResult>(new URL("./workers/ring-port-worker.ts", import.meta.url), {
      cores: [0, 1],
      name: "ringfwd",
      init: (_core, i) => {
        const port = i === 0 ? a : b;
        return { role: i === 0 ? "gen" : "echo", rx: port.rxQueue(0).handle(), tx: port.txQueue(0).handle(), n: N };
      },
    });
    expect(group.workers.map((w) => w.cpus)).toEqual([[0], [1]]);
    // The generator returns once it has its N frames back; then the echo worker is told to stop.
    const deadline = Date.now() + 25_000;
    while (a.stats().ipackets < N && Date.now() < deadline) await Bun.sleep(20);
    const [gen, echo] = await group.stop(5000);
    expect(gen!.sent).toBe(N);
    expect(gen!.received).toBe(N);
    expect(gen!.outOfOrder).toBe(0);
    expect(echo!.received).toBe(N);
    expect(echo!.sent).toBe(N);
    expect(gen!.portId).toBe(a.id);
    expect(echo!.portId).toBe(b.id);
    // The counters live in shared memory: the owner's port objects saw the workers' bursts.
    expect(a.stats()).toMatchObject({ opackets: N, ipackets: N });
    expect(b.stats()).toMatchObject({ opackets: N, ipackets: N });
    expect(a.stats().obytes).toBe(b.stats().ibytes);
    expect(pool.inUse()).toBe(0);
    expect(pool.available()).toBe(pool.count);
  }, 30_000);
});
