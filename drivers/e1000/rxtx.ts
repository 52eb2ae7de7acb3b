// e1000 / e1000e RX and TX queues on legacy descriptors (SDM 3.2 receive, 3.3 transmit). Each queue's
// memory is in the port's ring arena (DMA-mapped, shared by every thread): the descriptor ring, the buffer
// index of each descriptor ("slots") and a few control words, so that a worker that attached the queue
// and the owner that tears it down see the same state. The BAR is mapped once per process; a worker makes
// its own typed-array view of it from the address.
//
// RX (burst): count the descriptors the NIC marked done (DD), take that many fresh buffers from the pool,
// hand out each done buffer (length, port id, checksum status) and put a fresh one in its place, then write
// the tail register once. TX (burst): reclaim the descriptors the NIC finished (DD; RS is set on every one),
// fill free descriptors from the burst, write the tail register once.
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_ERRORS, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import { checkHandleDriver, type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import { DmaArena } from "../../src/mem/arena.ts";
import {
  BUF_IP_CSUM_BAD, BUF_IP_CSUM_GOOD, BUF_L4_CSUM_BAD, BUF_L4_CSUM_GOOD, BUF_RSS_HASH, BUF_VLAN, BUF_VLAN_STRIPPED, TX_IP_CKSUM, TX_TCP_CKSUM,
  TX_UDP_CKSUM, TX_VLAN,
} from "../../src/mem/mbuf.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { IrqLine } from "../../src/vfio/irq-line.ts";
import { dmaWords } from "../intel/mmio.ts";
import {
  NO_BUFFER, QueueMemory as IntelQueueMemory, reclaimSent, reclaimTxRing, rxDoorbell, W_CONTEXT, W_DROPPING, W_HEAD, W_NEXT, type RingQueueState,
} from "../intel/ring.ts";
import {
  ERXD_ERR_FRAME, ERXD_ERR_IPE, ERXD_ERR_TCPE, ICR, IMC, IMS, RXD_ERR_FRAME, RXD_ERR_IPE, RXD_ERR_TCPE, RXD_STAT_DD, RXD_STAT_EOP, RXD_STAT_IPCS, RXD_STAT_IXSM, RXD_STAT_TCPCS, RXD_STAT_UDPCS,
  RXD_STAT_VP, TUCMD_DEXT, TUCMD_IP, TUCMD_RS, TUCMD_TCP, TXD_CMD_DEXT, TXD_CMD_EOP, TXD_CMD_IFCS, TXD_CMD_RS, TXD_CMD_VLE, TXD_DTYP_DATA,
  TXD_POPTS_IXSM, TXD_POPTS_TXSM,
} from "./regs.ts";

/** Where an e1000 queue lives (drivers/intel/ring.ts) and which descriptor format it reads. */
export interface E1000QueueState extends RingQueueState {
  /** 82574 extended descriptors (E1000eRxQueue) rather than legacy ones. */
  extended: boolean;
}

type QueueMemory = IntelQueueMemory<E1000QueueState>;
const CSUM_REQUESTS = TX_IP_CKSUM | TX_TCP_CKSUM | TX_UDP_CKSUM;

export class E1000RxQueue extends RxQueueBase {
  protected readonly m: QueueMemory;
  /** Fresh buffers for one burst's refills. */
  protected readonly fresh: Uint32Array;
  private readonly irq: IrqLine | undefined;
  /** The NIC writes the RSS hash into each descriptor (82574 with RSS). */
  protected readonly rss: boolean;
  /** Frames longer than one buffer arrive as chains (RX_OFFLOAD_SCATTER) instead of being dropped. */
  protected readonly scatter: boolean;

  constructor(ident: QueueIdentity, readonly state: E1000QueueState, arena: DmaArena, maxBurst = 1024) {
    super(ident);
    this.m = new IntelQueueMemory(state, arena);
    this.fresh = new Uint32Array(maxBurst);
    this.irq = state.irq ? new IrqLine(state.irq) : undefined;
    this.rss = state.rss;
    this.scatter = state.scatter;
  }

  protected get mem(): QueueMemory {
    return this.m;
  }

  /** Puts up to `ready` fresh buffers in `fresh` for the refills; fewer when the pool runs short (rx_nombuf). */
  protected takeFresh(ready: number): number {
    const k = this.pool.allocRxUpTo(this.fresh, 0, ready);
    if (k !== ready) this.cnt[C_NOMBUF]! += ready - k;
    return k;
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
    while (ready < cap && (d[((next + ready) & mask) * 4 + 3]! & RXD_STAT_DD) !== 0) ready++;
    if (ready === 0) return 0;
    // A fresh buffer for each, or leave the rest for the next burst (the ring fills; the NIC counts misses).
    ready = this.takeFresh(ready);
    if (ready === 0) return 0;
    const pool = this.pool;
    const fresh = this.fresh;
    const slots = m.slots;
    const lens = pool.len;
    const ports = pool.port;
    const flags = pool.flags;
    const vlan = pool.vlanTci;
    const lo = pool.dmaLo;
    const hi = pool.dmaHi;
    const headroom = pool.headroom;
    const out = burst.bufs;
    const id = this.portId;
    let dropping = ctl[W_DROPPING]!;
    // The first buffer of a frame still arriving in pieces (scatter), or -1; kept across bursts.
    let head = ctl[W_HEAD]! - 1;
    const scatter = this.scatter;
    let n = 0;
    let bytes = 0;
    let errors = 0;
    for (let k = 0; k < ready; k++) {
      const w = next * 4;
      const st = d[w + 3]!;
      const b = slots[next]!;
      const eop = (st & RXD_STAT_EOP) !== 0;
      if (dropping !== 0 || (st & RXD_ERR_FRAME) !== 0 || (!eop && !scatter)) {
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
        lens[b] = d[w + 2]! & 0xffff;
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
        const len = d[w + 2]! & 0xffff;
        lens[b] = len;
        ports[b] = id;
        let f = 0;
        // Checksum status (SDM 3.2.6): IXSM set means the NIC did not check.
        if ((st & RXD_STAT_IXSM) === 0) {
          if ((st & RXD_STAT_IPCS) !== 0) f |= (st & RXD_ERR_IPE) !== 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
          if ((st & RXD_STAT_TCPCS) !== 0) f |= (st & RXD_ERR_TCPE) !== 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
        }
        // VLAN mode (CTRL.VME): the NIC took the tag out of the frame; it is in the special field (SDM 3.2.7).
        if ((st & RXD_STAT_VP) !== 0) {
          vlan[b] = st >>> 16;
          f |= BUF_VLAN | BUF_VLAN_STRIPPED;
        }
        flags[b] = f;
        out[n++] = b;
        bytes += len;
      }
      // Refill the descriptor with a fresh buffer; the NIC writes after the headroom.
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
    return Atomics.load(m.live, 0) === m.s.generation && (m.desc[m.ctl[W_NEXT]! * 4 + 3]! & RXD_STAT_DD) !== 0;
  }

  override eventFd(): number {
    return this.irq ? this.irq.eventFd : -1;
  }

  override enableInterrupt(): void {
    if (!this.irq) return;
    Atomics.store(this.m.bar, IMS >>> 2, this.m.s.irqCause);
  }

  override disableInterrupt(): void {
    const irq = this.irq;
    if (!irq) return;
    Atomics.store(this.m.bar, IMC >>> 2, this.m.s.irqCause);
    // An interrupt came (the eventfd counted it): reading ICR clears its causes and deasserts INTx, and
    // VFIO's automask is lifted so that the line may fire again. No interrupt: nothing to clear.
    if (irq.drain() !== 0) {
      Atomics.load(this.m.bar, ICR >>> 2);
      irq.unmask();
    }
  }

  /** Descriptors the NIC has filled and the app has not taken yet (for tests and diagnostics). */
  pending(): number {
    const m = this.m;
    let n = 0;
    let i = m.ctl[W_NEXT]!;
    while (n < m.s.size && (m.desc[i * 4 + 3]! & RXD_STAT_DD) !== 0) {
      n++;
      i = (i + 1) & m.mask;
    }
    return n;
  }

  protected handleState(): E1000QueueState {
    return this.state;
  }
}

/**
 * RX on the 82574's extended descriptors (with RSS): the same refill and doorbell as the legacy queue, but
 * status and errors in word 2, the length and VLAN tag in word 3, and the RSS hash in word 1.
 */
export class E1000eRxQueue extends E1000RxQueue {
  override burst(burst: Burst): number {
    burst.count = 0;
    const m = this.mem;
    if (Atomics.load(m.live, 0) !== m.s.generation) return 0;
    const d = m.desc;
    const mask = m.mask;
    const ctl = m.ctl;
    let next = ctl[W_NEXT]!;
    let ready = 0;
    const cap = burst.capacity < this.fresh.length ? burst.capacity : this.fresh.length;
    while (ready < cap && (d[((next + ready) & mask) * 4 + 2]! & RXD_STAT_DD) !== 0) ready++;
    if (ready === 0) return 0;
    ready = this.takeFresh(ready);
    if (ready === 0) return 0;
    const pool = this.pool;
    const fresh = this.fresh;
    const slots = m.slots;
    const lens = pool.len;
    const ports = pool.port;
    const flags = pool.flags;
    const vlan = pool.vlanTci;
    const hash = pool.rssHash;
    const lo = pool.dmaLo;
    const hi = pool.dmaHi;
    const headroom = pool.headroom;
    const rss = this.rss;
    const out = burst.bufs;
    const id = this.portId;
    let dropping = ctl[W_DROPPING]!;
    // The first buffer of a frame still arriving in pieces (scatter), or -1; kept across bursts.
    let head = ctl[W_HEAD]! - 1;
    const scatter = this.scatter;
    let n = 0;
    let bytes = 0;
    let errors = 0;
    for (let k = 0; k < ready; k++) {
      const w = next * 4;
      const st = d[w + 2]!;
      const b = slots[next]!;
      const eop = (st & RXD_STAT_EOP) !== 0;
      if (dropping !== 0 || (st & ERXD_ERR_FRAME) !== 0 || (!eop && !scatter)) {
        if (dropping === 0) errors++;
        dropping = eop ? 0 : 1;
        pool.free(b);
        if (head >= 0) {
          pool.freeChain(head);
          head = -1;
        }
      } else if (!eop || head >= 0) {
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
        const len = d[w + 3]! & 0xffff;
        lens[b] = len;
        ports[b] = id;
        let f = 0;
        if (rss) {
          // With RSS (RXCSUM.PCSD) word 1 is the hash, and the NIC reports no checksums.
          hash[b] = d[w + 1]!;
          f = BUF_RSS_HASH;
        } else {
          if ((st & RXD_STAT_IPCS) !== 0) f |= (st & ERXD_ERR_IPE) !== 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
          if ((st & (RXD_STAT_TCPCS | RXD_STAT_UDPCS)) !== 0) f |= (st & ERXD_ERR_TCPE) !== 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
        }
        if ((st & RXD_STAT_VP) !== 0) {
          vlan[b] = d[w + 3]! >>> 16;
          f |= BUF_VLAN | BUF_VLAN_STRIPPED;
        }
        flags[b] = f;
        out[n++] = b;
        bytes += len;
      }
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
    rxDoorbell(m, next, ready);
    burst.count = n;
    const c = this.cnt;
    c[C_PACKETS]! += n;
    c[C_BYTES]! += bytes;
    if (errors !== 0) c[C_ERRORS]! += errors;
    return n;
  }

  override ready(): boolean {
    const m = this.mem;
    return Atomics.load(m.live, 0) === m.s.generation && (m.desc[m.ctl[W_NEXT]! * 4 + 2]! & RXD_STAT_DD) !== 0;
  }
}

export class E1000TxQueue extends TxQueueBase {
  private readonly m: QueueMemory;

  constructor(ident: QueueIdentity, readonly state: E1000QueueState, arena: DmaArena) {
    super(ident);
    this.m = new IntelQueueMemory(state, arena);
  }

  burst(burst: Burst, start = 0): number {
    const m = this.m;
    const end = burst.count;
    if (Atomics.load(m.live, 0) !== m.s.generation || end <= start) return 0;
    const d = m.desc;
    const mask = m.mask;
    const ctl = m.ctl;
    const slots = m.slots;
    const pool = this.pool;
    let next = ctl[W_NEXT]!;
    // Reclaim what the NIC has sent, a burst at a time: RS is set on each burst's last descriptor only (below),
    // so the NIC writes back one descriptor per burst (each write-back is a DMA write).
    const clean = reclaimSent(m, pool, next);
    const ends = m.ends;
    const first = next;
    // One descriptor stays empty so that a full ring is told apart from an empty one.
    let room = (clean - next - 1) & mask;
    const bufs = burst.bufs;
    const lens = pool.len;
    const offs = pool.dataOff;
    const lo = pool.dmaLo;
    const hi = pool.dmaHi;
    const req = pool.txOffload;
    const vlan = pool.vlanTci;
    const nbSegs = pool.nbSegs;
    const chain = pool.next;
    const count = end - start;
    let n = 0;
    let bytes = 0;
    while (n < count && room !== 0) {
      const b = bufs[start + n]!;
      const len = lens[b]!;
      const r = req[b]!;
      let cmd = TXD_CMD_EOP | TXD_CMD_IFCS;
      let opts = 0;
      if ((r & CSUM_REQUESTS) !== 0) {
        // Checksum offload: a context descriptor says where the headers are (written only when that
        // changes), then an extended data descriptor asks for the sums (SDM 3.3.6, 3.3.7).
        const key = contextKey(r, pool.l2Len[b]!, pool.l3Len[b]!);
        if (key !== ctl[W_CONTEXT]) {
          if (room < 2) break;
          writeContext(d, next * 4, r, pool.l2Len[b]!, pool.l3Len[b]!);
          slots[next] = NO_BUFFER;
          next = (next + 1) & mask;
          room--;
          ctl[W_CONTEXT] = key;
        }
        cmd |= TXD_CMD_DEXT | TXD_DTYP_DATA;
        if ((r & TX_IP_CKSUM) !== 0) opts |= TXD_POPTS_IXSM;
        if ((r & (TX_TCP_CKSUM | TX_UDP_CKSUM)) !== 0) opts |= TXD_POPTS_TXSM;
      }
      const segs = nbSegs[b]!;
      if (segs === 1) {
        const w = next * 4;
        dmaWords(lo[b]!, hi[b]!, offs[b]!, d, w);
        // Short frames are padded by the NIC (TCTL.PSP); IFCS appends the CRC; VLE inserts the tag from the
        // special field (SDM 3.3.3, with CTRL.VME).
        if ((r & TX_VLAN) === 0) {
          d[w + 2] = (len | cmd) >>> 0;
          d[w + 3] = opts << 8;
        } else {
          d[w + 2] = (len | cmd | TXD_CMD_VLE) >>> 0;
          d[w + 3] = ((vlan[b]! << 16) | (opts << 8)) >>> 0;
        }
        slots[next] = b;
        bytes += len;
        next = (next + 1) & mask;
        room--;
      } else {
        // A chain: one descriptor per segment, EOP (and the tag) on the last; each slot frees its own segment.
        if (room < segs) break;
        for (let seg = b; seg >= 0; seg = chain[seg]!) {
          const w = next * 4;
          const last = chain[seg]! < 0;
          dmaWords(lo[seg]!, hi[seg]!, offs[seg]!, d, w);
          let c = last ? cmd : cmd & ~TXD_CMD_EOP;
          let special = seg === b ? opts << 8 : 0;
          if (last && (r & TX_VLAN) !== 0) {
            c |= TXD_CMD_VLE;
            special |= vlan[b]! << 16;
          }
          d[w + 2] = (lens[seg]! | c) >>> 0;
          d[w + 3] = special >>> 0;
          slots[next] = seg;
          bytes += lens[seg]!;
          next = (next + 1) & mask;
          room--;
        }
      }
      n++;
    }
    if (n === 0) return 0;
    // Report status on the burst's last descriptor (a data descriptor: a context descriptor is never last).
    const last = (next - 1) & mask;
    d[last * 4 + 2] = (d[last * 4 + 2]! | TXD_CMD_RS) >>> 0;
    ends[first] = last;
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

  protected handleState(): E1000QueueState {
    return this.state;
  }
}

/** What identifies a checksum context: the requests and the header lengths (0 is never one: requests are set). */
function contextKey(req: number, l2: number, l3: number): number {
  return l3 > 0xff ? -1 : ((req & 0xff) | (l2 << 8) | (l3 << 16)) | 0;
}

/**
 * A TCP/IP context descriptor (SDM 3.3.6): IP checksum from IPCSS through IPCSE stored at IPCSO; TCP/UDP
 * checksum from TUCSS to the end stored at TUCSO (the app has put the pseudo-header sum there, as with
 * DPDK). RS so that it is written back (DD) like any other descriptor.
 */
function writeContext(d: Uint32Array, w: number, req: number, l2: number, l3: number): void {
  const ipcss = l2;
  const tucss = l2 + l3;
  const tcp = (req & TX_TCP_CKSUM) !== 0;
  d[w] = (ipcss | ((ipcss + 10) << 8) | ((tucss - 1) << 16)) >>> 0;
  d[w + 1] = (tucss | ((tucss + (tcp ? 16 : 6)) << 8)) >>> 0;
  let tucmd = TUCMD_DEXT | TUCMD_RS;
  if ((req & TX_IP_CKSUM) !== 0) tucmd |= TUCMD_IP;
  if (tcp) tucmd |= TUCMD_TCP;
  d[w + 2] = (tucmd << 24) >>> 0;
  d[w + 3] = 0;
}

/** The attach entry point (QueueHandle.module points here): a worker's object for an e1000 queue. */
export function attachQueue(h: QueueHandle, pool: Mempool): E1000RxQueue | E1000TxQueue {
  checkHandleDriver(h, h.driver === "e1000e" ? "e1000e" : "e1000");
  const ident = identityFrom(h, pool);
  const state = h.state as E1000QueueState;
  const arena = DmaArena.attach(state.ring);
  if (h.dir === "tx") return new E1000TxQueue(ident, state, arena);
  return state.extended ? new E1000eRxQueue(ident, state, arena) : new E1000RxQueue(ident, state, arena);
}
