/**
 * TCP header (RFC 9293) and its checksum over IPv4 and IPv6. `off` is where the TCP header starts;
 * `tcpLen` (header + payload) is not in the TCP header, so checksum functions take it explicitly
 * (for IPv4: total length minus IP header length; for IPv6: the payload length when no extension
 * headers). Sequence and acknowledgment numbers are unsigned 32-bit numbers. Allocation-free.
 *
 * ```
 *  0     2     4     8     12         13     14      16    18     20
 *  | sp  | dp  | seq | ack | doff|rsv | flags| window| csum| urg  | options…
 * ```
 */
import { read16, read32, write16, write32 } from "./bytes.ts";
import { checksumFold, checksumSum } from "./checksum.ts";
import { IPPROTO_TCP, ipv4PseudoSum } from "./ipv4.ts";
import { ipv6PseudoSum } from "./ipv6.ts";

/** Header length without options. */
export const TCP_HDR_LEN = 20;
export const TCP_MAX_HDR_LEN = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/**
 * Writes a header of `hdrLen` bytes (20 + options, a multiple of 4; the caller writes the options
 * after the first 20 bytes) with checksum and urgent pointer zero; returns `hdrLen`.
 */
export function tcpWrite(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  hdrLen: number = TCP_HDR_LEN,
): number {
  write16(buf, off, srcPort);
  write16(buf, off + 2, dstPort);
  write32(buf, off + 4, seq);
  write32(buf, off + 8, ack);
  buf[off + 12] = (hdrLen >>> 2) << 4;
  buf[off + 13] = flags;
  write16(buf, off + 14, window);
  write32(buf, off + 16, 0);
  return hdrLen;
}

export function tcpSrcPort(buf: Uint8Array, off: number): number {
  return read16(buf, off);
}
export function tcpDstPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2);
}
export function tcpSeq(buf: Uint8Array, off: number): number {
  return read32(buf, off + 4);
}
export function tcpAck(buf: Uint8Array, off: number): number {
  return read32(buf, off + 8);
}
/** Header length in bytes (data offset × 4). */
export function tcpHdrLen(buf: Uint8Array, off: number): number {
  return (buf[off + 12] >>> 4) << 2;
}
/** The 8 flag bits CWR..FIN (`TCP_*`). */
export function tcpFlags(buf: Uint8Array, off: number): number {
  return buf[off + 13];
}
export function tcpWindow(buf: Uint8Array, off: number): number {
  return read16(buf, off + 14);
}
export function tcpChecksumField(buf: Uint8Array, off: number): number {
  return read16(buf, off + 16);
}
export function tcpUrgentPtr(buf: Uint8Array, off: number): number {
  return read16(buf, off + 18);
}
export function tcpSetSeq(buf: Uint8Array, off: number, seq: number): void {
  write32(buf, off + 4, seq);
}
export function tcpSetAck(buf: Uint8Array, off: number, ack: number): void {
  write32(buf, off + 8, ack);
}
export function tcpSetFlags(buf: Uint8Array, off: number, flags: number): void {
  buf[off + 13] = flags;
}
export function tcpSetWindow(buf: Uint8Array, off: number, window: number): void {
  write16(buf, off + 14, window);
}
export function tcpSetChecksumField(buf: Uint8Array, off: number, csum: number): void {
  write16(buf, off + 16, csum);
}

/** The checksum the segment (`tcpLen` bytes at `tcpOff`) should carry inside the IPv4 packet at `ipOff`. */
export function tcpChecksumIpv4(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): number {
  const sum = checksumSum(buf, tcpOff, tcpLen, ipv4PseudoSum(buf, ipOff, IPPROTO_TCP, tcpLen)) - read16(buf, tcpOff + 16);
  return ~checksumFold(sum) & 0xffff;
}

/** The checksum the segment should carry inside the IPv6 packet at `ipOff`. */
export function tcpChecksumIpv6(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): number {
  const sum = checksumSum(buf, tcpOff, tcpLen, ipv6PseudoSum(buf, ipOff, IPPROTO_TCP, tcpLen)) - read16(buf, tcpOff + 16);
  return ~checksumFold(sum) & 0xffff;
}

/** Computes and stores the checksum (IPv4); returns it. */
export function tcpUpdateChecksumIpv4(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): number {
  const c = tcpChecksumIpv4(buf, ipOff, tcpOff, tcpLen);
  write16(buf, tcpOff + 16, c);
  return c;
}

/** Computes and stores the checksum (IPv6); returns it. */
export function tcpUpdateChecksumIpv6(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): number {
  const c = tcpChecksumIpv6(buf, ipOff, tcpOff, tcpLen);
  write16(buf, tcpOff + 16, c);
  return c;
}

export function tcpChecksumOkIpv4(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): boolean {
  return checksumFold(checksumSum(buf, tcpOff, tcpLen, ipv4PseudoSum(buf, ipOff, IPPROTO_TCP, tcpLen))) === 0xffff;
}

export function tcpChecksumOkIpv6(buf: Uint8Array, ipOff: number, tcpOff: number, tcpLen: number): boolean {
  return checksumFold(checksumSum(buf, tcpOff, tcpLen, ipv6PseudoSum(buf, ipOff, IPPROTO_TCP, tcpLen))) === 0xffff;
}
