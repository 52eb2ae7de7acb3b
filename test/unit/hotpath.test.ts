// The hot-path rule, partly checked: a million packets through the software ports and the mempool leave
// nothing behind per packet (a few hundred objects for JIT and timers at most). This catches per-packet
// retention (an object kept per frame, a growing array); short-lived garbage is invisible to heapStats
// after a collection, so per-packet allocation itself stays a review item (the before-stop hook greps for it).
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { openPort } from "../../src/index.ts";
import { Burst, type Port } from "../../src/ethdev/port.ts";
import { Mempool } from "../../src/mem/mempool.ts";

const PACKETS = 1_000_000;

function objectsAfter(fn: () => void): number {
  Bun.gc(true);
  const before = heapStats().objectCount;
  fn();
  Bun.gc(true);
  return heapStats().objectCount - before;
}

function forward(src: Port, a: Port, b: Port, sink: Port, pool: Mempool, burst: Burst, packets: number): number {
  let moved = 0;
  while (moved < packets) {
    src.rxBurst(0, burst);
    burst.freeFrom(pool, a.txBurst(0, burst, 0));
    const n = b.rxBurst(0, burst);
    for (let i = 0; i < n; i++) pool.bytes[pool.offset(burst.bufs[i]!)] ^= 1;
    burst.freeFrom(pool, sink.txBurst(0, burst, 0));
    moved += n;
  }
  return moved;
}

test("null source → ring link → null sink: nothing retained per packet", () => {
  const pool = Mempool.create({ count: 4096, hugepages: "never", name: "hot" });
  const src = openPort("null:mode=source", { pool });
  const a = openPort("ring:hot", { pool });
  const b = openPort("ring:hot", { pool });
  const sink = openPort("null:mode=sink", { pool });
  for (const p of [src, a, b, sink]) p.start();
  const burst = new Burst(32);
  forward(src, a, b, sink, pool, burst, 100_000); // warm up: let the JIT compile the loop
  let moved = 0;
  const grown = objectsAfter(() => {
    moved = forward(src, a, b, sink, pool, burst, PACKETS);
  });
  expect(moved).toBeGreaterThanOrEqual(PACKETS);
  expect(grown).toBeLessThan(PACKETS / 1000);
  for (const p of [src, a, b, sink]) p.close();
  expect(pool.inUse()).toBe(0);
  pool.destroy();
});

test("mempool bulk alloc and free: nothing retained per buffer", () => {
  const pool = Mempool.create({ count: 4096, hugepages: "never", name: "hot-pool" });
  const bufs = new Uint32Array(32);
  const cycle = (): void => {
    for (let i = 0; i < PACKETS / 32; i++) {
      pool.allocBulk(bufs, 0, 32);
      pool.freeBulk(bufs, 0, 32);
    }
  };
  cycle();
  expect(objectsAfter(cycle)).toBeLessThan(PACKETS / 1000);
  pool.destroy();
});
