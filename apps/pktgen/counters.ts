// Where a run counts: one block of shared memory per TX thread and one per RX queue, in one
// SharedArrayBuffer (after a cache line of control words: the workers' start barrier), each block padded
// to whole 64-byte cache lines and written by the one thread that
// owns it (the main thread, or the pinned worker that polls that queue). The engine publishes its counts
// into its blocks once per slice (~10 ms) and once more when it ends, never per packet; the main thread
// reads them for the live stats lines and, once every thread is done, merges them into the result. An RX
// block holds everything the receiver of that queue knows (its streams, its latency histogram), so the
// final merge needs nothing posted back.
import { HISTOGRAM_BUCKETS, LatencyHistogram } from "./histogram.ts";
import type { RxTally, StreamTally } from "./receiver.ts";

export type StopReason = "count" | "duration" | "pcap-end" | "stopped" | "rx-count";
/** A stop reason's code in a TX block is its index here. */
export const STOP_REASONS: readonly StopReason[] = ["stopped", "count", "duration", "pcap-end", "rx-count"];

/** Streams one receiver tracks at once (frames of further streams count as "other"). */
export const STREAM_SLOTS = 256;

// A TX block (doubles).
export const T_SENT = 0;
export const T_BYTES = 1;
export const T_FIRST_NS = 2;
export const T_LAST_NS = 3;
/** When TX ended (0 while it runs). */
export const T_END_NS = 4;
export const T_REASON = 5;
const TX_STRIDE = 8;

// An RX block (doubles): the header, the latency histogram's buckets, then one slot per stream.
export const R_PACKETS = 0;
export const R_BYTES = 1;
export const R_RECEIVED = 2;
export const R_OTHER = 3;
export const R_BAD_CHECKSUM = 4;
export const R_FIRST_NS = 5;
export const R_LAST_NS = 6;
export const R_STREAMS = 7;
export const R_LAT_COUNT = 8;
export const R_LAT_SUM = 9;
export const R_LAT_MIN = 10;
export const R_LAT_MAX = 11;
export const R_HISTOGRAM = 16;
export const R_STREAM0 = R_HISTOGRAM + HISTOGRAM_BUCKETS;
// A stream slot, at R_STREAM0 + STREAM_FIELDS × i.
export const S_ID = 0;
export const S_RECEIVED = 1;
export const S_UNIQUE = 2;
export const S_DUPLICATED = 3;
export const S_REORDERED = 4;
export const S_HIGHEST = 5;
export const STREAM_FIELDS = 6;
const RX_STRIDE = Math.ceil((R_STREAM0 + STREAM_FIELDS * STREAM_SLOTS) / 8) * 8;
/** The control words (Int32) before the blocks: one cache line. */
const CTL_BYTES = 64;
/** Workers that have attached their queues and wait to start. */
const C_READY = 0;

/** What a worker needs to find its blocks (structured-cloneable; the buffer is shared). */
export interface CountersHandle {
  sab: SharedArrayBuffer;
  txThreads: number;
  rxQueues: number;
}

/** What one TX thread did. */
export interface TxTally {
  sent: number;
  bytes: number;
  firstNs: number;
  lastNs: number;
  endNs: number;
  stopReason: StopReason;
}

export class RunCounters {
  /** Block t of each TX thread, block q of each RX queue: views made once. */
  readonly tx: Float64Array[] = [];
  readonly rx: Float64Array[] = [];
  private readonly ctl: Int32Array;

  constructor(readonly handle: CountersHandle) {
    const { sab, txThreads, rxQueues } = handle;
    this.ctl = new Int32Array(sab, 0, CTL_BYTES / 4);
    for (let t = 0; t < txThreads; t++) this.tx.push(new Float64Array(sab, CTL_BYTES + 8 * TX_STRIDE * t, TX_STRIDE));
    const rxBase = CTL_BYTES + 8 * TX_STRIDE * txThreads;
    for (let q = 0; q < rxQueues; q++) this.rx.push(new Float64Array(sab, rxBase + 8 * RX_STRIDE * q, RX_STRIDE));
  }

  static create(txThreads: number, rxQueues: number): RunCounters {
    const sab = new SharedArrayBuffer(CTL_BYTES + 8 * (TX_STRIDE * txThreads + RX_STRIDE * rxQueues));
    return new RunCounters({ sab, txThreads, rxQueues });
  }

  /**
   * A worker's start barrier: says this thread is ready (its queues attached), then waits until all
   * `workers` are or `shouldStop()`, so that their schedules start together (a worker attaching late would
   * otherwise start its share of --rate late, and the run would send slower than asked at its start).
   */
  arriveAndWait(workers: number, shouldStop: () => boolean): void {
    const ctl = this.ctl;
    let ready = Atomics.add(ctl, C_READY, 1) + 1;
    if (ready >= workers) Atomics.notify(ctl, C_READY);
    while (ready < workers && !shouldStop()) {
      Atomics.wait(ctl, C_READY, ready, 10);
      ready = Atomics.load(ctl, C_READY);
    }
  }

  /** Frames (and their bytes) every TX thread sent so far. */
  sent(): number {
    let n = 0;
    for (const b of this.tx) n += b[T_SENT]!;
    return n;
  }

  sentBytes(): number {
    let n = 0;
    for (const b of this.tx) n += b[T_BYTES]!;
    return n;
  }

  /** When the last TX thread ended its TX (ns); 0 while any still sends. */
  txEndNs(): number {
    let end = 0;
    for (const b of this.tx) {
      if (b[T_END_NS] === 0) return 0;
      if (b[T_END_NS]! > end) end = b[T_END_NS]!;
    }
    return end;
  }

  /** pktgen frames received on RX queue q (or on all), duplicates included. */
  received(q?: number): number {
    if (q !== undefined) return this.rx[q]![R_RECEIVED]!;
    let n = 0;
    for (const b of this.rx) n += b[R_RECEIVED]!;
    return n;
  }

  /** Distinct frames received on all queues (for "has everything arrived"; a frame seen on two queues counts twice). */
  unique(): number {
    let n = 0;
    for (const b of this.rx) {
      const streams = b[R_STREAMS]!;
      for (let i = 0; i < streams; i++) n += b[R_STREAM0 + STREAM_FIELDS * i + S_UNIQUE]!;
    }
    return n;
  }

  /** Frames of any kind RX handed over on all queues (for replays, whose frames carry no sequence numbers). */
  packets(): number {
    let n = 0;
    for (const b of this.rx) n += b[R_PACKETS]!;
    return n;
  }

  /**
   * Frames lost so far by the highest sequence numbers seen (frames in flight count until they arrive),
   * the queues merged per stream as mergeRx() does: the highest any queue saw, the distinct frames summed.
   */
  lostSoFar(): number {
    const highest = new Map<number, number>();
    const unique = new Map<number, number>();
    for (const b of this.rx) {
      const streams = Math.min(b[R_STREAMS]!, STREAM_SLOTS);
      for (let i = 0; i < streams; i++) {
        const s = R_STREAM0 + STREAM_FIELDS * i;
        const id = b[s + S_ID]!;
        highest.set(id, Math.max(highest.get(id) ?? -1, b[s + S_HIGHEST]!));
        unique.set(id, (unique.get(id) ?? 0) + b[s + S_UNIQUE]!);
      }
    }
    let lost = 0;
    for (const [id, h] of highest) lost += Math.max(0, h + 1 - unique.get(id)!);
    return lost;
  }

  txTally(t: number): TxTally {
    const b = this.tx[t]!;
    return { sent: b[T_SENT]!, bytes: b[T_BYTES]!, firstNs: b[T_FIRST_NS]!, lastNs: b[T_LAST_NS]!, endNs: b[T_END_NS]!, stopReason: STOP_REASONS[b[T_REASON]!] ?? "stopped" };
  }

  /** RX queue q's receiver as last published (a copy: its histogram included). */
  rxTally(q: number): RxTally {
    const b = this.rx[q]!;
    const streams: StreamTally[] = [];
    const n = Math.min(b[R_STREAMS]!, STREAM_SLOTS);
    for (let i = 0; i < n; i++) {
      const s = R_STREAM0 + STREAM_FIELDS * i;
      streams.push({ id: b[s + S_ID]!, received: b[s + S_RECEIVED]!, unique: b[s + S_UNIQUE]!, duplicated: b[s + S_DUPLICATED]!, reordered: b[s + S_REORDERED]!, highest: b[s + S_HIGHEST]! });
    }
    const latency = new LatencyHistogram();
    latency.counts.set(b.subarray(R_HISTOGRAM, R_HISTOGRAM + HISTOGRAM_BUCKETS));
    latency.count = b[R_LAT_COUNT]!;
    latency.sum = b[R_LAT_SUM]!;
    latency.min = latency.count > 0 ? b[R_LAT_MIN]! : Infinity;
    latency.max = b[R_LAT_MAX]!;
    return {
      packets: b[R_PACKETS]!, bytes: b[R_BYTES]!, other: b[R_OTHER]!, badChecksum: b[R_BAD_CHECKSUM]!,
      firstNs: b[R_FIRST_NS]!, lastNs: b[R_LAST_NS]!, streams, latency,
    };
  }

  /** Every RX queue's tally, in queue order. */
  rxTallies(): RxTally[] {
    return this.rx.map((_, q) => this.rxTally(q));
  }
}
