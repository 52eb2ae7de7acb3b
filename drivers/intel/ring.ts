// What every Intel descriptor ring of bdk shares (e1000 legacy/extended, igb/ixgbe advanced): where a
// queue's memory is, the views a queue works on in any thread, the control words kept beside the ring,
// and filling / draining / resetting a ring while the NIC is stopped. All these chips take 16-byte
// descriptors whose first two words, as software writes them, are the buffer's DMA address.
import { DmaArena, type ArenaHandle } from "../../src/mem/arena.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { arrayBufferAt } from "../../src/sys/libc.ts";
import type { IrqLineHandle } from "../../src/vfio/irq-line.ts";
import { dmaWords, type Mmio } from "./mmio.ts";

export const DESC_BYTES = 16;
/** Control words of a queue (Int32, in the ring arena, so that the owner and a worker see one state). */
export const W_NEXT = 0; // RX: next descriptor to look at; TX: next free descriptor
export const W_CLEAN = 1; // TX: next descriptor to reclaim
export const W_DROPPING = 2; // RX: inside a frame longer than one buffer (dropped up to its EOP)
export const W_CONTEXT = 3; // TX: the offload context last written (0: none)
export const W_HEAD = 4; // RX: 1 + the first buffer of a frame arriving in pieces (scatter); 0: none
export const W_HOLD = 5; // RX: descriptors refilled since the tail register was last written
export const QUEUE_CTL_BYTES = 64;
/** A TX slot that holds a context descriptor, not a buffer. */
export const NO_BUFFER = 0xffffffff;

/** Where a queue lives and what it touches: plain data, the same for the owner and a worker. */
export interface RingQueueState {
  ring: ArenaHandle;
  descOff: number;
  /** The buffer index of each descriptor. */
  slotsOff: number;
  /** TX: at the first descriptor of each unit the driver reclaims at once (a frame, a run of frames, a burst), the index of its last, which carries RS (its DD says the unit went). */
  endsOff: number;
  ctlOff: number;
  size: number;
  bar: { addr: number; size: number };
  /** Byte offset of the queue's tail register. */
  tailReg: number;
  /** The port's live word (Int32 0): the start's generation while started. */
  live: SharedArrayBuffer;
  generation: number;
  /** The queue's interrupt (an eventfd VFIO signals), or undefined. */
  irq: IrqLineHandle | undefined;
  /** Bits to write to the mask-set / mask-clear registers that route this queue's receive events to `irq`. */
  irqCause: number;
  /** RSS is on: descriptors carry the hash. */
  rss: boolean;
  /** RX_OFFLOAD_SCATTER: chains for frames longer than one buffer. */
  scatter: boolean;
}

/** The views a queue works on, built from its state in any thread. */
export class QueueMemory<S extends RingQueueState = RingQueueState> {
  readonly desc: Uint32Array;
  readonly slots: Uint32Array;
  readonly ends: Uint32Array;
  readonly ctl: Int32Array;
  readonly bar: Uint32Array;
  readonly live: Int32Array;
  readonly mask: number;
  readonly tailWord: number;
  /** RX: refilled descriptors handed back to the NIC in one tail write (rxDoorbell). */
  readonly rxFreeThresh: number;

  constructor(readonly s: S, arena: DmaArena) {
    this.desc = new Uint32Array(arena.buffer, s.descOff, s.size * 4);
    this.slots = new Uint32Array(arena.buffer, s.slotsOff, s.size);
    this.ends = new Uint32Array(arena.buffer, s.endsOff, s.endsOff === 0 ? 0 : s.size);
    this.ctl = new Int32Array(arena.buffer, s.ctlOff, QUEUE_CTL_BYTES / 4);
    this.bar = new Uint32Array(arrayBufferAt(s.bar.addr, s.bar.size));
    this.live = new Int32Array(s.live);
    this.mask = s.size - 1;
    this.tailWord = s.tailReg >>> 2;
    this.rxFreeThresh = Math.max(1, Math.min(RX_FREE_THRESH, s.size >>> 2));
  }
}

/**
 * DPDK's rx_free_thresh (the em, igb and ixgbe PMDs' default, 32): refilled RX descriptors go back to the NIC
 * in batches of at least this many, a quarter of the ring at most. A tail write is a posted PCIe write on a
 * real NIC and a trip into the device model on QEMU's (which also drains the backend's queue there and then):
 * after a burst of one or two frames it buys little. The NIC meanwhile still owns all but a batch of the ring.
 */
export const RX_FREE_THRESH = 32;

/**
 * The RX burst's doorbell: counts `refilled` more descriptors and writes the tail register (the descriptor
 * before `next`: every one up to it is the NIC's again) once rxFreeThresh have gathered. At most one write.
 */
export function rxDoorbell(m: QueueMemory, next: number, refilled: number): void {
  const held = m.ctl[W_HOLD]! + refilled;
  if (held < m.rxFreeThresh) {
    m.ctl[W_HOLD] = held;
    return;
  }
  m.ctl[W_HOLD] = 0;
  Atomics.store(m.bar, m.tailWord, (next - 1) & m.mask);
}

/** A queue's place in the ring arena. */
export interface RingPlace {
  descOff: number;
  slotsOff: number;
  endsOff: number;
  ctlOff: number;
  size: number;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * One arena for every ring of a port: per queue the descriptors (128-byte aligned, as every one of these
 * chips requires of a ring's base), the slots, for TX the unit ends, and the control words.
 * Returns the places (RX queues first, then TX) and the arena's size.
 */
export function layoutRings(rxSizes: readonly number[], txSizes: readonly number[]): { places: RingPlace[]; bytes: number } {
  const places: RingPlace[] = [];
  let at = 0;
  const place = (size: number, ends: boolean): void => {
    const descOff = align(at, 128);
    const slotsOff = descOff + size * DESC_BYTES;
    const endsOff = ends ? slotsOff + size * 4 : 0;
    const ctlOff = align(slotsOff + size * (ends ? 8 : 4), 64);
    at = ctlOff + QUEUE_CTL_BYTES;
    places.push({ descOff, slotsOff, endsOff, ctlOff, size });
  };
  for (const s of rxSizes) place(s, false);
  for (const s of txSizes) place(s, true);
  return { places, bytes: at };
}

/**
 * Tells the NIC where a ring is: base address low and high, then the length in bytes, at `base`, `base + 4`
 * and `base + 8` (RDBAL/RDBAH/RDLEN and TDBAL/TDBAH/TDLEN on the 8254x, 82574 and 82576 alike).
 */
export function programRing(regs: Mmio, base: number, iova: number, size: number): void {
  regs.write(base, iova % 0x1_0000_0000);
  regs.write(base + 4, Math.floor(iova / 0x1_0000_0000));
  regs.write(base + 8, size * DESC_BYTES);
}

/** Resets a queue's control words and fills every descriptor with a fresh buffer (before the NIC is enabled). */
export function primeRxRing(name: string, queueId: number, s: RingQueueState, arena: DmaArena, pool: Mempool): void {
  const desc = new Uint32Array(arena.buffer, s.descOff, s.size * 4);
  const slots = new Uint32Array(arena.buffer, s.slotsOff, s.size);
  new Int32Array(arena.buffer, s.ctlOff, QUEUE_CTL_BYTES / 4).fill(0);
  if (pool.allocBulk(slots, 0, s.size) === 0) {
    throw new BdkError(`${name}: the pool "${pool.name}" has fewer than ${s.size} free buffers for RX queue ${queueId}'s ring`, "create a larger pool (count) or use smaller rings");
  }
  for (let i = 0; i < s.size; i++) {
    const b = slots[i]!;
    dmaWords(pool.dmaLo[b]!, pool.dmaHi[b]!, pool.headroom, desc, i * 4);
    desc[i * 4 + 2] = 0;
    desc[i * 4 + 3] = 0;
  }
}

/** Frees the buffers an RX ring holds (the port is stopped: the NIC no longer writes). */
export function drainRxRing(s: RingQueueState, arena: DmaArena, pool: Mempool): void {
  const ctl = new Int32Array(arena.buffer, s.ctlOff, QUEUE_CTL_BYTES / 4);
  if (ctl[W_HEAD]! > 0) pool.freeChain(ctl[W_HEAD]! - 1); // a frame that was still arriving in pieces
  ctl[W_HEAD] = 0;
  const slots = new Uint32Array(arena.buffer, s.slotsOff, s.size);
  for (let i = 0; i < s.size; i++) if (pool.isAllocated(slots[i]!)) pool.free(slots[i]!);
}

/** An empty TX ring: control words and descriptors zeroed. */
export function resetTxRing(s: RingQueueState, arena: DmaArena): void {
  new Int32Array(arena.buffer, s.ctlOff, QUEUE_CTL_BYTES / 4).fill(0);
  new Uint32Array(arena.buffer, s.descOff, s.size * 4).fill(0);
}

/** TX write-back, word 3 bit 0 in every format these chips share: the descriptor was sent (DD). */
const TXD_STAT_DD = 1;

/**
 * The TX burst's reclaim: frees what the NIC has sent, a unit at a time (a frame, a run of frames or a burst,
 * whatever the driver closed with RS): ends[] at a unit's first descriptor names its last, whose DD says the
 * whole unit went. Stops at `next` or at the first unit not done; returns the new clean mark (also stored).
 */
export function reclaimSent(m: QueueMemory, pool: Mempool, next: number): number {
  const d = m.desc;
  const ends = m.ends;
  const slots = m.slots;
  const mask = m.mask;
  let clean = m.ctl[W_CLEAN]!;
  while (clean !== next) {
    const last = ends[clean]!;
    if ((d[last * 4 + 3]! & TXD_STAT_DD) === 0) break;
    for (;;) {
      const b = slots[clean]!;
      if (b !== NO_BUFFER) pool.free(b);
      const was = clean;
      clean = (clean + 1) & mask;
      if (was === last) break;
    }
  }
  m.ctl[W_CLEAN] = clean;
  return clean;
}

/** Frees every buffer still in a TX ring between the clean and next marks (the port is stopped). */
export function reclaimTxRing(m: QueueMemory, pool: Mempool): void {
  let clean = m.ctl[W_CLEAN]!;
  const next = m.ctl[W_NEXT]!;
  while (clean !== next) {
    const b = m.slots[clean]!;
    if (b !== NO_BUFFER) pool.free(b);
    clean = (clean + 1) & m.mask;
  }
  m.ctl[W_CLEAN] = clean;
}
