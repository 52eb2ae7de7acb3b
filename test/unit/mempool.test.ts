// The mempool: exhaustion, double and bad frees, bulk semantics, caches, metadata, address arithmetic,
// DMA addresses (IOVA and physical, checked against /proc/self/pagemap), and two pinned workers freeing
// each other's buffers. Chains and the packet metadata arrays: mbuf.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { IndexRing } from "../../src/mem/ring.ts";
import { startWorkers } from "../../src/lcore/worker.ts";
import { configureIova, liveArenas } from "../../src/mem/arena.ts";
import { freeHugepageBytes, HUGEPAGE_2M } from "../../src/mem/hugepages.ts";
import { DEFAULT_IOVA_WIDTH } from "../../src/mem/iova.ts";
import { physAddr } from "../../src/mem/pagemap.ts";
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

  test("allocRxUpTo claims like alloc but leaves len and flags (the RX burst writes them); short pools give what they have", () => {
    const p = pool({ count: 40, cacheSize: 8 });
    const out = new Uint32Array(64);
    expect(p.allocBulk(out, 0, 40)).toBe(40);
    for (let i = 0; i < 40; i++) {
      const b = out[i]!;
      p.len[b] = 99;
      p.flags[b] = BUF_RSS_HASH;
      p.dataOff[b] = 7;
      p.txOffload[b] = 3;
    }
    p.freeBulk(out, 0, 40);
    expect(p.allocRxUpTo(out, 0, 16)).toBe(16);
    for (let i = 0; i < 16; i++) {
      const b = out[i]!;
      expect([p.len[b], p.flags[b], p.dataOff[b], p.txOffload[b], p.isAllocated(b)]).toEqual([99, BUF_RSS_HASH, p.headroom, 0, true]);
    }
    // Fewer left than asked: the rest one by one (alloc's full claim), never more than the pool has.
    expect(p.allocRxUpTo(out, 16, 48)).toBe(24);
    expect(p.available()).toBe(0);
    expect(new Set(out.subarray(0, 40)).size).toBe(40);
    expect(p.allocRxUpTo(out, 0, 1)).toBe(0);
    p.freeBulk(out, 0, 40);
    expect(p.inUse()).toBe(0);
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

  test("dmaLo/dmaHi hold each buffer's IOVA (iovaBase + i * stride); iova() and rxIova() add dataOff and headroom", () => {
    const p = pool({ count: 100, dataRoom: 2048, headroom: 128 });
    expect(p.dmaAddressing).toBe("iova");
    for (let i = 0; i < p.count; i++) {
      const want = p.iovaBase + i * p.stride;
      expect(p.dmaLo[i]).toBe(want % 2 ** 32);
      expect(p.dmaHi[i]).toBe(Math.floor(want / 2 ** 32));
      expect(p.dmaAddress(i)).toBe(want);
    }
    const b = p.take();
    p.dataOff[b] = 90;
    expect(p.iova(b)).toBe(p.dmaAddress(b) + 90);
    expect(p.rxIova(b)).toBe(p.dmaAddress(b) + 128);
    // Another handle of the pool sees the same addresses (they live in the arena, computed once).
    const other = Mempool.attach(p.handle());
    expect(other.dmaAddressing).toBe("iova");
    expect(other.dmaLo).toEqual(p.dmaLo);
    expect(other.dmaHi).toEqual(p.dmaHi);
    expect(other.iova(b)).toBe(p.iova(b));
  });

  test("an arena across the 4 GiB line: dmaHi counts it, and the documented carry idiom gives the right address", () => {
    for (const q of pools.splice(0)) q.destroy();
    if (liveArenas().length > 0) return; // another test file's arena: the IOVA space cannot be reconfigured now
    configureIova(DEFAULT_IOVA_WIDTH, [[2 ** 32 - 8192, 2 ** DEFAULT_IOVA_WIDTH - 1]]);
    try {
      const p = Mempool.create({ count: 16, hugepages: "never", name: "high" });
      try {
        expect(p.arena.iova).toBe(2 ** 32 - 8192);
        const d = new Uint32Array(2);
        let crossing = 0;
        for (let i = 0; i < p.count; i++) {
          const want = p.iovaBase + i * p.stride;
          expect(p.dmaAddress(i)).toBe(want);
          if (want < 2 ** 32 && want + p.headroom + p.dataRoom > 2 ** 32) crossing++;
          for (const off of [0, p.headroom, p.headroom + p.dataRoom - 1]) {
            const a = p.dmaLo[i]! + off; // what a driver writes into a descriptor
            d[0] = a;
            d[1] = p.dmaHi[i]! + (a > 0xffffffff ? 1 : 0);
            expect(d[0]! + d[1]! * 2 ** 32).toBe(want + off);
          }
        }
        expect(crossing).toBe(1);
        expect(p.dmaHi[p.count - 1]).toBe(1);
      } finally {
        p.destroy();
      }
    } finally {
      configureIova(DEFAULT_IOVA_WIDTH);
    }
  });

  test("options are checked with the fix in the message", () => {
    expect(() => Mempool.create({ count: 0, hugepages: "never", name: "p" })).toThrow(/mempool "p": count 0 is out of range; give 1\.\.16777216/);
    expect(() => Mempool.create({ count: 8, dataRoom: 10, hugepages: "never" })).toThrow(/dataRoom 10 is out of range/);
    expect(() => Mempool.create({ count: 8, headroom: 2000, hugepages: "never" })).toThrow(/headroom 2000 is out of range/);
    expect(() => Mempool.create({ count: 8, cacheSize: -1, hugepages: "never" })).toThrow(/cacheSize -1 is out of range/);
    expect(() => Mempool.create({ count: 8, hugepages: "never", name: "p", dmaAddressing: "pa" as never })).toThrow(
      /mempool "p": dmaAddressing "pa" is not known; give "iova" \(behind an IOMMU, the default\) or "physical"/,
    );
  });
});

/** Checks every buffer of a physical-mode pool against /proc/self/pagemap, byte by byte at page starts. */
function checkPhysical(p: Mempool, page: number): void {
  const bytes = p.headroom + p.dataRoom;
  for (let i = 0; i < p.count; i++) {
    const va = p.arena.va + p.bufBase + i * p.stride;
    // The rule: no buffer straddles a page (4 KiB here, 2 MiB on hugepages).
    expect(Math.floor(va / page)).toBe(Math.floor((va + bytes - 1) / page));
    expect(p.dmaAddress(i)).toBe(physAddr(va));
    expect(p.dmaLo[i]).toBe(physAddr(va) % 2 ** 32);
    expect(p.dmaHi[i]).toBe(Math.floor(physAddr(va) / 2 ** 32));
    // The last byte of the data room is where the device will write it.
    expect(physAddr(va + bytes - 1)).toBe(p.dmaAddress(i) + bytes - 1);
  }
}

describe("Mempool with physical DMA addressing (no IOMMU)", () => {
  const root = process.getuid?.() === 0;

  test.skipIf(!root)("4 KiB pages: each buffer's address is its pagemap address, no buffer straddles a page", () => {
    // 2176-byte buffers get a 4096-byte stride; 2048 bytes pack two per page; small ones many.
    for (const [dataRoom, headroom, stride] of [[2048, 128, 4096], [1920, 128, 2048], [1500, 0, 2048], [64, 64, 128], [3968, 128, 4096]] as const) {
      const p = pool({ count: 300, dataRoom, headroom, dmaAddressing: "physical" });
      expect(p.arena.hugepage).toBe(false);
      expect(p.stride).toBe(stride);
      expect(p.bufBase % 4096).toBe(0);
      checkPhysical(p, 4096);
      // iova() and rxIova() give the device's (physical) address too; offset() is unchanged.
      const b = p.take();
      expect(p.iova(b)).toBe(physAddr(p.arena.va + p.offset(b)));
      expect(p.rxIova(b)).toBe(p.dmaAddress(b) + headroom);
      // A worker's handle sees the same layout and addresses.
      const other = Mempool.attach(p.handle());
      expect(other.dmaAddressing).toBe("physical");
      expect(other.stride).toBe(p.stride);
      expect(other.offset(b)).toBe(p.offset(b));
      expect(other.dmaAddress(b)).toBe(p.dmaAddress(b));
    }
  });

  test.skipIf(!root)("the pool's memory is locked (a page must not be swapped out under a device)", () => {
    const locked = (): number => Number(/VmLck:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
    const before = locked();
    const p = pool({ count: 64, dmaAddressing: "physical" });
    expect(locked() - before).toBe(p.arena.size);
  });

  test("buffers larger than a 4 KiB page on 4 KiB pages are refused, naming the pool, the problem and the fix", () => {
    expect(() => Mempool.create({ count: 8, dataRoom: 9000, hugepages: "never", name: "jumbo", dmaAddressing: "physical" })).toThrow(
      /mempool "jumbo": physical DMA addressing with 9128-byte buffers \(headroom \+ dataRoom\) needs 2 MiB hugepages, since a buffer larger than a 4 KiB page would straddle pages .*; reserve hugepages \(bdk hugepages --reserve 2M:N\) .* or keep headroom \+ dataRoom within 4096 bytes/,
    );
    // 3968 + 128 fits a page exactly; one byte more does not.
    expect(() => Mempool.create({ count: 8, dataRoom: 3969, hugepages: "never", name: "j", dmaAddressing: "physical" })).toThrow(/4097-byte buffers/);
    if (freeHugepageBytes(HUGEPAGE_2M) === 0) {
      // "prefer" becomes "require" for such a pool: no hugepages, the same refusal (with the arena's reason).
      expect(() => Mempool.create({ count: 8, dataRoom: 9000, name: "jumbo", dmaAddressing: "physical" })).toThrow(/needs 2 MiB hugepages.*free 2 MiB hugepages needed/);
    }
    expect(liveArenas().some((a) => a.name === "jumbo" || a.name === "j")).toBe(false);
  });

  test.skipIf(!root || freeHugepageBytes(HUGEPAGE_2M) < 8 * HUGEPAGE_2M)("hugepages: jumbo buffers, none straddles a 2 MiB page", () => {
    const p = pool({ count: 512, dataRoom: 9000, hugepages: "require", dmaAddressing: "physical" });
    expect(p.stride).toBe(16384);
    checkPhysical(p, HUGEPAGE_2M);
  });

  test.skipIf(!root)("without CAP_SYS_ADMIN pagemap reads PFN 0: refused with the fix (run as root), nothing left behind", () => {
    const script = `
      import { Mempool } from ${JSON.stringify(new URL("../../src/mem/mempool.ts", import.meta.url).pathname)};
      import { liveArenas } from ${JSON.stringify(new URL("../../src/mem/arena.ts", import.meta.url).pathname)};
      try { Mempool.create({ count: 8, hugepages: "never", name: "nopriv", dmaAddressing: "physical" }); console.log("created"); }
      catch (e) { console.log(e.message); console.log("arenas " + liveArenas().length); }`;
    const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script], { cwd: "/tmp" });
    const out = r.stdout.toString();
    expect(out).toContain('mempool "nopriv": physical DMA addressing needs physical addresses, and /proc/self/pagemap shows them only to root (CAP_SYS_ADMIN)');
    expect(out).toContain("run as root");
    expect(out).toContain("arenas 0");
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
