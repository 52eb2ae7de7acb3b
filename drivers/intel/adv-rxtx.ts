// RX and TX queues on the advanced descriptors that igb (82576 datasheet 7.1.5, 7.2.2) and ixgbe (82599
// datasheet 7.1.6, 7.2.3.2) share. Software writes a read-format descriptor (buffer address, no header
// buffer: header split is off); the NIC writes back status, length, VLAN tag, packet type and RSS hash in
// its place. The chips differ only in where the error bits sit and in the TX "check context" bit; a queue's
// state carries both.
//
// RX (burst): count the descriptors the NIC wrote back (DD), take that many fresh buffers, hand out each
// done buffer with its metadata, put a fresh one in its place (both address words: the write-back
// overwrote them), write the tail register once.
// TX (burst): reclaim whole frames the NIC finished (DD where RS is set: a frame's last descriptor, or a run's), then
// for each frame an offload context descriptor when its offloads differ from the last one written, and
// one data descriptor per segment; write the tail register once.
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_ERRORS, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import { type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import { DmaArena } from "../../src/mem/arena.ts";
import {
  BUF_IP_CSUM_BAD, BUF_IP_CSUM_GOOD, BUF_L4_CSUM_BAD, BUF_L4_CSUM_GOOD, BUF_PTYPE, BUF_RSS_HASH, BUF_VLAN, BUF_VLAN_STRIPPED, PTYPE_L2_ETHER,
  PTYPE_L3_IPV4, PTYPE_L3_IPV6, PTYPE_L4_TCP, PTYPE_L4_UDP, TX_IP_CKSUM, TX_IPV4, TX_TCP_CKSUM, TX_TCP_SEG, TX_UDP_CKSUM, TX_VLAN,
} from "../../src/mem/mbuf.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { IrqLine } from "../../src/vfio/irq-line.ts";
import { dmaWords } from "./mmio.ts";
import { NO_BUFFER, QueueMemory, reclaimSent, reclaimTxRing, rxDoorbell, W_CONTEXT, W_DROPPING, W_HEAD, W_NEXT, type RingQueueState } from "./ring.ts";

// Write-back, word 2: extended status (low bits) and errors (82576 7.1.5.2, 82599 7.1.6.2).
const STAT_DD = 1 << 0;
const STAT_EOP = 1 << 1;
const STAT_VP = 1 << 3;
const STAT_UDPCS = 1 << 4;
const STAT_L4I = 1 << 5;
const STAT_IPCS = 1 << 6;
// Write-back, word 0: RSS type (bits 3:0) and packet type (bits 16:4: IPv4, IPv4+ext, IPv6, IPv6+ext, TCP, UDP …).
const PKT_IPV4 = 1 << 4;
const PKT_IPV4E = 1 << 5;
const PKT_IPV6 = 1 << 6;
const PKT_IPV6E = 1 << 7;
const PKT_TCP = 1 << 8;
const PKT_UDP = 1 << 9;
// TX data descriptor (82576 7.2.2.3, 82599 7.2.3.2.4): DTYP 0011, DCMD in bits 31:24, POPTS at 13:8, PAYLEN at 31:14.
const TXD_DTYP_DATA = 0x3 << 20;
const TXD_DTYP_CTXT = 0x2 << 20;
const TXD_CMD_EOP = 1 << 24;
const TXD_CMD_IFCS = 1 << 25;
const TXD_CMD_RS = 1 << 27;
const TXD_CMD_DEXT = 1 << 29;
const TXD_CMD_VLE = 1 << 30;
const TXD_CMD_TSE = 1 << 31;
const TXD_POPTS_IXSM = 1 << 8;
const TXD_POPTS_TXSM = 1 << 9;
const TXD_PAYLEN_SHIFT = 14;
// TX context descriptor (82576 7.2.2.2, 82599 7.2.3.2.3): TUCMD in word 2.
const TUCMD_IPV4 = 1 << 10;
const TUCMD_L4T_TCP = 1 << 11;
const CSUM_REQUESTS = TX_IP_CKSUM | TX_TCP_CKSUM | TX_UDP_CKSUM;
const CONTEXT_REQUESTS = CSUM_REQUESTS | TX_VLAN | TX_TCP_SEG;
/**
 * A one-descriptor frame's command: data, extended, CRC appended, last of its frame. Report status (RS) goes
 * only on the last of a run of such frames (closeRun): the NIC writes back one descriptor per run instead of
 * one per frame (DPDK's tx_rs_thresh idea, per burst here), and reclaim frees the run when that one is done.
 */
const PLAIN_CMD = TXD_CMD_DEXT | TXD_DTYP_DATA | TXD_CMD_IFCS | TXD_CMD_EOP;

/** Where an advanced-descriptor queue lives, and what differs between the chips. */
export interface AdvQueueState extends RingQueueState {
  driver: string;
  /** Error bits in write-back word 2: a frame error (CRC, length …), an IP checksum error, an L4 checksum error. */
  errFrame: number;
  errIp: number;
  errL4: number;
  /** ixgbe: the data descriptor's CC bit (use the context); 0 on igb, which has none. */
  txCheckContext: number;
  /** Interrupt mask set / clear registers (EIMS / EIMC); the queue's bit is irqCause. */
  irqSetReg: number;
  irqClearReg: number;
}

export class AdvRxQueue extends RxQueueBase {
  private readonly m: QueueMemory<AdvQueueState>;
  private readonly fresh: Uint32Array;
  private readonly irq: IrqLine | undefined;

  constructor(ident: QueueIdentity, readonly state: AdvQueueState, arena: DmaArena, maxBurst = 1024) {
    super(ident);
    this.m = new QueueMemory(state, arena);
    this.fresh = new Uint32Array(maxBurst);
    this.irq = state.irq ? new IrqLine(state.irq) : undefined;
  }

  burst(burst: Burst): number {
    burst.count = 0;
    const m = this.m;
    if (Atomics.load(m.live, 0) !== m.s.generation) return 0;
    const d = m.desc;
    const mask = m.mask;
    const ctl = m.ctl;
    let next = ctl[W_NEXT]!;
    // How many descriptors has the NIC written back?
    let ready = 0;
    const cap = burst.capacity < this.fresh.length ? burst.capacity : this.fresh.length;
    while (ready < cap && (d[((next + ready) & mask) * 4 + 2]! & STAT_DD) !== 0) ready++;
    if (ready === 0) return 0;
    // A fresh buffer for each, or leave the rest for the next burst (the ring fills; the NIC counts misses).
    const pool = this.pool;
    const fresh = this.fresh;
    const got = pool.allocRxUpTo(fresh, 0, ready);
    if (got !== ready) this.cnt[C_NOMBUF]! += ready - got;
    ready = got;
    if (ready === 0) return 0;
    const s = m.s;
    const errFrame = s.errFrame;
    const errIp = s.errIp;
    const errL4 = s.errL4;
    const rss = s.rss;
    const scatter = s.scatter;
    const slots = m.slots;
    const lens = pool.len;
    const ports = pool.port;
    const flags = pool.flags;
    const vlan = pool.vlanTci;
    const hash = pool.rssHash;
    const ptypes = pool.packetType;
    const lo = pool.dmaLo;
    const hi = pool.dmaHi;
    const headroom = pool.headroom;
    const out = burst.bufs;
    const id = this.portId;
    let dropping = ctl[W_DROPPING]!;
    // The first buffer of a frame still arriving in pieces (scatter), or -1; kept across bursts.
    let head = ctl[W_HEAD]! - 1;
    let n = 0;
    let bytes = 0;
    let errors = 0;
    for (let k = 0; k < ready; k++) {
      const w = next * 4;
      const st = d[w + 2]!;
      const b = slots[next]!;
      const eop = (st & STAT_EOP) !== 0;
      if (dropping !== 0 || (st & errFrame) !== 0 || (!eop && !scatter)) {
        // A bad frame, or one longer than a buffer without scatter: dropped through its last descriptor.
        if (dropping === 0) errors++;
        dropping = eop ? 0 : 1;
        pool.free(b);
        if (head >= 0) {
          pool.freeChain(head);
          head = -1;
        }
      } else if (!eop || head >= 0) {
        // Scatter: a segment of a frame longer than one buffer, chained to the first (RX_OFFLOAD_SCATTER).
        lens[b] = d[w + 3]! & 0xffff;
        ports[b] = id;
        flags[b] = 0; // every segment's: the refill left the last owner's
        if (head < 0) head = b;
        else pool.chainAppend(head, b);
        if (eop) {
          out[n++] = head;
          bytes += pool.pktLen[head]!;
          head = -1;
        }
      } else {
        const w3 = d[w + 3]!;
        const len = w3 & 0xffff;
        lens[b] = len;
        ports[b] = id;
        const w0 = d[w]!;
        let f = BUF_PTYPE;
        // What the NIC parsed (word 0, bits 16:4), in bdk's (DPDK's) packet-type values.
        let pt = PTYPE_L2_ETHER;
        if ((w0 & (PKT_IPV4 | PKT_IPV4E)) !== 0) pt |= PTYPE_L3_IPV4;
        else if ((w0 & (PKT_IPV6 | PKT_IPV6E)) !== 0) pt |= PTYPE_L3_IPV6;
        if ((w0 & PKT_TCP) !== 0) pt |= PTYPE_L4_TCP;
        else if ((w0 & PKT_UDP) !== 0) pt |= PTYPE_L4_UDP;
        ptypes[b] = pt;
        // RSS type in word 0 bits 3:0 (0: not hashed); the hash itself in word 1.
        if (rss && (w0 & 0xf) !== 0) {
          hash[b] = d[w + 1]!;
          f |= BUF_RSS_HASH;
        }
        if ((st & STAT_IPCS) !== 0) f |= (st & errIp) !== 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
        if ((st & (STAT_L4I | STAT_UDPCS)) !== 0) f |= (st & errL4) !== 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
        // VLAN strip on (igb CTRL.VME, ixgbe RXDCTL.VME): the tag left the frame and is in word 3.
        if ((st & STAT_VP) !== 0) {
          vlan[b] = w3 >>> 16;
          f |= BUF_VLAN | BUF_VLAN_STRIPPED;
        }
        flags[b] = f;
        out[n++] = b;
        bytes += len;
      }
      // Refill: buffer address in words 0-1, no header buffer (words 2-3 zero, which also clears DD).
      const nb = fresh[k]!;
      slots[next] = nb;
      dmaWords(lo[nb]!, hi[nb]!, headroom, d, w);
      d[w + 2] = 0;
      d[w + 3] = 0;
      next = (next + 1) & mask;
    }
    ctl[W_NEXT] = next;
    ctl[W_DROPPING] = dropping;
    ctl[W_HEAD] = head + 1;
    // At most one doorbell, once enough refilled descriptors gathered (DPDK's rx_free_thresh).
    rxDoorbell(m, next, ready);
    burst.count = n;
    const c = this.cnt;
    c[C_PACKETS]! += n;
    c[C_BYTES]! += bytes;
    if (errors !== 0) c[C_ERRORS]! += errors;
    return n;
  }

  ready(): boolean {
    const m = this.m;
    return Atomics.load(m.live, 0) === m.s.generation && (m.desc[m.ctl[W_NEXT]! * 4 + 2]! & STAT_DD) !== 0;
  }

  override eventFd(): number {
    return this.irq ? this.irq.eventFd : -1;
  }

  /** The queue's MSI-X vector unmasked in EIMS: the next written-back frame signals the eventfd. */
  override enableInterrupt(): void {
    if (!this.irq) return;
    Atomics.store(this.m.bar, this.m.s.irqSetReg >>> 2, this.m.s.irqCause);
  }

  /** Masked again (EIMC), and the eventfd's count cleared (MSI-X is not masked by VFIO: nothing to unmask). */
  override disableInterrupt(): void {
    const irq = this.irq;
    if (!irq) return;
    Atomics.store(this.m.bar, this.m.s.irqClearReg >>> 2, this.m.s.irqCause);
    irq.drain();
  }

  /** Descriptors the NIC has filled and the app has not taken yet (for tests and diagnostics). */
  pending(): number {
    const m = this.m;
    let n = 0;
    let i = m.ctl[W_NEXT]!;
    while (n < m.s.size && (m.desc[i * 4 + 2]! & STAT_DD) !== 0) {
      n++;
      i = (i + 1) & m.mask;
    }
    return n;
  }

  protected handleState(): AdvQueueState {
    return this.state;
  }
}

export class AdvTxQueue extends TxQueueBase {
  private readonly m: QueueMemory<AdvQueueState>;

  constructor(ident: QueueIdentity, readonly state: AdvQueueState, arena: DmaArena) {
    super(ident);
    this.m = new QueueMemory(state, arena);
  }

  burst(burst: Burst, start = 0): number {
    const m = this.m;
    const end = burst.count;
    if (Atomics.load(m.live, 0) !== m.s.generation || end <= start) return 0;
    const d = m.desc;
    const mask = m.mask;
    const ctl = m.ctl;
    const slots = m.slots;
    const ends = m.ends;
    const pool = this.pool;
    let next = ctl[W_NEXT]!;
    // Reclaim whole frames: RS is set on the last descriptor of each frame with offloads or segments, and of
    // each run of one-descriptor frames (closeRun).
    const clean = reclaimSent(m, pool, next);
    // One descriptor stays empty so that a full ring is told apart from an empty one.
    let room = (clean - next - 1) & mask;
    const bufs = burst.bufs;
    const lens = pool.len;
    const offs = pool.dataOff;
    const lo = pool.dmaLo;
    const hi = pool.dmaHi;
    const req = pool.txOffload;
    const nbSegs = pool.nbSegs;
    const count = end - start;
    let n = 0;
    let bytes = 0;
    // The open run of one-descriptor frames: its first and last descriptor (runStart -1: none open).
    let runStart = -1;
    let runLast = 0;
    while (n < count) {
      const b = bufs[start + n]!;
      const r = req[b]!;
      const segs = nbSegs[b]!;
      if (segs === 1 && (r & CONTEXT_REQUESTS) === 0) {
        // The common frame: one buffer, no offload, one descriptor (measured: −16 % per TX frame against the
        // general path below, bench/line-rate.ts), part of the current run (RS on the run's last, below).
        if (room === 0) break;
        const w = next * 4;
        const len = lens[b]!;
        dmaWords(lo[b]!, hi[b]!, offs[b]!, d, w);
        d[w + 2] = len | PLAIN_CMD;
        d[w + 3] = len << TXD_PAYLEN_SHIFT;
        slots[next] = b;
        if (runStart < 0) runStart = next;
        runLast = next;
        bytes += len;
        next = (next + 1) & mask;
        room--;
        n++;
        continue;
      }
      if (runStart >= 0) {
        closeRun(d, ends, runStart, runLast);
        runStart = -1;
      }
      // A frame with offloads or several segments: its own function, so that this loop keeps only what the
      // common frame needs in registers. The next free descriptor after it, or -1 when the ring has no room.
      const after = writeFrame(m, pool, next, room, b, r, segs);
      if (after < 0) break;
      room -= (after - next) & mask;
      next = after;
      bytes += segs === 1 ? lens[b]! : pool.pktLen[b]!;
      n++;
    }
    if (runStart >= 0) closeRun(d, ends, runStart, runLast);
    if (n === 0) return 0;
    ctl[W_NEXT] = next;
    Atomics.store(m.bar, m.tailWord, next);
    const c = this.cnt;
    c[C_PACKETS]! += n;
    c[C_BYTES]! += bytes;
    return n;
  }

  /** Frees every buffer still in the ring (the port is stopped). */
  reclaimAll(): void {
    reclaimTxRing(this.m, this.pool);
  }

  protected handleState(): AdvQueueState {
    return this.state;
  }
}

/**
 * Writes one frame that needs more than the common path (offloads: a context descriptor when its offloads
 * differ from the last one written; several segments: one data descriptor each, EOP and RS on the last, the
 * first with PAYLEN and the options) from descriptor `next`. Returns the next free descriptor, or -1 when the
 * ring has fewer than `room` … the frame needs (nothing written then).
 */
function writeFrame(m: QueueMemory<AdvQueueState>, pool: Mempool, next: number, room: number, b: number, r: number, segs: number): number {
  const d = m.desc;
  const ctl = m.ctl;
  const slots = m.slots;
  const ends = m.ends;
  const mask = m.mask;
  const lens = pool.len;
  const first0 = next;
  let cmd = TXD_CMD_DEXT | TXD_DTYP_DATA | TXD_CMD_IFCS;
  let opts = 0;
  let payload = segs === 1 ? lens[b]! : pool.pktLen[b]!;
  if ((r & CONTEXT_REQUESTS) !== 0) {
    // Offloads: a context descriptor says where the headers are, the tag and the MSS (written only when they
    // change; context slot 0), then the data descriptors ask for them.
    const key = contextKey(pool, b, r);
    const needContext = key !== ctl[W_CONTEXT];
    if (room < segs + (needContext ? 1 : 0)) return -1;
    if (needContext) {
      writeContext(d, next * 4, pool, b, r);
      slots[next] = NO_BUFFER;
      next = (next + 1) & mask;
      ctl[W_CONTEXT] = key;
    }
    if ((r & TX_IP_CKSUM) !== 0) opts |= TXD_POPTS_IXSM;
    if ((r & (TX_TCP_CKSUM | TX_UDP_CKSUM | TX_TCP_SEG)) !== 0) opts |= TXD_POPTS_TXSM;
    if ((r & TX_VLAN) !== 0) cmd |= TXD_CMD_VLE;
    if ((r & TX_TCP_SEG) !== 0) {
      // TSO: PAYLEN is the TCP payload only; the NIC repeats the headers in every segment.
      cmd |= TXD_CMD_TSE;
      payload -= pool.l2Len[b]! + pool.l3Len[b]! + pool.l4Len[b]!;
    }
    opts |= m.s.txCheckContext;
  } else if (room < segs) return -1;
  // The unit reclaimed at once starts at the frame's first descriptor (its context descriptor, if any).
  const first = first0;
  const lo = pool.dmaLo;
  const hi = pool.dmaHi;
  const offs = pool.dataOff;
  const chain = pool.next;
  let seg = b;
  for (let i = 0; i < segs; i++) {
    const w = next * 4;
    const last = i === segs - 1;
    dmaWords(lo[seg]!, hi[seg]!, offs[seg]!, d, w);
    d[w + 2] = (lens[seg]! | cmd | (last ? TXD_CMD_EOP | TXD_CMD_RS : 0)) >>> 0;
    d[w + 3] = i === 0 ? ((payload << TXD_PAYLEN_SHIFT) | opts) >>> 0 : 0;
    slots[next] = seg;
    if (last) ends[first] = next;
    next = (next + 1) & mask;
    seg = chain[seg]!;
  }
  return next;
}

/** Ends a run of one-descriptor frames: RS on its last descriptor, whose DD then says the whole run went. */
function closeRun(d: Uint32Array, ends: Uint32Array, runStart: number, runLast: number): void {
  const w = runLast * 4 + 2;
  d[w] = (d[w]! | TXD_CMD_RS) >>> 0;
  ends[runStart] = runLast;
}

/**
 * What identifies an offload context: requests, header lengths, tag and MSS, folded into one number that is
 * never 0 (a request is always set). Frames of one flow share it, so the context is written once per run.
 */
function contextKey(pool: Mempool, b: number, r: number): number {
  let k = ((r & 0x7f) | (pool.l2Len[b]! << 7) | (pool.l3Len[b]! << 14)) | 0;
  if ((r & TX_VLAN) !== 0) k = (Math.imul(k, 31) + pool.vlanTci[b]! + 1) | 0;
  if ((r & TX_TCP_SEG) !== 0) k = (Math.imul(k, 31) + pool.tsoSegsz[b]! * 256 + pool.l4Len[b]!) | 0;
  return k === 0 ? 1 : k;
}

/**
 * An advanced context descriptor (82576 7.2.2.2, 82599 7.2.3.2.3): word 0 the IP header length, the MAC
 * header length and the VLAN tag; word 2 the L3/L4 types (TUCMD) and DTYP 0010; word 3 the context index
 * (0), the L4 header length and the MSS for TSO.
 */
function writeContext(d: Uint32Array, w: number, pool: Mempool, b: number, r: number): void {
  const vlanTag = (r & TX_VLAN) !== 0 ? pool.vlanTci[b]! : 0;
  d[w] = (pool.l3Len[b]! | (pool.l2Len[b]! << 9) | (vlanTag << 16)) >>> 0;
  d[w + 1] = 0;
  let tucmd = TXD_CMD_DEXT | TXD_DTYP_CTXT;
  if ((r & (TX_IPV4 | TX_IP_CKSUM)) !== 0) tucmd |= TUCMD_IPV4;
  if ((r & (TX_TCP_CKSUM | TX_TCP_SEG)) !== 0) tucmd |= TUCMD_L4T_TCP;
  d[w + 2] = tucmd >>> 0;
  d[w + 3] = (r & TX_TCP_SEG) !== 0 ? ((pool.tsoSegsz[b]! << 16) | (pool.l4Len[b]! << 8)) >>> 0 : 0;
}

/** The attach entry point (QueueHandle.module points here): a worker's object for an igb or ixgbe queue. */
export function attachQueue(h: QueueHandle, pool: Mempool): AdvRxQueue | AdvTxQueue {
  const state = h.state as AdvQueueState;
  if (h.driver !== state.driver) throw new BdkError(`attachQueue: a ${h.driver} handle does not match its ${state.driver} queue`, "use attachRxQueue / attachTxQueue from the package entry");
  const ident = identityFrom(h, pool);
  const arena = DmaArena.attach(state.ring);
  return h.dir === "tx" ? new AdvTxQueue(ident, state, arena) : new AdvRxQueue(ident, state, arena);
}
