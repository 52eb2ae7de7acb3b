// The mempool: N packet buffers of one size in one DMA arena, handed out as integer indices.
// Everything lives in the arena itself: per-buffer metadata (struct of arrays), the shared free ring and
// the buffers. A worker attaches with `Mempool.attach(pool.handle())` and builds its own views of the same
// memory, so a buffer allocated in one worker can be freed in another. Each handle keeps a small private
// cache in front of the shared ring (as DPDK's per-lcore cache does) so that most alloc/free calls touch
// no shared cache line.
import { IndexRing } from "./ring.ts";
import { BdkError } from "../sys/errors.ts";
import { createArena, DmaArena, type ArenaHandle, type HugepagePolicy } from "./arena.ts";

export interface MempoolOptions {
  /** Number of buffers. */
  count: number;
  /** Bytes a NIC may write into one buffer (default 2048: one standard frame). */
  dataRoom?: number;
  /** Bytes kept free in front of the data so that headers can be prepended in place (default 128). */
  headroom?: number;
  /** Per-handle cache size (default 256; 0 disables it). */
  cacheSize?: number;
  hugepages?: HugepagePolicy;
  name?: string;
}

export interface MempoolHandle {
  arena: ArenaHandle;
  count: number;
  dataRoom: number;
  headroom: number;
  cacheSize: number;
  name: string;
}

/** Buffer flags (the `flags` array): what a driver learned about a received frame. */
export const BUF_RSS_HASH = 1 << 0;
export const BUF_VLAN_STRIPPED = 1 << 1;
export const BUF_IP_CSUM_BAD = 1 << 2;
export const BUF_L4_CSUM_BAD = 1 << 3;
export const BUF_IP_CSUM_GOOD = 1 << 4;
export const BUF_L4_CSUM_GOOD = 1 << 5;

const STATE_FREE = 0, STATE_IN_USE = 1;

interface Layout {
  len: number;
  dataOff: number;
  port: number;
  flags: number;
  rssHash: number;
  state: number;
  ring: number;
  ringCapacity: number;
  buffers: number;
  stride: number;
  total: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function nextPow2(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

function layoutFor(count: number, dataRoom: number, headroom: number): Layout {
  let at = 0;
  const take = (bytes: number, a = 64): number => {
    const start = align(at, a);
    at = start + bytes;
    return start;
  };
  const len = take(count * 2);
  const dataOff = take(count * 2);
  const port = take(count * 2);
  const flags = take(count * 4);
  const rssHash = take(count * 4);
  const state = take(count);
  const ringCapacity = nextPow2(count + 1);
  const ring = take(IndexRing.bytesFor(ringCapacity));
  // 128-byte strides keep every buffer (and so every DMA address) cache-line aligned.
  const stride = align(headroom + dataRoom, 128);
  const buffers = take(count * stride, 4096);
  return { len, dataOff, port, flags, rssHash, state, ring, ringCapacity, buffers, stride, total: at };
}

export class Mempool {
  readonly name: string;
  readonly count: number;
  readonly dataRoom: number;
  readonly headroom: number;
  readonly stride: number;
  readonly arena: DmaArena;
  /** The whole arena's bytes: a packet's data is `bytes[offset(i) .. offset(i) + len[i])`. */
  readonly bytes: Uint8Array;
  /** Byte offset of buffer 0 in `bytes`; buffer i starts at `bufBase + i * stride`. */
  readonly bufBase: number;
  /** IOVA of buffer 0's first byte (headroom included). */
  readonly iovaBase: number;
  readonly len: Uint16Array;
  readonly dataOff: Uint16Array;
  readonly port: Uint16Array;
  readonly flags: Uint32Array;
  readonly rssHash: Uint32Array;
  /** Allocation failures seen by this handle. */
  allocFailures = 0;

  private readonly state: Uint8Array;
  private readonly ring: IndexRing;
  private readonly cache: Uint32Array;
  private readonly cacheSize: number;
  private cacheLen = 0;
  private readonly owner: boolean;

  static create(opts: MempoolOptions): Mempool {
    const name = opts.name ?? "mempool";
    const count = opts.count;
    const dataRoom = opts.dataRoom ?? 2048;
    const headroom = opts.headroom ?? 128;
    const cacheSize = opts.cacheSize ?? 256;
    if (!Number.isInteger(count) || count < 1 || count > 2 ** 24) {
      throw new BdkError(`mempool "${name}": count ${count} is out of range`, "give 1..16777216 buffers (8192 is typical)");
    }
    if (!Number.isInteger(dataRoom) || dataRoom < 64 || dataRoom > 65535 - 128) {
      throw new BdkError(`mempool "${name}": dataRoom ${dataRoom} is out of range`, "give 64..65000 bytes (2048 fits a standard frame)");
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom > 1024) {
      throw new BdkError(`mempool "${name}": headroom ${headroom} is out of range`, "give 0..1024 bytes (128 is DPDK's default)");
    }
    if (!Number.isInteger(cacheSize) || cacheSize < 0 || cacheSize > 4096) {
      throw new BdkError(`mempool "${name}": cacheSize ${cacheSize} is out of range`, "give 0..4096");
    }
    const layout = layoutFor(count, dataRoom, headroom);
    const arena = createArena({ size: layout.total, hugepages: opts.hugepages, name });
    const handle: MempoolHandle = { arena: arena.handle(), count, dataRoom, headroom, cacheSize, name };
    IndexRing.init(arena.buffer, layout.ring, layout.ringCapacity, "mpmc");
    const pool = new Mempool(handle, arena, layout, true);
    // Fill the ring with every index, highest first, so that the first allocations come out 0, 1, 2 …
    const all = new Uint32Array(count);
    for (let i = 0; i < count; i++) all[i] = i;
    pool.ring.enqueueBulk(all, 0, count);
    return pool;
  }

  /** This pool seen from another worker of the same process. */
  static attach(h: MempoolHandle): Mempool {
    return new Mempool(h, DmaArena.attach(h.arena), layoutFor(h.count, h.dataRoom, h.headroom), false);
  }

  private constructor(h: MempoolHandle, arena: DmaArena, layout: Layout, owner: boolean) {
    this.name = h.name;
    this.count = h.count;
    this.dataRoom = h.dataRoom;
    this.headroom = h.headroom;
    this.stride = layout.stride;
    this.arena = arena;
    this.owner = owner;
    const buf = arena.buffer;
    this.bytes = arena.u8;
    this.bufBase = layout.buffers;
    this.iovaBase = arena.iova + layout.buffers;
    this.len = new Uint16Array(buf, layout.len, h.count);
    this.dataOff = new Uint16Array(buf, layout.dataOff, h.count);
    this.port = new Uint16Array(buf, layout.port, h.count);
    this.flags = new Uint32Array(buf, layout.flags, h.count);
    this.rssHash = new Uint32Array(buf, layout.rssHash, h.count);
    this.state = new Uint8Array(buf, layout.state, h.count);
    this.ring = IndexRing.attach(buf, layout.ring);
    this.cacheSize = h.cacheSize;
    this.cache = new Uint32Array(h.cacheSize * 2 + 64);
  }

  handle(): MempoolHandle {
    return { arena: this.arena.handle(), count: this.count, dataRoom: this.dataRoom, headroom: this.headroom, cacheSize: this.cacheSize, name: this.name };
  }

  /** Byte offset in `bytes` where buffer i's packet data starts. */
  offset(i: number): number {
    return this.bufBase + i * this.stride + this.dataOff[i]!;
  }

  /** IOVA of buffer i's packet data, for a descriptor. */
  iova(i: number): number {
    return this.iovaBase + i * this.stride + this.dataOff[i]!;
  }

  /** IOVA where a NIC should write a received frame into buffer i (right after the headroom). */
  rxIova(i: number): number {
    return this.iovaBase + i * this.stride + this.headroom;
  }

  /** One buffer, or -1 when the pool is empty. */
  alloc(): number {
    if (this.cacheLen === 0 && !this.refill(1)) {
      this.allocFailures++;
      return -1;
    }
    const i = this.cache[--this.cacheLen]!;
    this.claim(i);
    return i;
  }

  /** `n` buffers into `out[off..]`, or none: returns n or 0. */
  allocBulk(out: Uint32Array, off: number, n: number): number {
    if (n > this.cache.length) {
      // More than the cache can hold: straight from the ring, all or nothing.
      if (this.ring.dequeueBulk(out, off, n) === 0) return this.failBulk();
      for (let k = 0; k < n; k++) this.claim(out[off + k]!);
      return n;
    }
    if (this.cacheLen < n && !this.refill(n)) return this.failBulk();
    const cache = this.cache;
    let top = this.cacheLen;
    for (let k = 0; k < n; k++) {
      const i = cache[--top]!;
      out[off + k] = i;
      this.claim(i);
    }
    this.cacheLen = top;
    return n;
  }

  /** Like alloc, but an empty pool is an error that says what to do. */
  take(): number {
    const i = this.alloc();
    if (i < 0) throw this.exhausted();
    return i;
  }

  free(i: number): void {
    this.release(i);
    if (this.cacheLen >= this.cache.length) this.flush(this.cacheLen - this.cacheSize);
    this.cache[this.cacheLen++] = i;
    if (this.cacheLen > this.cacheSize * 2) this.flush(this.cacheLen - this.cacheSize);
  }

  freeBulk(src: Uint32Array, off: number, n: number): void {
    for (let k = 0; k < n; k++) this.free(src[off + k]!);
  }

  /** Buffers free in the shared ring plus this handle's cache (other handles' caches are not seen). */
  available(): number {
    return this.ring.count() + this.cacheLen;
  }

  /** Buffers currently allocated anywhere (by the state bytes: exact once every worker has flushed its cache). */
  inUse(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) n += this.state[i]!;
    return n;
  }

  isAllocated(i: number): boolean {
    return this.state[i] === STATE_IN_USE;
  }

  /** Returns this handle's cached buffers to the shared ring (a worker does this before it exits). */
  flushCache(): void {
    this.flush(this.cacheLen);
  }

  /** Frees the arena (only the creating handle does; workers just drop their views). */
  destroy(): void {
    if (this.owner) this.arena.free();
  }

  private failBulk(): number {
    this.allocFailures++;
    return 0;
  }

  private claim(i: number): void {
    this.state[i] = STATE_IN_USE;
    this.dataOff[i] = this.headroom;
    this.len[i] = 0;
    this.flags[i] = 0;
  }

  private release(i: number): void {
    if (!(i >= 0 && i < this.count) || (i | 0) !== i) {
      throw new BdkError(`mempool "${this.name}": free of ${i}, which is not a buffer index (0..${this.count - 1})`, "free only indices that alloc returned");
    }
    if (this.state[i] !== STATE_IN_USE) {
      throw new BdkError(`mempool "${this.name}": double free of buffer ${i}`, "each buffer is freed once; after txBurst accepts it the port frees it");
    }
    this.state[i] = STATE_FREE;
  }

  /** Tops the cache up so that it holds at least `need` buffers; false when the ring cannot. */
  private refill(need: number): boolean {
    const want = Math.min(this.cache.length - this.cacheLen, Math.max(need - this.cacheLen, this.cacheSize));
    if (want > 0) this.cacheLen += this.ring.dequeueBurst(this.cache, this.cacheLen, want);
    return this.cacheLen >= need;
  }

  private flush(n: number): void {
    if (n <= 0) return;
    const start = this.cacheLen - n;
    const put = this.ring.enqueueBurst(this.cache, start, n);
    // The ring holds every index, so it cannot overflow; anything else is a corrupted pool.
    if (put !== n) throw new BdkError(`mempool "${this.name}": free ring overflow (${put} of ${n} returned)`, "the pool's memory was overwritten: check buffer bounds");
    this.cacheLen = start;
  }

  private exhausted(): BdkError {
    return new BdkError(
      `mempool "${this.name}" exhausted: all ${this.count} buffers are in use`,
      "create a larger pool (count), or free buffers: a port whose TX never completes or an app that never frees holds them",
    );
  }
}
