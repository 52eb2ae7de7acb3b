// runPktgen, the command: resolves the options, loads a replay file, makes the pool, opens or adopts the
// ports and starts them, turns --rate into a pacer (pacing.ts), runs the engine (engine.ts) in ~10 ms slices
// between turns of the event loop (signals, timers, stop requests, live stats), then closes what it opened
// and sums the run up.
import {
  BdkError, Mempool, monotonicNs, openPort, PcapError, readPcap, type LinkStatus, type Port, type PortStats, LINKTYPE_ETHERNET } from "../../src/index.ts";
import { Engine, type StopReason } from "./engine.ts";
import { FrameGenerator, ReplaySource, type FrameSource } from "./generator.ts";
import { resolveOptions, type PktgenOptions, type ResolvedOptions } from "./options.ts";
import { Pacer, pacingFor, type PacingRate } from "./pacing.ts";
import { Receiver, type RxResult } from "./receiver.ts";

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
}

export interface PktgenControl {
  signal?: AbortSignal;
  /** Polled about every 10 ms; true stops the run (the result still comes back). */
  shouldStop?: () => boolean;
  /** Called every `interval` seconds. */
  onStats?: (s: PktgenStats) => void;
  /** Setup notes (link state, warnings). Default: stderr. */
  log?: (line: string) => void;
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
}

/** The engine runs this long (ns) before the event loop gets a turn (signals, timers, stop requests). */
const SLICE_NS = 10e6;

function report(p: Port): PortReport {
  return { spec: p.spec, driver: p.driver, mac: p.macAddress(), link: p.link(), stats: p.stats() };
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
  const replay = r.pcap !== undefined ? loadReplay(r.pcap) : undefined;
  let small = 0;
  if (replay) for (const f of replay) if (f.length < 60) small++;
  if (small > 0) log(`pktgen: warning: ${small} frame(s) of ${r.pcap} are shorter than 60 bytes; NICs and some ports drop such runts (sent as they are)`);

  const maxLen = replay ? replay.reduce((m, f) => Math.max(m, f.length), 0) : r.sizes.reduce((m, s) => Math.max(m, s), 0);
  // One Port object given as both: one port that sends and receives. Two equal specs are two opens (for
  // ring:NAME, the link's two ends).
  const samePort = typeof r.tx === "object" && r.tx === r.rx;

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
  const open = (p: string | Port): Port => {
    if (typeof p === "string") {
      const port = openPort(p, { pool, rxQueues: 1, txQueues: 1 });
      opened.push(port);
      return port;
    }
    if (!p.config) {
      p.configure({ pool, rxQueues: 1, txQueues: 1 });
      ownPool = false; // the caller's port keeps using it after the run
    } else if (p.config.pool !== pool && p.config.pool.arena.va !== pool.arena.va) {
      throw new BdkError(`pktgen: ports ${specOf(r.tx!)} and ${specOf(r.rx!)} use different mempools`, "configure both with one pool (or give specs and let pktgen make the pool)");
    }
    return p;
  };

  let engine: Engine | undefined;
  const t0 = monotonicNs();
  try {
    if (r.tx !== undefined) txPort = open(r.tx);
    if (r.rx !== undefined) rxPort = samePort ? txPort : open(r.rx);
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

    await waitForLinks([txPort, rxPort], log);

    let src: FrameSource | undefined;
    if (txPort) src = replay ? new ReplaySource(replay, r.loop) : new FrameGenerator(r, txPort.macAddress());
    let limit = src ? src.total : 0;
    if (r.count > 0 && txPort && r.count < limit) limit = r.count;
    // Our stream only when we send it (or --stream names one); otherwise every pktgen stream is counted.
    const own = txPort ? (replay ? -1 : r.streamId) : options.streamId !== undefined ? r.streamId : -1;
    const recv = rxPort ? new Receiver(own) : undefined;
    let pacer: Pacer | undefined;
    if (pacing && src) pacer = new Pacer(pacing.perSec, pacing.costA + pacing.costB * src.meanLen, r.burst);
    const start = monotonicNs();
    pacer?.start(start);
    const e = (engine = new Engine({
      pool,
      txq: txPort?.txQueue(0),
      rxq: rxPort?.rxQueue(0),
      src,
      recv,
      burst: r.burst,
      limit,
      endNs: r.durationNs > 0 ? start + r.durationNs : 0,
      rxCount: txPort ? 0 : r.count,
      drainNs: r.drainMs * 1e6,
      pacer,
      costA: pacing?.costA ?? 1,
      costB: pacing?.costB ?? 0,
      drainByPackets: replay !== undefined,
    }));

    const intervalNs = r.interval * 1e9;
    let lastStatsNs = start;
    let lastTx = 0;
    let lastTxBytes = 0;
    let lastRx = 0;
    const stopRequested = (): boolean => control.signal?.aborted === true || control.shouldStop?.() === true;
    while (!e.done) {
      e.slice(monotonicNs() + SLICE_NS);
      const now = monotonicNs();
      if (control.onStats && intervalNs > 0 && now - lastStatsNs >= intervalNs) {
        const secs = (now - lastStatsNs) / 1e9;
        const rxReceived = recv ? recv.received() : 0;
        control.onStats({
          elapsedSec: (now - start) / 1e9,
          txPackets: e.sent,
          txPps: (e.sent - lastTx) / secs,
          txMbps: ((e.sentBytes - lastTxBytes + 4 * (e.sent - lastTx)) * 8) / secs / 1e6,
          rxReceived,
          rxPps: (rxReceived - lastRx) / secs,
          lost: recv ? recv.lostSoFar() : 0,
        });
        lastStatsNs = now;
        lastTx = e.sent;
        lastTxBytes = e.sentBytes;
        lastRx = rxReceived;
      }
      if (!e.done && stopRequested()) e.stopTx();
      if (!e.done) await Bun.sleep(0);
    }
    const end = monotonicNs();

    const txSecs = e.sent > 0 ? Math.max((e.txEndNs || e.txLastNs) - e.txFirstNs, 0) / 1e9 : 0;
    const tx: TxResult | undefined = txPort
      ? {
          spec: txPort.spec,
          packets: e.sent,
          bytes: e.sentBytes,
          pps: txSecs > 0 ? e.sent / txSecs : 0,
          mbps: txSecs > 0 ? ((e.sentBytes + 4 * e.sent) * 8) / txSecs / 1e6 : 0,
          durationSec: txSecs,
          streamId: r.streamId,
          sizes: replay ? `pcap ${r.pcap}` : r.sizeText,
          rate: r.rate?.text,
          rateError: pacing && e.sent >= 10 && txSecs >= 1 ? (pacing.costA * e.sent + pacing.costB * e.sentBytes) / txSecs / pacing.perSec - 1 : undefined,
        }
      : undefined;
    const rx = recv ? recv.result(txPort && !replay ? e.sent : undefined) : undefined;
    const ports: PktgenResult["ports"] = {};
    if (txPort) ports.tx = report(txPort);
    if (rxPort) ports.rx = report(rxPort);
    const rxSecs = recv && recv.packets > 0 ? (recv.lastNs - recv.firstNs) / 1e9 : 0;
    return {
      txPackets: e.sent,
      txBytes: e.sentBytes,
      txPps: tx?.pps ?? 0,
      txMbps: tx?.mbps ?? 0,
      durationSec: txPort ? txSecs : rxSecs,
      runSec: (end - t0) / 1e9,
      streamId: r.streamId,
      stopReason: e.stopReason,
      tx,
      rx,
      ports,
    };
  } finally {
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

/** Waits up to 2 s for the links to come up; a link still down is worth a line, not a refusal. */
async function waitForLinks(ports: (Port | undefined)[], log: (line: string) => void): Promise<void> {
  const list = [...new Set(ports.filter((p): p is Port => p !== undefined))];
  const until = performance.now() + 2000;
  while (list.some((p) => !p.link().up) && performance.now() < until) await Bun.sleep(20);
  for (const p of list) if (!p.link().up) log(`pktgen: warning: port ${p.spec} reports its link down; frames may go nowhere`);
}
