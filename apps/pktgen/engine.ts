// The engine: pktgen's loop over one TX queue and any number of RX queues, in one thread (the main thread,
// or each pinned worker with --cores). Each pass builds a burst in place (when the pacer allows) →
// txq.burst (what the queue does not take is offered again first, so order is kept) → each rxq.burst →
// count (one Receiver per RX queue) → free. The caller runs it in slices of ~10 ms (slice()), publishes its
// counts into shared memory after each (publish(): counters.ts), and returns to the event loop or looks
// at its stop flag in between. The loop holds the queue objects and calls their bursts: no lookup, no
// allocation, no closure, no BigInt per packet or per burst.
// Times (TX timestamps, RX times) are CLOCK_MONOTONIC nanoseconds (monotonicNs): the same clock in every
// process of the machine, so a receiver in another process can subtract a sender's timestamp.
import { Burst, monotonicNs, RxWaiter, type Mempool, type RxQueue, type TxQueue } from "../../src/index.ts";
import { STOP_REASONS, T_BYTES, T_END_NS, T_FIRST_NS, T_LAST_NS, T_REASON, T_SENT, type StopReason } from "./counters.ts";
import type { FrameSource } from "./generator.ts";
import type { Pacer } from "./pacing.ts";
import type { Receiver } from "./receiver.ts";

export type { StopReason };

/** Gaps to the next paced release longer than this are slept (ns); shorter ones are polled. */
const SLEEP_OVER_NS = 1e6;
/** The longest nap in one go (ms): the loop still returns to the caller every slice. */
const MAX_SLEEP_MS = 5;
/** Empty RX polls (with TX done) before the loop sleeps on the RX queue. */
const IDLE_POLLS = 64;

export interface EngineSetup {
  pool: Mempool;
  txq: TxQueue | undefined;
  /** The RX queues this thread polls, each with its own receiver (same length). */
  rxqs: readonly RxQueue[];
  recvs: readonly Receiver[];
  src: FrameSource | undefined;
  /** Frames per burst. */
  burst: number;
  /** Frames to build in all (Infinity: no limit). */
  limit: number;
  /** When TX (or --rx-only) stops (ns, monotonic); 0: no duration. */
  endNs: number;
  /** --rx-only: stop after this many frames received (0: no limit). */
  rxCount: number;
  /** After TX ends, how long to wait for frames in flight (ns). */
  drainNs: number;
  /** The rate limiter, started at the run's start; undefined: as fast as the port takes frames. */
  pacer: Pacer | undefined;
  /** A frame of `len` bytes costs costA + costB × len pacer units. */
  costA: number;
  costB: number;
  /** Drain until this many frames of any kind arrived (replay), rather than this many of our stream. */
  drainByPackets: boolean;
  /**
   * Another thread decides when receiving ends (a worker: the main thread sees every thread's counts).
   * After its TX the engine then keeps receiving until stopTx(); an engine without RX queues is done.
   */
  external?: boolean;
  /** Blocks of shared memory publish() writes: this thread's TX block, and one RX block per RX queue (counters.ts). */
  txBlock?: Float64Array;
  rxBlocks?: readonly Float64Array[];
}

/** The loop's state; one instance per run, its methods monomorphic. */
export class Engine {
  readonly pool: Mempool;
  readonly txq: TxQueue | undefined;
  readonly rxqs: readonly RxQueue[];
  readonly txB: Burst;
  readonly rxB: Burst;
  /** Lengths of txB's frames (the queue owns a buffer once taken: read lengths from here). */
  private readonly txLens: Uint16Array;
  private readonly src: FrameSource | undefined;
  private readonly recvs: readonly Receiver[];
  private readonly pacer: Pacer | undefined;
  private readonly costA: number;
  private readonly costB: number;
  private readonly limit: number;
  private readonly endNs: number;
  private readonly rxCount: number;
  private readonly drainNs: number;
  private readonly drainByPackets: boolean;
  private readonly external: boolean;
  private readonly txBlock: Float64Array | undefined;
  private readonly rxBlocks: readonly Float64Array[];
  /** Sleeps on the RX queues (built once the ports are started; closed by close()). */
  private readonly waiter: RxWaiter | undefined;
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
  drainUntilNs = 0;
  private idle = 0;

  constructor(s: EngineSetup) {
    this.pool = s.pool;
    if (s.rxqs.length !== s.recvs.length) throw new RangeError(`Engine: ${s.rxqs.length} RX queues but ${s.recvs.length} receivers`);
    this.txq = s.txq;
    this.rxqs = [...s.rxqs];
    this.src = s.src;
    this.recvs = [...s.recvs];
    this.pacer = s.pacer;
    this.costA = s.costA;
    this.costB = s.costB;
    this.limit = s.limit;
    this.endNs = s.endNs;
    this.rxCount = s.rxCount;
    this.drainNs = s.drainNs;
    this.drainByPackets = s.drainByPackets;
    this.external = s.external === true;
    this.txBlock = s.txBlock;
    this.rxBlocks = s.rxBlocks ?? [];
    this.txB = new Burst(s.burst);
    this.rxB = new Burst(s.burst);
    this.txLens = new Uint16Array(s.burst);
    this.txDone = s.txq === undefined;
    this.waiter = s.rxqs.length > 0 ? new RxWaiter(s.rxqs) : undefined;
  }

  /** Polls until `untilNs` or the run is over. */
  slice(untilNs: number): void {
    const rx = this.rxqs.length > 0;
    for (;;) {
      const now = monotonicNs();
      if (!this.txDone) this.txStep(now);
      else if (this.checkEnd(now)) return;
      let got = 0;
      if (rx) got = this.rxStep();
      if (now >= untilNs || this.done) return;
      if (got === 0 && this.txDone && rx) {
        // Only receiving and nothing came: after a while, sleep on the queues rather than spin.
        if (++this.idle >= IDLE_POLLS) this.waiter!.wait(1);
      } else this.idle = 0;
    }
  }

  /** Stops sending now (a signal): what is built but not taken goes back to the pool. */
  stopTx(): void {
    if (!this.txDone) this.finishTx(monotonicNs(), "stopped");
    this.done = true;
  }

  /** Writes the counts so far into the shared blocks (after each slice, and once at the end). */
  publish(): void {
    const t = this.txBlock;
    if (t !== undefined) {
      t[T_SENT] = this.sent;
      t[T_BYTES] = this.sentBytes;
      t[T_FIRST_NS] = this.txFirstNs;
      t[T_LAST_NS] = this.txLastNs;
      t[T_REASON] = STOP_REASONS.indexOf(this.stopReason);
      t[T_END_NS] = this.txDone ? this.txEndNs : 0;
    }
    const blocks = this.rxBlocks;
    for (let i = 0; i < blocks.length; i++) this.recvs[i]!.publish(blocks[i]!);
  }

  /** Returns what is built but not taken to the pool and closes the waiter. Idempotent. */
  close(): void {
    const b = this.txB;
    if (b.count > this.txStart) b.freeFrom(this.pool, this.txStart);
    b.count = 0;
    this.txStart = 0;
    this.waiter?.close();
  }

  private checkEnd(now: number): boolean {
    if (this.rxqs.length === 0) {
      this.done = true;
    } else if (this.external) {
      // Another thread says when (stopTx()).
    } else if (this.txq === undefined) {
      // --rx-only: a duration or a count of received frames ends it.
      if (this.endNs > 0 && now >= this.endNs) {
        this.stopReason = "duration";
        this.done = true;
      } else if (this.rxCount > 0 && this.received() >= this.rxCount) {
        this.stopReason = "rx-count";
        this.done = true;
      }
    } else if (now >= this.drainUntilNs || this.allArrived()) {
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

  private offer(txq: TxQueue, now: number): void {
    const b = this.txB;
    const start = this.txStart;
    const k = txq.burst(b, start);
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
    const txq = this.txq!;
    if (this.endNs > 0 && now >= this.endNs) {
      this.finishTx(now, "duration");
      return;
    }
    if (this.txB.count > 0) {
      // The queue took part of the last burst: offer the rest first (order is kept).
      this.offer(txq, now);
      return;
    }
    const remaining = this.limit - this.built;
    if (remaining <= 0) {
      this.finishTx(now, this.limit === this.src!.total ? "pcap-end" : "count");
      return;
    }
    let n = this.txB.capacity;
    if (n > remaining) n = remaining;
    const pacer = this.pacer;
    if (pacer !== undefined) {
      const can = pacer.allowance(now);
      if (can === 0) {
        this.nap(pacer.waitNs(now));
        return;
      }
      if (n > can) n = can;
    }
    const pool = this.pool;
    const b = this.txB;
    if (pool.allocBulk(b.bufs, 0, n) !== n) return; // the ports hold every buffer: poll and retry
    const bytes = this.src!.fill(pool, b.bufs, n, now);
    const lens = this.txLens;
    const plen = pool.len;
    for (let i = 0; i < n; i++) lens[i] = plen[b.bufs[i]!]!;
    if (pacer !== undefined) pacer.consume(now, n * this.costA + this.costB * bytes);
    if (this.built === 0) this.txFirstNs = now;
    this.built += n;
    b.count = n;
    this.txStart = 0;
    this.offer(txq, now);
  }

  /** Waits for the next paced release when it is over a millisecond away: on the RX queue, if there is one. */
  private nap(gapNs: number): void {
    if (gapNs <= SLEEP_OVER_NS) return;
    let ms = gapNs / 1e6 - 0.1;
    if (ms > MAX_SLEEP_MS) ms = MAX_SLEEP_MS;
    // A frame arriving wakes the waiter: RX times are not held back by TX's sleep.
    if (this.waiter !== undefined) this.waiter.wait(Math.floor(ms));
    else Bun.sleepSync(ms);
  }

  private rxStep(): number {
    const b = this.rxB;
    const qs = this.rxqs;
    let got = 0;
    for (let i = 0; i < qs.length; i++) {
      const n = qs[i]!.burst(b);
      if (n === 0) continue;
      this.recvs[i]!.process(this.pool, b.bufs, n, monotonicNs());
      this.pool.freeBulk(b.bufs, 0, n);
      b.count = 0;
      got += n;
    }
    if (got > 0 && this.txDone && this.txq !== undefined && !this.external && this.allArrived()) this.done = true;
    return got;
  }

  private received(): number {
    let n = 0;
    for (let i = 0; i < this.recvs.length; i++) n += this.recvs[i]!.received();
    return n;
  }

  private allArrived(): boolean {
    let n = 0;
    for (let i = 0; i < this.recvs.length; i++) n += this.drainByPackets ? this.recvs[i]!.packets : this.recvs[i]!.unique();
    return n >= this.sent;
  }
}
