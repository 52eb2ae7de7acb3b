// The mempool: exhaustion, double and bad frees, bulk semantics, caches, metadata, address arithmetic,
// and two pinned workers freeing each other's buffers.
import { afterEach, describe, expect, test } from "bun:test";
import { IndexRing } from "../../src/mem/ring.ts";
import { startWorkers } from "../../src/lcore/worker.ts";
import { BUF_RSS_HASH, Mempool, type MempoolOptions } from "../../src/mem/mempool.ts";
import type { MempoolInit, MempoolResult } from "./workers/mempool-worker.ts";

const pools: Mempool[] = [];
function pool(opts: Partial<MempoolOptions> & { count: number }): Mempool {
  const p = Mempool.create({ hugepages: "never", name: "test", ...opts });
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools.splice(0)) p.destroy();
});

describe("Mempool", () => {
  test("allocation until exhausted: -1, allocBulk 0, take() throws naming the pool and the fix", () => {
    for (const cacheSize of [0, 8, 256]) {
      const p = pool({ count: 64, cacheSize, name: "rx0" });
      const got = new Set<number>();
      for (let i = 0; i < 64; i++) got.add(p.take());
      expect(got.size).toBe(64);
      expect(Math.min(...got)).toBe(0);
      expect(Math.max(...got)).toBe(63);
      expect(p.alloc()).toBe(-1);
      expect(p.allocBulk(new Uint32Array(4), 0, 1)).toBe(0);
      expect(() => p.take()).toThrow(/mempool "rx0" exhausted: all 64 buffers are in use; create a larger pool \(count\), or free buffers/);
      expect(p.allocFailures).toBe(3);
      expect(p.inUse()).toBe(64);
      expect(p.available()).toBe(0);
    }
  });

  test("the first allocations come out 0, 1, 2 …", () => {
    const p = pool({ count: 16, cacheSize: 0 });
    expect([p.alloc(), p.alloc(), p.alloc()]).toEqual([0, 1, 2]);
  });

  test("a double free is an error naming the buffer; the pool stays consistent", () => {
    const p = pool({ count: 16, name: "tx" });
    const b = p.take();
    p.free(b);
    expect(() => p.free(b)).toThrow(`mempool "tx": double free of buffer ${b}`);
    expect(p.available()).toBe(16);
    expect(p.inUse()).toBe(0);
  });

  test("freeing something that is not a buffer index is an error", () => {
    const p = pool({ count: 16, name: "tx" });
    for (const bad of [-1, 16, 1.5, NaN, 2 ** 32]) {
      expect(() => p.free(bad)).toThrow(/mempool "tx": free of .*, which is not a buffer index \(0\.\.15\)/);
    }
    expect(p.available()).toBe(16);
  });

  test("allocBulk is all or nothing, through the cache and straight from the ring", () => {
    const p = pool({ count: 40, cacheSize: 8 }); // cache holds 8 * 2 + 64 = 80: bulk of 32 goes through it
    const out = new Uint32Array(200);
    expect(p.allocBulk(out, 0, 32)).toBe(32);
    expect(p.allocBulk(out, 32, 32)).toBe(0);
    expect(p.available()).toBe(8);
    expect(p.inUse()).toBe(32);
    expect(p.allocBulk(out, 32, 8)).toBe(8);
    expect(new Set(out.subarray(0, 40)).size).toBe(40);
    p.freeBulk(out, 0, 40);
    expect(p.available()).toBe(40);

    const big = pool({ count: 300, cacheSize: 4 }); // cache holds 72: a bulk of 100 bypasses it
    expect(big.allocBulk(out, 0, 100)).toBe(100);
    expect(big.allocBulk(out, 100, 100)).toBe(100);
    expect(big.allocBulk(out, 0, 101)).toBe(0);
    expect(big.inUse()).toBe(200);
    expect(big.allocBulk(out, 0, 100)).toBe(100);
    expect(big.inUse()).toBe(300);
  });

  test("another handle's cache holds buffers until it is flushed; then available() == count", () => {
    const p = pool({ count: 1000, cacheSize: 64 });
    const other = Mempool.attach(p.handle());
    const out = new Uint32Array(500);
    expect(other.allocBulk(out, 0, 500)).toBe(500);
    expect(p.inUse()).toBe(500);
    other.freeBulk(out, 0, 500); // mostly to `other`'s cache (it keeps at most 2 × 64)
    expect(p.inUse()).toBe(0);
    const hidden = p.count - p.available();
    expect(hidden).toBeGreaterThan(0);
    expect(hidden).toBeLessThanOrEqual(128);
    expect(other.available()).toBe(p.count); // its own cache counts for itself
    other.flushCache();
    expect(p.available()).toBe(p.count);
    // The owner's own cache: free into it, flush it.
    for (let i = 0; i < 100; i++) out[i] = p.take();
    p.freeBulk(out, 0, 100);
    p.flushCache();
    expect(p.available()).toBe(p.count);
  });

  test("metadata is reset on allocation", () => {
    const p = pool({ count: 8, cacheSize: 4, headroom: 128 });
    const b = p.take();
    p.len[b] = 1500;
    p.flags[b] = BUF_RSS_HASH;
    p.dataOff[b] = 64;
    p.free(b);
    const again = p.take();
    expect(again).toBe(b); // the cache is LIFO
    expect(p.len[again]).toBe(0);
    expect(p.flags[again]).toBe(0);
    expect(p.dataOff[again]).toBe(128);
    expect(p.isAllocated(again)).toBe(true);
  });

  test("offset() and iova() arithmetic", () => {
    const p = pool({ count: 100, dataRoom: 2048, headroom: 128 });
    expect(p.stride % 128).toBe(0);
    expect(p.stride).toBeGreaterThanOrEqual(2048 + 128);
    expect(p.bufBase % 4096).toBe(0);
    expect(p.iovaBase).toBe(p.arena.iova + p.bufBase);
    const a = p.take();
    const b = p.take();
    expect(p.offset(a)).toBe(p.bufBase + a * p.stride + 128);
    expect(p.offset(b) - p.offset(a)).toBe((b - a) * p.stride);
    expect(p.iova(a)).toBe(p.iovaBase + a * p.stride + 128);
    expect(p.rxIova(a)).toBe(p.iova(a));
    p.dataOff[a] = 100; // 28 bytes of header prepended
    expect(p.offset(a)).toBe(p.bufBase + a * p.stride + 100);
    expect(p.iova(a)).toBe(p.iovaBase + a * p.stride + 100);
    expect(p.rxIova(a)).toBe(p.iovaBase + a * p.stride + 128);
    // The whole last buffer lies inside the arena.
    expect(p.bufBase + (p.count - 1) * p.stride + p.headroom + p.dataRoom).toBeLessThanOrEqual(p.bytes.byteLength);
    // Writing buffer a's full data room does not touch buffer a + 1.
    const c = a + 1 < p.count ? a + 1 : a - 1;
    p.bytes.fill(0xee, p.bufBase + c * p.stride, p.bufBase + (c + 1) * p.stride);
    p.bytes.fill(0x11, p.rxIova(a) - p.iovaBase + p.bufBase, p.rxIova(a) - p.iovaBase + p.bufBase + p.dataRoom);
    expect(p.bytes.subarray(p.bufBase + c * p.stride, p.bufBase + (c + 1) * p.stride).every((x) => x === 0xee)).toBe(true);
  });

  test("options are checked with the fix in the message", () => {
    expect(() => Mempool.create({ count: 0, hugepages: "never", name: "p" })).toThrow(/mempool "p": count 0 is out of range; give 1\.\.16777216/);
    expect(() => Mempool.create({ count: 8, dataRoom: 10, hugepages: "never" })).toThrow(/dataRoom 10 is out of range/);
    expect(() => Mempool.create({ count: 8, headroom: 2000, hugepages: "never" })).toThrow(/headroom 2000 is out of range/);
    expect(() => Mempool.create({ count: 8, cacheSize: -1, hugepages: "never" })).toThrow(/cacheSize -1 is out of range/);
  });
});

describe("Mempool across two pinned workers", () => {
  test("each frees the other's buffers; nothing lost (inUse() == 0, available() == count after both flush)", async () => {
    const p = pool({ count: 4096, cacheSize: 256, name: "shared" });
    const ab = IndexRing.create(4096, "spsc");
    const ba = IndexRing.create(4096, "spsc");
    const SEND = 300_000;
    const group = await startWorkers<MempoolInit, MempoolResult>(new URL("./workers/mempool-worker.ts", import.meta.url), {
      cores: [0, 1],
      init: (_core, i) => ({
        pool: p.handle(),
        toPeer: (i === 0 ? ab : ba).memory as SharedArrayBuffer,
        fromPeer: (i === 0 ? ba : ab).memory as SharedArrayBuffer,
        send: SEND,
        me: i,
      }),
    });
    expect(group.workers.map((w) => w.cpus)).toEqual([[0], [1]]);
    const results = await group.join(25_000);
    for (const r of results) {
      expect(r.sent).toBe(SEND);
      expect(r.freed).toBe(SEND);
      expect(r.badStamp).toBe(0);
      expect(r.notAllocated).toBe(0);
    }
    expect(p.inUse()).toBe(0);
    expect(p.available()).toBe(p.count);
    // Each index is in the free ring exactly once.
    const all = new Uint32Array(p.count);
    expect(p.allocBulk(all, 0, p.count)).toBe(p.count);
    expect(new Set(all).size).toBe(p.count);
  }, 30_000);
});
