// A reusable batch of buffer indices: an RX burst fills it, a TX burst drains it. Allocate once, reuse forever.
import type { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";

export class Burst {
  readonly bufs: Uint32Array;
  /** How many of `bufs` hold packets. */
  count = 0;

  constructor(readonly capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new BdkError(`burst size ${capacity} is out of range`, "give 1..4096 (32 is DPDK's default)");
    }
    this.bufs = new Uint32Array(capacity);
  }

  /** Appends a buffer; false when full. */
  push(buf: number): boolean {
    if (this.count >= this.capacity) return false;
    this.bufs[this.count++] = buf;
    return true;
  }

  /** Frees bufs[from..count) back to the pool and empties the burst (e.g. what a TX burst did not take). */
  freeFrom(pool: Mempool, from: number): void {
    for (let i = from; i < this.count; i++) pool.free(this.bufs[i]!);
    this.count = 0;
  }
}
