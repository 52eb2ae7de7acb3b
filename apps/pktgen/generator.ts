// The TX side: builds pktgen frames into mempool buffers (FrameGenerator) or copies a capture's frames
// (ReplaySource). Per packet: no allocation, no closure, no BigInt, no DataView. Headers come from the
// src/net builders; the UDP checksum is a sum of a few 16-bit words (the filler is zero and adds nothing),
// the IPv4 header checksum is computed by ipv4Write over its 20 bytes.
import { net, type Mempool } from "../../src/index.ts";
import type { ResolvedOptions, ValueRange } from "./options.ts";
import { P_SEQ, P_STREAM, P_TS_HI, P_TS_LO, PAYLOAD_LEN, PAYLOAD_OFF_V4, PAYLOAD_OFF_V6, PKTGEN_MAGIC } from "./payload.ts";

const { write16, write32, ETHERTYPE_IPV4, ETHERTYPE_IPV6, etherWrite, IPPROTO_UDP, IPV4_FLAG_DF, ipv4Write, ipv6Write, udpWrite } = net;
const TWO32 = 4294967296;

/** Something that fills `n` freshly allocated buffers with frames; returns the bytes written (sum of lengths). */
export interface FrameSource {
  fill(pool: Mempool, bufs: Uint32Array, n: number, nowNs: number): number;
  /** Frames it will make in all (Infinity: no end of its own). */
  readonly total: number;
  /** Mean frame length without CRC over one cycle (for the rate limiter). */
  readonly meanLen: number;
  readonly maxLen: number;
}

function writeMac(dst: Uint8Array, v: number): void {
  const hi = Math.floor(v / TWO32);
  const lo = v >>> 0;
  dst[0] = hi >>> 8;
  dst[1] = hi;
  dst[2] = lo >>> 24;
  dst[3] = lo >>> 16;
  dst[4] = lo >>> 8;
  dst[5] = lo;
}

function macNumber(mac: string): number {
  let v = 0;
  for (const h of mac.split(":")) v = v * 256 + parseInt(h, 16);
  return v;
}

/**
 * Builds pktgen frames. With several TX threads (--cores), thread `worker` of `workers` builds global frames
 * worker, worker + workers, worker + 2·workers …: every range (sizes, MACs, addresses, ports) steps by
 * `workers` from `worker`, so the frames of all threads together walk the ranges exactly as one generator
 * would, dealt round-robin. Each thread sends its own stream (streamId + worker, modulo 2^16) with its own
 * sequence numbers from 0.
 */
export class FrameGenerator implements FrameSource {
  /** The next sequence number (also: frames built so far). */
  seq = 0;
  readonly total = Infinity;
  /** Mean length of this thread's frames (its share of the size cycle). */
  readonly meanLen: number;
  readonly maxLen: number;
  readonly streamId: number;
  private readonly ipv6: boolean;
  private readonly sizes: Uint16Array;
  private readonly sizeN: number;
  private readonly sizeS: number;
  private sizeI: number;
  // Ranges: start, count, step (workers mod count: 0 when the value never changes), index, current value.
  private readonly smacStart: number;
  private readonly smacN: number;
  private readonly smacS: number;
  private smacI: number;
  private readonly dmacStart: number;
  private readonly dmacN: number;
  private readonly dmacS: number;
  private dmacI: number;
  private readonly sipStart: number;
  private readonly sipN: number;
  private readonly sipS: number;
  private sipI: number;
  private sip: number;
  private readonly dipStart: number;
  private readonly dipN: number;
  private readonly dipS: number;
  private dipI: number;
  private dip: number;
  private readonly spStart: number;
  private readonly spN: number;
  private readonly spS: number;
  private spI: number;
  private sp: number;
  private readonly dpStart: number;
  private readonly dpN: number;
  private readonly dpS: number;
  private dpI: number;
  private dp: number;
  private readonly smac = new Uint8Array(6);
  private readonly dmac = new Uint8Array(6);
  /** IPv6 addresses being sent (the low 32 bits follow the ranges). */
  private readonly saddr6 = new Uint8Array(16);
  private readonly daddr6 = new Uint8Array(16);
  /** The UDP checksum's constant words: protocol, magic, stream id (and the IPv6 addresses' upper 96 bits). */
  private readonly constSum: number;

  constructor(o: ResolvedOptions, portMac: string, worker = 0, workers = 1) {
    if (!Number.isInteger(workers) || workers < 1 || !Number.isInteger(worker) || worker < 0 || worker >= workers) {
      throw new RangeError(`FrameGenerator: worker ${worker} of ${workers}`);
    }
    this.ipv6 = o.ipv6;
    this.sizes = o.sizes;
    this.sizeN = o.sizes.length;
    this.sizeS = workers % this.sizeN;
    this.sizeI = worker % this.sizeN;
    // This thread's sizes: from sizeI in steps of sizeS around the cycle, until it comes back.
    let sum = 0;
    let n = 0;
    let i = this.sizeI;
    do {
      sum += o.sizes[i]!;
      n++;
      i = (i + this.sizeS) % this.sizeN;
    } while (i !== this.sizeI);
    this.meanLen = sum / n;
    this.maxLen = o.sizes.reduce((m, s) => Math.max(m, s), 0);
    this.streamId = (o.streamId + worker) & 0xffff;
    const smac: ValueRange = o.srcMac ?? { start: macNumber(portMac), count: 1 };
    this.smacStart = smac.start;
    this.smacN = smac.count;
    this.smacS = workers % smac.count;
    this.smacI = worker % smac.count;
    this.dmacStart = o.dstMac.start;
    this.dmacN = o.dstMac.count;
    this.dmacS = workers % o.dstMac.count;
    this.dmacI = worker % o.dstMac.count;
    this.sipStart = o.srcIp.start;
    this.sipN = o.srcIp.count;
    this.sipS = workers % o.srcIp.count;
    this.sipI = worker % o.srcIp.count;
    this.sip = (this.sipStart + this.sipI) >>> 0;
    this.dipStart = o.dstIp.start;
    this.dipN = o.dstIp.count;
    this.dipS = workers % o.dstIp.count;
    this.dipI = worker % o.dstIp.count;
    this.dip = (this.dipStart + this.dipI) >>> 0;
    this.spStart = o.srcPort.start;
    this.spN = o.srcPort.count;
    this.spS = workers % o.srcPort.count;
    this.spI = worker % o.srcPort.count;
    this.sp = this.spStart + this.spI;
    this.dpStart = o.dstPort.start;
    this.dpN = o.dstPort.count;
    this.dpS = workers % o.dstPort.count;
    this.dpI = worker % o.dstPort.count;
    this.dp = this.dpStart + this.dpI;
    writeMac(this.smac, this.smacStart + this.smacI);
    writeMac(this.dmac, this.dmacStart + this.dmacI);
    let c = IPPROTO_UDP + PKTGEN_MAGIC + this.streamId;
    if (this.ipv6) {
      this.saddr6.set(o.srcIp6.subarray(0, 12));
      this.daddr6.set(o.dstIp6.subarray(0, 12));
      write32(this.saddr6, 12, this.sip);
      write32(this.daddr6, 12, this.dip);
      for (let i = 0; i < 12; i += 2) c += ((this.saddr6[i]! << 8) | this.saddr6[i + 1]!) + ((this.daddr6[i]! << 8) | this.daddr6[i + 1]!);
    }
    this.constSum = c;
  }

  fill(pool: Mempool, bufs: Uint32Array, n: number, nowNs: number): number {
    return this.ipv6 ? this.fill6(pool, bufs, n, nowNs) : this.fill4(pool, bufs, n, nowNs);
  }

  private fill4(pool: Mempool, bufs: Uint32Array, n: number, nowNs: number): number {
    const bytes = pool.bytes;
    const lens = pool.len;
    const tsLo = nowNs >>> 0;
    const tsHi = (nowNs - tsLo) / TWO32;
    const base = this.constSum + (tsHi >>> 16) + (tsHi & 0xffff) + (tsLo >>> 16) + (tsLo & 0xffff);
    let total = 0;
    for (let k = 0; k < n; k++) {
      const b = bufs[k]!;
      const off = pool.offset(b);
      const len = this.sizes[this.sizeI]!;
      this.sizeI += this.sizeS;
      if (this.sizeI >= this.sizeN) this.sizeI -= this.sizeN;
      lens[b] = len;
      total += len;
      const seq = this.seq++ >>> 0;
      const sip = this.sip;
      const dip = this.dip;
      const sp = this.sp;
      const dp = this.dp;
      const udpLen = len - 34;
      etherWrite(bytes, off, this.dmac, 0, this.smac, 0, ETHERTYPE_IPV4);
      ipv4Write(bytes, off + 14, 0, len - 14, seq & 0xffff, IPV4_FLAG_DF, 64, IPPROTO_UDP, sip, dip);
      udpWrite(bytes, off + 34, sp, dp, udpLen);
      const sum = base + 2 * udpLen + (sip >>> 16) + (sip & 0xffff) + (dip >>> 16) + (dip & 0xffff) + sp + dp;
      writePayload(bytes, off + PAYLOAD_OFF_V4, off + len, this.streamId, seq, tsHi, tsLo, sum, off + 40);
      this.step();
    }
    return total;
  }

  private fill6(pool: Mempool, bufs: Uint32Array, n: number, nowNs: number): number {
    const bytes = pool.bytes;
    const lens = pool.len;
    const tsLo = nowNs >>> 0;
    const tsHi = (nowNs - tsLo) / TWO32;
    const base = this.constSum + (tsHi >>> 16) + (tsHi & 0xffff) + (tsLo >>> 16) + (tsLo & 0xffff);
    const saddr = this.saddr6;
    const daddr = this.daddr6;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const b = bufs[k]!;
      const off = pool.offset(b);
      const len = this.sizes[this.sizeI]!;
      this.sizeI += this.sizeS;
      if (this.sizeI >= this.sizeN) this.sizeI -= this.sizeN;
      lens[b] = len;
      total += len;
      const seq = this.seq++ >>> 0;
      const sip = this.sip;
      const dip = this.dip;
      const sp = this.sp;
      const dp = this.dp;
      const udpLen = len - 54;
      write32(saddr, 12, sip);
      write32(daddr, 12, dip);
      etherWrite(bytes, off, this.dmac, 0, this.smac, 0, ETHERTYPE_IPV6);
      ipv6Write(bytes, off + 14, 0, 0, udpLen, IPPROTO_UDP, 64, saddr, 0, daddr, 0);
      udpWrite(bytes, off + 54, sp, dp, udpLen);
      const sum = base + 2 * udpLen + (sip >>> 16) + (sip & 0xffff) + (dip >>> 16) + (dip & 0xffff) + sp + dp;
      writePayload(bytes, off + PAYLOAD_OFF_V6, off + len, this.streamId, seq, tsHi, tsLo, sum, off + 60);
      this.step();
    }
    return total;
  }

  /** Every range moves on by its step (1 with one TX thread), each wrapping on its own. */
  private step(): void {
    if (this.smacS !== 0) {
      this.smacI += this.smacS;
      if (this.smacI >= this.smacN) this.smacI -= this.smacN;
      writeMac(this.smac, this.smacStart + this.smacI);
    }
    if (this.dmacS !== 0) {
      this.dmacI += this.dmacS;
      if (this.dmacI >= this.dmacN) this.dmacI -= this.dmacN;
      writeMac(this.dmac, this.dmacStart + this.dmacI);
    }
    if (this.sipS !== 0) {
      this.sipI += this.sipS;
      if (this.sipI >= this.sipN) this.sipI -= this.sipN;
      this.sip = (this.sipStart + this.sipI) >>> 0;
    }
    if (this.dipS !== 0) {
      this.dipI += this.dipS;
      if (this.dipI >= this.dipN) this.dipI -= this.dipN;
      this.dip = (this.dipStart + this.dipI) >>> 0;
    }
    if (this.spS !== 0) {
      this.spI += this.spS;
      if (this.spI >= this.spN) this.spI -= this.spN;
      this.sp = this.spStart + this.spI;
    }
    if (this.dpS !== 0) {
      this.dpI += this.dpS;
      if (this.dpI >= this.dpN) this.dpI -= this.dpN;
      this.dp = this.dpStart + this.dpI;
    }
  }
}

/** pcap replay: the file's frames in order, `loop` times (0: forever), each one copy from a view made at load time. */
export class ReplaySource implements FrameSource {
  readonly total: number;
  readonly meanLen: number;
  readonly maxLen: number;
  private readonly frames: Uint8Array[];
  private readonly lens: Uint32Array;
  private next = 0;

  constructor(frames: Uint8Array[], loop: number) {
    this.frames = frames;
    this.lens = Uint32Array.from(frames.map((f) => f.length));
    this.total = loop === 0 ? Infinity : frames.length * loop;
    let sum = 0;
    let max = 0;
    for (const f of frames) {
      sum += f.length;
      if (f.length > max) max = f.length;
    }
    this.meanLen = sum / frames.length;
    this.maxLen = max;
  }

  fill(pool: Mempool, bufs: Uint32Array, n: number, _nowNs: number): number {
    const bytes = pool.bytes;
    const lens = pool.len;
    const frames = this.frames;
    let total = 0;
    let i = this.next;
    for (let k = 0; k < n; k++) {
      const b = bufs[k]!;
      const len = this.lens[i]!;
      bytes.set(frames[i]!, pool.offset(b));
      lens[b] = len;
      total += len;
      if (++i === frames.length) i = 0;
    }
    this.next = i;
    return total;
  }
}

/**
 * Writes the pktgen payload at `p` (magic, stream, sequence, TX timestamp), zero-fills the frame up to
 * `end`, and stores the UDP checksum at `csumOff`, finished from `sum` (every other word of the pseudo
 * header, UDP header and payload; the zero filler adds nothing). Per packet: no allocation.
 */
function writePayload(bytes: Uint8Array, p: number, end: number, stream: number, seq: number, tsHi: number, tsLo: number, sum: number, csumOff: number): void {
  bytes[p] = PKTGEN_MAGIC >>> 8;
  bytes[p + 1] = PKTGEN_MAGIC & 0xff;
  write16(bytes, p + P_STREAM, stream);
  write32(bytes, p + P_SEQ, seq);
  write32(bytes, p + P_TS_HI, tsHi);
  write32(bytes, p + P_TS_LO, tsLo);
  const fillFrom = p + PAYLOAD_LEN;
  if (end - fillFrom > 24) bytes.fill(0, fillFrom, end);
  else for (let i = fillFrom; i < end; i++) bytes[i] = 0;
  let s = sum + (seq >>> 16) + (seq & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  const c = ~s & 0xffff;
  write16(bytes, csumOff, c === 0 ? 0xffff : c);
}
