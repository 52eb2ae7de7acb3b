#!/usr/bin/env bun
// l2fwd: DPDK's layer-2 forwarding sample, in bdk. Ports are paired (0↔1, 2↔3, or --portmap); every frame
// received on one port of a pair is sent on the other. With MAC updating (the default, as in DPDK) the
// source MAC becomes the TX port's MAC and the destination 02:00:00:00:00:<TX port>.
//
// Read this file to learn the API: open ports on one shared mempool, start them, then loop over
// rxBurst → (touch the bytes in place) → txBurst, freeing whatever the TX ring did not take.
import { Burst, type Port, type PortStats } from "../src/ethdev/port.ts";
import { openPort } from "../src/ethdev/open.ts";
import { Mempool } from "../src/mem/mempool.ts";
import { helpText, parseArgs, UsageError, type ParsedOptions } from "./common/args.ts";
import { formatRate, onStopSignal, runAsProgram } from "./common/runtime.ts";

const OPTIONS = {
  portmap: { type: "string", value: "(A,B),…", help: "pairs of port indices, e.g. (0,1),(2,3) (default: consecutive ports)" },
  "mac-updating": { type: "bool", default: true, help: "rewrite source MAC to the TX port's and destination to 02:00:00:00:00:<TX port>" },
  burst: { type: "int", alias: "b", default: 32, min: 1, max: 1024, value: "N", help: "frames per rxBurst/txBurst" },
  queues: { type: "int", alias: "q", default: 1, min: 1, max: 16, value: "N", help: "RX/TX queues per port, all polled by this forwarder" },
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

/** One direction of one queue: RX from `rx`, TX to `tx`. */
interface Lane {
  rxPort: number;
  txPort: number;
  queue: number;
  burst: Burst;
}

export interface PortSummary {
  index: number;
  spec: string;
  mac: string;
  rx: number;
  tx: number;
  dropped: number;
  stats: PortStats;
}

export interface L2fwdResult {
  durationSec: number;
  ports: PortSummary[];
  totals: { rx: number; tx: number; dropped: number };
}

/** Opens the ports, forwards until stopped or the duration ends, closes everything, and returns the counts. */
export async function runL2fwd(o: L2fwdOptions, control: { shouldStop?: () => boolean; log?: (line: string) => void } = {}): Promise<L2fwdResult> {
  const log = control.log ?? ((line: string) => (o.json ? console.error(line) : console.log(line)));
  const pool = Mempool.create({ count: o.pool, name: "l2fwd" });
  const ports: Port[] = [];
  let stopRequested = false;
  const removeSignal = onStopSignal(() => {
    stopRequested = true;
  });
  try {
    for (const spec of o.specs) {
      ports.push(openPort(spec, {
        pool, rxQueues: o.queues, txQueues: o.queues, rxRingSize: o["ring-size"], txRingSize: o["ring-size"], promiscuous: o.promiscuous,
      }));
    }
    for (const p of ports) p.start();
    await waitForLinks(ports, o["link-wait"], log);

    const macs = ports.map((p) => macBytes(p.macAddress()));
    const lanes: Lane[] = [];
    for (const [a, b] of o.pairs) {
      for (let q = 0; q < o.queues; q++) {
        lanes.push({ rxPort: a, txPort: b, queue: q, burst: new Burst(o.burst) });
        lanes.push({ rxPort: b, txPort: a, queue: q, burst: new Burst(o.burst) });
      }
    }
    for (const [a, b] of o.pairs) log(`l2fwd: port ${a} (${ports[a]!.spec}) <-> port ${b} (${ports[b]!.spec})`);

    const rx = new Float64Array(ports.length);
    const tx = new Float64Array(ports.length);
    const dropped = new Float64Array(ports.length);
    const started = performance.now();
    const deadline = o.duration > 0 ? started + o.duration * 1000 : Infinity;
    let lastReport = started;
    const last = { rx: new Float64Array(ports.length), tx: new Float64Array(ports.length) };
    let idleRounds = 0;

    for (;;) {
      // A slice of forwarding, then back to the event loop so that signals and timers run.
      const sliceEnd = performance.now() + 20;
      let rounds = 0;
      do {
        let moved = 0;
        for (let l = 0; l < lanes.length; l++) moved += forwardLane(lanes[l]!, ports, macs, o["mac-updating"], pool, rx, tx, dropped);
        if (moved === 0) {
          if (++idleRounds >= 64) {
            idleWait(ports, lanes, idleRounds);
          }
        } else idleRounds = 0;
      } while ((++rounds & 255) !== 0 || performance.now() < sliceEnd);
      const now = performance.now();
      if (o.period > 0 && now - lastReport >= o.period * 1000) {
        report(log, ports, rx, tx, dropped, last, (now - lastReport) / 1000);
        lastReport = now;
      }
      if (stopRequested || control.shouldStop?.() || now >= deadline) break;
      await Bun.sleep(0);
    }
    const durationSec = (performance.now() - started) / 1000;
    const summary: PortSummary[] = ports.map((p, i) => ({
      index: i, spec: p.spec, mac: p.macAddress(), rx: rx[i]!, tx: tx[i]!, dropped: dropped[i]!, stats: p.stats(),
    }));
    const totals = { rx: sum(rx), tx: sum(tx), dropped: sum(dropped) };
    return { durationSec, ports: summary, totals };
  } finally {
    removeSignal();
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

/** The per-burst work: no allocation, no closures; the frame is changed in place in the pool. */
function forwardLane(lane: Lane, ports: Port[], macs: Uint8Array[], macUpdating: boolean, pool: Mempool, rx: Float64Array, tx: Float64Array, dropped: Float64Array): number {
  const burst = lane.burst;
  const n = ports[lane.rxPort]!.rxBurst(lane.queue, burst);
  if (n === 0) return 0;
  rx[lane.rxPort]! += n;
  if (macUpdating) {
    const bytes = pool.bytes;
    const src = macs[lane.txPort]!;
    const bufs = burst.bufs;
    for (let i = 0; i < n; i++) {
      const off = pool.offset(bufs[i]!);
      bytes[off] = 0x02;
      bytes[off + 1] = 0;
      bytes[off + 2] = 0;
      bytes[off + 3] = 0;
      bytes[off + 4] = 0;
      bytes[off + 5] = lane.txPort;
      bytes[off + 6] = src[0]!;
      bytes[off + 7] = src[1]!;
      bytes[off + 8] = src[2]!;
      bytes[off + 9] = src[3]!;
      bytes[off + 10] = src[4]!;
      bytes[off + 11] = src[5]!;
    }
  }
  const sent = ports[lane.txPort]!.txBurst(lane.queue, burst, 0);
  tx[lane.txPort]! += sent;
  if (sent < n) {
    dropped[lane.txPort]! += n - sent;
    burst.freeFrom(pool, sent);
  }
  burst.count = 0;
  return n;
}

/** Nothing to forward for a while: sleep on a port that can wait, rather than burn the core. */
function idleWait(ports: Port[], lanes: Lane[], idleRounds: number): void {
  const lane = lanes[idleRounds % lanes.length]!;
  const port = ports[lane.rxPort]!;
  if (port.rxWait) port.rxWait(lane.queue, 1);
  else Bun.sleepSync(0.05);
}

async function waitForLinks(ports: Port[], seconds: number, log: (line: string) => void): Promise<void> {
  const until = performance.now() + seconds * 1000;
  while (ports.some((p) => !p.link().up) && performance.now() < until) await Bun.sleep(100);
  for (const [i, p] of ports.entries()) {
    const l = p.link();
    log(`port ${i} (${p.spec}) ${p.macAddress()}: link ${l.up ? "up" : "DOWN"}${l.speedMbps ? ` ${l.speedMbps} Mbit/s` : ""}`);
  }
}

function report(log: (line: string) => void, ports: Port[], rx: Float64Array, tx: Float64Array, dropped: Float64Array,
  last: { rx: Float64Array; tx: Float64Array }, seconds: number): void {
  for (let i = 0; i < ports.length; i++) {
    const rxRate = (rx[i]! - last.rx[i]!) / seconds;
    const txRate = (tx[i]! - last.tx[i]!) / seconds;
    log(`port ${i}: rx ${rx[i]} (${formatRate(rxRate)}) tx ${tx[i]} (${formatRate(txRate)}) dropped ${dropped[i]}`);
  }
  log(`total: rx ${sum(rx)} tx ${sum(tx)} dropped ${sum(dropped)}`);
  last.rx.set(rx);
  last.tx.set(tx);
}

function sum(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
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
