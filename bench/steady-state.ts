/**
 * Steady state (issue 10): a long forwarding run through the drivers' own burst code on the NIC model
 * (bench/nic-model.ts), the l2fwd loop of apps/l2fwd/forward.ts (RX burst → MAC rewrite → TX burst), and
 * what the runtime did meanwhile:
 *   - the JS heap (bun:jsc heapStats: size, capacity, object count) at the start and at the end;
 *   - cells allocated during the run (heapStats' per-type counts include cells not yet collected);
 *   - the GCs (JSC's own GC log: the run re-executes itself with BUN_JSC_logGC=1 and counts the log's
 *     START lines between two markers around the timed part);
 *   - the gaps between the starts of two bursts: the longest, how many were over 100 µs and over 1 ms, and
 *     the thread's time waiting for a CPU (/proc/thread-self/schedstat), which tells a stall of our own from
 *     the scheduler giving the core to someone else: after each gap over 100 µs the thread's cumulative wait
 *     is read again (pread into a buffer made beforehand: nothing allocated), and a gap during which the wait
 *     grew by at least half the gap is counted as the scheduler's, the rest as our own (GC, JIT, the code).
 * The clock is read once per burst (performance.now(), ≈ 25 ns: under 1 ns per packet at burst 32).
 *
 * Usage: bun bench/steady-state.ts [--format adv|legacy|extended] [--seconds 10] [--burst 32] [--json]
 *        (the figures the README quotes: `bun bench/steady-state.ts --seconds 10` for adv, then --format legacy)
 */
import { heapStats } from "bun:jsc";
import { readFileSync, writeSync } from "node:fs";
import { helpText, parseArgs, UsageError } from "../apps/common/args.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { Burst } from "../src/ethdev/burst.ts";
import { Mempool } from "../src/mem/mempool.ts";
import { MacRewrite } from "../src/net/ether.ts";
import { BdkError } from "../src/sys/errors.ts";
import { close, O_RDONLY, open, pread } from "../src/sys/libc.ts";
import { FORMAT_NAMES, FORMATS, gcsBetween, liveCells, ModelPort, schedstat, withoutGcLog, type Format } from "./nic-model.ts";

const MARK_START = "@@bdk-steady-start";
const MARK_END = "@@bdk-steady-end";
const CHILD_FLAG = "--child";

const OPTIONS = {
  format: { type: "string", default: "adv", value: "F", help: "adv (igb/ixgbe), legacy (e1000), extended (e1000e RX)" },
  seconds: { type: "number", default: 10, min: 0.5, value: "S", help: "length of the timed run" },
  warmup: { type: "number", default: 1, min: 0, value: "S", help: "warm-up before it (JIT tiers up)" },
  burst: { type: "int", default: 32, min: 1, max: 512, value: "N", help: "burst size" },
  json: { type: "bool", help: "print the result as JSON" },
  child: { type: "bool", help: "(internal) the measured process" },
} as const;

interface HeapPoint {
  heapSize: number;
  heapCapacity: number;
  objectCount: number;
}

export interface SteadyResult {
  format: Format;
  burst: number;
  seconds: number;
  packets: number;
  mpps: number;
  bursts: number;
  heapStart: HeapPoint;
  heapEnd: HeapPoint;
  /** Cells allocated while timed (live-cell count growth, none collected in between when gcs is 0). */
  cellsAllocated: number;
  /** Longest time between the starts of two consecutive bursts, µs. */
  maxGapUs: number;
  gapsOver100us: number;
  gapsOver1ms: number;
  /** The longest gap during which the thread did not wait for a CPU (its own stall), µs. */
  maxOwnGapUs: number;
  /** Gaps over 1 ms during which the thread waited for a CPU for at least half the gap. */
  gapsOver1msWaiting: number;
  /** This thread's time waiting for a CPU during the run (another process had the core), ms. */
  cpuWaitMs: number;
  /** Filled in by the parent from JSC's GC log. */
  gcs?: number;
}

function heapPoint(): HeapPoint {
  const h = heapStats();
  return { heapSize: h.heapSize, heapCapacity: h.heapCapacity, objectCount: h.objectCount };
}

/** The thread's cumulative time waiting for a CPU (ns), read without allocating: pread into `buf`, parse digits. */
function waitNs(fd: number, buf: Uint8Array): number {
  const n = pread(fd, buf, 0, "schedstat");
  let i = 0;
  while (i < n && buf[i] !== 0x20) i++; // the first field: time on a CPU
  let v = 0;
  for (i++; i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) v = v * 10 + (buf[i]! - 0x30);
  return v;
}

/**
 * The measured loop: apps/l2fwd/forward.ts's per-burst work on two model ports, with the burst gaps kept
 * in a preallocated array (nothing allocated per burst). Runs until `until` (performance.now() ms).
 */
function forward(a: ModelPort, b: ModelPort, burst: Burst, pool: Mempool, rewrite: MacRewrite, k: number, until: number, gaps: Float64Array,
  statFd: number, statBuf: Uint8Array): number {
  const rxq = a.rxq!;
  const txq = b.txq!;
  const bufs = burst.bufs;
  let packets = 0;
  let last = performance.now();
  let maxGap = 0;
  let maxOwn = 0;
  let over100 = 0;
  let over1000 = 0;
  let over1000Waiting = 0;
  let bursts = 0;
  let waited = waitNs(statFd, statBuf);
  for (;;) {
    a.nicRx(k);
    const n = rxq.burst(burst);
    for (let i = 0; i < n; i++) rewrite.apply(pool.bytes, pool.u16, pool.u32, pool.offset(bufs[i]!));
    const sent = txq.burst(burst, 0);
    if (sent < n) burst.freeFrom(pool, sent);
    burst.count = 0;
    b.nicTx();
    packets += n;
    bursts++;
    const now = performance.now();
    const gap = now - last;
    if (gap > maxGap) maxGap = gap;
    if (gap > 0.1) {
      over100++;
      const w = waitNs(statFd, statBuf);
      const waiting = (w - waited) / 1e6 >= gap / 2;
      waited = w;
      if (!waiting && gap > maxOwn) maxOwn = gap;
      if (gap > 1) {
        over1000++;
        if (waiting) over1000Waiting++;
      }
      last = performance.now(); // the read is not the next burst's gap
    } else {
      last = now;
      if (gap > maxOwn) maxOwn = gap;
    }
    if (now >= until) break;
  }
  gaps[0] = maxGap;
  gaps[1] = over100;
  gaps[2] = over1000;
  gaps[3] = bursts;
  gaps[4] = maxOwn;
  gaps[5] = over1000Waiting;
  return packets;
}

function runChild(format: Format, k: number, seconds: number, warmup: number): SteadyResult {
  const pool = Mempool.create({ count: 8192, hugepages: "never", name: "steady" });
  const a = new ModelPort({ format, pool, portId: 0, rxRing: 1024, txRing: 1024, rx: true, tx: false });
  const b = new ModelPort({ format, pool, portId: 1, rxRing: 1024, txRing: 1024, rx: false, tx: true });
  try {
    const burst = new Burst(k);
    const rewrite = new MacRewrite(new Uint8Array([0x02, 0, 0, 0, 0, 1]), new Uint8Array([0x02, 0, 0, 0, 0, 0x11]));
    const gaps = new Float64Array(6);
    const statFd = open("/proc/thread-self/schedstat", O_RDONLY);
    const statBuf = new Uint8Array(128);
    forward(a, b, burst, pool, rewrite, k, performance.now() + warmup * 1000, gaps, statFd, statBuf);
    const calib0 = liveCells();
    const overhead = liveCells() - calib0; // what counting itself allocates
    const heapStart = heapPoint();
    const cells0 = liveCells();
    const wait0 = schedstat()[1];
    writeSync(2, `${MARK_START}\n`);
    const t0 = performance.now();
    const packets = forward(a, b, burst, pool, rewrite, k, t0 + seconds * 1000, gaps, statFd, statBuf);
    const t1 = performance.now();
    writeSync(2, `${MARK_END}\n`);
    const wait1 = schedstat()[1];
    close(statFd);
    const cells1 = liveCells();
    const heapEnd = heapPoint();
    const expected = packets;
    if (a.rxq!.stats().packets < expected || b.txq!.stats().packets < expected) throw new Error("steady-state: the queues counted fewer packets than forwarded");
    const secs = (t1 - t0) / 1000;
    return {
      format, burst: k, seconds: secs, packets, mpps: packets / secs / 1e6, bursts: gaps[3]!,
      heapStart, heapEnd, cellsAllocated: Math.max(0, cells1 - cells0 - overhead),
      maxGapUs: gaps[0]! * 1000, gapsOver100us: gaps[1]!, gapsOver1ms: gaps[2]!, cpuWaitMs: (wait1 - wait0) / 1e6,
      maxOwnGapUs: gaps[4]! * 1000, gapsOver1msWaiting: gaps[5]!,
    };
  } finally {
    a.free();
    b.free();
    pool.destroy();
  }
}

/** Runs the measured process with JSC's GC log on; its result plus the GCs between its markers. */
function runParent(args: string[]): SteadyResult {
  const argv = [process.execPath, new URL(import.meta.url).pathname, CHILD_FLAG, "--json", ...args.filter((x) => x !== "--json")];
  const p = Bun.spawnSync(argv, { env: { ...process.env, BUN_JSC_logGC: "1" }, stdout: "pipe", stderr: "pipe" });
  const stderr = p.stderr.toString();
  if (p.exitCode !== 0) throw new BdkError(`bench/steady-state: the measured process failed:\n${withoutGcLog(stderr)}`, "see its message");
  const r = JSON.parse(p.stdout.toString().trim().split("\n").pop()!) as SteadyResult;
  const gcs = gcsBetween(stderr, MARK_START, MARK_END) ?? 0;
  r.gcs = gcs;
  return r;
}

const pct = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(2)} %`;

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/steady-state", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bench/steady-state", "bun bench/steady-state.ts [options]", OPTIONS));
    return 0;
  }
  if (!(FORMATS as readonly string[]).includes(o.format)) throw new UsageError(`bench/steady-state: --format ${o.format} is not one of ${FORMATS.join(", ")}`, "e.g. --format adv");
  const format = o.format as Format;
  if (o.child) {
    console.log(JSON.stringify(runChild(format, o.burst, o.seconds, o.warmup)));
    return 0;
  }
  const r = runParent(args);
  if (o.json) {
    console.log(JSON.stringify(r, null, 1));
    return 0;
  }
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown CPU";
  console.log(`bench/steady-state  ${new Date().toISOString()}  ${cpu}, Bun ${Bun.version}`);
  console.log(`${FORMAT_NAMES[format]}, l2fwd through the NIC model, burst ${r.burst}: ${(r.packets / 1e6).toFixed(1)} M packets in ${r.seconds.toFixed(2)} s (${r.mpps.toFixed(1)} Mpps), ${r.bursts} bursts`);
  console.log(`heap size      ${r.heapStart.heapSize} → ${r.heapEnd.heapSize} bytes (${pct(r.heapStart.heapSize, r.heapEnd.heapSize)})`);
  console.log(`heap capacity  ${r.heapStart.heapCapacity} → ${r.heapEnd.heapCapacity} bytes`);
  console.log(`objects        ${r.heapStart.objectCount} → ${r.heapEnd.objectCount}; ${r.cellsAllocated} cells allocated while timed`);
  console.log(`GCs            ${r.gcs} during the run (JSC's GC log)`);
  console.log(`burst gaps     longest ${r.maxGapUs.toFixed(1)} µs; ${r.gapsOver100us} over 100 µs, ${r.gapsOver1ms} over 1 ms ` +
    `(${r.gapsOver1msWaiting} of them while the thread waited for a CPU); the thread waited ${r.cpuWaitMs.toFixed(1)} ms in all`);
  console.log(`own stalls     longest gap without a wait for a CPU: ${r.maxOwnGapUs.toFixed(1)} µs`);
  const flat = Math.abs(r.heapEnd.heapSize - r.heapStart.heapSize) <= 0.01 * r.heapStart.heapSize;
  console.log(`verdict        heap ${flat ? "flat (±1 %)" : "NOT flat"}, ${r.gcs === 0 ? "no GC" : `${r.gcs} GC(s)`}, ` +
    `longest own gap ${r.maxOwnGapUs < 1000 ? "under" : "OVER"} 1 ms, longest gap of all ${r.maxGapUs < 1000 ? "under" : "OVER"} 1 ms` +
    (r.gapsOver1ms > r.gapsOver1msWaiting ? "" : r.gapsOver1ms > 0 ? " (each gap over 1 ms: another process had the core)" : ""));
  return 0;
}

if (import.meta.main) await runAsProgram("bench/steady-state", main);
