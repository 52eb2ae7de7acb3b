/**
 * Micro-benchmarks of the data path's building blocks, one thread: mempool alloc/free, IndexRing bursts,
 * a ring-port TX+RX burst and a null-port RX+TX burst. Bursts are of 32; the table at the end divides by
 * 32 to give the cost per packet. Run: `bun bench/micro.ts` (`bun run bench`). Then, when
 * bench/net.bench.ts exists, it runs as a child process (header parsing/building and checksums).
 */
import { existsSync } from "node:fs";
import { bench, do_not_optimize, run, summary } from "mitata";
import { driver as nullDriver } from "../drivers/null/index.ts";
import { driver as ringDriver } from "../drivers/ring/index.ts";
import type { Port } from "../src/ethdev/port.ts";
import { Burst } from "../src/ethdev/port.ts";
import { checkParams, splitSpec } from "../src/ethdev/spec.ts";
import type { DriverDef } from "../src/ethdev/driver.ts";
import { IndexRing } from "../src/mem/ring.ts";
import { Mempool } from "../src/mem/mempool.ts";

const BURST = 32;

// openPort without the driver table (this file only needs two software drivers).
function open(d: DriverDef, spec: string, pool: Mempool): Port {
  const port = d.open(checkParams(spec, splitSpec(spec), d.params, d.positional), spec, {});
  port.configure({ pool, rxRingSize: 1024, txRingSize: 1024 });
  port.start();
  return port;
}

const pool = Mempool.create({ count: 8192, hugepages: "prefer", name: "bench" });
const bulk = new Uint32Array(BURST);

summary(() => {
  bench("mempool alloc + free (1 buffer)", () => {
    pool.free(pool.alloc());
  });
  bench("mempool allocBulk + freeBulk (32)", () => {
    pool.allocBulk(bulk, 0, BURST);
    pool.freeBulk(bulk, 0, BURST);
  });
});

const spsc = IndexRing.create(1024, "spsc");
const mpmc = IndexRing.create(1024, "mpmc");
const src = Uint32Array.from({ length: BURST }, (_, i) => i);
const dst = new Uint32Array(BURST);
summary(() => {
  bench("IndexRing spsc enqueue+dequeue burst (32)", () => {
    spsc.enqueueBurst(src, 0, BURST);
    do_not_optimize(spsc.dequeueBurst(dst, 0, BURST));
  });
  bench("IndexRing mpmc enqueue+dequeue burst (32)", () => {
    mpmc.enqueueBurst(src, 0, BURST);
    do_not_optimize(mpmc.dequeueBurst(dst, 0, BURST));
  });
});

const ringA = open(ringDriver, "ring:bench", pool);
const ringB = open(ringDriver, "ring:bench", pool);
const ringBurst = new Burst(BURST);
for (let i = 0; i < BURST; i++) {
  const b = pool.take();
  pool.len[b] = 64;
  ringBurst.push(b);
}
const nullPort = open(nullDriver, "null:size=64", pool);
const nullBurst = new Burst(BURST);
summary(() => {
  // The same 32 buffers go A → B and come back as B's RX burst, which is the next TX burst.
  bench("ring port txBurst + rxBurst (32)", () => {
    ringA.txBurst(0, ringBurst);
    do_not_optimize(ringB.rxBurst(0, ringBurst));
  });
  // RX allocates 32 buffers and copies the 64-byte template into each; TX frees them.
  bench("null port rxBurst + txBurst (32 × 64 B)", () => {
    nullPort.rxBurst(0, nullBurst);
    do_not_optimize(nullPort.txBurst(0, nullBurst));
  });
});

const perBurst = new Set([
  "mempool allocBulk + freeBulk (32)",
  "IndexRing spsc enqueue+dequeue burst (32)",
  "IndexRing mpmc enqueue+dequeue burst (32)",
  "ring port txBurst + rxBurst (32)",
  "null port rxBurst + txBurst (32 × 64 B)",
]);
const results = await run();
console.log("\nper packet (a burst's time / 32; alloc + free count as one operation):");
console.log(`  ${"".padEnd(44)} ${"median".padStart(9)} ${"average".padStart(10)}`);
let failed = false;
for (const t of results.benchmarks) {
  const r = t.runs[0];
  if (!r?.stats) {
    failed = true;
    console.log(`  ${t.alias}: FAILED: ${(r?.error as Error | undefined)?.message ?? "no result"}`);
    continue;
  }
  const div = perBurst.has(t.alias) ? BURST : 1;
  const med = r.stats.p50 / div;
  console.log(`  ${t.alias.padEnd(44)} ${med.toFixed(2).padStart(6)} ns ${(r.stats.avg / div).toFixed(2).padStart(7)} ns  (${(1e3 / med).toFixed(1)} M/s at the median)`);
}
if (failed) process.exitCode = 1;
if (ringBurst.count !== BURST) throw new Error(`the ring benchmark lost buffers: ${ringBurst.count} of ${BURST} came back`);
ringA.close();
ringB.close();
nullPort.close();
ringBurst.freeFrom(pool, 0);
pool.destroy();

const net = new URL("./net.bench.ts", import.meta.url).pathname;
if (existsSync(net)) {
  console.log("\n--- bench/net.bench.ts ---");
  const r = Bun.spawnSync([process.execPath, net], { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) process.exitCode = r.exitCode ?? 1;
}
