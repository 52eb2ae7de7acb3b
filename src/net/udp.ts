/**
 * UDP (RFC 768) over IPv4 and IPv6. `off` is where the UDP header starts; checksum functions also
 * take the offset of the IP header that carries it (for the pseudo-header). The UDP length field
 * (header + payload) bounds every checksum. Allocation-free.
 *
 * ```
 *  0          2          4        6          8
 *  | src port | dst port | length | checksum | payload
 * ```
 */
import { read16, write16 } from "./bytes.ts";
import { checksumFold, checksumSum } from "./checksum.ts";
import { IPPROTO_UDP, ipv4PseudoSum } from "./ipv4.ts";
import { ipv6PseudoSum } from "./ipv6.ts";

export const UDP_HDR_LEN = 8;

/** Writes the header with a zero checksum (fill it in after the payload); returns 8. `length` includes the header. */
export function udpWrite(buf: Uint8Array, off: number, srcPort: number, dstPort: number, length: number): number {
  write16(buf, off, srcPort);
  write16(buf, off + 2, dstPort);
  write16(buf, off + 4, length);
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  return UDP_HDR_LEN;
}

export function udpSrcPort(buf: Uint8Array, off: number): number {
  return read16(buf, off);
}
export function udpDstPort(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2);
}
/** Header plus payload, in bytes. */
export function udpLength(buf: Uint8Array, off: number): number {
  return read16(buf, off + 4);
}
/** The checksum field as stored (0 = none, allowed over IPv4 only). */
export function udpChecksumField(buf: Uint8Array, off: number): number {
  return read16(buf, off + 6);
}
export function udpSetSrcPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off, port);
}
export function udpSetDstPort(buf: Uint8Array, off: number, port: number): void {
  write16(buf, off + 2, port);
}
export function udpSetLength(buf: Uint8Array, off: number, length: number): void {
  write16(buf, off + 4, length);
}
export function udpSetChecksumField(buf: Uint8Array, off: number, csum: number): void {
  write16(buf, off + 6, csum);
}

/** Sum of the datagram without its checksum field. */
function udpSumNoCsum(buf: Uint8Array, off: number, len: number, initial: number): number {
  return checksumSum(buf, off, len, initial) - read16(buf, off + 6);
}

/** A computed 0 is sent as 0xffff (RFC 768: 0 means "no checksum"). */
function udpFinish(sum: number): number {
  const c = ~checksumFold(sum) & 0xffff;
  return c === 0 ? 0xffff : c;
}

/** The checksum the datagram at `udpOff` should carry inside the IPv4 packet at `ipOff`. Buffer untouched. */
export function udpChecksumIpv4(buf: Uint8Array, ipOff: number, udpOff: number): number {
  const len = read16(buf, udpOff + 4);
  return udpFinish(udpSumNoCsum(buf, udpOff, len, ipv4PseudoSum(buf, ipOff, IPPROTO_UDP, len)));
}

/** The checksum the datagram at `udpOff` should carry inside the IPv6 packet at `ipOff`. Buffer untouched. */
export function udpChecksumIpv6(buf: Uint8Array, ipOff: number, udpOff: number): number {
  const len = read16(buf, udpOff + 4);
  return udpFinish(udpSumNoCsum(buf, udpOff, len, ipv6PseudoSum(buf, ipOff, IPPROTO_UDP, len)));
}

/** Computes and stores the checksum (IPv4); returns it. */
export function udpUpdateChecksumIpv4(buf: Uint8Array, ipOff: number, udpOff: number): number {
  const c = udpChecksumIpv4(buf, ipOff, udpOff);
  write16(buf, udpOff + 6, c);
  return c;
}

/** Computes and stores the checksum (IPv6); returns it. */
export function udpUpdateChecksumIpv6(buf: Uint8Array, ipOff: number, udpOff: number): number {
  const c = udpChecksumIpv6(buf, ipOff, udpOff);
  write16(buf, udpOff + 6, c);
  return c;
}

/** True when the stored checksum is right, or absent (0), which IPv4 allows. */
export function udpChecksumOkIpv4(buf: Uint8Array, ipOff: number, udpOff: number): boolean {
  if (read16(buf, udpOff + 6) === 0) return true;
  const len = read16(buf, udpOff + 4);
  return checksumFold(checksumSum(buf, udpOff, len, ipv4PseudoSum(buf, ipOff, IPPROTO_UDP, len))) === 0xffff;
}

/** True when the stored checksum is right; a zero checksum is invalid over IPv6 (RFC 8200 §8.1). */
export function udpChecksumOkIpv6(buf: Uint8Array, ipOff: number, udpOff: number): boolean {
  if (read16(buf, udpOff + 6) === 0) return false;
  const len = read16(buf, udpOff + 4);
  return checksumFold(checksumSum(buf, udpOff, len, ipv6PseudoSum(buf, ipOff, IPPROTO_UDP, len))) === 0xffff;
}
