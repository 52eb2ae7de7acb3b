#!/usr/bin/env bun
// l2fwd: DPDK's layer-2 forwarding sample, in bdk. Ports are paired (0↔1, 2↔3, or --portmap); every frame
// received on one port of a pair is sent on the other. With MAC updating (the default, as in DPDK) the
// source MAC becomes the TX port's MAC and the destination 02:00:00:00:00:<TX port>.
//
// Read this file to learn the API: open ports on one shared mempool, start them, hand each RX queue and the
// TX queue it feeds to a lane, then loop over rxq.burst → (touch the bytes in place) → txq.burst, freeing
// whatever the TX ring did not take (apps/l2fwd/forward.ts). With --cores, each pinned worker gets queue
// handles and attaches them: the main thread keeps the ports (the control plane), the workers the bursts.
import { LiveScreen, Mempool, openPort, parseHttpAddress, startWorkers, type Port, type Telemetry, type PortEvent, type PortStats, type QueueStats } from "../src/index.ts";
import { checkCores, helpText, parseArgs, parseCoreList, portResource, UsageError, type ParsedOptions } from "./common/args.ts";
import { formatRate, onStopSignal, runAsProgram } from "./common/runtime.ts";
import { ForwardCounters, forwardInMainThread, type LaneOptions, type LaneSpec, type WorkerInit } from "./l2fwd/forward.ts";
import { L2fwdScreen, startL2fwdTelemetry } from "./l2fwd/live.ts";

const OPTIONS = {
  portmap: { type: "string", value: "(A,B),…", help: "pairs of port indices, e.g. (0,1),(2,3) (default: consecutive ports)" },
  "mac-updating": { type: "bool", default: true, help: "rewrite source MAC to the TX port's and destination to 02:00:00:00:00:<TX port>" },
  burst: { type: "int", alias: "b", default: 32, min: 1, max: 1024, value: "N", help: "frames per rxBurst/txBurst" },
  "port-queues": { type: "int", default: 1, min: 1, max: 16, value: "N", help: "RX queues per port (spread by the port's RSS / fanout)" },
  cores: { type: "string", default: "", value: "LIST", help: "worker cores, e.g. 0,1 or 0-3: one pinned worker per core, each with its own TX queue on every port; a core given twice runs two workers (default: forward in the main thread)" },
  "queues-per-worker": { type: "int", alias: "q", default: 0, min: 0, max: 1024, value: "N", help: "RX queues each worker polls, as DPDK's -q (0: share them out round-robin)" },
  "ring-size": { type: "int", default: 512, min: 64, max: 65536, powerOfTwo: true, value: "N", help: "descriptors per RX/TX ring, a power of two" },
  pool: { type: "int", default: 8192, min: 64, max: 16777216, value: "N", help: "buffers in the shared mempool" },
  mtu: { type: "int", default: 0, min: 0, max: 65000, value: "N", help: "set every port's MTU (0: leave it); buffers are sized to hold such frames" },
  period: { type: "number", alias: "T", default: 10, min: 0, max: 86400, value: "S", help: "seconds between stats lines (0: none)" },
  duration: { type: "number", default: 0, min: 0, value: "S", help: "stop after S seconds (0: no limit, run until Ctrl-C)" },
  promiscuous: { type: "bool", default: true, help: "receive frames for any destination MAC" },
  idle: { type: "string", default: "sleep", choices: ["sleep", "poll"], value: "MODE", help: "when no frames come: sleep on the RX queues' interrupts (sleep) or poll without pause, as DPDK's l2fwd (poll)" },
  "link-wait": { type: "number", default: 9, min: 0, max: 3600, value: "S", help: "seconds to wait for every link to come up" },
  json: { type: "bool", help: "print the final summary as JSON on stdout (stats lines go to stderr)" },
  live: { type: "bool", default: true, help: "on a terminal, one screen of per-port rates redrawn in place every second instead of stats lines (--no-live: lines)" },
  telemetry: { type: "bool", help: "serve telemetry on a Unix socket: bdk telemetry PID (docs/telemetry.md)" },
  "telemetry-http": { type: "string", value: "[ADDR:]PORT", help: "also serve /metrics (Prometheus), /api and the live page over HTTP on PORT (on 127.0.0.1 unless ADDR is given; 0 picks a free port); implies --telemetry" },
} as const;

export type L2fwdOptions = ParsedOptions<typeof OPTIONS> & { specs: string[]; pairs: [number, number][] };

const SYNOPSIS = "[options] PORT PORT [PORT PORT …]   (PORT: a PCI address or a software port such as af_packet:eth1)";

export function parseL2fwdArgs(argv: readonly string[]): L2fwdOptions {
  const o = parseArgs("l2fwd", OPTIONS, argv);
  const specs = o._;
  if (o.help) return { ...o, specs, pairs: [] };
  if (specs.length === 0) throw new UsageError("l2fwd: no ports given", `usage: bdk l2fwd ${SYNOPSIS}`);
  checkDistinctPorts(specs);
  const pairs = o.portmap ? parsePortmap(o.portmap, specs.length) : defaultPairs(specs.length);
  // Cores: well-formed and ones this process may run on, before any port opens (sharing is runL2fwd's word).
  if (o.cores !== "") checkCores("l2fwd", parseCoreList("l2fwd", o.cores));
  if (o["telemetry-http"] !== "" && o["telemetry-http"] !== undefined) parseHttpAddress(o["telemetry-http"], "l2fwd: --telemetry-http");
  return { ...o, specs, pairs };
}

/** Refuses two specs that open the same thing (one interface, one PCI function, both ends of one ring link, one output file). */
export function checkDistinctPorts(specs: readonly string[]): void {
  const seen = new Map<string, number>();
  specs.forEach((spec, i) => {
    const r = portResource(spec);
    if (!r) return;
    const j = seen.get(r.key);
    if (j === undefined) {
      seen.set(r.key, i);
      return;
    }
    const both = `("${specs[j]}" and "${spec}")`;
    if (r.kind === "ring") {
      throw new UsageError(`l2fwd: ports ${j} and ${i} are the two ends of one ${r.what} ${both}: l2fwd would forward the link into itself`,
        "give each port its own ring name (ring:a ring:b), and the other ends to the traffic's source and sink");
    }
    throw new UsageError(`l2fwd: ports ${j} and ${i} are the same ${r.what} ${both}`,
      r.kind === "pcap-out" ? "give each port its own output file" : "give each port once: l2fwd forwards between different ports");
  });
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
  // Pairs separated by blanks and/or one comma, matched one way only (blanks, then an optional comma and
  // blanks): a separator that could split two ways backtracks exponentially on a long malformed list.
  if (!/^\s*\(\s*\d+\s*,\s*\d+\s*\)(?:\s*(?:,\s*)?\(\s*\d+\s*,\s*\d+\s*\))*\s*(?:,\s*)?$/.test(text)) {
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
  stats: PortStats;
  /** Per queue, from the port's own counters. */
  queues: { rx: QueueStats[]; tx: QueueStats[] };
}

export interface L2fwdResult {
  durationSec: number;
  /** Each pinned worker, its lanes and what it forwarded (summed over its lanes). */
  workers: { core: number; tid: number; lanes: LaneSpec[]; rx: number; tx: number; dropped: number }[];
  ports: PortSummary[];
  totals: { rx: number; tx: number; dropped: number };
  /** Link changes seen while forwarding. */
  events: { port: number; at: number; up: boolean; reason?: string }[];
}

export interface L2fwdControl {
  shouldStop?: () => boolean;
  log?: (line: string) => void;
  /** Ports the caller opened, configured and started (by index, matching o.specs), on one pool: l2fwd forwards on them and leaves them open. */
  ports?: Port[];
}

/** Every RX queue of every port, each sending on the paired port's TX queue of the same number (fixed later for workers). */
export function lanesFor(pairs: [number, number][], portQueues: number): LaneSpec[] {
  const lanes: LaneSpec[] = [];
  // Port by port, queue by queue: shared out round-robin, worker w then gets RX queue w of every port (where
  // RSS puts its share of each direction's flows); with -q, consecutive queues of one port, as DPDK's -q.
  for (const [a, b] of pairs) {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      for (let q = 0; q < portQueues; q++) lanes.push({ rx: from, rxQueue: q, tx: to, txQueue: q });
    }
  }
  return lanes;
}

/**
 * Which RX lanes each worker polls, as DPDK's l2fwd fills each lcore: with -q N, each worker takes the next
 * N lanes in order, and too few cores is an error; without it, lanes go round-robin over the cores. Worker w
 * transmits on TX queue w of every port, so no two threads share a queue.
 */
export function shareLanes(lanes: LaneSpec[], cores: number[], queuesPerWorker: number): LaneSpec[][] {
  if (cores.length === 0) {
    if (queuesPerWorker > 0) throw new UsageError("l2fwd: -q shares RX queues among workers, but no --cores were given", "add --cores 0,1 (or drop -q)");
    return [];
  }
  let share: LaneSpec[][];
  if (queuesPerWorker === 0) {
    if (cores.length > lanes.length) {
      throw new UsageError(`l2fwd: ${cores.length} worker cores for ${lanes.length} RX queue(s)`, "give at most one core per RX queue, or more queues with --port-queues");
    }
    share = cores.map((_, w) => lanes.filter((_, i) => i % cores.length === w));
  } else {
    const needed = Math.ceil(lanes.length / queuesPerWorker);
    if (needed > cores.length) {
      throw new UsageError(`l2fwd: ${lanes.length} RX queue(s) at -q ${queuesPerWorker} per worker need ${needed} cores, ${cores.length} given`, "add cores to --cores or raise -q");
    }
    share = [];
    for (let w = 0; w < needed; w++) share.push(lanes.slice(w * queuesPerWorker, (w + 1) * queuesPerWorker));
  }
  return share.map((mine, w) => mine.map((l) => ({ ...l, txQueue: w })));
}

/**
 * The control plane: opens and starts the ports on one pool (they stay owned by this thread), hands the
 * lanes to pinned workers (--cores) or runs them here, prints a stats line every period, stops on Ctrl-C,
 * the duration or `shouldStop`, and returns the counts.
 */
export async function runL2fwd(o: L2fwdOptions, control: L2fwdControl = {}): Promise<L2fwdResult> {
  // On a terminal (and not --json), one screen redrawn in place; log lines then show under it.
  let screen: L2fwdScreen | undefined;
  const live = !control.log && o.live && !o.json && o.period > 0 && LiveScreen.wanted();
  const print = control.log ?? ((line: string) => (o.json ? console.error(line) : console.log(line)));
  const log = (line: string): void => (screen ? screen.screen.note(line) : print(line));
  const cores = o.cores ? parseCoreList("l2fwd", o.cores) : [];
  const share = shareLanes(lanesFor(o.pairs, o["port-queues"]), cores, o["queues-per-worker"]);
  for (const warning of checkCores("l2fwd", cores.slice(0, share.length))) log(warning);
  const txQueues = share.length > 0 ? share.length : o["port-queues"];
  const counters = ForwardCounters.create(o.specs.length, Math.max(1, share.length));
  const laneOptions: LaneOptions = { burst: o.burst, macUpdating: o["mac-updating"], sleepWhenIdle: o.idle === "sleep" };

  const given = control.ports;
  const pool = given ? given[0]!.config!.pool : Mempool.create({ count: o.pool, dataRoom: dataRoomFor(o.mtu), name: "l2fwd" });
  const ports: Port[] = given ? [...given] : [];
  let stop = false;
  const removeSignal = onStopSignal(() => {
    stop = true;
  });
  const stats = new Stats(counters, log);
  let ticker: ReturnType<typeof setInterval> | undefined;
  let eventTicker: ReturnType<typeof setInterval> | undefined;
  let telemetry: Telemetry | undefined;
  const workers: L2fwdResult["workers"] = [];
  const events: L2fwdResult["events"] = [];
  try {
    if (!given) {
      for (const spec of o.specs) {
        ports.push(openPort(spec, {
          pool, rxQueues: o["port-queues"], txQueues, rxRingSize: o["ring-size"], txRingSize: o["ring-size"], promiscuous: o.promiscuous,
          // Several RX queues are spread by the port's RSS (a flow always lands on one queue), as DPDK's l3fwd asks.
          ...(o["port-queues"] > 1 ? { rss: {} } : {}),
          ...(o.mtu > 0 ? { mtu: o.mtu } : {}),
        }));
      }
      for (const p of ports) p.start();
    }
    await waitForLinks(ports, o["link-wait"], log);
    const http = o["telemetry-http"] || undefined;
    const view = { ports, specs: o.specs, counters, workers: () => workers };
    if (o.telemetry || http !== undefined) {
      telemetry = startL2fwdTelemetry(view, http);
      log(`l2fwd: telemetry on ${telemetry.socketPath} (bdk telemetry ${process.pid}${telemetry.dpdkFilePrefix ? `; dpdk-telemetry.py -f ${telemetry.dpdkFilePrefix}` : ""})${telemetry.httpUrl ? `, ${telemetry.httpUrl} (/metrics, /api/, the live page)` : ""}`);
    }
    for (const [a, b] of o.pairs) log(`l2fwd: port ${a} (${o.specs[a]}) <-> port ${b} (${o.specs[b]})`);
    // Link changes are events: report each with its time; forwarding goes on on the other pairs.
    ports.forEach((p, i) => p.on("link", (e: PortEvent) => {
      events.push({ port: i, at: e.at, up: e.link.up, reason: e.reason });
      log(`l2fwd: ${new Date(e.at).toISOString()} port ${i} (${o.specs[i]}) link ${e.link.up ? "up" : "DOWN"}${e.reason ? ` (${e.reason})` : ""}`);
    }));
    eventTicker = setInterval(() => {
      for (const p of ports) p.pollEvents();
    }, 100);

    const started = performance.now();
    const deadline = o.duration > 0 ? started + o.duration * 1000 : Infinity;
    const shouldStop = (): boolean => stop || (control.shouldStop?.() ?? false) || performance.now() >= deadline;
    if (live) {
      const s = (screen = new L2fwdScreen(view, telemetry?.httpUrl ? `  ${telemetry.httpUrl}` : ""));
      ticker = setInterval(() => s.draw(), Math.min(o.period, 1) * 1000);
    } else if (o.period > 0) ticker = setInterval(() => stats.report(), o.period * 1000);
    if (share.length === 0) {
      const lanes = lanesFor(o.pairs, o["port-queues"]).map((l) => ({
        spec: l, rxq: ports[l.rx]!.rxQueue(l.rxQueue), txq: ports[l.tx]!.txQueue(l.txQueue), txMac: ports[l.tx]!.macAddress(),
      }));
      // Ports of its own: the thread is l2fwd's alone and may sleep on the RX queues when idle.
      await forwardInMainThread(pool, lanes, laneOptions, counters.block(0), shouldStop, !given);
    } else {
      // Each worker gets handles of the queues its lanes use: RX queues shared out, TX queue w of every port its own.
      const inits: WorkerInit[] = share.map((mine, w) => ({
        ...laneOptions, counters: counters.sab, ports: o.specs.length, block: w,
        lanes: mine.map((l) => ({
          spec: l, rx: ports[l.rx]!.rxQueue(l.rxQueue).handle(), tx: ports[l.tx]!.txQueue(l.txQueue).handle(), txMac: ports[l.tx]!.macAddress(),
        })),
      }));
      const group = await startWorkers<WorkerInit, void>(new URL("./l2fwd/worker.ts", import.meta.url), {
        cores: cores.slice(0, share.length), name: "l2fwd", init: (_core, i) => inits[i]!,
      });
      for (const w of group.workers) {
        workers.push({ core: w.core, tid: w.tid, lanes: share[w.index]!, rx: 0, tx: 0, dropped: 0 });
        log(`l2fwd: worker on core ${w.core} (tid ${w.tid}) polls ${share[w.index]!.map((l) => `${l.rx}.${l.rxQueue}→${l.tx}.${l.txQueue}`).join(" ")}`);
      }
      try {
        while (!shouldStop()) await Bun.sleep(50);
      } finally {
        await group.stop();
      }
    }
    const durationSec = (performance.now() - started) / 1000;
    for (const p of ports) p.pollEvents();
    workers.forEach((w, i) => Object.assign(w, counters.thread(i)));
    const summary: PortSummary[] = ports.map((p, i) => ({
      index: i, spec: o.specs[i]!, mac: safeMac(p), ...counters.port(i), stats: p.stats(),
      queues: {
        rx: Array.from({ length: o["port-queues"] }, (_, q) => p.queueStats(q, "rx")),
        tx: Array.from({ length: txQueues }, (_, q) => p.queueStats(q, "tx")),
      },
    }));
    const totals = { rx: 0, tx: 0, dropped: 0 };
    for (const p of summary) {
      totals.rx += p.rx;
      totals.tx += p.tx;
      totals.dropped += p.dropped;
    }
    return { durationSec, workers, ports: summary, totals, events };
  } finally {
    if (ticker) clearInterval(ticker);
    if (screen) {
      screen.draw();
      screen.close();
      screen = undefined;
    }
    telemetry?.close();
    if (eventTicker) clearInterval(eventTicker);
    removeSignal();
    if (!given) {
      for (const p of ports) {
        try {
          p.close();
        } catch (e) {
          console.error(`l2fwd: closing ${p.spec}: ${(e as Error).message}`);
        }
      }
      pool.destroy();
    }
  }
}

/**
 * Buffers for frames of `mtu`: one standard frame (2048), or for jumbo MTUs the next power of two that
 * holds a whole frame, since NICs take receive buffer sizes in powers of two (an e1000 with MTU 9000
 * receives into 16 KiB buffers).
 */
function dataRoomFor(mtu: number): number {
  if (mtu <= 1500) return 2048;
  let room = 2048;
  while (room < mtu + 18) room *= 2;
  return Math.min(room, 65000);
}

async function waitForLinks(ports: Port[], seconds: number, log: (line: string) => void): Promise<void> {
  const until = performance.now() + seconds * 1000;
  while (ports.some((p) => !p.link().up) && performance.now() < until) await Bun.sleep(100);
  for (const [i, p] of ports.entries()) {
    const l = p.link();
    log(`port ${i} (${p.spec}) ${p.macAddress()}: link ${l.up ? "up" : "DOWN"}${l.speedMbps ? ` ${l.speedMbps} Mbit/s` : ""}`);
  }
}

/** Periodic stats lines from the shared counters: per port RX/TX/dropped and rates, then totals. */
class Stats {
  private last: { rx: number; tx: number; dropped: number }[] = [];
  private lastTime = performance.now();

  constructor(private readonly counters: ForwardCounters, private readonly log: (line: string) => void) {}

  report(): void {
    const now = performance.now();
    const seconds = (now - this.lastTime) / 1000;
    const total = { rx: 0, tx: 0, dropped: 0 };
    const current: { rx: number; tx: number; dropped: number }[] = [];
    for (let i = 0; i < this.counters.ports; i++) {
      const c = this.counters.port(i);
      const before = this.last[i] ?? { rx: 0, tx: 0, dropped: 0 };
      this.log(`port ${i}: rx ${c.rx} (${formatRate((c.rx - before.rx) / seconds)}) tx ${c.tx} (${formatRate((c.tx - before.tx) / seconds)}) dropped ${c.dropped}`);
      total.rx += c.rx;
      total.tx += c.tx;
      total.dropped += c.dropped;
      current.push(c);
    }
    this.log(`total: rx ${total.rx} tx ${total.tx} dropped ${total.dropped}`);
    this.last = current;
    this.lastTime = now;
  }
}

/** The MAC for the summary; a port whose interface vanished says so instead of failing the summary. */
function safeMac(p: Port): string {
  try {
    return p.macAddress();
  } catch {
    return "(gone)";
  }
}

function printSummary(r: L2fwdResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r));
    return;
  }
  console.log(`l2fwd: ran ${r.durationSec.toFixed(1)} s`);
  for (const p of r.ports) {
    console.log(`  port ${p.index} ${p.spec}: rx ${p.rx} (${formatRate(p.rx / r.durationSec)}) tx ${p.tx} (${formatRate(p.tx / r.durationSec)}) dropped ${p.dropped} imissed ${p.stats.imissed}`);
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
