/**
 * ARP for IPv4 over Ethernet (RFC 826). `off` is where the ARP header starts (after the Ethernet
 * header). IPv4 addresses are unsigned 32-bit numbers; MACs are 6 bytes at an offset of some array.
 *
 * ```
 *  0      2      4    5    6    8      14     18     24     28
 *  | htype| ptype| hlen|plen| op | sha  | spa  | tha  | tpa  |
 * ```
 */
import { copyBytes, read16, read32, write16, write32 } from "./bytes.ts";
import { ETHERTYPE_IPV4 } from "./ether.ts";

export const ARP_HDR_LEN = 28;
export const ARP_HTYPE_ETHER = 1;
export const ARP_OP_REQUEST = 1;
export const ARP_OP_REPLY = 2;

/** Offsets of the address fields inside the ARP header. */
export const ARP_SHA_OFF = 8;
export const ARP_SPA_OFF = 14;
export const ARP_THA_OFF = 18;
export const ARP_TPA_OFF = 24;

/**
 * Writes an IPv4-over-Ethernet ARP packet; returns 28. `tha` may be any array when `op` is a
 * request (pass the sender's MAC array and the target MAC bytes are then zeroed: see `arpWriteRequest`).
 */
export function arpWrite(
  buf: Uint8Array,
  off: number,
  op: number,
  sha: Uint8Array,
  shaOff: number,
  spa: number,
  tha: Uint8Array,
  thaOff: number,
  tpa: number,
): number {
  write16(buf, off, ARP_HTYPE_ETHER);
  write16(buf, off + 2, ETHERTYPE_IPV4);
  buf[off + 4] = 6;
  buf[off + 5] = 4;
  write16(buf, off + 6, op);
  copyBytes(buf, off + ARP_SHA_OFF, sha, shaOff, 6);
  write32(buf, off + ARP_SPA_OFF, spa);
  copyBytes(buf, off + ARP_THA_OFF, tha, thaOff, 6);
  write32(buf, off + ARP_TPA_OFF, tpa);
  return ARP_HDR_LEN;
}

/** "Who has `tpa`? Tell `spa`": a request with an all-zero target MAC; returns 28. */
export function arpWriteRequest(
  buf: Uint8Array,
  off: number,
  sha: Uint8Array,
  shaOff: number,
  spa: number,
  tpa: number,
): number {
  arpWrite(buf, off, ARP_OP_REQUEST, sha, shaOff, spa, sha, shaOff, tpa);
  for (let i = 0; i < 6; i++) buf[off + ARP_THA_OFF + i] = 0;
  return ARP_HDR_LEN;
}

/** "`spa` is at `sha`", sent to (`tha`, `tpa`); returns 28. */
export function arpWriteReply(
  buf: Uint8Array,
  off: number,
  sha: Uint8Array,
  shaOff: number,
  spa: number,
  tha: Uint8Array,
  thaOff: number,
  tpa: number,
): number {
  return arpWrite(buf, off, ARP_OP_REPLY, sha, shaOff, spa, tha, thaOff, tpa);
}

/**
 * Turns the request at `off` into the reply that `myMac` (owner of the requested address) sends:
 * op = reply, target = old sender, sender = (`myMac`, old target IP). Ethernet header untouched.
 */
export function arpRequestToReply(buf: Uint8Array, off: number, myMac: Uint8Array, myMacOff: number = 0): void {
  const tpa = read32(buf, off + ARP_TPA_OFF);
  write16(buf, off + 6, ARP_OP_REPLY);
  copyBytes(buf, off + ARP_THA_OFF, buf, off + ARP_SHA_OFF, 6);
  copyBytes(buf, off + ARP_TPA_OFF, buf, off + ARP_SPA_OFF, 4);
  copyBytes(buf, off + ARP_SHA_OFF, myMac, myMacOff, 6);
  write32(buf, off + ARP_SPA_OFF, tpa);
}

export function arpHtype(buf: Uint8Array, off: number): number {
  return read16(buf, off);
}
export function arpPtype(buf: Uint8Array, off: number): number {
  return read16(buf, off + 2);
}
export function arpHlen(buf: Uint8Array, off: number): number {
  return buf[off + 4];
}
export function arpPlen(buf: Uint8Array, off: number): number {
  return buf[off + 5];
}
export function arpOp(buf: Uint8Array, off: number): number {
  return read16(buf, off + 6);
}
/** Sender protocol (IPv4) address. */
export function arpSpa(buf: Uint8Array, off: number): number {
  return read32(buf, off + ARP_SPA_OFF);
}
/** Target protocol (IPv4) address. */
export function arpTpa(buf: Uint8Array, off: number): number {
  return read32(buf, off + ARP_TPA_OFF);
}
/** Copies the sender hardware address into `out[outOff..]`. */
export function arpGetSha(buf: Uint8Array, off: number, out: Uint8Array, outOff: number = 0): void {
  copyBytes(out, outOff, buf, off + ARP_SHA_OFF, 6);
}
/** Copies the target hardware address into `out[outOff..]`. */
export function arpGetTha(buf: Uint8Array, off: number, out: Uint8Array, outOff: number = 0): void {
  copyBytes(out, outOff, buf, off + ARP_THA_OFF, 6);
}

/** True for htype Ethernet, ptype IPv4, hlen 6, plen 4 (the only ARP this module builds). */
export function arpIsEtherIpv4(buf: Uint8Array, off: number): boolean {
  return (
    read16(buf, off) === ARP_HTYPE_ETHER &&
    read16(buf, off + 2) === ETHERTYPE_IPV4 &&
    buf[off + 4] === 6 &&
    buf[off + 5] === 4
  );
}
