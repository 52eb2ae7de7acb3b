/**
 * ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) echo. `off` is where the ICMP header starts; `len` is the
 * ICMP message length (header + data). ICMPv4's checksum covers the message only; ICMPv6's also
 * covers the IPv6 pseudo-header, so its functions take the IPv6 header offset. Allocation-free.
 *
 * ```
 *  0      1      2          4        6         8
 *  | type | code | checksum | id     | seq     | data   (echo request / reply)
 * ```
 */
import { read16, write16 } from "./bytes.ts";
import { checksumAdjust16, checksumFold, checksumSum } from "./checksum.ts";
import { IPPROTO_ICMPV6 } from "./ipv4.ts";
import { ipv6PseudoSum } from "./ipv6.ts";

export const ICMP_HDR_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

export const ICMPV6_DEST_UNREACH = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_NEIGHBOR_SOLICIT = 135;
export const ICMPV6_NEIGHBOR_ADVERT = 136;

/**
 * Writes an echo header (`type` = ICMP_ECHO_REQUEST / _REPLY or the ICMPv6 ones) with a zero
 * checksum: write the data, then `icmpUpdateChecksum` / `icmp6UpdateChecksum`. Returns 8.
 */
export function icmpWriteEcho(buf: Uint8Array, off: number, type: number, id: number, seq: number): number {
  buf[off] = type;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  write16(buf, off + 4, id);
  write16(buf, off + 6, seq);
  return ICMP_HDR_LEN;
}

export function icmpType(buf: Uint8Array, off: number): number {
  return buf[off];
}
export function icmpCode(buf: Uint8Array, off: number): number {
  return buf[off + 1];
}
export function icmpChecksumField(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2);
}
export function icmpEchoId(buf: Uint8Array, off: number): number {
  return read16(buf, off + 4);
}
export function icmpEchoSeq(buf: Uint8Array, off: number): number {
  return read16(buf, off + 6);
}

// ---- ICMPv4 -------------------------------------------------------------------------------------

/** The checksum the ICMPv4 message of `len` bytes at `off` should carry. Buffer untouched. */
export function icmpChecksum(buf: Uint8Array, off: number, len: number): number {
  return ~checksumFold(checksumSum(buf, off, len) - read16(buf, off + 2)) & 0xffff;
}
export function icmpUpdateChecksum(buf: Uint8Array, off: number, len: number): number {
  const c = icmpChecksum(buf, off, len);
  write16(buf, off + 2, c);
  return c;
}
export function icmpChecksumOk(buf: Uint8Array, off: number, len: number): boolean {
  return checksumFold(checksumSum(buf, off, len)) === 0xffff;
}

/**
 * Turns an echo request into the echo reply in place: type 8 → 0 (or 128 → 129 for ICMPv6) with
 * the checksum patched incrementally (RFC 1624). The caller swaps the addresses. Returns the new type.
 */
export function icmpEchoRequestToReply(buf: Uint8Array, off: number): number {
  const type = buf[off];
  const reply = type === ICMPV6_ECHO_REQUEST ? ICMPV6_ECHO_REPLY : ICMP_ECHO_REPLY;
  const code = buf[off + 1];
  buf[off] = reply;
  write16(buf, off + 2, checksumAdjust16(read16(buf, off + 2), (type << 8) | code, (reply << 8) | code));
  return reply;
}

// ---- ICMPv6 -------------------------------------------------------------------------------------

/** The checksum the ICMPv6 message of `len` bytes at `icmpOff` should carry inside the IPv6 packet at `ipOff`. */
export function icmp6Checksum(buf: Uint8Array, ipOff: number, icmpOff: number, len: number): number {
  const sum = checksumSum(buf, icmpOff, len, ipv6PseudoSum(buf, ipOff, IPPROTO_ICMPV6, len)) - read16(buf, icmpOff + 2);
  return ~checksumFold(sum) & 0xffff;
}
export function icmp6UpdateChecksum(buf: Uint8Array, ipOff: number, icmpOff: number, len: number): number {
  const c = icmp6Checksum(buf, ipOff, icmpOff, len);
  write16(buf, icmpOff + 2, c);
  return c;
}
export function icmp6ChecksumOk(buf: Uint8Array, ipOff: number, icmpOff: number, len: number): boolean {
  return checksumFold(checksumSum(buf, icmpOff, len, ipv6PseudoSum(buf, ipOff, IPPROTO_ICMPV6, len))) === 0xffff;
}
