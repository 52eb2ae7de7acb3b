// The NIC's side of the 82599's descriptor rings, for tests: what the chip's DMA engines would do with the
// rings an IxgbePort programs into the register model (device.ts), written from the datasheet's descriptor
// formats (7.1.6 advanced RX descriptors, read and write-back; 7.2.3.2 advanced TX context and data
// descriptors and their write-back). Addresses in descriptors and ring registers are IOVAs; the engine finds
// them in this thread's live DMA arenas, as an IOMMU would, and an address outside every arena is a fault.
//
//   step():   for every enabled TX queue, the descriptors from TDH to TDT: context descriptors remembered,
//             each frame's buffers gathered up to EOP, its offloads done (checksums, VLAN tag, TSO), DD
//             written back where RS asks, TDH advanced, the frame handed to `sink`.
//   receive(): a frame from the wire through the receive filters, RSS (or queue 0) and deliver().
//   deliver(): a frame into RX queue q: the next descriptors from RDH (none free: dropped and counted, in
//             QPRDC with SRRCTL.DROP_EN as the port sets it, else MPC), length / status / packet type / RSS
//             hash / VLAN tag written back, RDH advanced.
//   wire(a, b): what one sends, the other receives.
//
// The link is not modelled here (frames move whether LINKS says up or not) and neither are interrupts.
// What the engine finds wrong in the descriptors is kept in `faults` (and the frame or queue left alone).
import { liveArenas, type DmaArena } from "../../src/mem/arena.ts";
import { CHIP } from "../../drivers/ixgbe/chip.ts";
import * as R from "../../drivers/ixgbe/regs.ts";
import type { ModelDevice } from "./device.ts";
import {
  acceptsAddress, packetType, parse, RXS_DD, RXS_EOP, RXS_VP, rssHash, rxChecksums, segment, txChecksums, type Parsed, type TxContext,
} from "./engine-offload.ts";

export type { TxContext } from "./engine-offload.ts";

// Advanced TX descriptors (7.2.3.2.3–4): word 2 DTALEN 15:0, DTYP 23:20, DCMD 31:24; word 3 STA 3:0, IDX 6:4, CC 7, POPTS 13:8, PAYLEN 31:14.
const DTYP_CONTEXT = 0x2;
const DTYP_DATA = 0x3;
const CMD_EOP = 1 << 24;
const CMD_RS = 1 << 27;
const CMD_DEXT = 1 << 29;
const CMD_VLE = 1 << 30;
const CMD_TSE = 1 << 31;
const STA_DD = 1;
const POPTS_IXSM = 1 << 8;
const POPTS_TXSM = 1 << 9;
// Statistics the engine counts into (8.2.3.23).
const GPRC = 0x04074;
const GPTC = 0x04080;
const GORC = 0x04088;
const GOTC = 0x04090;
const ROC = 0x040ac;
const MAX_TX_FRAME = 256 * 1024;

/** What the engine saw of a transmitted frame (one per TSO segment). */
export interface TxFrame {
  queue: number;
  /** The context the data descriptor named with CC, if any. */
  context: TxContext | undefined;
  ixsm: boolean;
  txsm: boolean;
  vle: boolean;
  tse: boolean;
  /** Data descriptors the frame took, and PAYLEN as software wrote it. */
  descriptors: number;
  paylen: number;
}

/** Receives each frame sent; `frame` is valid only during the call (copy it to keep it). */
export type Sink = (frame: Uint8Array, info: TxFrame) => void;

export class NicEngine {
  sink: Sink = () => {};
  /** Every context descriptor read, in order. */
  readonly contexts: TxContext[] = [];
  readonly faults: string[] = [];
  readonly counts = { sent: 0, received: 0, missed: 0, filtered: 0, oversize: 0, disabled: 0 };
  private readonly u32: Uint32Array;
  private readonly slots = new Map<number, (TxContext | undefined)[]>();
  private readonly frame = new Uint8Array(MAX_TX_FRAME);
  private arenas: readonly DmaArena[] = [];
  private hit: DmaArena | undefined;

  constructor(readonly device: ModelDevice) {
    this.u32 = device.model.u32;
  }

  private reg(off: number): number {
    return Atomics.load(this.u32, off >>> 2) >>> 0;
  }

  private fault(what: string): void {
    this.faults.push(`${this.device.address}: ${what}`);
  }

  /** The arena holding [iova, iova + len), as the IOMMU would translate it; undefined (and a fault) when none does. */
  private locate(iova: number, len: number, what: string): DmaArena | undefined {
    const inside = (a: DmaArena): boolean => !a.isFreed && iova >= a.iova && iova + len <= a.iova + a.size;
    if (this.hit && inside(this.hit)) return this.hit;
    this.hit = this.arenas.find(inside);
    if (!this.hit) {
      this.arenas = liveArenas();
      this.hit = this.arenas.find(inside);
    }
    if (!this.hit) this.fault(`${what}: IOVA 0x${iova.toString(16)} + ${len} is in no live DMA arena (an IOMMU fault)`);
    return this.hit;
  }

  private ring(lo: number, hi: number, descriptors: number, what: string): Uint32Array | undefined {
    const iova = this.reg(hi) * 0x1_0000_0000 + this.reg(lo);
    const a = this.locate(iova, descriptors * 16, what);
    return a && new Uint32Array(a.buffer, iova - a.iova, descriptors * 4);
  }

  // ---- transmit ----

  /** Moves what every enabled TX queue holds; returns the frames sent. */
  step(): number {
    if (this.device.isClosed || (this.reg(R.DMATXCTL) & R.DMATXCTL_TE) === 0) return 0;
    let n = 0;
    for (let q = 0; q < CHIP.queues; q++) {
      if ((this.reg(R.TXDCTL(q)) & R.TXDCTL_ENABLE) === 0) this.slots.delete(q);
      else n += this.stepTx(q);
    }
    return n;
  }

  private stepTx(q: number): number {
    const len = this.reg(R.TDLEN(q)) / 16;
    let head = this.reg(R.TDH(q));
    const tail = this.reg(R.TDT(q));
    if (head === tail) return 0;
    if (len === 0 || head >= len || tail >= len) {
      this.fault(`TX queue ${q}: TDH ${head} / TDT ${tail} outside a ring of ${len} descriptors (8.2.3.9.8–9)`);
      return 0;
    }
    const d = this.ring(R.TDBAL(q), R.TDBAH(q), len, `TX queue ${q} ring`);
    if (!d) return 0;
    const slots = this.slots.get(q) ?? [];
    this.slots.set(q, slots);
    let frames = 0;
    while (head !== tail) {
      const w2 = d[head * 4 + 2]!;
      const w3 = d[head * 4 + 3]!;
      const dtyp = (w2 >>> 20) & 0xf;
      if ((w2 & CMD_DEXT) === 0 || (dtyp !== DTYP_CONTEXT && dtyp !== DTYP_DATA)) {
        this.fault(`TX queue ${q} descriptor ${head}: not an advanced context or data descriptor (DEXT ${(w2 >>> 29) & 1}, DTYP ${dtyp}; 7.2.3.2)`);
        break;
      }
      if (dtyp === DTYP_CONTEXT) {
        const w0 = d[head * 4]!;
        const c: TxContext = {
          queue: q, idx: (w3 >>> 4) & 7, iplen: w0 & 0x1ff, maclen: (w0 >>> 9) & 0x7f, vlan: w0 >>> 16,
          ipv4: ((w2 >>> 10) & 1) === 1, l4t: (w2 >>> 11) & 3, l4len: (w3 >>> 8) & 0xff, mss: w3 >>> 16,
        };
        slots[c.idx] = c;
        this.contexts.push(c);
        this.writeBack(d, head, w2);
        head = (head + 1) % len;
        continue;
      }
      // A frame: data descriptors up to EOP; one not yet complete waits for the tail to move on.
      let i = head;
      let bytes = 0;
      let descriptors = 0;
      let complete = false;
      let bad = false;
      while (i !== tail) {
        const c2 = d[i * 4 + 2]!;
        if (((c2 >>> 20) & 0xf) !== DTYP_DATA || (c2 & CMD_DEXT) === 0) {
          this.fault(`TX queue ${q} descriptor ${i}: a frame's descriptors must all be data descriptors up to EOP (7.2.3.2.4)`);
          bad = true;
          break;
        }
        const blen = c2 & 0xffff;
        const iova = d[i * 4 + 1]! * 0x1_0000_0000 + d[i * 4]!;
        const a = blen === 0 ? undefined : this.locate(iova, blen, `TX queue ${q} descriptor ${i} buffer`);
        if ((blen !== 0 && !a) || bytes + blen > this.frame.length) {
          bad = true;
          break;
        }
        if (a) this.frame.set(a.u8.subarray(iova - a.iova, iova - a.iova + blen), bytes);
        bytes += blen;
        descriptors++;
        i = (i + 1) % len;
        if ((c2 & CMD_EOP) !== 0) {
          complete = true;
          break;
        }
      }
      if (bad || !complete) break;
      const info: TxFrame = {
        queue: q, context: (w3 & R.TXD_CC) !== 0 ? slots[(w3 >>> 4) & 7] : undefined, ixsm: (w3 & POPTS_IXSM) !== 0, txsm: (w3 & POPTS_TXSM) !== 0,
        vle: (w2 & CMD_VLE) !== 0, tse: (w2 & CMD_TSE) !== 0, descriptors, paylen: w3 >>> 14,
      };
      for (let k = head; k !== i; k = (k + 1) % len) this.writeBack(d, k, d[k * 4 + 2]!);
      head = i;
      if (this.emit(bytes, info)) frames++;
    }
    Atomics.store(this.u32, R.TDH(q) >>> 2, head);
    return frames;
  }

  /** 7.2.3.2.4 write-back (WTHRESH 0): a descriptor with RS gets DD in STA; the rest of it is reserved (zeroed here). */
  private writeBack(d: Uint32Array, k: number, w2: number): void {
    if ((w2 & CMD_RS) === 0) return;
    d[k * 4] = 0;
    d[k * 4 + 1] = 0;
    d[k * 4 + 2] = 0;
    Atomics.store(d, k * 4 + 3, STA_DD);
  }

  /** The frame's offloads, then the wire. */
  private emit(len: number, info: TxFrame): boolean {
    const f = this.frame;
    const c = info.context;
    const q = info.queue;
    if ((info.ixsm || info.txsm || info.vle || info.tse) && !c) {
      this.fault(`TX queue ${q}: offloads asked (POPTS/VLE/TSE) without CC naming a context written on this queue (7.2.3.2.4)`);
      return false;
    }
    let out: Uint8Array[];
    if (info.tse) {
      const hdr = c!.maclen + c!.iplen + c!.l4len;
      if (c!.mss === 0 || c!.l4t !== 1 || info.paylen !== len - hdr) {
        this.fault(`TX queue ${q}: TSO needs a TCP context with MSS and PAYLEN = the payload (${len - hdr}), got MSS ${c!.mss}, L4T ${c!.l4t}, PAYLEN ${info.paylen} (7.2.4)`);
        return false;
      }
      out = segment(f, len, c!, info.ixsm);
    } else {
      if (info.paylen !== len) {
        this.fault(`TX queue ${q}: PAYLEN ${info.paylen} is not the frame's ${len} bytes (7.2.3.2.4: a frame sent whole carries its full length)`);
        return false;
      }
      if (c && (info.ixsm || info.txsm)) txChecksums(f, len, c, info.ixsm, info.txsm);
      out = [f.slice(0, len)];
    }
    const tpid = this.reg(R.DMATXCTL) >>> 16;
    const pad = (this.reg(R.HLREG0) & R.HLREG0_TXPADEN) !== 0;
    for (let s of out) {
      if (info.vle) {
        const t = new Uint8Array(s.length + 4);
        t.set(s.subarray(0, 12));
        t.set([tpid >> 8, tpid & 0xff, c!.vlan >> 8, c!.vlan & 0xff], 12);
        t.set(s.subarray(12), 16);
        s = t;
      }
      if (pad && s.length < 60) {
        const t = new Uint8Array(60);
        t.set(s);
        s = t;
      }
      this.device.model.count(GPTC, 1);
      this.device.model.count(GOTC, s.length + 4);
      this.counts.sent++;
      this.sink(s, info);
    }
    return true;
  }

  // ---- receive ----

  /** A frame from the wire: the receive filters, then the queue RSS picks (7.1.2.8: unhashed frames to queue 0). */
  receive(f: Uint8Array, len = f.length): boolean {
    if (this.device.isClosed) return false;
    const p = parse(f, len);
    const rss = rssHash(this.rssKey(), this.reg(R.MRQC), f, p);
    const q = rss ? (this.reg(R.RETA((rss.hash & 0x7f) >>> 2)) >>> (8 * (rss.hash & 3))) & 0xf : 0;
    return this.put(q, f, len, p, rss);
  }

  /** A frame into RX queue q (the filters still apply; RSS only fills in the hash). */
  deliver(q: number, f: Uint8Array, len = f.length): boolean {
    if (this.device.isClosed) return false;
    const p = parse(f, len);
    return this.put(q, f, len, p, rssHash(this.rssKey(), this.reg(R.MRQC), f, p));
  }

  private rssKey(): Uint8Array {
    const key = new Uint8Array(40);
    for (let i = 0; i < 10; i++) for (let k = 0; k < 4; k++) key[4 * i + k] = (this.reg(R.RSSRK(i)) >>> (8 * k)) & 0xff;
    return key;
  }

  private put(q: number, f: Uint8Array, len: number, p: Parsed, rss: { hash: number; type: number } | undefined): boolean {
    if ((this.reg(R.RXCTRL) & R.RXCTRL_RXEN) === 0 || (this.reg(R.RXDCTL(q)) & R.RXDCTL_ENABLE) === 0) {
      this.counts.disabled++;
      return false;
    }
    const vlnctrl = this.reg(R.VLNCTRL);
    const tagged = len >= 18 && ((f[12]! << 8) | f[13]!) === (vlnctrl & R.VLNCTRL_VET);
    const vid = tagged ? ((f[14]! << 8) | f[15]!) & 0xfff : 0;
    if (!acceptsAddress((off) => this.reg(off), f) || (tagged && (vlnctrl & R.VLNCTRL_VFE) !== 0 && ((this.reg(R.VFTA + 4 * (vid >>> 5)) >>> (vid & 31)) & 1) === 0)) {
      this.counts.filtered++;
      return false;
    }
    // 8.2.3.22.13: MFS with JUMBOEN, else 1518; a tagged frame may be 4 bytes longer. Lengths here lack the CRC.
    const limit = ((this.reg(R.HLREG0) & R.HLREG0_JUMBOEN) !== 0 ? this.reg(R.MAXFRS) >>> R.MAXFRS_MFS_SHIFT : 1518) + (tagged ? 4 : 0);
    if (len + 4 > limit) {
      this.device.model.count(ROC, 1);
      this.counts.oversize++;
      return false;
    }
    const strip = tagged && (this.reg(R.RXDCTL(q)) & R.RXDCTL_VME) !== 0;
    const data = strip ? new Uint8Array([...f.subarray(0, 12), ...f.subarray(16, len)]) : f.subarray(0, len);
    const csum = rxChecksums(f, p);
    const rlen = this.reg(R.RDLEN(q)) / 16;
    let head = this.reg(R.RDH(q));
    const tail = this.reg(R.RDT(q));
    const srrctl = this.reg(R.SRRCTL(q));
    const bsize = (srrctl & R.SRRCTL_BSIZEPACKET_MASK) * 1024;
    const need = Math.max(1, Math.ceil(data.length / bsize));
    if (rlen === 0 || head >= rlen || tail >= rlen) {
      this.fault(`RX queue ${q}: RDH ${head} / RDT ${tail} outside a ring of ${rlen} descriptors (8.2.3.8.4–5)`);
      return false;
    }
    if ((tail - head + rlen) % rlen < need) {
      // No free descriptor (RDH == RDT): with DROP_EN the queue drops and counts (QPRDC), else the packet buffer does (MPC).
      this.device.model.count((srrctl & R.SRRCTL_DROP_EN) !== 0 ? R.QPRDC(q) : R.MPC(0), 1);
      this.counts.missed++;
      return false;
    }
    const d = this.ring(R.RDBAL(q), R.RDBAH(q), rlen, `RX queue ${q} ring`);
    if (!d) return false;
    const pcsd = (this.reg(R.RXCSUM) & R.RXCSUM_PCSD) !== 0;
    for (let k = 0, at = 0; k < need; k++, at += bsize) {
      const w = head * 4;
      const chunk = Math.min(bsize, data.length - at);
      const iova = d[w + 1]! * 0x1_0000_0000 + d[w]!;
      const a = this.locate(iova, chunk, `RX queue ${q} descriptor ${head} buffer`);
      if (!a) return false;
      a.u8.set(data.subarray(at, at + chunk), iova - a.iova);
      const last = k === need - 1;
      d[w] = ((rss && pcsd ? rss.type : 0) | packetType(p)) >>> 0;
      d[w + 1] = rss && pcsd ? rss.hash : 0;
      d[w + 3] = (chunk | (strip ? ((f[14]! << 8) | f[15]!) << 16 : 0)) >>> 0;
      Atomics.store(d, w + 2, (RXS_DD | (last ? RXS_EOP | csum.status | csum.errors : 0) | (strip ? RXS_VP : 0)) >>> 0);
      head = (head + 1) % rlen;
    }
    Atomics.store(this.u32, R.RDH(q) >>> 2, head);
    this.device.model.count(GPRC, 1);
    this.device.model.count(GORC, len + 4);
    this.counts.received++;
    return true;
  }
}

/** Two engines back to back: what either sends, the other receives. Returns the function that moves one round. */
export function wire(a: NicEngine, b: NicEngine): () => number {
  a.sink = (f) => void b.receive(f);
  b.sink = (f) => void a.receive(f);
  return () => a.step() + b.step();
}

/** Runs `step` every `ms` (a timer: frames move whenever the test yields); errors are kept, not thrown into the event loop. */
export function runEvery(step: () => number, ms = 1): { stop(): void; errors: unknown[] } {
  const errors: unknown[] = [];
  const t = setInterval(() => {
    try {
      step();
    } catch (e) {
      errors.push(e);
    }
  }, ms);
  return { stop: () => clearInterval(t), errors };
}
