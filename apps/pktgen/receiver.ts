// The RX side: recognises pktgen frames (magic and stream id after the UDP header), checks their IPv4 and
// UDP checksums, and per stream counts received, duplicated and reordered frames with a sliding bitmap of
// the last 2^20 sequence numbers; latency goes into one histogram. Per packet: no allocation.
//
// One Receiver per RX queue: with several queues (--queues) RSS spreads a stream's flows over them, and
// the frames of one queue are not comparable in time with another's, so duplicates and reordering are
// counted within each queue. mergeRx() sums the queues' tallies into one result: per stream the highest
// sequence number is the largest any queue saw and the distinct frames are the queues' sum, so loss is
// exact as long as no frame arrived on two queues (a duplicate lands on the queue of its original: same
// flow, same hash).
import { net, type Mempool } from "../../src/index.ts";
import {
  R_BAD_CHECKSUM, R_BYTES, R_FIRST_NS, R_HISTOGRAM, R_LAST_NS, R_LAT_COUNT, R_LAT_MAX, R_LAT_MIN, R_LAT_SUM, R_OTHER, R_PACKETS,
  R_RECEIVED, R_STREAM0, R_STREAMS, S_DUPLICATED, S_HIGHEST, S_ID, S_RECEIVED, S_REORDERED, S_UNIQUE, STREAM_FIELDS, STREAM_SLOTS,
} from "./counters.ts";
import { LatencyHistogram, type LatencySummary } from "./histogram.ts";
import { P_SEQ, P_STREAM, P_TS_HI, P_TS_LO, PAYLOAD_LEN, PAYLOAD_OFF_V4, PAYLOAD_OFF_V6, PKTGEN_MAGIC } from "./payload.ts";

const { read16, read32, ipv4ChecksumOk, udpChecksumOkIpv4, udpChecksumOkIpv6 } = net;

/** Sequence numbers a stream remembers for duplicate detection. */
export const SEQ_WINDOW = 1 << 20;
const WINDOW_MASK = SEQ_WINDOW - 1;
/** Streams tracked at once; frames of further streams count as "other". */
export const MAX_STREAMS = STREAM_SLOTS;
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
  /** Frames sent (TX in this process) or highest sequence number + 1. */
  expected: number;
}

/** One RX queue's counts of our frames (reordering is counted within a queue). */
export interface QueueResult {
  queue: number;
  /** Frames the queue handed over, of any kind. */
  packets: number;
  received: number;
  duplicated: number;
  reordered: number;
}

export interface RxResult {
  /** Frames the RX port handed over, of any kind. */
  packets: number;
  bytes: number;
  /** pktgen frames with good checksums (duplicates included), all streams. */
  received: number;
  lost: number;
  duplicated: number;
  /** Summed over the RX queues, each counting its own frames: frames of one stream on different queues are not compared. */
  reordered: number;
  /** Frames that are not ours: no pktgen magic, another run's stream, or not IPv4/IPv6 UDP. */
  other: number;
  /** Our frames whose IPv4 header or UDP checksum (or lengths) were wrong; not counted as received. */
  badChecksum: number;
  latencyNs: LatencySummary;
  /** Received frames / RX time (first to last frame). */
  pps: number;
  streams: StreamResult[];
  /** Per RX queue polled (one unless --queues). */
  queues: QueueResult[];
}

/** One stream as one receiver saw it. */
export interface StreamTally {
  id: number;
  received: number;
  unique: number;
  duplicated: number;
  reordered: number;
  highest: number;
}

/** Everything one receiver (one RX queue) counted: what mergeRx() sums. */
export interface RxTally {
  packets: number;
  bytes: number;
  other: number;
  badChecksum: number;
  firstNs: number;
  lastNs: number;
  streams: StreamTally[];
  latency: LatencyHistogram;
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

  /**
   * `ownStream` ≥ 0: only streams ownStream … ownStream + ownCount - 1 (modulo 2^16) are ours (TX in this
   * process, one stream per TX thread); -1: every pktgen stream.
   */
  constructor(readonly ownStream: number, readonly ownCount = 1) {}

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
    if (this.ownStream >= 0 && ((id - this.ownStream) & 0xffff) >= this.ownCount) {
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

  received(): number {
    let r = 0;
    for (const s of this.streams) r += s.received;
    return r;
  }

  /** Writes everything counted so far into an RX block of RunCounters (counters.ts); once per slice, not per packet. */
  publish(block: Float64Array): void {
    block[R_PACKETS] = this.packets;
    block[R_BYTES] = this.bytes;
    block[R_RECEIVED] = this.received();
    block[R_OTHER] = this.other;
    block[R_BAD_CHECKSUM] = this.badChecksum;
    block[R_FIRST_NS] = this.firstNs;
    block[R_LAST_NS] = this.lastNs;
    const h = this.latency;
    block.set(h.counts, R_HISTOGRAM);
    block[R_LAT_COUNT] = h.count;
    block[R_LAT_SUM] = h.sum;
    block[R_LAT_MIN] = h.min;
    block[R_LAT_MAX] = h.max;
    const streams = this.streams;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i]!;
      const at = R_STREAM0 + STREAM_FIELDS * i;
      block[at + S_ID] = s.id;
      block[at + S_RECEIVED] = s.received;
      block[at + S_UNIQUE] = s.unique;
      block[at + S_DUPLICATED] = s.duplicated;
      block[at + S_REORDERED] = s.reordered;
      block[at + S_HIGHEST] = s.highest;
    }
    block[R_STREAMS] = streams.length; // last: a reader never sees a stream count ahead of the slots
  }

  tally(): RxTally {
    return {
      packets: this.packets, bytes: this.bytes, other: this.other, badChecksum: this.badChecksum, firstNs: this.firstNs, lastNs: this.lastNs,
      streams: this.streams.map((s) => ({ id: s.id, received: s.received, unique: s.unique, duplicated: s.duplicated, reordered: s.reordered, highest: s.highest })),
      latency: this.latency,
    };
  }

  /** The result; `sent` (when TX ran in this process) is how many frames of ownStream went out. */
  result(sent?: number): RxResult {
    return mergeRx([this.tally()], sent !== undefined && this.ownStream >= 0 ? [{ id: this.ownStream, sent }] : undefined);
  }
}

/**
 * Sums the tallies of the receivers of a run (one per RX queue, in queue order) into one result. `sent`:
 * the streams sent in this process and how many frames each sent (their loss is counted against that, and
 * they come first, even when nothing of them arrived); any other stream is expected up to its highest
 * sequence number + 1 (a lost tail is not seen). Per stream: the highest sequence number is the largest
 * any queue saw, the distinct frames the queues' sum.
 */
export function mergeRx(tallies: readonly RxTally[], sent?: readonly { id: number; sent: number }[]): RxResult {
  const byId = new Map<number, StreamTally>();
  const sentById = new Map<number, number>();
  for (const s of sent ?? []) {
    sentById.set(s.id, (sentById.get(s.id) ?? 0) + s.sent);
    if (!byId.has(s.id)) byId.set(s.id, { id: s.id, received: 0, unique: 0, duplicated: 0, reordered: 0, highest: -1 });
  }
  const latency = new LatencyHistogram();
  let packets = 0;
  let bytes = 0;
  let other = 0;
  let badChecksum = 0;
  let firstNs = Infinity;
  let lastNs = 0;
  const queues: QueueResult[] = [];
  for (const [q, t] of tallies.entries()) {
    packets += t.packets;
    bytes += t.bytes;
    other += t.other;
    badChecksum += t.badChecksum;
    if (t.packets > 0) {
      firstNs = Math.min(firstNs, t.firstNs);
      lastNs = Math.max(lastNs, t.lastNs);
    }
    latency.add(t.latency);
    const queue: QueueResult = { queue: q, packets: t.packets, received: 0, duplicated: 0, reordered: 0 };
    for (const s of t.streams) {
      let m = byId.get(s.id);
      if (m === undefined) {
        m = { id: s.id, received: 0, unique: 0, duplicated: 0, reordered: 0, highest: -1 };
        byId.set(s.id, m);
      }
      m.received += s.received;
      m.unique += s.unique;
      m.duplicated += s.duplicated;
      m.reordered += s.reordered;
      if (s.highest > m.highest) m.highest = s.highest;
      queue.received += s.received;
      queue.duplicated += s.duplicated;
      queue.reordered += s.reordered;
    }
    queues.push(queue);
  }
  const streams: StreamResult[] = [];
  for (const m of byId.values()) {
    const out = sentById.get(m.id);
    if (m.received === 0 && !(out! > 0)) continue; // a sender that sent nothing
    const expected = out ?? m.highest + 1;
    streams.push({ id: m.id, received: m.received, lost: Math.max(0, expected - m.unique), duplicated: m.duplicated, reordered: m.reordered, expected });
  }
  const sum = (k: "received" | "lost" | "duplicated" | "reordered"): number => streams.reduce((a, s) => a + s[k], 0);
  const received = sum("received");
  const secs = lastNs > firstNs ? (lastNs - firstNs) / 1e9 : 0;
  return {
    packets,
    bytes,
    received,
    lost: sum("lost"),
    duplicated: sum("duplicated"),
    reordered: sum("reordered"),
    other,
    badChecksum,
    latencyNs: latency.summary(),
    pps: secs > 0 ? received / secs : 0,
    streams,
    queues,
  };
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
