// Per-queue counters in shared memory. Each queue owns one 64-byte block (a cache line) of eight float64
// slots, so that pinned workers bursting on different queues never write the same line (no false sharing)
// and the owner's stats() can sum them from any thread without locks: a slot has one writer, the thread
// that owns the queue. float64 counts exactly up to 2^53 packets or bytes.
import { BdkError } from "../sys/errors.ts";

/** The slots of a queue's block. RX and TX queues use the same layout; a slot a direction lacks stays 0. */
export const C_PACKETS = 0;
export const C_BYTES = 1;
/** RX: frames received but unusable (too long, truncated, bad descriptor); TX: frames the port refused. */
export const C_ERRORS = 2;
/** RX: frames lost for lack of room in the RX ring, counted once, where they were lost (DPDK's imissed). */
export const C_MISSED = 3;
/** RX: refills that found the mempool empty (DPDK's rx_nombuf). */
export const C_NOMBUF = 4;
/** Slots 5..7 are the driver's own (e.g. af_packet's TX kicks). */
export const C_DRIVER0 = 5;
export const COUNTER_SLOTS = 8;
const BLOCK_BYTES = COUNTER_SLOTS * 8;

export class QueueCounters {
  /** Shares `sab`'s memory: what a worker's queue writes, the owner reads. */
  readonly all: Float64Array;

  static create(queues: number): QueueCounters {
    return new QueueCounters(new SharedArrayBuffer(Math.max(1, queues) * BLOCK_BYTES), queues);
  }

  constructor(readonly sab: SharedArrayBuffer, readonly queues: number) {
    if (sab.byteLength < queues * BLOCK_BYTES) {
      throw new BdkError(`queue counters: ${sab.byteLength} bytes cannot hold ${queues} queue blocks`, "pass the counters of the port's handle");
    }
    this.all = new Float64Array(sab);
  }

  /** Queue q's block: a burst adds to block[C_PACKETS] etc. */
  block(q: number): Float64Array {
    return new Float64Array(this.sab, q * BLOCK_BYTES, COUNTER_SLOTS);
  }

  /** The sum of one slot over every queue. */
  sum(slot: number): number {
    let s = 0;
    for (let q = 0; q < this.queues; q++) s += this.all[q * COUNTER_SLOTS + slot]!;
    return s;
  }

  get(q: number, slot: number): number {
    return this.all[q * COUNTER_SLOTS + slot]!;
  }

  reset(): void {
    this.all.fill(0);
  }
}
