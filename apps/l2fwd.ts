#!/usr/bin/env bun
// l2fwd: DPDK's layer-2 forwarding sample, in bdk. Ports are paired (0↔1, 2↔3, or --portmap); every frame
// received on one port of a pair is sent on the other. With MAC updating (the default, as in DPDK) the
// source MAC becomes the TX port's MAC and the destination 02:00:00:00:00:<TX port>.
//
// Read this file to learn the API: open ports on one shared mempool, start them, then loop over
// rxBurst → (touch the bytes in place) → txBurst, freeing whatever the TX ring did not take.
import type { PortStats } from "../src/ethdev/port.ts";
import type { PortHandle } from "../src/ethdev/attach.ts";
import type { Mempool } from "../src/mem/mempool.ts";
import { startWorkers } from "../src/lcore/worker.ts";
import { helpText, parseArgs, parseCoreList, UsageError, type ParsedOptions } from "./common/args.ts";
import { formatRate, onStopSignal, runAsProgram } from "./common/runtime.ts";
import { forwardPairs, type ForwardInit, type ForwardResult } from "./l2fwd/forward.ts";

const OPTIONS = {
  portmap: { type: "string", value: "(A,B),…", help: "pairs of port indices, e.g. (0,1),(2,3) (default: consecutive ports)" },
  "mac-updating": { type: "bool", default: true, help: "rewrite source MAC to the TX port's and destination to 02:00:00:00:00:<TX port>" },
  burst: { type: "int", alias: "b", default: 32, min: 1, max: 1024, value: "N", help: "frames per rxBurst/txBurst" },
  "port-queues": { type: "int", default: 1, min: 1, max: 16, value: "N", help: "RX/TX queues per port, polled by the worker that owns the port's pair" },
  cores: { type: "string", default: "", value: "LIST", help: "worker cores, e.g. 0,1 or 0-3: one pinned worker per core (default: forward in the main thread)" },
  "queues-per-worker": { type: "int", alias: "q", default: 0, min: 0, value: "N", help: "RX queues each worker polls, as DPDK's -q (a pair's queues stay on one worker; 0: share the pairs out evenly)" },
  "ring-size": { type: "int", default: 512, value: "N", help: "descriptors per RX/TX ring (power of two)" },
  pool: { type: "int", default: 8192, min: 64, value: "N", help: "buffers in the shared mempool" },
  period: { type: "number", alias: "T", default: 10, min: 0, value: "S", help: "seconds between stats lines (0: none)" },
  duration: { type: "number", default: 0, min: 0, value: "S", help: "stop after S seconds (0: until Ctrl-C)" },
  promiscuous: { type: "bool", default: true, help: "receive frames for any destination MAC" },
  "link-wait": { type: "number", default: 9, min: 0, value: "S", help: "seconds to wait for every link to come up" },
  json: { type: "bool", help: "print the final summary as JSON on stdout (stats lines go to stderr)" },
} as const;

export type L2fwdOptions = ParsedOptions<typeof OPTIONS> & { specs: string[]; pairs: [number, number][] };

const SYNOPSIS = "[options] PORT PORT [PORT PORT …]   (PORT: a PCI address or a software port such as af_packet:eth1)";

export function parseL2fwdArgs(argv: readonly string[]): L2fwdOptions {
  const o = parseArgs("l2fwd", OPTIONS, argv);
  const specs = o._;
  if (o.help) return { ...o, specs, pairs: [] };
  if (specs.length === 0) throw new UsageError("l2fwd: no ports given", `usage: bdk l2fwd ${SYNOPSIS}`);
  const pairs = o.portmap ? parsePortmap(o.portmap, specs.length) : defaultPairs(specs.length);
  return { ...o, specs, pairs };
}

function defaultPairs(n: number): [number, number][] {
  if (n % 2 !== 0) {
    throw new UsageError(`l2fwd: ${n} ports given, but ports forward in pairs`, "give an even number of ports, or pair them with --portmap (0,1),(2,3)");
  }
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i += 2) pairs.push([i, i + 1]);
  return pairs;
}

export function parsePortmap(text: string, ports: number): [number, number][] {
  const pairs: [number, number][] = [];
  const used = new Set<number>();
  const re = /\(\s*(\d+)\s*,\s*(\d+)\s*\)/g;
  if (!/^\s*(\(\s*\d+\s*,\s*\d+\s*\)\s*,?\s*)+$/.test(text)) {
    throw new UsageError(`l2fwd: --portmap "${text}" is malformed`, "write it like (0,1),(2,3)");
  }
  for (const m of text.matchAll(re)) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    for (const p of [a, b]) {
      if (p >= ports) throw new UsageError(`l2fwd: --portmap names port ${p}, but only ${ports} ports were given`, `use indices 0..${ports - 1}`);
      if (used.has(p)) throw new UsageError(`l2fwd: --portmap uses port ${p} twice`, "each port belongs to one pair");
      used.add(p);
    }
    if (a === b) throw new UsageError(`l2fwd: --portmap pairs port ${a} with itself`, "pair two different ports");
    pairs.push([a, b]);
  }
  return pairs;
}

export interface PortSummary {
  index: number;
  spec: string;
  mac: string;
  rx: number;
  tx: number;
  dropped: number;
  stats: PortStats | undefined;
}

export interface L2fwdResult {
  durationSec: number;
  workers: { core: number; tid: number; pairs: [number, number][] }[];
  ports: PortSummary[];
  totals: { rx: number; tx: number; dropped: number };
}

/**
 * The control plane: shares the pairs out (to pinned workers with --cores, else to the main thread), prints
 * a stats line every period, stops on Ctrl-C, the duration, or `shouldStop`, and returns the counts.
 */
export interface L2fwdControl {
  shouldStop?: () => boolean;
  log?: (line: string) => void;
  /** Forward on this pool (shared with ports the caller opened itself); main-thread runs only. */
  pool?: Mempool;
  /** Ports the caller opened and started, by index, for workers to attach to (--cores runs). */
  handles?: (PortHandle | undefined)[];
}

export async function runL2fwd(o: L2fwdOptions, control: L2fwdControl = {}): Promise<L2fwdResult> {
  const log = control.log ?? ((line: string) => (o.json ? console.error(line) : console.log(line)));
  const cores = o.cores ? parseCoreList("l2fwd", o.cores) : [];
  if (cores.length > 0 && control.pool) throw new UsageError("l2fwd: a caller's pool cannot be shared with workers", "run without --cores");
  const share = sharePairs(o.pairs, cores, o["port-queues"], o["queues-per-worker"]);
  const counters = new SharedArrayBuffer(8 * 3 * o.specs.length);
  const init = (pairs: [number, number][]): ForwardInit => ({
    specs: o.specs, pairs, queues: o["port-queues"], burst: o.burst, ringSize: o["ring-size"], poolSize: o.pool, macUpdating: o["mac-updating"],
    promiscuous: o.promiscuous, linkWaitSec: o["link-wait"], counters, logToStderr: o.json, pool: control.pool, handles: control.handles,
  });

  let stop = false;
  const removeSignal = onStopSignal(() => {
    stop = true;
  });
  const started = performance.now();
  const deadline = o.duration > 0 ? started + o.duration * 1000 : Infinity;
  const shouldStop = (): boolean => stop || (control.shouldStop?.() ?? false) || performance.now() >= deadline;
  const stats = new Stats(new Float64Array(counters), o.specs.length, log);
  const ticker = o.period > 0 ? setInterval(() => stats.report(), o.period * 1000) : undefined;
  let results: ForwardResult[];
  const workers: L2fwdResult["workers"] = [];
  try {
    if (cores.length === 0) {
      results = [await forwardPairs(init(o.pairs), shouldStop, true)];
    } else {
      const group = await startWorkers<ForwardInit, ForwardResult>(new URL("./l2fwd/worker.ts", import.meta.url), {
        cores: cores.slice(0, share.length), name: "l2fwd", init: (_core, i) => init(share[i]!),
      });
      for (const w of group.workers) workers.push({ core: w.core, tid: w.tid, pairs: share[w.index]! });
      for (const w of workers) log(`l2fwd: worker on core ${w.core} (tid ${w.tid}) forwards pairs ${w.pairs.map(([a, b]) => `${a}<->${b}`).join(" ")}`);
      while (!shouldStop()) await Bun.sleep(50);
      results = await group.stop();
    }
  } finally {
    if (ticker) clearInterval(ticker);
    removeSignal();
  }
  const durationSec = (performance.now() - started) / 1000;
  const merged = Object.assign({}, ...results.map((r) => r.stats)) as Record<number, PortStats>;
  const macs = Object.assign({}, ...results.map((r) => r.macs)) as Record<number, string>;
  const c = new Float64Array(counters);
  const ports: PortSummary[] = o.specs.map((spec, i) => ({
    index: i, spec, mac: macs[i] ?? "", rx: c[3 * i]!, tx: c[3 * i + 1]!, dropped: c[3 * i + 2]!, stats: merged[i],
  }));
  const totals = { rx: 0, tx: 0, dropped: 0 };
  for (const p of ports) {
    totals.rx += p.rx;
    totals.tx += p.tx;
    totals.dropped += p.dropped;
  }
  return { durationSec, workers, ports, totals };
}

/**
 * Which pairs each worker forwards. A pair (both directions, every queue of both ports) belongs to one
 * worker. With -q, each worker takes pairs in order until it polls that many RX queues, as DPDK's l2fwd
 * fills each lcore with -q RX ports; without it, pairs go round-robin. Too few cores is an error, as in DPDK.
 */
export function sharePairs(pairs: [number, number][], cores: number[], portQueues: number, queuesPerWorker: number): [number, number][][] {
  if (cores.length === 0) {
    if (queuesPerWorker > 0) throw new UsageError("l2fwd: -q shares RX queues among workers, but no --cores were given", "add --cores 0,1 (or drop -q)");
    return [];
  }
  if (queuesPerWorker === 0) {
    if (cores.length > pairs.length) {
      throw new UsageError(`l2fwd: ${cores.length} worker cores for ${pairs.length} port pair(s)`, "a pair is forwarded by one worker: give at most one core per pair");
    }
    return cores.map((_, w) => pairs.filter((_, i) => i % cores.length === w));
  }
  const perPair = 2 * portQueues;
  if (queuesPerWorker < perPair) {
    throw new UsageError(`l2fwd: -q ${queuesPerWorker} is less than one pair's ${perPair} RX queues`, `a pair's queues stay on one worker: give -q ${perPair} or more`);
  }
  const pairsPerWorker = Math.floor(queuesPerWorker / perPair);
  const needed = Math.ceil(pairs.length / pairsPerWorker);
  if (needed > cores.length) {
    throw new UsageError(`l2fwd: ${pairs.length} pair(s) at ${pairsPerWorker} per worker (-q ${queuesPerWorker}) need ${needed} cores, ${cores.length} given`, `add cores to --cores or raise -q`);
  }
  const share: [number, number][][] = [];
  for (let w = 0; w < needed; w++) share.push(pairs.slice(w * pairsPerWorker, (w + 1) * pairsPerWorker));
  return share;
}

/** Periodic stats lines from the shared counters: per port RX/TX/dropped and rates, then totals. */
class Stats {
  private readonly last: Float64Array;
  private lastTime = performance.now();

  constructor(private readonly counters: Float64Array, private readonly ports: number, private readonly log: (line: string) => void) {
    this.last = new Float64Array(counters.length);
  }

  report(): void {
    const now = performance.now();
    const seconds = (now - this.lastTime) / 1000;
    const c = this.counters;
    const total = [0, 0, 0];
    for (let i = 0; i < this.ports; i++) {
      const rate = (k: number): string => formatRate((c[3 * i + k]! - this.last[3 * i + k]!) / seconds);
      this.log(`port ${i}: rx ${c[3 * i]} (${rate(0)}) tx ${c[3 * i + 1]} (${rate(1)}) dropped ${c[3 * i + 2]}`);
      for (let k = 0; k < 3; k++) total[k]! += c[3 * i + k]!;
    }
    this.log(`total: rx ${total[0]} tx ${total[1]} dropped ${total[2]}`);
    this.last.set(c);
    this.lastTime = now;
  }
}

function printSummary(r: L2fwdResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(`l2fwd: ran ${r.durationSec.toFixed(1)} s`);
  for (const p of r.ports) {
    console.log(`  port ${p.index} ${p.spec}: rx ${p.rx} (${formatRate(p.rx / r.durationSec)}) tx ${p.tx} (${formatRate(p.tx / r.durationSec)}) dropped ${p.dropped}`);
  }
  console.log(`  total: rx ${r.totals.rx} tx ${r.totals.tx} dropped ${r.totals.dropped}`);
}

export async function main(argv: string[]): Promise<number> {
  const o = parseL2fwdArgs(argv);
  if (o.help) {
    console.log(helpText("bdk l2fwd", SYNOPSIS, OPTIONS));
    return 0;
  }
  const result = await runL2fwd(o);
  printSummary(result, o.json);
  return 0;
}

if (import.meta.main) await runAsProgram("l2fwd", main);
