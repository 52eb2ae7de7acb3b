// IndexRing: single-thread semantics, then real concurrency between two workers pinned to cores 0 and 1.
import { describe, expect, test } from "bun:test";
import { IndexRing } from "../../src/mem/ring.ts";
import { startWorkers } from "../../src/lcore/worker.ts";
import { gettid } from "../../src/sys/libc.ts";
import type { RingInit, RingResult } from "./workers/ring-worker.ts";

const WORKER = new URL("./workers/ring-worker.ts", import.meta.url);

describe("IndexRing, one thread", () => {
  test("wraps around many times with values in order (capacity 8, 1e5 operations)", () => {
    const ring = IndexRing.create(8, "spsc");
    const src = new Uint32Array(8);
    const dst = new Uint32Array(8);
    let next = 0;
    let due = 0;
    let seed = 12345;
    const rand = (m: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 16) % m;
    };
    for (let op = 0; op < 100_000; op++) {
      if (rand(2) === 0) {
        const k = 1 + rand(8);
        for (let i = 0; i < k; i++) src[i] = next + i;
        next += ring.enqueueBurst(src, 0, k);
      } else {
        const got = ring.dequeueBurst(dst, 0, 1 + rand(8));
        for (let i = 0; i < got; i++) {
          if (dst[i] !== due) throw new Error(`got ${dst[i]} where ${due} was due`);
          due++;
        }
      }
      if (ring.count() !== next - due) throw new Error(`count ${ring.count()} != ${next - due}`);
    }
    expect(next).toBeGreaterThan(80_000); // the 8-slot ring wrapped > 10000 times
    expect(next - due).toBe(ring.count());
  });

  test("counters cross 2^31 and 2^32 without a hiccup", () => {
    for (const startAt of [0x7ffffff0 | 0, 0xfffffff0 | 0]) {
      const ring = IndexRing.create(16, "mpmc");
      const h = new Int32Array(ring.memory, 0, 64);
      for (const w of [0, 16, 32, 48]) h[w] = startAt; // PROD_HEAD, PROD_TAIL, CONS_HEAD, CONS_TAIL
      const src = Uint32Array.from({ length: 16 }, (_, i) => i);
      const dst = new Uint32Array(16);
      let v = 0;
      let want = 0;
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 16; i++) src[i] = v + i;
        expect(ring.enqueueBurst(src, 0, 11)).toBe(11);
        v += 11;
        expect(ring.count()).toBe(11);
        expect(ring.dequeueBurst(dst, 0, 16)).toBe(11);
        for (let i = 0; i < 11; i++) expect(dst[i]).toBe(want++);
      }
    }
  });

  test("full: enqueueBulk takes none, enqueueBurst takes what fits; all capacity slots are usable", () => {
    const ring = IndexRing.create(8);
    const src = Uint32Array.from({ length: 16 }, (_, i) => 100 + i);
    expect(ring.enqueueBulk(src, 0, 6)).toBe(6);
    expect(ring.freeCount()).toBe(2);
    expect(ring.enqueueBulk(src, 6, 3)).toBe(0); // 3 > 2 free: nothing
    expect(ring.count()).toBe(6);
    expect(ring.enqueueBurst(src, 6, 3)).toBe(2); // partial
    expect(ring.count()).toBe(8);
    expect(ring.enqueueBurst(src, 8, 1)).toBe(0);
    expect(ring.enqueueBulk(src, 8, 1)).toBe(0);
    const dst = new Uint32Array(16);
    expect(ring.dequeueBurst(dst, 0, 16)).toBe(8);
    expect([...dst.subarray(0, 8)]).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
  });

  test("empty: both dequeue forms return 0 and leave dst alone", () => {
    const ring = IndexRing.create(4);
    const dst = new Uint32Array([7, 7]);
    expect(ring.dequeueBurst(dst, 0, 2)).toBe(0);
    expect(ring.dequeueBulk(dst, 0, 2)).toBe(0);
    expect([...dst]).toEqual([7, 7]);
    expect(ring.count()).toBe(0);
    expect(ring.freeCount()).toBe(4);
  });

  test("bulk is all-or-nothing, burst is as-many-as-possible; offsets are honoured", () => {
    const ring = IndexRing.create(16);
    const src = Uint32Array.from({ length: 10 }, (_, i) => i * 3);
    expect(ring.enqueueBurst(src, 2, 5)).toBe(5); // 6, 9, 12, 15, 18
    const dst = new Uint32Array(10);
    expect(ring.dequeueBulk(dst, 4, 6)).toBe(0); // only 5 there
    expect(ring.count()).toBe(5);
    expect(ring.dequeueBulk(dst, 4, 5)).toBe(5);
    expect([...dst.subarray(4, 9)]).toEqual([6, 9, 12, 15, 18]);
    expect(ring.enqueueBulk(src, 0, 3)).toBe(3);
    expect(ring.dequeueBurst(dst, 0, 10)).toBe(3);
    expect([...dst.subarray(0, 3)]).toEqual([0, 3, 6]);
  });

  test("capacity validation names the bad value and the fix", () => {
    for (const bad of [0, 1, 3, 1000, -8, 2.5, 2 ** 31, NaN]) {
      expect(() => IndexRing.create(bad)).toThrow(/ring capacity .* is not a power of two between 2 and 2\^30; use 1024/);
    }
    expect(() => IndexRing.bytesFor(12)).toThrow(/not a power of two/);
    expect(IndexRing.create(2).capacity).toBe(2);
    expect(() => IndexRing.attach(new SharedArrayBuffer(4096))).toThrow(/no ring at offset 0 .*IndexRing.init/);
  });

  test("attach gives a second view of the same ring (the view workers use)", () => {
    const a = IndexRing.create(64, "spsc");
    const b = IndexRing.attach(a.memory, 0);
    a.enqueueBurst(Uint32Array.of(5, 6, 7), 0, 3);
    const dst = new Uint32Array(3);
    expect(b.dequeueBurst(dst, 0, 3)).toBe(3);
    expect([...dst]).toEqual([5, 6, 7]);
    expect(a.count()).toBe(0);
  });
});

describe("IndexRing between two pinned workers (cores 0 and 1)", () => {
  const N = 1 << 21; // 2 097 152 indices

  test("SPSC: every index arrives once, in order", async () => {
    const ring = IndexRing.create(1024, "spsc");
    const seen = new SharedArrayBuffer(N * 4);
    const shared = new SharedArrayBuffer(64);
    const base = { ring: ring.memory as SharedArrayBuffer, seen, shared, n: N };
    const group = await startWorkers<RingInit, RingResult>(WORKER, {
      cores: [0, 1],
      name: "spsc",
      init: (_core, i) => ({ ...base, role: i === 0 ? "spsc-producer" : "spsc-consumer" }),
    });
    const mainTid = gettid();
    expect(group.workers.map((w) => w.cpus)).toEqual([[0], [1]]);
    for (const w of group.workers) expect(w.tid).not.toBe(mainTid);
    const [prod, cons] = await group.join(25_000);
    expect(prod!.produced).toBe(N);
    expect(cons!.consumed).toBe(N);
    expect(cons!.outOfOrder).toBe(0);
    expect([prod!.cpu, cons!.cpu]).toEqual([0, 1]); // still on their cores at the end
    const counts = new Uint32Array(seen);
    let wrong = 0;
    for (let i = 0; i < N; i++) if (counts[i] !== 1) wrong++;
    expect(wrong).toBe(0);
    expect(ring.count()).toBe(0);
  }, 30_000);

  test("MPMC: two workers each producing and consuming; every index exactly once, per-producer order kept", async () => {
    const ring = IndexRing.create(1024, "mpmc");
    const seen = new SharedArrayBuffer(N * 4);
    const shared = new SharedArrayBuffer(64);
    const group = await startWorkers<RingInit, RingResult>(WORKER, {
      cores: [0, 1],
      name: "mpmc",
      init: (_core, i) => ({ role: "mpmc", ring: ring.memory as SharedArrayBuffer, seen, shared, n: N, from: i, producers: 2 }),
    });
    expect(group.workers.map((w) => w.cpus)).toEqual([[0], [1]]);
    const results = await group.join(25_000);
    expect(results.reduce((s, r) => s + r.produced, 0)).toBe(N);
    expect(results.reduce((s, r) => s + r.consumed, 0)).toBe(N);
    for (const r of results) {
      expect(r.outOfOrder).toBe(0);
      expect(r.consumed).toBeGreaterThan(0); // both really consumed: the CAS paths raced
    }
    expect(results.map((r) => r.cpu)).toEqual([0, 1]);
    const counts = new Uint32Array(seen);
    let missing = 0;
    let dup = 0;
    for (let i = 0; i < N; i++) {
      if (counts[i] === 0) missing++;
      else if (counts[i]! > 1) dup++;
    }
    expect({ missing, dup }).toEqual({ missing: 0, dup: 0 });
    expect(ring.count()).toBe(0);
  }, 30_000);
});
