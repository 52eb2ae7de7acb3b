/**
 * IPv4 header (RFC 791). `off` is where the IP header starts. Addresses are unsigned 32-bit numbers
 * (10.0.0.1 = 0x0a000001). Per-packet functions are allocation-free; `parseIpv4` / `ipv4ToString`
 * are for setup and logging.
 *
 * ```
 *  0       1      2             4       6             8     9      10       12    16    20
 *  |ver|ihl| tos  | total length | id    | flags|frag  | ttl | proto| csum   | src | dst |
 * ```
 */
import { BdkError } from "../sys/errors.ts";
import { read16, read32, write16, write32 } from "./bytes.ts";
import { checksumAdjust16, checksumAdjust32, checksumFold, checksumSum } from "./checksum.ts";

/** Header length without options. */
export const IPV4_HDR_LEN = 20;
export const IPV4_MAX_HDR_LEN = 60;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** Flag bits of the 16-bit flags/fragment-offset field. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
/** Fragment offset mask (in 8-byte units). */
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

/**
 * Writes a 20-byte header (no options) with its checksum; returns 20. `flagsFrag` is the raw
 * flags/fragment-offset word (e.g. `IPV4_FLAG_DF`). `totalLen` counts header and payload.
 */
export function ipv4Write(
  buf: Uint8Array,
  off: number,
  tos: number,
  totalLen: number,
  id: number,
  flagsFrag: number,
  ttl: number,
  proto: number,
  src: number,
  dst: number,
): number {
  buf[off] = 0x45;
  buf[off + 1] = tos;
  write16(buf, off + 2, totalLen);
  write16(buf, off + 4, id);
  write16(buf, off + 6, flagsFrag);
  buf[off + 8] = ttl;
  buf[off + 9] = proto;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  write32(buf, off + 12, src);
  write32(buf, off + 16, dst);
  write16(buf, off + 10, ~checksumFold(checksumSum(buf, off, IPV4_HDR_LEN)) & 0xffff);
  return IPV4_HDR_LEN;
}

// ---- readers ------------------------------------------------------------------------------------

export function ipv4Version(buf: Uint8Array, off: number): number {
  return buf[off] >>> 4;
}
/** Header length in 32-bit words (5..15). */
export function ipv4Ihl(buf: Uint8Array, off: number): number {
  return buf[off] & 0x0f;
}
/** Header length in bytes (20..60). */
export function ipv4HdrLen(buf: Uint8Array, off: number): number {
  return (buf[off] & 0x0f) << 2;
}
export function ipv4Tos(buf: Uint8Array, off: number): number {
  return buf[off + 1];
}
export function ipv4Dscp(buf: Uint8Array, off: number): number {
  return buf[off + 1] >>> 2;
}
export function ipv4Ecn(buf: Uint8Array, off: number): number {
  return buf[off + 1] & 3;
}
export function ipv4TotalLen(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2);
}
export function ipv4Id(buf: Uint8Array, off: number): number {
  return read16(buf, off + 4);
}
/** The raw flags/fragment-offset word. */
export function ipv4FlagsFrag(buf: Uint8Array, off: number): number {
  return read16(buf, off + 6);
}
export function ipv4DontFragment(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x40) !== 0;
}
export function ipv4MoreFragments(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x20) !== 0;
}
/** Fragment offset in bytes (the field is in 8-byte units). */
export function ipv4FragOffset(buf: Uint8Array, off: number): number {
  return (read16(buf, off + 6) & IPV4_FRAG_OFFSET_MASK) << 3;
}
/** True for any fragment (MF set or a non-zero offset). */
export function ipv4IsFragment(buf: Uint8Array, off: number): boolean {
  return (read16(buf, off + 6) & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK)) !== 0;
}
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + 8];
}
export function ipv4Proto(buf: Uint8Array, off: number): number {
  return buf[off + 9];
}
/** The header checksum field as stored. */
export function ipv4HdrChecksum(buf: Uint8Array, off: number): number {
  return read16(buf, off + 10);
}
export function ipv4Src(buf: Uint8Array, off: number): number {
  return read32(buf, off + 12);
}
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return read32(buf, off + 16);
}
/** Offset of the L4 header (after options). */
export function ipv4PayloadOffset(buf: Uint8Array, off: number): number {
  return off + ((buf[off] & 0x0f) << 2);
}
/** Payload length from the header: total length minus header length. */
export function ipv4PayloadLen(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2) - ((buf[off] & 0x0f) << 2);
}

/**
 * Sanity check of a received header against the `len` bytes available at `off`: version 4,
 * IHL >= 5, header within the total length, total length within `len`. Does not check the checksum.
 */
export function ipv4IsValid(buf: Uint8Array, off: number, len: number): boolean {
  if (len < IPV4_HDR_LEN) return false;
  const vihl = buf[off];
  const hl = (vihl & 0x0f) << 2;
  if (vihl >>> 4 !== 4 || hl < IPV4_HDR_LEN) return false;
  const total = read16(buf, off + 2);
  return total >= hl && total <= len;
}

// ---- writers ------------------------------------------------------------------------------------

export function ipv4SetTotalLen(buf: Uint8Array, off: number, totalLen: number): void {
  write16(buf, off + 2, totalLen);
}
export function ipv4SetId(buf: Uint8Array, off: number, id: number): void {
  write16(buf, off + 4, id);
}
export function ipv4SetTtl(buf: Uint8Array, off: number, ttl: number): void {
  buf[off + 8] = ttl;
}
export function ipv4SetSrc(buf: Uint8Array, off: number, src: number): void {
  write32(buf, off + 12, src);
}
export function ipv4SetDst(buf: Uint8Array, off: number, dst: number): void {
  write32(buf, off + 16, dst);
}

// ---- checksum -----------------------------------------------------------------------------------

/**
 * Computes the header checksum of the header at `off` (IHL honoured) as if its checksum field were
 * zero. Does not modify the buffer.
 */
export function ipv4Checksum(buf: Uint8Array, off: number): number {
  const hl = (buf[off] & 0x0f) << 2;
  const sum = checksumSum(buf, off, hl) - read16(buf, off + 10);
  return ~checksumFold(sum) & 0xffff;
}

/** Recomputes and stores the header checksum; returns it. */
export function ipv4UpdateChecksum(buf: Uint8Array, off: number): number {
  const c = ipv4Checksum(buf, off);
  write16(buf, off + 10, c);
  return c;
}

/** True when the stored header checksum is correct (the sum over the header folds to 0xffff). */
export function ipv4ChecksumOk(buf: Uint8Array, off: number): boolean {
  return checksumFold(checksumSum(buf, off, (buf[off] & 0x0f) << 2)) === 0xffff;
}

/**
 * Decrements the TTL and patches the checksum incrementally (RFC 1624), as a router does.
 * Returns the new TTL (0 means the packet must be dropped / answered with Time Exceeded).
 */
export function ipv4DecTtl(buf: Uint8Array, off: number): number {
  const ttl = buf[off + 8];
  if (ttl === 0) return 0;
  const proto = buf[off + 9];
  const oldWord = (ttl << 8) | proto;
  buf[off + 8] = ttl - 1;
  write16(buf, off + 10, checksumAdjust16(read16(buf, off + 10), oldWord, oldWord - 0x100));
  return ttl - 1;
}

/** Rewrites the source address and patches the header checksum incrementally (NAT). */
export function ipv4RewriteSrc(buf: Uint8Array, off: number, src: number): void {
  const old = read32(buf, off + 12);
  write32(buf, off + 12, src);
  write16(buf, off + 10, checksumAdjust32(read16(buf, off + 10), old, src >>> 0));
}

/** Rewrites the destination address and patches the header checksum incrementally (NAT). */
export function ipv4RewriteDst(buf: Uint8Array, off: number, dst: number): void {
  const old = read32(buf, off + 16);
  write32(buf, off + 16, dst);
  write16(buf, off + 10, checksumAdjust32(read16(buf, off + 10), old, dst >>> 0));
}

/**
 * Unfolded sum of the IPv4 pseudo-header (RFC 768 / RFC 793) for an L4 segment of `l4Len` bytes
 * with protocol `proto`, taking src and dst from the IP header at `off`.
 */
export function ipv4PseudoSum(buf: Uint8Array, off: number, proto: number, l4Len: number): number {
  return checksumSum(buf, off + 12, 8) + proto + l4Len;
}

// ---- setup-time helpers -------------------------------------------------------------------------

/**
 * Parses dotted-quad "10.0.0.1" into an unsigned 32-bit number. Strict: four decimal numbers 0-255
 * without leading zeros (no octal or hex forms). Throws a BdkError (a user's error) naming the bad input.
 */
export function parseIpv4(text: string): number {
  const parts = text.trim().split(".");
  let v = 0;
  let ok = parts.length === 4;
  for (let i = 0; ok && i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) ok = false;
    else v = v * 256 + Number(p);
  }
  if (!ok) {
    throw new BdkError(
      `invalid IPv4 address ${JSON.stringify(text)}: expected four decimal numbers 0-255 like 10.0.0.1`,
    );
  }
  return v;
}

/** "10.0.0.1" from an unsigned 32-bit number. */
export function ipv4ToString(addr: number): string {
  return `${(addr >>> 24) & 0xff}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}
