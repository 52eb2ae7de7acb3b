/**
 * A descriptor-level NIC model for the drivers' hot path, and the bench that runs their burst code on it.
 *
 * Plain memory stands in for BAR0 (a 128 KiB DmaArena: the queues' own `Uint32Array` view of "the BAR"
 * works unchanged, and the tail registers land where the datasheets put them) and for the wire. The drivers'
 * queue classes run UNMODIFIED: AdvRxQueue / AdvTxQueue (igb/ixgbe advanced descriptors), E1000RxQueue
 * (legacy), E1000eRxQueue (82574 extended) and E1000TxQueue, built on the same state objects the ports build
 * (ring arena from layoutRings, RX rings primed with primeRxRing, the live word with the generation).
 *
 * Between bursts something plays the NIC (same thread):
 *   RX: the next K descriptors from the NIC's head up to the tail register are written back as a 60-byte
 *       frame, DD|EOP, in the chip's format (advanced: word 0 packet type IPv4/UDP, word 1 0, word 2 status,
 *       word 3 length; e1000 legacy: word 2 length, word 3 status, the address words left alone; 82574
 *       extended: words 0-1 0, word 2 status, word 3 length), and the NIC's head moves on.
 *   TX: the tail register is read and every descriptor from the NIC's head up to it gets DD (word 3 bit 0 in
 *       both formats), and the head moves on.
 * The model does not write frame bytes (no DMA of data). Its own cost is measured separately (the same
 * steps alone, the driver's doorbell simulated by one store per burst) and subtracted; both are printed.
 *
 * Modes (one thread, one RX queue and/or one TX queue per port):
 *   rx     NIC delivers K frames → RX burst → the app frees them (testpmd rxonly)
 *   tx     the app allocates K buffers, sets len = 60 → TX burst (frees what TX did not take) → NIC completes
 *   l2fwd  NIC delivers K frames on port 0 → RX burst → MAC update in place (DPDK l2fwd: destination
 *          02:00:00:00:00:01, source port 1's MAC; the loop of apps/l2fwd/forward.ts) → TX burst on port 1
 *          → NIC completes port 1's TX
 * K is the burst size, so every RX burst comes back full.
 *
 * Every cell checks at its end that each queue counted exactly iterations × K packets (every burst full,
 * everything sent). For l2fwd cells it also reports the JS heap around the timed part and the cells
 * allocated during it (heapStats' objectTypeCounts include cells not yet collected), and writes markers to
 * stderr around the timed part so that a parent running it with BUN_JSC_logGC=1 can count the GCs.
 *
 * Run: `bun bench/nic-model.ts [--format adv,legacy,extended] [--mode rx,tx,l2fwd] [--bursts 1,8,32,64,256]`
 * (`--help` for the rest; `--profile` adds JSC's sampling profile per cell). Cells run one after the other
 * in this process, so JIT state carries over from one to the next; `bench/line-rate.ts` runs each cell in
 * its own process, next to the same work in C, and is the one to quote.
 */
import { heapStats, profile } from "bun:jsc";
import { readFileSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { helpText, parseArgs, UsageError } from "../apps/common/args.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { E1000eRxQueue, E1000RxQueue, E1000TxQueue, type E1000QueueState } from "../drivers/e1000/rxtx.ts";
import { AdvRxQueue, AdvTxQueue, type AdvQueueState } from "../drivers/intel/adv-rxtx.ts";
import { layoutRings, primeRxRing, resetTxRing, type RingPlace, type RingQueueState } from "../drivers/intel/ring.ts";
import * as IGB from "../drivers/igb/regs.ts";
import * as E1000 from "../drivers/e1000/regs.ts";
import { Burst } from "../src/ethdev/burst.ts";
import { QueueCounters } from "../src/ethdev/counters.ts";
import type { QueueIdentity } from "../src/ethdev/queue-base.ts";
import { createArena, type DmaArena } from "../src/mem/arena.ts";
import { Mempool } from "../src/mem/mempool.ts";
import { MacRewrite } from "../src/net/ether.ts";

export type Format = "adv" | "legacy" | "extended";
export type Mode = "rx" | "tx" | "l2fwd";
export const FORMATS: readonly Format[] = ["adv", "legacy", "extended"];
export const MODES: readonly Mode[] = ["rx", "tx", "l2fwd"];
export const DEFAULT_BURSTS: readonly number[] = [1, 8, 32, 64, 256];
export const FORMAT_NAMES: Record<Format, string> = {
  adv: "igb/ixgbe advanced",
  legacy: "e1000 legacy",
  extended: "e1000e extended RX",
};

/** The frame the model "receives": 60 bytes (64 on the wire with the CRC the NIC strips). */
export const FRAME_LEN = 60;
// Write-back bits the model sets (82576 7.1.5.2 / 82599 7.1.6.2; 8254x SDM 3.2.3; 82574 7.1.4.2; TX 7.2.2.4 / SDM 3.3.3).
const DD = 1 << 0;
const EOP = 1 << 1;
/** Advanced write-back word 0: packet type IPv4 (bit 4) + UDP (bit 9), RSS type 0 (what a 82576 reports for a UDP frame). */
const ADV_W0 = (1 << 4) | (1 << 9);
const BAR_BYTES = 128 * 1024; // igb's BAR0; covers every tail register the model's queues use

export interface ModelPortOptions {
  format: Format;
  pool: Mempool;
  portId: number;
  rxRing: number;
  txRing: number;
  /** Build an RX queue (primed) and/or a TX queue. */
  rx: boolean;
  tx: boolean;
}

type RxQ = AdvRxQueue | E1000RxQueue;
type TxQ = AdvTxQueue | E1000TxQueue;

/**
 * One port of the model: a fake BAR0, a ring arena laid out by layoutRings, the driver's own queue objects
 * on them, and the NIC's side (its RX and TX heads, the two steps).
 */
export class ModelPort {
  readonly bar: DmaArena;
  readonly ring: DmaArena;
  readonly rxq: RxQ | undefined;
  readonly txq: TxQ | undefined;
  readonly live = new SharedArrayBuffer(4);
  readonly format: Format;
  private readonly regs: Uint32Array;
  private readonly rxDesc: Uint32Array;
  private readonly txDesc: Uint32Array;
  private readonly rxMask: number;
  private readonly txMask: number;
  private readonly rdt: number;
  private readonly tdt: number;
  private rxHead = 0;
  private txHead = 0;

  constructor(o: ModelPortOptions) {
    this.format = o.format;
    this.bar = createArena({ size: BAR_BYTES, hugepages: "never", name: `model${o.portId} BAR0` });
    this.regs = this.bar.u32;
    const adv = o.format === "adv";
    const { places, bytes } = layoutRings(o.rx ? [o.rxRing] : [], o.tx ? [o.txRing] : []);
    this.ring = createArena({ size: bytes, hugepages: "never", name: `model${o.portId} rings` });
    const generation = 1;
    new Int32Array(this.live)[0] = generation;
    const rdtReg = adv ? IGB.RDT : E1000.RDT;
    const tdtReg = adv ? IGB.TDT : E1000.TDT;
    this.rdt = rdtReg >>> 2;
    this.tdt = tdtReg >>> 2;
    const counters = QueueCounters.create(1);
    const ident = (dir: "rx" | "tx"): QueueIdentity => ({
      module: "bench/nic-model", driver: adv ? "igb" : o.format === "extended" ? "e1000e" : "e1000", spec: `model:${o.portId}`,
      portId: o.portId, queueId: 0, pool: o.pool, counters: dir === "rx" ? counters : QueueCounters.create(1),
    });
    const base = (place: RingPlace, tailReg: number): RingQueueState => ({
      ring: this.ring.handle(), ...place, bar: { addr: this.bar.va, size: this.bar.size }, tailReg, live: this.live, generation,
      irq: undefined, irqCause: 0, rss: false, scatter: false,
    });
    const advState = (place: RingPlace, tailReg: number): AdvQueueState => ({
      ...base(place, tailReg), driver: "igb", errFrame: IGB.RXD_ERR_FRAME, errIp: IGB.RXD_ERR_IPE, errL4: IGB.RXD_ERR_L4E,
      txCheckContext: 0, irqSetReg: IGB.EIMS, irqClearReg: IGB.EIMC,
    });
    const e1000State = (place: RingPlace, tailReg: number): E1000QueueState => ({ ...base(place, tailReg), extended: o.format === "extended" });
    let at = 0;
    if (o.rx) {
      const place = places[at++]!;
      this.rxDesc = new Uint32Array(this.ring.buffer, place.descOff, place.size * 4);
      this.rxMask = place.size - 1;
      if (adv) {
        const s = advState(place, rdtReg);
        primeRxRing("model", 0, s, this.ring, o.pool);
        this.rxq = new AdvRxQueue(ident("rx"), s, this.ring);
      } else {
        const s = e1000State(place, rdtReg);
        primeRxRing("model", 0, s, this.ring, o.pool);
        this.rxq = o.format === "extended" ? new E1000eRxQueue(ident("rx"), s, this.ring) : new E1000RxQueue(ident("rx"), s, this.ring);
      }
      // What the port's start does: every descriptor but one is the NIC's (RDH 0, RDT size - 1).
      this.regs[this.rdt] = place.size - 1;
    } else {
      this.rxDesc = new Uint32Array(0);
      this.rxMask = 0;
    }
    if (o.tx) {
      const place = places[at++]!;
      this.txDesc = new Uint32Array(this.ring.buffer, place.descOff, place.size * 4);
      this.txMask = place.size - 1;
      if (adv) {
        const s = advState(place, tdtReg);
        resetTxRing(s, this.ring);
        this.txq = new AdvTxQueue(ident("tx"), s, this.ring);
      } else {
        const s = e1000State(place, tdtReg);
        resetTxRing(s, this.ring);
        this.txq = new E1000TxQueue(ident("tx"), s, this.ring);
      }
      this.regs[this.tdt] = 0;
    } else {
      this.txDesc = new Uint32Array(0);
      this.txMask = 0;
    }
  }

  /** The NIC receives up to k frames into the descriptors from its head up to the tail; returns how many. */
  nicRx(k: number): number {
    const d = this.rxDesc;
    const mask = this.rxMask;
    const head = this.rxHead;
    const room = (this.regs[this.rdt]! - head) & mask;
    const n = k < room ? k : room;
    const fmt = this.format;
    for (let i = 0; i < n; i++) {
      const w = ((head + i) & mask) * 4;
      if (fmt === "legacy") {
        d[w + 2] = FRAME_LEN;
        d[w + 3] = DD | EOP;
      } else {
        d[w] = fmt === "adv" ? ADV_W0 : 0;
        d[w + 1] = 0;
        d[w + 2] = DD | EOP;
        d[w + 3] = FRAME_LEN;
      }
    }
    this.rxHead = (head + n) & mask;
    return n;
  }

  /** The NIC sends every descriptor from its head up to the tail and writes DD back; returns how many. */
  nicTx(): number {
    const d = this.txDesc;
    const mask = this.txMask;
    const tail = this.regs[this.tdt]!;
    let head = this.txHead;
    let n = 0;
    while (head !== tail) {
      d[head * 4 + 3] = d[head * 4 + 3]! | DD;
      head = (head + 1) & mask;
      n++;
    }
    this.txHead = head;
    return n;
  }

  /** Calibration only: what the driver's RX doorbell would do (give the NIC the whole ring back). */
  fakeRxDoorbell(): void {
    this.regs[this.rdt] = (this.rxHead - 1) & this.rxMask;
  }

  /** Calibration only: what the driver's TX doorbell would do (k more descriptors to send). */
  fakeTxDoorbell(k: number): void {
    this.regs[this.tdt] = (this.txHead + k) & this.txMask;
  }

  free(): void {
    this.ring.free();
    this.bar.free();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The measured loops. Each runs `iters` iterations and returns the packets the app handled. No allocation.

function rxLoop(p: ModelPort, rxq: RxQ, burst: Burst, pool: Mempool, k: number, iters: number): number {
  let pkts = 0;
  for (let it = 0; it < iters; it++) {
    p.nicRx(k);
    const n = rxq.burst(burst);
    burst.freeFrom(pool, 0);
    pkts += n;
  }
  return pkts;
}

function txLoop(p: ModelPort, txq: TxQ, burst: Burst, pool: Mempool, k: number, iters: number): number {
  let pkts = 0;
  const bufs = burst.bufs;
  const lens = pool.len;
  for (let it = 0; it < iters; it++) {
    if (pool.allocBulk(bufs, 0, k) !== k) throw new Error("tx: the pool ran dry");
    for (let i = 0; i < k; i++) lens[bufs[i]!] = FRAME_LEN;
    burst.count = k;
    const sent = txq.burst(burst, 0);
    if (sent < k) burst.freeFrom(pool, sent);
    burst.count = 0;
    p.nicTx();
    pkts += sent;
  }
  return pkts;
}

function l2fwdLoop(a: ModelPort, b: ModelPort, rxq: RxQ, txq: TxQ, burst: Burst, pool: Mempool, rewrite: MacRewrite, k: number, iters: number): number {
  let pkts = 0;
  const bufs = burst.bufs;
  for (let it = 0; it < iters; it++) {
    a.nicRx(k);
    const n = rxq.burst(burst);
    // apps/l2fwd/forward.ts's MAC update: destination 02:00:00:00:00:<TX port>, source the TX port's MAC.
    for (let i = 0; i < n; i++) rewrite.apply(pool.bytes, pool.u16, pool.u32, pool.offset(bufs[i]!));
    const sent = txq.burst(burst, 0);
    if (sent < n) burst.freeFrom(pool, sent);
    burst.count = 0;
    b.nicTx();
    pkts += n;
  }
  return pkts;
}

// The model alone: the same steps, the driver's doorbells simulated (one store per burst).
function modelRxLoop(p: ModelPort, k: number, iters: number): number {
  for (let it = 0; it < iters; it++) {
    p.fakeRxDoorbell();
    p.nicRx(k);
  }
  return iters * k;
}

function modelTxLoop(p: ModelPort, k: number, iters: number): number {
  for (let it = 0; it < iters; it++) {
    p.fakeTxDoorbell(k);
    p.nicTx();
  }
  return iters * k;
}

function modelL2fwdLoop(a: ModelPort, b: ModelPort, k: number, iters: number): number {
  for (let it = 0; it < iters; it++) {
    a.fakeRxDoorbell();
    a.nicRx(k);
    b.fakeTxDoorbell(k);
    b.nicTx();
  }
  return iters * k;
}

// ---------------------------------------------------------------------------------------------------------

export interface CellResult {
  impl: "bdk";
  format: Format;
  mode: Mode;
  burst: number;
  /** Per packet, driver + app + model, ns. */
  totalNs: number;
  /** Per packet, the model's steps alone, ns. */
  modelNs: number;
  /** totalNs - modelNs. */
  ns: number;
  mpps: number;
  packets: number;
  seconds: number;
  /** Share of the timed part (and of the model's) this thread spent on a CPU. */
  cpu: number;
  modelCpu: number;
  /** l2fwd only: the JS heap around the timed part. */
  heap?: { sizeBefore: number; sizeAfter: number; capacityBefore: number; capacityAfter: number; cellsAllocated: number };
}

export interface CellOptions {
  format: Format;
  mode: Mode;
  burst: number;
  seconds: number;
  warmup: number;
  ring: number;
  poolCount: number;
  /** Sample the loop with JSC's sampling profiler and print functions, tiers and (where known) lines to stderr. */
  profile: boolean;
}

/** Cells alive now, allocated since the last GC included (heapStats' objectTypeCounts). */
export function liveCells(): number {
  const h = heapStats().objectTypeCounts;
  let n = 0;
  for (const k in h) n += h[k]!;
  return n;
}

/** This thread's time on a CPU and waiting for one, ns (/proc/thread-self/schedstat). */
export function schedstat(): [number, number] {
  const f = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
  return [Number(f[0]), Number(f[1])];
}

interface Timed {
  packets: number;
  seconds: number;
  /** Share of the timed wall-clock time this thread spent on a CPU (below ~0.95: another process took the core). */
  cpu: number;
}

/** Runs `step(chunk)` for `seconds` (after `warmup` seconds of the same); packets, elapsed seconds, CPU share. */
function timed(step: (iters: number) => number, chunk: number, seconds: number, warmup: number, onTimed?: (phase: "start" | "end") => void): Timed {
  const w0 = performance.now();
  while (performance.now() - w0 < warmup * 1000) step(chunk);
  const s0 = schedstat();
  onTimed?.("start");
  let packets = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    packets += step(chunk);
    t = performance.now();
  } while (t - t0 < seconds * 1000);
  onTimed?.("end");
  const s1 = schedstat();
  return { packets, seconds: (t - t0) / 1000, cpu: Math.min(1, (s1[0] - s0[0]) / ((t - t0) * 1e6)) };
}

/** Stderr markers around the l2fwd cell's timed part: bench/line-rate.ts counts JSC's GC log lines between them. */
export const MARK_START = "@@bdk-timed-start";
export const MARK_END = "@@bdk-timed-end";

/**
 * GCs in a child's stderr run with BUN_JSC_logGC=1, between the two marker lines it wrote around its timed
 * part (JSC's "[GC<…>: START" lines); undefined when the start marker never came.
 */
export function gcsBetween(stderr: string, start: string, end: string): number | undefined {
  let inside = false;
  let gcs: number | undefined;
  for (const line of stderr.split("\n")) {
    if (line === start) {
      inside = true;
      gcs = 0;
    } else if (line === end) inside = false;
    else if (inside && /^\[GC<[^>]*>: START /.test(line)) gcs!++;
  }
  return gcs;
}

/** A child's stderr without JSC's GC log, for error messages. */
export function withoutGcLog(stderr: string): string {
  return stderr.split("\n").filter((l) => !l.startsWith("[GC") && !l.startsWith("Requesting GC") && l !== "GC END!").join("\n");
}

export function runCell(o: CellOptions): CellResult {
  // Enough buffers for both RX rings, the TX ring, a burst and the per-handle cache (DPDK l2fwd's sizing, ≥ 8192).
  const pool = Mempool.create({ count: o.poolCount, hugepages: "never", name: "model" });
  const k = o.burst;
  const burst = new Burst(k);
  // About 16k packets per chunk: the clock is read every chunk, not every burst.
  const chunk = Math.max(1, Math.ceil(16384 / k));
  const ports: ModelPort[] = [];
  try {
    let step: (iters: number) => number;
    let model: (iters: number) => number;
    let heap: CellResult["heap"];
    let issued = 0;
    if (o.mode === "rx") {
      const p = new ModelPort({ format: o.format, pool, portId: 0, rxRing: o.ring, txRing: o.ring, rx: true, tx: false });
      ports.push(p);
      const rxq = p.rxq!;
      step = (iters) => {
        issued += iters;
        return rxLoop(p, rxq, burst, pool, k, iters);
      };
      model = (iters) => modelRxLoop(p, k, iters);
    } else if (o.mode === "tx") {
      const p = new ModelPort({ format: o.format, pool, portId: 0, rxRing: o.ring, txRing: o.ring, rx: false, tx: true });
      ports.push(p);
      const txq = p.txq!;
      step = (iters) => {
        issued += iters;
        return txLoop(p, txq, burst, pool, k, iters);
      };
      model = (iters) => modelTxLoop(p, k, iters);
    } else {
      const a = new ModelPort({ format: o.format, pool, portId: 0, rxRing: o.ring, txRing: o.ring, rx: true, tx: false });
      const b = new ModelPort({ format: o.format, pool, portId: 1, rxRing: o.ring, txRing: o.ring, rx: false, tx: true });
      ports.push(a, b);
      const rxq = a.rxq!;
      const txq = b.txq!;
      const rewrite = new MacRewrite(new Uint8Array([0x02, 0, 0, 0, 0, b.txq!.portId]), new Uint8Array([0x02, 0x00, 0x00, 0x00, 0x00, 0x11]));
      step = (iters) => {
        issued += iters;
        return l2fwdLoop(a, b, rxq, txq, burst, pool, rewrite, k, iters);
      };
      model = (iters) => modelL2fwdLoop(a, b, k, iters);
    }
    let run = timed(step, chunk, o.seconds, o.warmup);
    if (o.mode === "l2fwd") {
      // Again, with the heap looked at around the timed part (the first run warmed everything up).
      const calib0 = liveCells();
      const calib1 = liveCells(); // what liveCells() itself allocates
      const overhead = calib1 - calib0;
      let before = heapStats();
      let cells0 = 0;
      run = timed(step, chunk, o.seconds, 0, (phase) => {
        if (phase === "start") {
          before = heapStats();
          cells0 = liveCells();
          writeSync(2, `${MARK_START}\n`);
        } else {
          writeSync(2, `${MARK_END}\n`);
          const cells1 = liveCells();
          const after = heapStats();
          heap = {
            sizeBefore: before.heapSize, sizeAfter: after.heapSize, capacityBefore: before.heapCapacity, capacityAfter: after.heapCapacity,
            cellsAllocated: Math.max(0, cells1 - cells0 - overhead),
          };
        }
      });
    }
    if (o.profile) printProfile(step, chunk, o.seconds);
    // Every burst was full and everything was sent: the queues' own counters say so.
    for (const p of ports) {
      for (const q of [p.rxq, p.txq]) {
        if (q && q.stats().packets !== issued * k) throw new Error(`${o.format} ${o.mode} ${k}: queue counted ${q.stats().packets} packets, expected ${issued * k}`);
      }
    }
    const m = timed(model, chunk, o.seconds, Math.min(o.warmup, 0.2));
    const totalNs = (run.seconds * 1e9) / run.packets;
    const modelNs = (m.seconds * 1e9) / m.packets;
    const ns = totalNs - modelNs;
    return {
      impl: "bdk", format: o.format, mode: o.mode, burst: k, totalNs, modelNs, ns, mpps: 1e3 / ns, packets: run.packets, seconds: run.seconds,
      cpu: run.cpu, modelCpu: m.cpu, heap,
    };
  } finally {
    for (const p of ports) p.free();
    pool.destroy();
  }
}

/** JSC's sampling profiler over the loop (100 µs): the hottest source lines of the innermost frames. */
function printProfile(step: (iters: number) => number, chunk: number, seconds: number): void {
  const prof = profile(() => {
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) step(chunk);
  }, 100);
  const lines = new Map<string, number>();
  const fns = new Map<string, number>();
  const tiers = new Map<string, number>();
  const urls = new Map<number, string>();
  for (const s of prof.stackTraces.sources) urls.set(s.sourceID, s.url ?? "?");
  let total = 0;
  for (const t of prof.stackTraces.traces) {
    const f = t.frames[0];
    if (!f) continue;
    total++;
    const where = `${basename(f.sourceURL ?? urls.get(f.sourceID) ?? "?")}:${f.line}`;
    lines.set(`${where} ${f.name}`, (lines.get(`${where} ${f.name}`) ?? 0) + 1);
    const outer = f.inliner ? `${f.name} (inlined in ${f.inliner.name})` : f.name;
    fns.set(outer, (fns.get(outer) ?? 0) + 1);
    const tier = f.inliner ? f.inliner.category : f.category;
    tiers.set(tier, (tiers.get(tier) ?? 0) + 1);
  }
  const top = (m: Map<string, number>, n: number): string =>
    [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, n).map(([k, v]) => `  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
  console.error(`profile: ${total} samples\ntiers:\n${top(tiers, 6)}\nfunctions:\n${top(fns, 12)}\nlines:\n${top(lines, 30)}`);
}

// ---------------------------------------------------------------------------------------------------------

/** The options of a model cell, shared with bench/line-rate.ts (which times each cell on two sides). */
export const CELL_OPTIONS = {
  format: { type: "list", value: "F,…", help: "descriptor formats: adv (igb/ixgbe), legacy (e1000), extended (e1000e RX; its TX is legacy); default all" },
  mode: { type: "list", value: "M,…", help: "rx, tx, l2fwd (default all)" },
  bursts: { type: "list", value: "N,…", help: "burst sizes (default 1,8,32,64,256)" },
  seconds: { type: "number", default: 0.5, min: 0.05, value: "S", help: "timed seconds per cell (and as long again for the model alone)" },
  warmup: { type: "number", default: 0.3, min: 0, value: "S", help: "warm-up seconds per cell" },
  ring: { type: "int", default: 1024, min: 8, max: 4096, powerOfTwo: true, value: "N", help: "descriptors per RX and TX ring" },
  pool: { type: "int", default: 8192, min: 1024, value: "N", help: "mempool buffers" },
} as const;

const OPTIONS = {
  ...CELL_OPTIONS,
  json: { type: "bool", help: "one JSON object per cell on stdout" },
  profile: { type: "bool", help: "sample each cell with JSC's profiler (functions and tiers; FTL code has no line numbers: bench/jit-profile.ts shows instructions)" },
} as const;

/** `items` when each is one of `allowed`; else the usage error of `program`'s --`what`. */
export function oneOf<T extends string>(program: string, what: string, items: string[], allowed: readonly T[]): T[] {
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new UsageError(`${program}: --${what} ${i} is not one of ${allowed.join(", ")}`, `e.g. --${what} ${allowed[0]}`);
  return items as T[];
}

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/nic-model", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bench/nic-model", "bun bench/nic-model.ts [options]", OPTIONS));
    return 0;
  }
  const formats = o.format.length > 0 ? oneOf("bench/nic-model", "format", o.format, FORMATS) : [...FORMATS];
  const modes = o.mode.length > 0 ? oneOf("bench/nic-model", "mode", o.mode, MODES) : [...MODES];
  const bursts = (o.bursts.length > 0 ? o.bursts : DEFAULT_BURSTS.map(String)).map((b) => {
    const n = Number(b);
    if (!Number.isInteger(n) || n < 1 || n > 1024 || n >= o.ring) throw new UsageError(`bench/nic-model: burst ${b} is out of range`, `give 1..${Math.min(1024, o.ring - 1)}`);
    return n;
  });
  if (!o.json) console.log(`format              mode   burst   total ns/pkt   model ns/pkt   bdk ns/pkt     Mpps   on-CPU`);
  for (const format of formats) {
    for (const mode of modes) {
      for (const burst of bursts) {
        const r = runCell({ format, mode, burst, seconds: o.seconds, warmup: o.warmup, ring: o.ring, poolCount: o.pool, profile: o.profile });
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(`${FORMAT_NAMES[format].padEnd(20)}${mode.padEnd(7)}${String(burst).padStart(5)}${r.totalNs.toFixed(2).padStart(15)}${r.modelNs.toFixed(2).padStart(15)}${r.ns.toFixed(2).padStart(13)}${r.mpps.toFixed(2).padStart(9)}${`${Math.round(100 * Math.min(r.cpu, r.modelCpu))}%`.padStart(9)}`);
          if (r.heap) console.log(`    heap ${r.heap.sizeBefore} → ${r.heap.sizeAfter} bytes (capacity ${r.heap.capacityBefore} → ${r.heap.capacityAfter}), ${r.heap.cellsAllocated} cells allocated while timed`);
        }
      }
    }
  }
  return 0;
}

if (import.meta.main) await runAsProgram("bench/nic-model", main);
