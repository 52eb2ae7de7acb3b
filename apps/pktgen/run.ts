// runPktgen, the command: resolves the options, loads a replay file, makes the pool, opens or adopts the
// ports (as many TX queues as sending threads, --queues RX queues) and starts them, turns --rate into a
// pacer (pacing.ts), then runs the engine (engine.ts): in the main thread, in ~10 ms slices between turns of
// the event loop (signals, timers, stop requests, live stats), or with --cores on pinned workers
// (workers.ts). Either way every thread publishes its counts into shared blocks (counters.ts), from which
// the stats lines and the result are made. Then it closes what it opened and sums the run up.
import {
  BdkError, Mempool, monotonicNs, openPort, PcapError, readPcap, LINKTYPE_ETHERNET,
  type LinkStatus, type Port, type PortStats, type QueueHandle, type QueueStats,
} from "../../src/index.ts";
import { checkCores, UsageError } from "../common/args.ts";
import { RunCounters, type StopReason } from "./counters.ts";
import { Engine } from "./engine.ts";
import { FrameGenerator, ReplaySource, type FrameSource } from "./generator.ts";
import { resolveOptions, type PktgenOptions, type ResolvedOptions } from "./options.ts";
import { Pacer, pacingFor, type PacingRate } from "./pacing.ts";
import { mergeRx, Receiver, type RxResult } from "./receiver.ts";
import { PktgenLive } from "./live.ts";
import { runOnWorkers, type PktgenWorkerInit, type StartedWorker } from "./workers.ts";

export type { StopReason };

export interface PktgenStats {
  /** Seconds since the start. */
  elapsedSec: number;
  txPackets: number;
  /** Over the last interval. */
  txPps: number;
  /** Over the last interval, frame bytes with CRC. */
  txMbps: number;
  /** pktgen frames received so far. */
  rxReceived: number;
  rxPps: number;
  /** By the highest sequence numbers seen: frames still in flight count as lost until they arrive. */
  lost: number;
  /** With --cores: each worker's frames sent and received so far, and its rates over the last interval. */
  workers?: { core: number; txPackets: number; txPps: number; rxReceived: number; rxPps: number }[];
}

export interface PktgenControl {
  signal?: AbortSignal;
  /** Polled about every 10 ms; true stops the run (the result still comes back). */
  shouldStop?: () => boolean;
  /** Called every `interval` seconds. */
  onStats?: (s: PktgenStats) => void;
  /** Setup notes (link state, warnings, the workers). Default: stderr. */
  log?: (line: string) => void;
  /**
   * Called once the ports are up, before the first frame: live values read from the run's shared counters
   * (for --telemetry and the terminal screen). What it returns is called when the run ends, before the ports close.
   */
  onStart?: (live: PktgenLive) => (() => void) | void;
}

export interface TxResult {
  spec: string;
  /** Frames the port accepted. */
  packets: number;
  /** Their bytes as handed to the port (without CRC). */
  bytes: number;
  pps: number;
  /** Bit rate of the frames with CRC (what --rate 100Mbps counts). */
  mbps: number;
  durationSec: number;
  /** The stream sent (with --cores: worker w sends streamId + w). */
  streamId: number;
  /** "64", "64-1518", "imix (…)", or "pcap FILE". */
  sizes: string;
  rate: string | undefined;
  /** Achieved over asked, minus 1 (0.001 = 0.1 % fast), in the rate's own unit; undefined without --rate or for runs too short to say (< 10 frames or < 1 s). */
  rateError?: number;
}

export interface PortReport {
  spec: string;
  driver: string;
  mac: string;
  link: LinkStatus;
  stats: PortStats;
  /** Per queue of the direction the port is reported for (ports.tx: TX queues, ports.rx: RX queues); they sum to stats. */
  queues: QueueStats[];
}

/** A pinned worker (--cores) and what it did. */
export interface WorkerReport {
  core: number;
  /** Its thread's kernel tid, and the CPU list /proc/self/task/TID/status showed once it was pinned. */
  tid: number;
  cpus: number[];
  /** Its TX queue and stream (null with --rx-only). */
  txQueue: number | null;
  streamId: number | null;
  rxQueues: number[];
  /** Frames it sent; pktgen frames its RX queues received (the workers' sums are txPackets and rx.received). */
  tx: number;
  rx: number;
}

export interface PktgenResult {
  txPackets: number;
  txBytes: number;
  txPps: number;
  txMbps: number;
  /** TX time (first burst to the end of TX); with --rx-only the receive time (first to last frame). */
  durationSec: number;
  /** Wall time of the whole run, drain included. */
  runSec: number;
  streamId: number;
  stopReason: StopReason;
  tx: TxResult | undefined;
  rx: RxResult | undefined;
  ports: { tx?: PortReport; rx?: PortReport };
  /** With --cores, one per worker; empty when the main thread did everything. */
  workers: WorkerReport[];
}

/** The engine runs this long (ns) before the event loop gets a turn (signals, timers, stop requests). */
const SLICE_NS = 10e6;

function report(p: Port, dir: "rx" | "tx"): PortReport {
  const n = (dir === "rx" ? p.config?.rxQueues : p.config?.txQueues) ?? 0;
  return {
    spec: p.spec, driver: p.driver, mac: p.macAddress(), link: p.link(), stats: p.stats(),
    queues: Array.from({ length: n }, (_, q) => p.queueStats(q, dir)),
  };
}

function specOf(p: string | Port): string {
  return typeof p === "string" ? p : p.spec;
}

function loadReplay(file: string): Uint8Array[] {
  let records;
  try {
    records = readPcap(file, { expectLinkType: LINKTYPE_ETHERNET }).records;
  } catch (e) {
    if (e instanceof PcapError) throw new BdkError(`--pcap: ${e.message}`);
    throw e;
  }
  if (records.length === 0) throw new BdkError(`--pcap: "${file}" holds no frames`, "give a capture with at least one frame");
  const frames: Uint8Array[] = [];
  for (const [i, r] of records.entries()) {
    if (r.data.length < 14) {
      throw new BdkError(`--pcap: frame #${i + 1} of "${file}" is ${r.data.length} bytes, shorter than an Ethernet header`, "replay a capture of whole Ethernet frames");
    }
    if (r.data.length > 9014) {
      throw new BdkError(`--pcap: frame #${i + 1} of "${file}" is ${r.data.length} bytes, larger than a 9014-byte jumbo frame`, "replay a capture of Ethernet frames (re-capture without offloads: `ethtool -K IFACE gro off gso off tso off`)");
    }
    frames.push(r.data);
  }
  return frames;
}

/**
 * Sends and/or receives pktgen traffic and returns the counts. Ports given as specs are opened and closed
 * here; ports given as Port objects are configured (if they are not) and started, and left open.
 */
export async function runPktgen(options: PktgenOptions, control: PktgenControl = {}): Promise<PktgenResult> {
  const r: ResolvedOptions = resolveOptions(options);
  const log = control.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  for (const warning of checkCores("pktgen", r.cores)) log(warning);
  const replay = r.pcap !== undefined ? loadReplay(r.pcap) : undefined;
  let small = 0;
  if (replay) for (const f of replay) if (f.length < 60) small++;
  if (small > 0) log(`pktgen: warning: ${small} frame(s) of ${r.pcap} are shorter than 60 bytes; NICs and some ports drop such runts (sent as they are)`);

  const maxLen = replay ? replay.reduce((m, f) => Math.max(m, f.length), 0) : r.sizes.reduce((m, s) => Math.max(m, s), 0);
  // One Port object given as both: one port that sends and receives. Two equal specs are two opens (for
  // ring:NAME, the link's two ends).
  const samePort = typeof r.tx === "object" && r.tx === r.rx;
  const workers = r.cores.length;
  // Threads that send: one per worker, or the main thread. Each has a TX queue of its own.
  const txThreads = r.tx === undefined ? 0 : Math.max(1, workers);

  // The pool: the given ports' pool, or our own sized for the largest frame.
  const given = [r.tx, r.rx].find((p): p is Port => typeof p === "object" && p.config !== undefined);
  let pool: Mempool;
  let ownPool = false;
  if (given) {
    pool = given.config!.pool;
    if (maxLen > pool.dataRoom) {
      throw new BdkError(`pktgen: ${maxLen}-byte frames do not fit the given port's ${pool.dataRoom}-byte mempool buffers`, `create the pool with dataRoom ≥ ${maxLen}`);
    }
  } else {
    const dataRoom = Math.max(2048, Math.ceil(maxLen / 128) * 128);
    pool = Mempool.create({ count: dataRoom > 2048 ? 4096 : 8192, dataRoom, name: "pktgen" });
    ownPool = true;
  }

  const opened: Port[] = [];
  let txPort: Port | undefined;
  let rxPort: Port | undefined;
  /** Opens (or adopts) a port with the queues its roles need: --queues RX queues to receive, one TX queue per sending thread. */
  const open = (p: string | Port, rx: boolean, tx: boolean): Port => {
    const rxQueues = rx ? r.queues : 1;
    const txQueues = tx ? txThreads : 1;
    let port: Port;
    if (typeof p === "string") {
      port = openPort(p); // configured below, once its limits are checked
      opened.push(port);
    } else port = p;
    const caps = port.info();
    if (rxQueues > caps.maxRxQueues) {
      throw new UsageError(`pktgen: --queues ${rxQueues}, but port ${port.spec} has at most ${caps.maxRxQueues} RX queue(s)`, `give --queues ${caps.maxRxQueues} or fewer`);
    }
    if (txQueues > caps.maxTxQueues) {
      throw new UsageError(`pktgen: --cores ${r.coresText} starts ${txQueues} sending workers, each on a TX queue of its own, but port ${port.spec} has at most ${caps.maxTxQueues} TX queue(s)`,
        `give at most ${caps.maxTxQueues} core(s) in --cores, or drop --cores`);
    }
    if (!port.config) {
      // Several RX queues are spread by the port's RSS where it has one (a flow always lands on one queue).
      port.configure({ pool, rxQueues, txQueues, ...(rxQueues > 1 && caps.rss ? { rss: {} } : {}) });
      if (typeof p !== "string") ownPool = false; // the caller's port keeps using it after the run
    } else {
      if (port.config.pool !== pool && port.config.pool.arena.va !== pool.arena.va) {
        throw new BdkError(`pktgen: ports ${specOf(r.tx!)} and ${specOf(r.rx!)} use different mempools`, "configure both with one pool (or give specs and let pktgen make the pool)");
      }
      if (port.config.rxQueues < rxQueues) throw new BdkError(`pktgen: port ${port.spec} was configured with ${port.config.rxQueues} RX queue(s), --queues asks for ${rxQueues}`, `configure it with rxQueues ≥ ${rxQueues}, or give fewer --queues`);
      if (port.config.txQueues < txQueues) throw new BdkError(`pktgen: port ${port.spec} was configured with ${port.config.txQueues} TX queue(s), --cores needs ${txQueues} (one per worker)`, `configure it with txQueues ≥ ${txQueues}, or give fewer --cores`);
    }
    return port;
  };

  const t0 = monotonicNs();
  let engine: Engine | undefined;
  let live: PktgenLive | undefined;
  let endLive: (() => void) | void = undefined;
  try {
    if (r.tx !== undefined) txPort = open(r.tx, samePort, true);
    if (r.rx !== undefined) rxPort = samePort ? txPort : open(r.rx, true, false);
    for (const p of [txPort, rxPort]) if (p && !p.started) p.start();

    // Frame sizes against what the TX port takes.
    if (txPort) {
      const maxFrame = txPort.info().maxFrameSize;
      const what = replay ? `--pcap: "${r.pcap}" holds a ${maxLen}-byte frame` : `--size ${maxLen + 4}`;
      if (maxLen > maxFrame) {
        throw new BdkError(`${what}, but port ${txPort.spec} sends frames up to ${maxFrame} bytes (without CRC)`, replay ? "replay smaller frames" : `give --size ≤ ${maxFrame + 4}`);
      }
      const mtu = txPort.mtu();
      if (maxLen > mtu + 18) log(`pktgen: warning: ${what}, above port ${txPort.spec}'s MTU ${mtu}: the link or the receiver may drop it (raise the MTU, e.g. ip link set IFACE mtu 9000)`);
    }

    // The rate in cost units: frames (pps), frame bits with CRC (bps), wire bits (percent).
    let pacing: PacingRate | undefined;
    if (r.rate && txPort) {
      const port = txPort;
      pacing = pacingFor(r.rate, () => port.link().speedMbps);
      if (!pacing) {
        throw new BdkError(`--rate ${r.rate.text}: port ${txPort.spec} reports no link speed (emulated/virtual)`, "give --rate in pps or Mbit/s");
      }
    }

    // Who polls which RX queue: worker w takes w, w + workers …; without workers the main thread takes them all.
    const rxQueues = rxPort ? r.queues : 0;
    const rxShare = (w: number): number[] => Array.from({ length: rxQueues }, (_, q) => q).filter((q) => q % workers === w);
    // Handles before anything waits: a port whose queues cannot leave this thread is refused now.
    const inits: PktgenWorkerInit[] = [];
    const counters = RunCounters.create(txThreads, rxQueues);
    // Our streams: the ones we send (one per sending thread), or the one --stream names; otherwise every pktgen stream.
    const own = txPort ? (replay ? -1 : r.streamId) : options.streamId !== undefined ? r.streamId : -1;
    const ownCount = txPort && !replay ? txThreads : 1;
    // The main thread's frame source (workers build their own generators).
    let src: FrameSource | undefined;
    if (txPort && workers === 0) src = replay ? new ReplaySource(replay, r.loop) : new FrameGenerator(r, txPort.macAddress());
    let limit = txPort ? (src ? src.total : Infinity) : 0;
    if (r.count > 0 && txPort && r.count < limit) limit = r.count;
    if (workers > 0) {
      const withoutPorts = { ...r, tx: undefined, rx: undefined }; // Port objects stay in this thread
      for (let w = 0; w < workers; w++) {
        const mine = rxShare(w);
        inits.push({
          index: w, txThreads, workers, options: withoutPorts, mac: txPort ? txPort.macAddress() : "",
          tx: txPort ? queueHandle(txPort, "tx", w, r) : undefined,
          // The count split so that the total is exact: the first count % workers send one more.
          limit: limit === Infinity ? Infinity : Math.floor(limit / workers) + (w < limit % workers ? 1 : 0),
          pacing: pacing ? { ...pacing, perSec: pacing.perSec / workers } : undefined,
          rx: mine.map((q) => queueHandle(rxPort!, "rx", q, r)),
          rxQueues: mine, own, ownCount, counters: counters.handle,
        });
      }
    }

    await waitForLinks([txPort, rxPort], log);
    let liveWorkers: StartedWorker[] = [];
    if (control.onStart) {
      live = new PktgenLive(counters, [...new Set([txPort, rxPort].filter((p): p is Port => p !== undefined))], pool, txPort !== undefined,
        () => liveWorkers.map((s, w) => ({
          index: w, core: s.core, tid: s.tid,
          role: [inits[w]!.tx ? `TX queue ${w}` : "", inits[w]!.rxQueues.length > 0 ? `RX queue(s) ${inits[w]!.rxQueues.join(",")}` : ""].filter((x) => x !== "").join(", "),
        })));
      endLive = control.onStart(live);
    }

    const stats = new StatsTicker(counters, control.onStats, r.interval * 1e9,
      inits.map((init, w) => ({ core: r.cores[w]!, tx: init.tx ? w : -1, rx: init.rxQueues })));
    const stopRequested = (): boolean => control.signal?.aborted === true || control.shouldStop?.() === true;
    let stopReason: StopReason;
    let started: StartedWorker[] = [];
    const start = monotonicNs();
    stats.start(start);
    if (workers === 0) {
      let pacer: Pacer | undefined;
      if (pacing && src) pacer = new Pacer(pacing.perSec, pacing.costA + pacing.costB * src.meanLen, r.burst);
      pacer?.start(start);
      const rxqs = Array.from({ length: rxQueues }, (_, q) => rxPort!.rxQueue(q));
      const e = (engine = new Engine({
        pool,
        txq: txPort?.txQueue(0),
        rxqs,
        recvs: rxqs.map(() => new Receiver(own, ownCount)),
        src,
        burst: r.burst,
        limit,
        endNs: r.durationNs > 0 ? start + r.durationNs : 0,
        rxCount: txPort ? 0 : r.count,
        drainNs: r.drainMs * 1e6,
        pacer,
        costA: pacing?.costA ?? 1,
        costB: pacing?.costB ?? 0,
        drainByPackets: replay !== undefined,
        txBlock: counters.tx[0],
        rxBlocks: counters.rx,
      }));
      while (!e.done) {
        e.slice(monotonicNs() + SLICE_NS);
        e.publish();
        stats.tick(monotonicNs());
        if (!e.done && stopRequested()) e.stopTx();
        if (!e.done) await Bun.sleep(0);
      }
      e.publish();
      stopReason = e.stopReason;
    } else {
      const run = await runOnWorkers({
        cores: r.cores, inits, counters, sending: txPort !== undefined, receiving: rxPort !== undefined, drainNs: r.drainMs * 1e6,
        rxDurationNs: txPort ? 0 : r.durationNs, rxCount: txPort ? 0 : r.count, tick: (now) => stats.tick(now), stopRequested, log,
        onStarted: (w) => (liveWorkers = w),
      });
      stopReason = run.stopReason;
      started = run.workers;
    }
    const end = monotonicNs();

    // The sum of every thread's blocks.
    const txs = counters.tx.map((_, t) => counters.txTally(t));
    let sent = 0;
    let sentBytes = 0;
    let txFirst = Infinity;
    let txEnd = 0;
    for (const t of txs) {
      sent += t.sent;
      sentBytes += t.bytes;
      if (t.sent > 0) {
        txFirst = Math.min(txFirst, t.firstNs);
        txEnd = Math.max(txEnd, t.endNs || t.lastNs);
      }
    }
    const txSecs = sent > 0 ? Math.max(txEnd - txFirst, 0) / 1e9 : 0;
    const tx: TxResult | undefined = txPort
      ? {
          spec: txPort.spec,
          packets: sent,
          bytes: sentBytes,
          pps: txSecs > 0 ? sent / txSecs : 0,
          mbps: txSecs > 0 ? ((sentBytes + 4 * sent) * 8) / txSecs / 1e6 : 0,
          durationSec: txSecs,
          streamId: r.streamId,
          sizes: replay ? `pcap ${r.pcap}` : r.sizeText,
          rate: r.rate?.text,
          rateError: pacing && sent >= 10 && txSecs >= 1 ? (pacing.costA * sent + pacing.costB * sentBytes) / txSecs / pacing.perSec - 1 : undefined,
        }
      : undefined;
    const tallies = rxPort ? counters.rxTallies() : [];
    const rx = rxPort ? mergeRx(tallies, txPort && !replay ? txs.map((t, w) => ({ id: (r.streamId + w) & 0xffff, sent: t.sent })) : undefined) : undefined;
    let rxFirst = Infinity;
    let rxLast = 0;
    for (const t of tallies) {
      if (t.packets === 0) continue;
      rxFirst = Math.min(rxFirst, t.firstNs);
      rxLast = Math.max(rxLast, t.lastNs);
    }
    const rxSecs = rxLast > rxFirst ? (rxLast - rxFirst) / 1e9 : 0;
    const ports: PktgenResult["ports"] = {};
    if (txPort) ports.tx = report(txPort, "tx");
    if (rxPort) ports.rx = report(rxPort, "rx");
    return {
      txPackets: sent,
      txBytes: sentBytes,
      txPps: tx?.pps ?? 0,
      txMbps: tx?.mbps ?? 0,
      durationSec: txPort ? txSecs : rxSecs,
      runSec: (end - t0) / 1e9,
      streamId: r.streamId,
      stopReason,
      tx,
      rx,
      ports,
      workers: started.map((s, w) => ({
        core: s.core, tid: s.tid, cpus: s.cpus,
        txQueue: txPort ? w : null, streamId: txPort ? (r.streamId + w) & 0xffff : null, rxQueues: inits[w]!.rxQueues,
        tx: txPort ? txs[w]!.sent : 0, rx: inits[w]!.rxQueues.reduce((n, q) => n + counters.received(q), 0),
      })),
    };
  } finally {
    live?.finish();
    if (endLive) {
      try {
        endLive();
      } catch (err) {
        log(`pktgen: ending live views: ${(err as Error).message}`);
      }
    }
    engine?.close();
    for (const p of opened.reverse()) {
      try {
        p.close();
      } catch (err) {
        log(`pktgen: closing ${p.spec}: ${(err as Error).message}`);
      }
    }
    if (ownPool) pool.destroy();
  }
}

/** A queue's handle for a worker; a port whose queues cannot leave this thread (pcap) is a usage error of --cores. */
function queueHandle(port: Port, dir: "rx" | "tx", q: number, r: ResolvedOptions): QueueHandle {
  try {
    return dir === "rx" ? port.rxQueue(q).handle() : port.txQueue(q).handle();
  } catch (e) {
    if (!(e instanceof BdkError)) throw e;
    const what = e.fix !== undefined ? e.message.slice(0, e.message.length - e.fix.length - 2) : e.message;
    throw new UsageError(`pktgen: --cores ${r.coresText}: ${what}`, "drop --cores to send and receive in the main thread");
  }
}

/** The live stats lines, from the shared counters: totals, and per worker with --cores. */
class StatsTicker {
  private startNs = 0;
  private lastNs = 0;
  private lastTx = 0;
  private lastTxBytes = 0;
  private lastRx = 0;
  private readonly lastWorker: { tx: number; rx: number }[];

  /** `workers`: each worker's core, TX block (-1: none) and RX queues. */
  constructor(private readonly c: RunCounters, private readonly onStats: ((s: PktgenStats) => void) | undefined, private readonly intervalNs: number,
    private readonly workers: { core: number; tx: number; rx: number[] }[]) {
    this.lastWorker = workers.map(() => ({ tx: 0, rx: 0 }));
  }

  start(nowNs: number): void {
    this.startNs = this.lastNs = nowNs;
  }

  tick(now: number): void {
    if (!this.onStats || !(this.intervalNs > 0) || now - this.lastNs < this.intervalNs) return;
    const c = this.c;
    const secs = (now - this.lastNs) / 1e9;
    const sent = c.sent();
    const bytes = c.sentBytes();
    const received = c.received();
    const s: PktgenStats = {
      elapsedSec: (now - this.startNs) / 1e9,
      txPackets: sent,
      txPps: (sent - this.lastTx) / secs,
      txMbps: ((bytes - this.lastTxBytes + 4 * (sent - this.lastTx)) * 8) / secs / 1e6,
      rxReceived: received,
      rxPps: (received - this.lastRx) / secs,
      lost: c.lostSoFar(),
    };
    if (this.workers.length > 0) {
      s.workers = this.workers.map((w, i) => {
        const tx = w.tx >= 0 ? c.txTally(w.tx).sent : 0;
        const rx = w.rx.reduce((n, q) => n + c.received(q), 0);
        const last = this.lastWorker[i]!;
        const out = { core: w.core, txPackets: tx, txPps: (tx - last.tx) / secs, rxReceived: rx, rxPps: (rx - last.rx) / secs };
        last.tx = tx;
        last.rx = rx;
        return out;
      });
    }
    this.onStats(s);
    this.lastNs = now;
    this.lastTx = sent;
    this.lastTxBytes = bytes;
    this.lastRx = received;
  }
}

/** Waits up to 2 s for the links to come up; a link still down is worth a line, not a refusal. */
async function waitForLinks(ports: (Port | undefined)[], log: (line: string) => void): Promise<void> {
  const list = [...new Set(ports.filter((p): p is Port => p !== undefined))];
  const until = performance.now() + 2000;
  while (list.some((p) => !p.link().up) && performance.now() < until) await Bun.sleep(20);
  for (const p of list) if (!p.link().up) log(`pktgen: warning: port ${p.spec} reports its link down; frames may go nowhere`);
}
