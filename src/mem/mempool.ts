// The mempool: N packet buffers of one size in one DMA arena, handed out as integer indices.
// Everything lives in the arena itself: per-buffer metadata (struct of arrays), the shared free ring and
// the buffers. A worker attaches with `Mempool.attach(pool.handle())` and builds its own views of the same
// memory, so a buffer allocated in one worker can be freed in another. Each handle keeps a small private
// cache in front of the shared ring (as DPDK's per-lcore cache does) so that most alloc/free calls touch
// no shared cache line.
//
// Device addresses: every buffer's DMA address (the address of its first byte, headroom included) is
// computed once, at creation, into `dmaLo`/`dmaHi` (like ixy's buf_addr_phy). With an IOMMU ("iova", the
// default) it is the arena's IOVA plus the buffer's offset; without one ("physical", VFIO's no-IOMMU mode)
// it is the physical address read from /proc/self/pagemap, and buffers are laid out so that none straddles
// a page (a 4 KiB page is all that is known to be physically contiguous; on hugepages, 2 MiB).
//
// Chains: a frame larger than one buffer is a chain of segments linked by `next`; the first one (the head)
// carries `nbSegs` and `pktLen`. `chainAppend` builds them, `freeChain` frees them, `free` frees one buffer.
import { closeSync, openSync, readSync } from "node:fs";
import type { Pointer } from "bun:ffi";
import { IndexRing } from "./ring.ts";
import { BdkError, warnOnce } from "../sys/errors.ts";
import { check, raw } from "../sys/libc.ts";
import { createArena, DmaArena, type ArenaHandle, type HugepagePolicy } from "./arena.ts";
import { pagemapPfn } from "./pagemap.ts";
import { BUF_PTYPE, PTYPE_UNKNOWN } from "./mbuf.ts";

export * from "./mbuf.ts";

/**
 * How a device addresses the pool's buffers. "iova": through the IOMMU, at the IOVAs bdk allocated (the safe
 * default). "physical": at physical addresses, for VFIO's no-IOMMU mode; needs root (pagemap shows
 * physical addresses to CAP_SYS_ADMIN only) and locks the pool's memory.
 */
export type DmaAddressing = "iova" | "physical";

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
  /** "iova" (default) or "physical" (no IOMMU): see DmaAddressing. */
  dmaAddressing?: DmaAddressing;
}

export interface MempoolHandle {
  arena: ArenaHandle;
  count: number;
  dataRoom: number;
  headroom: number;
  cacheSize: number;
  name: string;
  dmaAddressing: DmaAddressing;
}

// A buffer's state byte: free, or allocated as a lone buffer, a chain's head or a segment after a head. It
// tells a head from a segment (chainAppend and freeChain refuse a segment as a head), and it lets free() put a
// chained buffer's `next` and `nbSegs` back to -1 and 1 for its next owner: release() reads this byte anyway,
// so a lone buffer pays nothing for chains (a reset in claim() is one more store per packet, and the store is
// what alloc + free is bound by).
const STATE_FREE = 0, STATE_LONE = 1, STATE_HEAD = 2, STATE_SEGMENT = 3;

const PAGE_4K = 4096;
const TWO_32 = 4294967296;
const MAX_SEGS = 65535; // nbSegs is a Uint16

interface Layout {
  len: number;
  dataOff: number;
  port: number;
  flags: number;
  rssHash: number;
  vlanTci: number;
  packetType: number;
  txOffload: number;
  l2Len: number;
  l3Len: number;
  l4Len: number;
  tsoSegsz: number;
  next: number;
  nbSegs: number;
  pktLen: number;
  dmaLo: number;
  dmaHi: number;
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

/**
 * Bytes from one buffer to the next: a multiple of 128 so that every buffer (and DMA address) is cache-line
 * aligned. In physical mode a power of two as well: with the buffers starting on a page boundary, a power of
 * two no larger than a page never lets a buffer straddle one (any other stride eventually does).
 */
function strideFor(dataRoom: number, headroom: number, dma: DmaAddressing): number {
  const room = align(headroom + dataRoom, 128);
  return dma === "physical" ? nextPow2(room) : room;
}

/** Where everything lives in the arena: a function of the handle alone, so that attach() finds the same. */
function layoutFor(count: number, dataRoom: number, headroom: number, dma: DmaAddressing): Layout {
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
  const vlanTci = take(count * 2);
  const packetType = take(count * 4);
  const txOffload = take(count * 4);
  const l2Len = take(count);
  const l3Len = take(count * 2);
  const l4Len = take(count);
  const tsoSegsz = take(count * 2);
  const next = take(count * 4);
  const nbSegs = take(count * 2);
  const pktLen = take(count * 4);
  const dmaLo = take(count * 4);
  const dmaHi = take(count * 4);
  const state = take(count);
  const ringCapacity = nextPow2(count + 1);
  const ring = take(IndexRing.bytesFor(ringCapacity));
  const stride = strideFor(dataRoom, headroom, dma);
  // Physical mode: buffers larger than 4 KiB (on hugepages) start on a multiple of their stride, so that none
  // straddles a 2 MiB page either (hugetlb mappings are 2 MiB aligned).
  const buffers = take(count * stride, dma === "physical" ? Math.max(PAGE_4K, stride) : PAGE_4K);
  return {
    len, dataOff, port, flags, rssHash, vlanTci, packetType, txOffload, l2Len, l3Len, l4Len, tsoSegsz, next, nbSegs, pktLen,
    dmaLo, dmaHi, state, ring, ringCapacity, buffers, stride, total: at,
  };
}

export class Mempool {
  readonly name: string;
  readonly count: number;
  readonly dataRoom: number;
  readonly headroom: number;
  readonly stride: number;
  readonly dmaAddressing: DmaAddressing;
  readonly arena: DmaArena;
  /** The whole arena's bytes: a packet's data is `bytes[offset(i) .. offset(i) + len[i])`. */
  readonly bytes: Uint8Array;
  /**
   * The same memory as 16- and 32-bit words (little-endian, as every host bdk runs on): header fields written
   * as words where `offset(i)` is aligned (l2fwd's MAC rewrite: 4 stores instead of 12, net.MacRewrite).
   */
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** Byte offset of buffer 0 in `bytes`; buffer i starts at `bufBase + i * stride`. */
  readonly bufBase: number;
  /** IOVA of buffer 0's first byte (headroom included). IOVA mode only: a device in physical mode uses dmaLo/dmaHi. */
  readonly iovaBase: number;

  // ---- Per-buffer metadata, indexed by buffer (struct of arrays in the arena: every handle sees the same) ----
  // A buffer comes out of alloc() with len 0, dataOff = headroom, flags 0, txOffload 0, next -1 and nbSegs 1.
  // The other fields are meaningful only when a flag or request says so, and whoever sets the flag sets the
  // field: alloc leaves them as they were. Each reset is one more store per packet, and alloc + free is bound
  // by its stores: on the build machine four more took the pair from 2.8 to 4.2 ns (bench/micro.ts).

  /** Bytes of data in this segment, from dataOff (0 after alloc). */
  readonly len: Uint16Array;
  /** Where the data starts, from the buffer's first byte (headroom after alloc). */
  readonly dataOff: Uint16Array;
  /** The port a frame came in on (set by RX drivers; not reset). */
  readonly port: Uint16Array;
  /** RX flags: BUF_* (0 after alloc). */
  readonly flags: Uint32Array;
  /** The NIC's RSS hash, when flags has BUF_RSS_HASH. */
  readonly rssHash: Uint32Array;
  /** VLAN tag control information (PCP, DEI, VID): on RX when flags has BUF_VLAN; on TX when txOffload has TX_VLAN. */
  readonly vlanTci: Uint16Array;
  /**
   * RX: what the NIC parsed, PTYPE_* of each layer, when flags has BUF_PTYPE (a classifying driver sets both);
   * not reset by alloc. Read it through packetTypeOf(i), which says PTYPE_UNKNOWN without the flag.
   */
  readonly packetType: Uint32Array;
  /** TX offload requests: TX_* (0 after alloc). */
  readonly txOffload: Uint32Array;
  /** L2 header length (Ethernet + VLAN tags), for TX checksum and TSO requests. */
  readonly l2Len: Uint8Array;
  /** L3 header length (IPv4 with options, IPv6 with extension headers), for TX checksum and TSO requests. */
  readonly l3Len: Uint16Array;
  /** L4 header length (TCP with options), for TX_TCP_SEG. */
  readonly l4Len: Uint8Array;
  /** TSO: payload bytes per TCP segment (the MSS), for TX_TCP_SEG. */
  readonly tsoSegsz: Uint16Array;
  /**
   * The next segment of this packet, or -1 for the last one (-1 after alloc). Read it; link with chainAppend,
   * never by writing here: free() restores next and nbSegs only in buffers that chainAppend linked.
   */
  readonly next: Int32Array;
  /** In a chain's head: how many segments the packet has (1 after alloc; kept by chainAppend). A segment's own value is 1. */
  readonly nbSegs: Uint16Array;
  /**
   * In a chain's head whose nbSegs > 1: the packet's total bytes (the sum of its segments' len). For a single
   * segment (nbSegs 1) the packet is `len` bytes and pktLen is NOT read, nor reset by alloc: drivers and apps
   * that deal in single buffers never write it, and a reader of a possibly chained packet calls
   * packetLength(head). chainAppend keeps it; who changes a segment's len in a chain adjusts it.
   */
  readonly pktLen: Uint32Array;
  /**
   * Low and high 32 bits of each buffer's DMA address: where its first byte (the headroom's start) is for the
   * device, computed at creation. A descriptor gets `lo + off` and `hi` for an offset `off` (dataOff[i] for TX,
   * headroom for RX); lo + off can pass 2^32 when a buffer straddles a 4 GiB line of IOVA space, so write
   * `const a = dmaLo[i]! + off; d[k] = a; d[k + 1] = dmaHi[i]! + (a > 0xffffffff ? 1 : 0);` (a Uint32Array store
   * wraps `a`). In physical mode no buffer straddles a page, so the carry is always 0 there.
   */
  readonly dmaLo: Uint32Array;
  readonly dmaHi: Uint32Array;
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
    const dmaAddressing = opts.dmaAddressing ?? "iova";
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
    if (dmaAddressing !== "iova" && dmaAddressing !== "physical") {
      throw new BdkError(`mempool "${name}": dmaAddressing "${String(dmaAddressing)}" is not known`, `give "iova" (behind an IOMMU, the default) or "physical" (no-IOMMU mode)`);
    }
    const layout = layoutFor(count, dataRoom, headroom, dmaAddressing);
    const arena = dmaAddressing === "physical"
      ? physicalArena(name, layout, headroom + dataRoom, opts.hugepages)
      : createArena({ size: layout.total, hugepages: opts.hugepages, name });
    const handle: MempoolHandle = { arena: arena.handle(), count, dataRoom, headroom, cacheSize, name, dmaAddressing };
    IndexRing.init(arena.buffer, layout.ring, layout.ringCapacity, "mpmc");
    const pool = new Mempool(handle, arena, layout, true);
    try {
      if (dmaAddressing === "physical") pool.findPhysicalAddresses();
      else pool.setIovaAddresses();
    } catch (e) {
      arena.free();
      throw e;
    }
    // What a free buffer holds, and release() restores: alloc() does not write them.
    pool.next.fill(-1);
    pool.nbSegs.fill(1);
    // Fill the ring with every index, highest first, so that the first allocations come out 0, 1, 2 …
    const all = new Uint32Array(count);
    for (let i = 0; i < count; i++) all[i] = i;
    pool.ring.enqueueBulk(all, 0, count);
    return pool;
  }

  /** This pool seen from another worker of the same process. */
  static attach(h: MempoolHandle): Mempool {
    return new Mempool(h, DmaArena.attach(h.arena), layoutFor(h.count, h.dataRoom, h.headroom, h.dmaAddressing), false);
  }

  private constructor(h: MempoolHandle, arena: DmaArena, layout: Layout, owner: boolean) {
    this.name = h.name;
    this.count = h.count;
    this.dataRoom = h.dataRoom;
    this.headroom = h.headroom;
    this.dmaAddressing = h.dmaAddressing;
    this.stride = layout.stride;
    this.arena = arena;
    this.owner = owner;
    const buf = arena.buffer;
    const n = h.count;
    this.bytes = arena.u8;
    this.u16 = new Uint16Array(buf);
    this.u32 = arena.u32;
    this.bufBase = layout.buffers;
    this.iovaBase = arena.iova + layout.buffers;
    this.len = new Uint16Array(buf, layout.len, n);
    this.dataOff = new Uint16Array(buf, layout.dataOff, n);
    this.port = new Uint16Array(buf, layout.port, n);
    this.flags = new Uint32Array(buf, layout.flags, n);
    this.rssHash = new Uint32Array(buf, layout.rssHash, n);
    this.vlanTci = new Uint16Array(buf, layout.vlanTci, n);
    this.packetType = new Uint32Array(buf, layout.packetType, n);
    this.txOffload = new Uint32Array(buf, layout.txOffload, n);
    this.l2Len = new Uint8Array(buf, layout.l2Len, n);
    this.l3Len = new Uint16Array(buf, layout.l3Len, n);
    this.l4Len = new Uint8Array(buf, layout.l4Len, n);
    this.tsoSegsz = new Uint16Array(buf, layout.tsoSegsz, n);
    this.next = new Int32Array(buf, layout.next, n);
    this.nbSegs = new Uint16Array(buf, layout.nbSegs, n);
    this.pktLen = new Uint32Array(buf, layout.pktLen, n);
    this.dmaLo = new Uint32Array(buf, layout.dmaLo, n);
    this.dmaHi = new Uint32Array(buf, layout.dmaHi, n);
    this.state = new Uint8Array(buf, layout.state, n);
    this.ring = IndexRing.attach(buf, layout.ring);
    this.cacheSize = h.cacheSize;
    this.cache = new Uint32Array(h.cacheSize * 2 + 64);
  }

  handle(): MempoolHandle {
    return {
      arena: this.arena.handle(), count: this.count, dataRoom: this.dataRoom, headroom: this.headroom, cacheSize: this.cacheSize,
      name: this.name, dmaAddressing: this.dmaAddressing,
    };
  }

  /** Byte offset in `bytes` where buffer i's packet data starts. */
  offset(i: number): number {
    return this.bufBase + i * this.stride + this.dataOff[i]!;
  }

  /** The device's address of buffer i's first byte (headroom included): dmaLo + dmaHi × 2^32. For setup code and tests. */
  dmaAddress(i: number): number {
    return this.dmaLo[i]! + this.dmaHi[i]! * TWO_32;
  }

  /** The device's address of buffer i's packet data, for a TX descriptor (an IOVA, or physical in physical mode). */
  iova(i: number): number {
    return this.dmaAddress(i) + this.dataOff[i]!;
  }

  /** The device's address where a NIC should write a received frame into buffer i (right after the headroom). */
  rxIova(i: number): number {
    return this.dmaAddress(i) + this.headroom;
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

  /**
   * Up to `n` buffers into `out[off..]`: all of them in one bulk take when the pool has them, else as many as
   * it has, one by one. Returns how many (an RX refill takes what there is and leaves the rest in the ring).
   */
  allocUpTo(out: Uint32Array, off: number, n: number): number {
    if (this.allocBulk(out, off, n) !== 0) return n;
    let k = 0;
    while (k < n) {
      const b = this.alloc();
      if (b < 0) break;
      out[off + k++] = b;
    }
    return k;
  }

  /**
   * Up to `n` buffers for an RX ring's refill (DPDK's raw alloc): claimed as alloc claims them, but `len` and
   * `flags` are not reset, because the RX burst writes both before it hands a buffer out. Two stores fewer per
   * received frame (l2fwd through the NIC model at burst 32: −4 %, bench/line-rate.ts). Only for drivers
   * that write both on every path that hands a buffer out.
   */
  allocRxUpTo(out: Uint32Array, off: number, n: number): number {
    if (n > this.cache.length || (this.cacheLen < n && !this.refill(n))) return this.allocUpTo(out, off, n);
    const cache = this.cache;
    const state = this.state;
    const dataOff = this.dataOff;
    const txOffload = this.txOffload;
    const headroom = this.headroom;
    let top = this.cacheLen;
    for (let k = 0; k < n; k++) {
      const i = cache[--top]!;
      out[off + k] = i;
      state[i] = STATE_LONE;
      dataOff[i] = headroom;
      txOffload[i] = 0;
    }
    this.cacheLen = top;
    return n;
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

  /**
   * Frees buffer i alone, head or segment: a chain's other segments stay allocated (a TX driver frees each
   * segment as its descriptor completes). freeChain frees a whole packet.
   */
  free(i: number): void {
    this.release(i);
    if (this.cacheLen >= this.cache.length) this.flush(this.cacheLen - this.cacheSize);
    this.cache[this.cacheLen++] = i;
    if (this.cacheLen > this.cacheSize * 2) this.flush(this.cacheLen - this.cacheSize);
  }

  freeBulk(src: Uint32Array, off: number, n: number): void {
    for (let k = 0; k < n; k++) this.free(src[off + k]!);
  }

  /** Frees every segment of the packet whose head is `head` (a lone buffer costs two reads more than free()). */
  freeChain(head: number): void {
    if (this.state[head] === STATE_SEGMENT) throw this.notHead("freeChain", head);
    let i = head;
    do {
      const n = this.next[i]!; // read before free: a freed buffer's fields belong to its next owner
      this.free(i);
      i = n;
    } while (i >= 0);
  }

  /**
   * Links `seg` (one buffer, or the head of a chain) after the last segment of the chain whose head is
   * `head`, and updates the head's nbSegs and pktLen. Both must be allocated heads; `seg` becomes a segment.
   * Walks `head`'s chain (frames are a few segments); no allocation.
   */
  chainAppend(head: number, seg: number): void {
    this.checkHead("chainAppend", head);
    this.checkHead("chainAppend", seg);
    if (seg === head) throw new BdkError(`mempool "${this.name}": chainAppend of buffer ${head} to itself`, "append a different buffer (a chain cannot loop)");
    const segs = this.nbSegs[head]! + this.nbSegs[seg]!;
    if (segs > MAX_SEGS) {
      throw new BdkError(`mempool "${this.name}": chainAppend to buffer ${head} would make ${segs} segments`, `a packet has at most ${MAX_SEGS}: use larger buffers (dataRoom)`);
    }
    const bytes = this.packetLength(head) + this.packetLength(seg);
    const next = this.next;
    next[this.lastSegment(head)] = seg;
    for (let s = seg; s >= 0; s = next[s]!) this.state[s] = STATE_SEGMENT;
    this.state[head] = STATE_HEAD;
    this.nbSegs[seg] = 1;
    this.nbSegs[head] = segs;
    this.pktLen[head] = bytes;
  }

  /** Buffer i's packet type (PTYPE_*): packetType when flags has BUF_PTYPE, else PTYPE_UNKNOWN. */
  packetTypeOf(i: number): number {
    return this.flags[i]! & BUF_PTYPE ? this.packetType[i]! : PTYPE_UNKNOWN;
  }

  /** Bytes of the packet whose head is `head`: pktLen for a chain, len for a single segment. */
  packetLength(head: number): number {
    return this.nbSegs[head]! > 1 ? this.pktLen[head]! : this.len[head]!;
  }

  /** The last segment of the chain that starts at i (i itself for a lone buffer). */
  lastSegment(i: number): number {
    const next = this.next;
    while (next[i]! >= 0) i = next[i]!;
    return i;
  }

  /** Buffers free in the shared ring plus this handle's cache (other handles' caches are not seen). */
  available(): number {
    return this.ring.count() + this.cacheLen;
  }

  /** Buffers currently allocated anywhere (by the state bytes: exact once every worker has flushed its cache). */
  inUse(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.state[i] !== STATE_FREE) n++;
    return n;
  }

  /** Whether buffer i is allocated (a head, a lone buffer or a segment of a chain). */
  isAllocated(i: number): boolean {
    return this.state[i]! >= STATE_LONE; // undefined (not an index) compares false
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

  // Per packet: only the fields every reader reads unconditionally and anyone may write (see the metadata
  // comment above); next and nbSegs come back from release() already reset.
  private claim(i: number): void {
    this.state[i] = STATE_LONE;
    this.dataOff[i] = this.headroom;
    this.len[i] = 0;
    this.flags[i] = 0;
    this.txOffload[i] = 0;
  }

  // The common case costs one load and one compare: a typed array reads undefined at anything that is not an
  // index (negative, fractional, NaN, past the end), so a lone allocated buffer is the only STATE_LONE.
  private release(i: number): void {
    if (this.state[i] !== STATE_LONE) this.releaseOther(i);
    this.state[i] = STATE_FREE;
  }

  /** Not a lone allocated buffer: not an index, a double free, or part of a chain (which goes back lone). */
  private releaseOther(i: number): void {
    const s = this.state[i];
    if (s === undefined) {
      throw new BdkError(`mempool "${this.name}": free of ${i}, which is not a buffer index (0..${this.count - 1})`, "free only indices that alloc returned");
    }
    if (s === STATE_FREE) {
      throw new BdkError(`mempool "${this.name}": double free of buffer ${i}`, "each buffer is freed once; after txBurst accepts it the port frees it");
    }
    this.next[i] = -1; // a head or a segment: what claim() does not reset
    this.nbSegs[i] = 1;
  }

  /** Throws unless i is an allocated buffer that is not a segment inside a chain. */
  private checkHead(what: string, i: number): void {
    const s = this.state[i];
    if (s === STATE_LONE || s === STATE_HEAD) return;
    if (s === STATE_SEGMENT) throw this.notHead(what, i);
    if (!(i >= 0 && i < this.count) || (i | 0) !== i) {
      throw new BdkError(`mempool "${this.name}": ${what} of ${i}, which is not a buffer index (0..${this.count - 1})`, "pass indices that alloc returned");
    }
    throw new BdkError(`mempool "${this.name}": ${what} of buffer ${i}, which is free`, "allocate a buffer before linking it; a freed one belongs to the pool");
  }

  private notHead(what: string, i: number): BdkError {
    return new BdkError(
      `mempool "${this.name}": ${what} of buffer ${i}, which is a segment inside a chain, not its head`,
      "pass the chain's first buffer (free() frees one segment alone)",
    );
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

  /** IOVA mode: buffer i is at the arena's IOVA plus its offset (the IOMMU makes the whole arena contiguous). */
  private setIovaAddresses(): void {
    for (let i = 0; i < this.count; i++) this.setDma(i, this.iovaBase + i * this.stride);
  }

  /**
   * Physical mode: each buffer's physical address from /proc/self/pagemap, after locking the arena (a page
   * must not be swapped out under a device). Checks that every buffer is physically contiguous, which the
   * layout promises (no buffer straddles a page; larger buffers only on hugepages).
   */
  private findPhysicalAddresses(): void {
    const va = this.arena.va + this.bufBase;
    const bytes = this.headroom + this.dataRoom;
    readPfns(this.name, va, 1); // refuses early when the kernel hides physical addresses (before mlock can fail)
    check(raw.mlock(this.arena.va as unknown as Pointer, this.arena.size), "mlock", `mempool "${this.name}", ${this.arena.size} bytes`,
      "physical DMA addressing locks the pool's memory: run as root or raise RLIMIT_MEMLOCK (ulimit -l)");
    if (!this.arena.hugepage) {
      warnOnce("physical-4k", `mempool "${this.name}" gives physical addresses of locked 4 KiB pages to a device: the kernel may still migrate them (memory compaction); hugepages cannot move (bdk hugepages --reserve)`);
    }
    const first = Math.floor(va / PAGE_4K);
    const pfns = readPfns(this.name, va, this.count * this.stride);
    for (let i = 0; i < this.count; i++) {
      const start = va + i * this.stride;
      const page = Math.floor(start / PAGE_4K) - first;
      const last = Math.floor((start + bytes - 1) / PAGE_4K) - first;
      if (pfns[last]! - pfns[page]! !== last - page) {
        throw new BdkError(`mempool "${this.name}": buffer ${i} is not physically contiguous (${last - page + 1} pages)`, "use hugepages for physical DMA addressing");
      }
      this.setDma(i, pfns[page]! * PAGE_4K + (start % PAGE_4K));
    }
  }

  private setDma(i: number, addr: number): void {
    this.dmaLo[i] = addr % TWO_32;
    this.dmaHi[i] = Math.floor(addr / TWO_32);
  }
}

/**
 * The arena of a physical-mode pool. Buffers up to 4 KiB fit a page of any size (the stride is a power of
 * two); larger ones are physically contiguous only inside a hugepage, so those pools need hugepages. (The
 * largest stride, 128 KiB for headroom 1024 + dataRoom 65407, divides 2 MiB: a hugepage always fits.)
 */
function physicalArena(name: string, layout: Layout, bufBytes: number, policy: HugepagePolicy | undefined): DmaArena {
  if (layout.stride <= PAGE_4K) return createArena({ size: layout.total, hugepages: policy, name });
  const why = `mempool "${name}": physical DMA addressing with ${bufBytes}-byte buffers (headroom + dataRoom) needs 2 MiB hugepages, ` +
    "since a buffer larger than a 4 KiB page would straddle pages that need not be physically contiguous";
  const fix = `reserve hugepages (bdk hugepages --reserve 2M:N) and leave hugepages at "prefer" or "require", or keep headroom + dataRoom within 4096 bytes`;
  if (policy === "never") throw new BdkError(why, fix);
  try {
    return createArena({ size: layout.total, hugepages: "require", name });
  } catch (e) {
    throw new BdkError(`${why} (${(e as Error).message})`, fix);
  }
}

/** Page frame numbers of the 4 KiB pages that hold [va, va + bytes), from /proc/self/pagemap (setup only). */
function readPfns(name: string, va: number, bytes: number): Float64Array {
  const first = Math.floor(va / PAGE_4K);
  const pages = Math.floor((va + bytes - 1) / PAGE_4K) - first + 1;
  const entries = new BigUint64Array(pages);
  const fd = openSync("/proc/self/pagemap", "r");
  try {
    const want = pages * 8;
    let got = 0;
    while (got < want) {
      const n = readSync(fd, new Uint8Array(entries.buffer, got, want - got), 0, want - got, first * 8 + got);
      if (n <= 0) throw new BdkError(`mempool "${name}": short read of /proc/self/pagemap at 0x${va.toString(16)}`, "is the pool's memory mapped?");
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const pfns = new Float64Array(pages);
  for (let p = 0; p < pages; p++) {
    const pfn = pagemapPfn(entries[p]!);
    if (pfn === undefined) {
      throw new BdkError(`mempool "${name}": page at 0x${((first + p) * PAGE_4K).toString(16)} is not resident`, "a DMA arena is populated when it is made: report this as a bug");
    }
    if (pfn === 0) {
      throw new BdkError(
        `mempool "${name}": physical DMA addressing needs physical addresses, and /proc/self/pagemap shows them only to root (CAP_SYS_ADMIN): it reads 0 here`,
        `run as root, or use dmaAddressing: "iova" behind an IOMMU (the safe default)`,
      );
    }
    pfns[p] = pfn;
  }
  return pfns;
}
