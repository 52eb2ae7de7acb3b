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

// A buffer's state byte. SEGMENT is an allocated buffer linked after a chain's head: it tells a head from a
// segment (chainAppend and freeChain refuse a segment as a head). Both allocated states may be freed.
const STATE_FREE = 0, STATE_IN_USE = 1, STATE_SEGMENT = 2;

const PAGE_4K = 4096;
const HUGEPAGE = 2 * 1024 * 1024;
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

