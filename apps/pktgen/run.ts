// runPktgen: opens the ports, then one loop in the main thread polls both: build a burst (when the token
// bucket allows) → txBurst → rxBurst → count → free. The loop runs in slices of ~10 ms and returns to the
// event loop between them, so that signals, timers and the caller's stop requests are seen.
import { openPort } from "../../src/index.ts";
import { Burst, type LinkStatus, type Port, type PortStats } from "../../src/ethdev/port.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { LINKTYPE_ETHERNET, PcapError, readPcap } from "../../drivers/pcap/file.ts";
import { monotonicNs } from "../../src/sys/libc.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { FrameGenerator, ReplaySource, type FrameSource } from "./generator.ts";
import { resolveOptions, type PktgenOptions, type ResolvedOptions } from "./options.ts";
import { Receiver, type RxResult } from "./receiver.ts";

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
}

export interface PortReport {
  spec: string;
  driver: string;
  mac: string;
  link: LinkStatus;
  stats: PortStats;
}

export type StopReason = "count" | "duration" | "pcap-end" | "stopped" | "rx-count";

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

const SLICE_NS = 10e6;
const MAX_SLEEP_MS = 5;
const BUCKET_NS = 5e6;

/** The loop's state; one instance per run, its methods monomorphic. */
class Engine {
  readonly txB: Burst;
  readonly rxB: Burst;
  /** Lengths of txB's frames (the port owns a buffer once taken: read lengths from here). */
  private readonly txLens: Uint16Array;
  txStart = 0;
  built = 0;
  sent = 0;
  sentBytes = 0;
  txFirstNs = 0;
  txLastNs = 0;
  /** When TX found nothing more to do (the loop pass after the last frame was taken). */
  txEndNs = 0;
  txDone: boolean;
  stopReason: StopReason = "stopped";
  done = false;
  // Token bucket (cost units: frames, or bits).
  private tokens: number;
  private lastRefillNs = 0;
  private readonly depth: number;
  private readonly meanCost: number;
  private idle = 0;
  drainUntilNs = 0;

  constructor(
    readonly pool: Mempool,
    readonly txPort: Port | undefined,
    readonly rxPort: Port | undefined,
    readonly src: FrameSource | undefined,
    readonly recv: Receiver | undefined,
    burst: number,
    readonly limit: number,
    readonly endNs: number,
    readonly rxCount: number,
    readonly drainNs: number,
    readonly ratePerNs: number,
    readonly costA: number,
    readonly costB: number,
    /** Drain until this many frames of any kind arrived (replay), rather than this many of our stream. */
    readonly drainByPackets: boolean,
  ) {
    this.txB = new Burst(burst);
    this.rxB = new Burst(burst);
    this.txLens = new Uint16Array(burst);
    this.txDone = txPort === undefined;
    const meanLen = src ? src.meanLen : 60;
    const maxLen = src ? src.maxLen : 60;
    this.meanCost = costA + costB * meanLen;
    // The bucket holds one burst, or what 5 ms at the rate earn if that is more: a loop that lost the CPU
    // for a few ms (2 cores, other processes) catches up, so the average rate holds.
    const burstCost = burst * (costA + costB * maxLen);
    this.depth = Math.max(burstCost, ratePerNs * BUCKET_NS, 1);
    this.tokens = burstCost;
    this.lastRefillNs = monotonicNs();
  }

  /** Polls until `untilNs` or the run is over. */
  slice(untilNs: number): void {
    const rx = this.rxPort !== undefined;
    for (;;) {
      const now = monotonicNs();
      if (!this.txDone) this.txStep(now);
      else if (this.checkEnd(now)) return;
      let got = 0;
      if (rx) got = this.rxStep();
      if (now >= untilNs || this.done) return;
      if (got === 0 && this.txDone && rx) {
        // Only receiving and nothing came: after a while, sleep on the port rather than spin.
        if (++this.idle >= 64) {
          const p = this.rxPort!;
          if (p.rxWait) p.rxWait(0, 1);
          else Bun.sleepSync(0.05);
        }
      } else this.idle = 0;
    }
  }

  private checkEnd(now: number): boolean {
    const recv = this.recv;
    if (this.rxPort === undefined || recv === undefined) {
      this.done = true;
    } else if (this.txPort === undefined) {
      // --rx-only: a duration or a count of received frames ends it.
      if (this.endNs > 0 && now >= this.endNs) {
        this.stopReason = "duration";
        this.done = true;
      } else if (this.rxCount > 0 && recv.received() >= this.rxCount) {
        this.stopReason = "rx-count";
        this.done = true;
      }
    } else if (now >= this.drainUntilNs || this.allArrived(recv)) {
      this.done = true;
    }
    return this.done;
  }

  private finishTx(now: number, why: StopReason): void {
    this.txDone = true;
    this.txEndNs = now;
    this.stopReason = why;
    if (this.txStart < this.txB.count) this.txB.freeFrom(this.pool, this.txStart);
    this.txB.count = 0;
    this.txStart = 0;
    this.drainUntilNs = now + this.drainNs;
  }

  /** Stops sending now (a signal): what is built but not taken goes back to the pool. */
  stopTx(): void {
    if (!this.txDone) this.finishTx(monotonicNs(), "stopped");
    this.done = true;
  }

  private offer(port: Port, now: number): void {
    const b = this.txB;
    const start = this.txStart;
    const k = port.txBurst(0, b, start);
    if (k > 0) {
      let bytes = 0;
      const lens = this.txLens;
      for (let i = start; i < start + k; i++) bytes += lens[i]!;
      this.sent += k;
      this.sentBytes += bytes;
      this.txLastNs = now;
      this.txStart = start + k;
      if (this.txStart === b.count) {
        b.count = 0;
        this.txStart = 0;
      }
    }
  }

  private txStep(now: number): void {
    const port = this.txPort!;
    if (this.endNs > 0 && now >= this.endNs) {
      this.finishTx(now, "duration");
      return;
    }
    if (this.txB.count > 0) {
      // The port took part of the last burst: offer the rest first (order is kept).
      this.offer(port, now);
      return;
    }
    const remaining = this.limit - this.built;
    if (remaining <= 0) {
      this.finishTx(now, this.limit === this.src!.total ? "pcap-end" : "count");
      return;
    }
    let n = this.txB.capacity;
    if (n > remaining) n = remaining;
    const rate = this.ratePerNs;
    if (rate > 0) {
      let t = this.tokens + (now - this.lastRefillNs) * rate;
      this.lastRefillNs = now;
      if (t > this.depth) t = this.depth;
      this.tokens = t;
      if (t < this.meanCost) {
        const gapNs = (this.meanCost - t) / rate;
        if (gapNs > 1e6) Bun.sleepSync(Math.min(gapNs / 1e6 - 0.1, MAX_SLEEP_MS));
        return;
      }
      const can = Math.floor(t / this.meanCost);
      if (n > can) n = can;
    }
    const pool = this.pool;
    const b = this.txB;
    if (pool.allocBulk(b.bufs, 0, n) !== n) return; // the ports hold every buffer: poll and retry
    const bytes = this.src!.fill(pool, b.bufs, n, now);
    const lens = this.txLens;
    const plen = pool.len;
    for (let i = 0; i < n; i++) lens[i] = plen[b.bufs[i]!]!;
    if (rate > 0) this.tokens -= n * this.costA + this.costB * bytes;
    if (this.built === 0) this.txFirstNs = now;
    this.built += n;
    b.count = n;
    this.txStart = 0;
    this.offer(port, now);
  }

  private rxStep(): number {
    const port = this.rxPort!;
    const b = this.rxB;
    const n = port.rxBurst(0, b);
    if (n === 0) return 0;
    const now = monotonicNs();
    const recv = this.recv!;
    recv.process(this.pool, b.bufs, n, now);
    this.pool.freeBulk(b.bufs, 0, n);
    b.count = 0;
    if (this.txDone && this.txPort !== undefined && this.allArrived(recv)) this.done = true;
    return n;
  }

  private allArrived(recv: Receiver): boolean {
    return (this.drainByPackets ? recv.packets : recv.unique()) >= this.sent;
  }
}

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

    // The rate, in cost units per ns: frames (pps), frame bits with CRC (bps), wire bits (percent).
    let ratePerNs = 0;
    let costA = 1;
    let costB = 0;
    if (r.rate && txPort) {
      if (r.rate.unit === "pps") {
        ratePerNs = r.rate.value / 1e9;
      } else if (r.rate.unit === "bps") {
        costA = 4 * 8;
        costB = 8;
        ratePerNs = r.rate.value / 1e9;
      } else {
        const speed = txPort.link().speedMbps;
        if (!speed) {
          throw new BdkError(`--rate ${r.rate.text}: port ${txPort.spec} reports no link speed (emulated/virtual)`, "give --rate in pps or Mbit/s");
        }
        costA = (4 + 20) * 8;
        costB = 8;
        ratePerNs = (speed * 1e6 * r.rate.value) / 100 / 1e9;
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
    const start = monotonicNs();
    const e = (engine = new Engine(
      pool, txPort, rxPort, src, recv, r.burst, limit, r.durationNs > 0 ? start + r.durationNs : 0,
      txPort ? 0 : r.count, r.drainMs * 1e6, ratePerNs, costA, costB, replay !== undefined,
    ));

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
    if (engine && engine.txB.count > engine.txStart) engine.txB.freeFrom(pool, engine.txStart);
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
