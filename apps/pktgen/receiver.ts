// The RX side: recognises pktgen frames (magic and stream id after the UDP header), checks their IPv4 and
// UDP checksums, and per stream counts received, duplicated and reordered frames with a sliding bitmap of
// the last 2^20 sequence numbers; latency goes into one histogram. Per packet: no allocation.
import { net, type Mempool } from "../../src/index.ts";
import { LatencyHistogram, type LatencySummary } from "./histogram.ts";
import { P_SEQ, P_STREAM, P_TS_HI, P_TS_LO, PAYLOAD_LEN, PAYLOAD_OFF_V4, PAYLOAD_OFF_V6, PKTGEN_MAGIC } from "./payload.ts";

const { read16, read32, ipv4ChecksumOk, udpChecksumOkIpv4, udpChecksumOkIpv6 } = net;

/** Sequence numbers a stream remembers for duplicate detection. */
export const SEQ_WINDOW = 1 << 20;
const WINDOW_MASK = SEQ_WINDOW - 1;
/** Streams tracked at once; frames of further streams count as "other". */
export const MAX_STREAMS = 256;
const TWO32 = 4294967296;
const MAGIC_HI = PKTGEN_MAGIC >>> 8;
const MAGIC_LO = PKTGEN_MAGIC & 0xff;

export class StreamState {
  /** pktgen frames of this stream with good checksums, duplicates included. */
  received = 0;
  /** Distinct sequence numbers received. */
  unique = 0;
  duplicated = 0;
  /** Frames (not duplicates) that arrived after a higher sequence number. */
  reordered = 0;
  /** Highest sequence number seen (unwrapped past 2^32), -1 before the first. */
  highest = -1;
  private readonly bits = new Uint32Array(SEQ_WINDOW / 32);

  constructor(readonly id: number) {}

  track(seq32: number): void {
    this.received++;
    const hi = this.highest;
    // Unwrap: the signed 32-bit distance from the highest seen.
    const seq = hi < 0 ? seq32 : hi + ((seq32 - hi) | 0);
    const bits = this.bits;
    if (seq > hi) {
      this.clearAfter(hi, seq);
      bits[(seq & WINDOW_MASK) >>> 5]! |= 1 << (seq & 31);
      this.highest = seq;
      this.unique++;
    } else if (seq > hi - SEQ_WINDOW && seq >= 0) {
      const w = (seq & WINDOW_MASK) >>> 5;
      const m = 1 << (seq & 31);
      if ((bits[w]! & m) !== 0) {
        this.duplicated++;
      } else {
        bits[w]! |= m;
        this.unique++;
        this.reordered++;
      }
    } else {
      // Older than the window: cannot tell a duplicate; count it as a late frame.
      this.unique++;
      this.reordered++;
    }
  }

  /** Clears the bits of sequence numbers (from, to] (they leave the window as the highest moves up). */
  private clearAfter(from: number, to: number): void {
    const bits = this.bits;
    if (to - from >= SEQ_WINDOW) {
      bits.fill(0);
      return;
    }
    let s = from + 1;
    // Bit by bit up to a word boundary, then whole words, then the rest.
    while (s <= to && (s & 31) !== 0) {
      bits[(s & WINDOW_MASK) >>> 5]! &= ~(1 << (s & 31));
      s++;
    }
    while (to - s >= 31) {
      bits[(s & WINDOW_MASK) >>> 5] = 0;
      s += 32;
    }
    while (s <= to) {
      bits[(s & WINDOW_MASK) >>> 5]! &= ~(1 << (s & 31));
      s++;
    }
  }

  /** Lost frames given how many were sent (default: highest + 1, which cannot see a lost tail). */
  lost(expected: number = this.highest + 1): number {
    return Math.max(0, expected - this.unique);
  }
}

export interface StreamResult {
  id: number;
  received: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Highest sequence number + 1. */
  expected: number;
}

export interface RxResult {
  /** Frames the RX port handed over, of any kind. */
  packets: number;
  bytes: number;
  /** pktgen frames with good checksums (duplicates included), all streams. */
  received: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Frames that are not ours: no pktgen magic, another run's stream, or not IPv4/IPv6 UDP. */
  other: number;
  /** Our frames whose IPv4 header or UDP checksum (or lengths) were wrong; not counted as received. */
  badChecksum: number;
  latencyNs: LatencySummary;
  /** Received frames / RX time (first to last frame). */
  pps: number;
  streams: StreamResult[];
}

export class Receiver {
  packets = 0;
  bytes = 0;
  other = 0;
  badChecksum = 0;
  firstNs = 0;
  lastNs = 0;
  readonly latency = new LatencyHistogram();
  readonly streams: StreamState[] = [];
  private readonly byId: (StreamState | undefined)[] = new Array<StreamState | undefined>(65536).fill(undefined);
  private last: StreamState | undefined;

  /** `ownStream` ≥ 0: only that stream is ours (TX in this process); -1: every pktgen stream. */
  constructor(readonly ownStream: number) {}

  /** Frames of one RX burst, received at `nowNs` (read once per burst). Does not free them. */
  process(pool: Mempool, bufs: Uint32Array, n: number, nowNs: number): void {
    const bytes = pool.bytes;
    const lens = pool.len;
    if (this.packets === 0) this.firstNs = nowNs;
    this.lastNs = nowNs;
    this.packets += n;
    for (let k = 0; k < n; k++) {
      const b = bufs[k]!;
      const off = pool.offset(b);
      const len = lens[b]!;
      this.bytes += len;
      this.frame(bytes, off, len, nowNs);
    }
  }

  private frame(bytes: Uint8Array, off: number, len: number, nowNs: number): void {
    const et = (bytes[off + 12]! << 8) | bytes[off + 13]!;
    let p: number;
    if (et === 0x0800) {
      if (len < PAYLOAD_OFF_V4 + PAYLOAD_LEN || bytes[off + 14] !== 0x45 || bytes[off + 23] !== 17) {
        this.other++;
        return;
      }
      p = off + PAYLOAD_OFF_V4;
    } else if (et === 0x86dd) {
      if (len < PAYLOAD_OFF_V6 + PAYLOAD_LEN || bytes[off + 20] !== 17) {
        this.other++;
        return;
      }
      p = off + PAYLOAD_OFF_V6;
    } else {
      this.other++;
      return;
    }
    if (bytes[p] !== MAGIC_HI || bytes[p + 1] !== MAGIC_LO) {
      this.other++;
      return;
    }
    const id = read16(bytes, p + P_STREAM);
    if (this.ownStream >= 0 && id !== this.ownStream) {
      this.other++;
      return;
    }
    if (!(et === 0x0800 ? checksumsOk4(bytes, off, len) : checksumsOk6(bytes, off, len))) {
      this.badChecksum++;
      return;
    }
    let s = this.last;
    if (s === undefined || s.id !== id) {
      s = this.byId[id];
      if (s === undefined) {
        if (this.streams.length >= MAX_STREAMS) {
          this.other++;
          return;
        }
        s = new StreamState(id);
        this.byId[id] = s;
        this.streams.push(s);
      }
      this.last = s;
    }
    s.track(read32(bytes, p + P_SEQ));
    this.latency.record(nowNs - (read32(bytes, p + P_TS_HI) * TWO32 + read32(bytes, p + P_TS_LO)));
  }

  /** Unique frames of all streams (for "did everything arrive"). */
  unique(): number {
    let u = 0;
    for (const s of this.streams) u += s.unique;
    return u;
  }

  /** Lost so far by the highest sequence numbers seen (frames in flight count too). */
  lostSoFar(): number {
    let l = 0;
    for (const s of this.streams) l += s.lost();
    return l;
  }

  received(): number {
    let r = 0;
    for (const s of this.streams) r += s.received;
    return r;
  }

  /** The result; `sent` (when TX ran in this process) is how many frames of ownStream went out. */
  result(sent?: number): RxResult {
    const streams: StreamResult[] = this.streams.map((s) => {
      const expected = sent !== undefined && s.id === this.ownStream ? sent : s.highest + 1;
      return { id: s.id, received: s.received, lost: s.lost(expected), duplicated: s.duplicated, reordered: s.reordered, expected };
    });
    if (sent !== undefined && sent > 0 && this.ownStream >= 0 && !this.streams.some((s) => s.id === this.ownStream)) {
      streams.unshift({ id: this.ownStream, received: 0, lost: sent, duplicated: 0, reordered: 0, expected: sent });
    }
    const sum = (k: "received" | "lost" | "duplicated" | "reordered"): number => streams.reduce((a, s) => a + s[k], 0);
    const received = sum("received");
    const secs = (this.lastNs - this.firstNs) / 1e9;
    return {
      packets: this.packets,
      bytes: this.bytes,
      received,
      lost: sum("lost"),
      duplicated: sum("duplicated"),
      reordered: sum("reordered"),
      other: this.other,
      badChecksum: this.badChecksum,
      latencyNs: this.latency.summary(),
      pps: secs > 0 ? received / secs : 0,
      streams,
    };
  }
}

/** IPv4 header checksum and lengths, then the UDP checksum over the datagram. */
function checksumsOk4(bytes: Uint8Array, off: number, len: number): boolean {
  const ip = off + 14;
  const total = read16(bytes, ip + 2);
  if (total > len - 14 || total < 20 + 8 + PAYLOAD_LEN) return false;
  if (read16(bytes, ip + 24) !== total - 20) return false;
  return ipv4ChecksumOk(bytes, ip) && udpChecksumOkIpv4(bytes, ip, ip + 20);
}

function checksumsOk6(bytes: Uint8Array, off: number, len: number): boolean {
  const ip = off + 14;
  const plen = read16(bytes, ip + 4);
  if (plen + 40 > len - 14 || plen < 8 + PAYLOAD_LEN) return false;
  if (read16(bytes, ip + 44) !== plen) return false;
  return udpChecksumOkIpv6(bytes, ip, ip + 40);
}
