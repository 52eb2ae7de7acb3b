// A lock-free ring of 32-bit buffer indices in memory that several threads see (a SharedArrayBuffer, or an
// mmap'd arena viewed by every worker). Producer and consumer each have a head (claimed) and a tail
// (published), as in DPDK's rte_ring: a multi-producer claims slots with a compare-and-swap on the head,
// writes them, then waits for earlier producers to publish before it moves the tail. Single-producer or
// single-consumer sides skip the CAS and the wait. Counters run freely over 2^32 and are masked.
import { BdkError } from "../sys/errors.ts";

// Header words, each on its own 64-byte line so that producer and consumer do not share a cache line.
const PROD_HEAD = 0, PROD_TAIL = 16, CONS_HEAD = 32, CONS_TAIL = 48, CAPACITY = 64, FLAGS = 65;
const HEADER_WORDS = 80; // 320 bytes; slots start on a 64-byte boundary
const FLAG_SP = 1, FLAG_SC = 2;

export type RingSync = "mpmc" | "spsc" | "mpsc" | "spmc";

export class IndexRing {
  readonly capacity: number;
  private readonly mask: number;
  private readonly h: Int32Array;
  private readonly slots: Uint32Array;
  private readonly singleProducer: boolean;
  private readonly singleConsumer: boolean;

  /** Bytes of shared memory a ring of `capacity` slots needs. */
  static bytesFor(capacity: number): number {
    checkCapacity(capacity);
    return (HEADER_WORDS + capacity) * 4;
  }

  /** A new ring in a fresh SharedArrayBuffer; pass `ring.memory` to a worker and `IndexRing.attach` there. */
  static create(capacity: number, sync: RingSync = "mpmc"): IndexRing {
    return IndexRing.init(new SharedArrayBuffer(IndexRing.bytesFor(capacity)), 0, capacity, sync);
  }

  /** Initialises a ring at `byteOffset` of `buffer` (shared or mmap'd memory, 64-byte aligned). */
  static init(buffer: ArrayBufferLike, byteOffset: number, capacity: number, sync: RingSync = "mpmc"): IndexRing {
    checkCapacity(capacity);
    const h = new Int32Array(buffer, byteOffset, HEADER_WORDS);
    h.fill(0);
    h[CAPACITY] = capacity;
    h[FLAGS] = (sync === "spsc" || sync === "spmc" ? FLAG_SP : 0) | (sync === "spsc" || sync === "mpsc" ? FLAG_SC : 0);
    return new IndexRing(buffer, byteOffset);
  }

  /** Another thread's view of a ring that `init` or `create` made. */
  static attach(buffer: ArrayBufferLike, byteOffset = 0): IndexRing {
    return new IndexRing(buffer, byteOffset);
  }

  private constructor(readonly memory: ArrayBufferLike, readonly byteOffset: number) {
    this.h = new Int32Array(memory, byteOffset, HEADER_WORDS);
    this.capacity = this.h[CAPACITY]!;
    if (this.capacity <= 0 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new BdkError(`no ring at offset ${byteOffset} (capacity word reads ${this.capacity})`, "attach to memory that IndexRing.init prepared");
    }
    this.mask = this.capacity - 1;
    this.slots = new Uint32Array(memory, byteOffset + HEADER_WORDS * 4, this.capacity);
    const flags = this.h[FLAGS]!;
    this.singleProducer = (flags & FLAG_SP) !== 0;
    this.singleConsumer = (flags & FLAG_SC) !== 0;
  }

  /** Entries ready to dequeue (a snapshot). */
  count(): number {
    return (Atomics.load(this.h, PROD_TAIL) - Atomics.load(this.h, CONS_TAIL)) >>> 0;
  }

  freeCount(): number {
    return this.capacity - this.count();
  }

  /** Enqueues up to `n` indices from `src[off..]`; returns how many went in (fewer when the ring fills). */
  enqueueBurst(src: Uint32Array, off: number, n: number): number {
    return this.enqueue(src, off, n, false);
  }

  /** Enqueues all `n` or none; returns n or 0. */
  enqueueBulk(src: Uint32Array, off: number, n: number): number {
    return this.enqueue(src, off, n, true);
  }

  dequeueBurst(dst: Uint32Array, off: number, n: number): number {
    return this.dequeue(dst, off, n, false);
  }

  dequeueBulk(dst: Uint32Array, off: number, n: number): number {
    return this.dequeue(dst, off, n, true);
  }

  private enqueue(src: Uint32Array, off: number, n: number, all: boolean): number {
    const h = this.h;
    let head = 0;
    let k = 0;
    for (;;) {
      head = Atomics.load(h, PROD_HEAD);
      const free = (this.capacity - ((head - Atomics.load(h, CONS_TAIL)) >>> 0)) >>> 0;
      k = n <= free ? n : all ? 0 : free;
      if (k === 0) return 0;
      if (this.singleProducer) {
        h[PROD_HEAD] = (head + k) | 0;
        break;
      }
      if (Atomics.compareExchange(h, PROD_HEAD, head, (head + k) | 0) === head) break;
    }
    const slots = this.slots;
    const mask = this.mask;
    for (let i = 0; i < k; i++) slots[(head + i) & mask] = src[off + i]!;
    // Earlier producers publish first: the tail only ever covers fully written slots.
    if (!this.singleProducer) while (Atomics.load(h, PROD_TAIL) !== head);
    Atomics.store(h, PROD_TAIL, (head + k) | 0);
    return k;
  }

  private dequeue(dst: Uint32Array, off: number, n: number, all: boolean): number {
    const h = this.h;
    let head = 0;
    let k = 0;
    for (;;) {
      head = Atomics.load(h, CONS_HEAD);
      const avail = (Atomics.load(h, PROD_TAIL) - head) >>> 0;
      k = n <= avail ? n : all ? 0 : avail;
      if (k === 0) return 0;
      if (this.singleConsumer) {
        h[CONS_HEAD] = (head + k) | 0;
        break;
      }
      if (Atomics.compareExchange(h, CONS_HEAD, head, (head + k) | 0) === head) break;
    }
    const slots = this.slots;
    const mask = this.mask;
    for (let i = 0; i < k; i++) dst[off + i] = slots[(head + i) & mask]!;
    if (!this.singleConsumer) while (Atomics.load(h, CONS_TAIL) !== head);
    Atomics.store(h, CONS_TAIL, (head + k) | 0);
    return k;
  }
}

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 2 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
    throw new BdkError(`ring capacity ${capacity} is not a power of two between 2 and 2^30`, "use 1024, 4096, …");
  }
}
