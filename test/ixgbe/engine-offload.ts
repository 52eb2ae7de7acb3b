// What the 82599 computes on frames, for the descriptor engine (engine.ts): the receive address filter, the
// receive parser (packet type, checksum status, the RSS Toeplitz hash over the fields MRQC enables) and the
// transmit offloads (IPv4 header
// checksum, TCP/UDP checksum from the pseudo-header sum software left in the field, VLAN insertion, TCP
// segmentation). Plain functions over byte arrays; allocation is fine here (test code).
import { checksumFold, checksumSum } from "../../src/net/checksum.ts";
import * as R from "../../drivers/ixgbe/regs.ts";

// RX write-back word 0 (7.1.6.2): packet type bits 16:4 and the RSS type in bits 3:0.
export const PKT_IPV4 = 1 << 4;
export const PKT_IPV6 = 1 << 6;
export const PKT_TCP = 1 << 8;
export const PKT_UDP = 1 << 9;
export const RSS_TYPE = { tcpIpv4: 0x1, ipv4: 0x2, tcpIpv6: 0x3, ipv6: 0x5, udpIpv4: 0x7, udpIpv6: 0x8 } as const;
// RX write-back word 2: status.
export const RXS_DD = 1 << 0;
export const RXS_EOP = 1 << 1;
export const RXS_VP = 1 << 3;
export const RXS_L4CS = 1 << 5;
export const RXS_IPCS = 1 << 6;

/** What the receive parser found in a frame (after any VLAN tag). */
export interface Parsed {
  /** Offset of the L3 header, or -1 when the frame is neither IPv4 nor IPv6. */
  l3: number;
  ipv4: boolean;
  /** L4 protocol (6, 17) and offset, or -1 (not TCP/UDP, or a fragment). */
  proto: number;
  l4: number;
  l4Len: number;
}

const rd16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/**
 * 8.2.3.7.1 and the receive address / multicast table registers: broadcasts with FCTRL.BAM; multicast with
 * FCTRL.MPE or its MTA bit (MCSTCTRL.MFE on, MO = 00b: bits 47:36); unicast with FCTRL.UPE or a valid RAL/RAH.
 */
export function acceptsAddress(reg: (off: number) => number, f: Uint8Array): boolean {
  const fctrl = reg(R.FCTRL);
  if ((f[0]! & 1) !== 0) {
    if (f[0] === 0xff && f[1] === 0xff && f[2] === 0xff && f[3] === 0xff && f[4] === 0xff && f[5] === 0xff) return (fctrl & R.FCTRL_BAM) !== 0;
    if ((fctrl & R.FCTRL_MPE) !== 0) return true;
    if ((reg(R.MCSTCTRL) & R.MCSTCTRL_MFE) === 0) return false;
    const h = ((f[4]! >>> 4) | (f[5]! << 4)) & 0xfff;
    return ((reg(R.MTA + 4 * (h >>> 5)) >>> (h & 31)) & 1) === 1;
  }
  if ((fctrl & R.FCTRL_UPE) !== 0) return true;
  const lo = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
  const hi = f[4]! | (f[5]! << 8);
  for (let n = 0; n < 128; n++) {
    const rah = reg(R.RAH(n));
    if ((rah & R.RAH_AV) !== 0 && (rah & 0xffff) === hi && reg(R.RAL(n)) === lo) return true;
  }
  return false;
}

export function parse(f: Uint8Array, len: number): Parsed {
  const p: Parsed = { l3: -1, ipv4: false, proto: -1, l4: -1, l4Len: 0 };
  if (len < 14) return p;
  let l3 = 14;
  let type = rd16(f, 12);
  if (type === 0x8100 && len >= 18) {
    type = rd16(f, 16);
    l3 = 18;
  }
  if (type === 0x0800 && len >= l3 + 20 && f[l3]! >> 4 === 4) {
    const ihl = (f[l3]! & 0xf) * 4;
    const total = rd16(f, l3 + 2);
    if (ihl < 20 || l3 + total > len || total < ihl) return p;
    Object.assign(p, { l3, ipv4: true });
    const fragment = (rd16(f, l3 + 6) & 0x3fff) !== 0;
    const proto = f[l3 + 9]!;
    if (!fragment && (proto === 6 || proto === 17)) Object.assign(p, { proto, l4: l3 + ihl, l4Len: total - ihl });
  } else if (type === 0x86dd && len >= l3 + 40 && f[l3]! >> 4 === 6) {
    const payload = rd16(f, l3 + 4);
    if (l3 + 40 + payload > len) return p;
    p.l3 = l3;
    const next = f[l3 + 6]!;
    if (next === 6 || next === 17) Object.assign(p, { proto: next, l4: l3 + 40, l4Len: payload });
  }
  return p;
}

/** The pseudo-header sum (RFC 768/793, RFC 8200 §8.1) of the L4 segment `p` describes. */
function pseudoSum(f: Uint8Array, p: Parsed, l4Len: number): number {
  return p.ipv4 ? checksumSum(f, p.l3 + 12, 8, p.proto + l4Len) : checksumSum(f, p.l3 + 8, 32, p.proto + l4Len);
}

/** RX checksum status (7.1.6.2): IPCS and IPE for IPv4 headers, L4CS and L4E for TCP/UDP (a zero UDP checksum is not checked). */
export function rxChecksums(f: Uint8Array, p: Parsed): { status: number; errors: number } {
  let status = 0;
  let errors = 0;
  if (p.ipv4) {
    status |= RXS_IPCS;
    if (checksumFold(checksumSum(f, p.l3, (f[p.l3]! & 0xf) * 4)) !== 0xffff) errors |= R.RXDADV_ERR_IPE;
  }
  if (p.l4 >= 0 && !(p.proto === 17 && rd16(f, p.l4 + 6) === 0)) {
    status |= RXS_L4CS;
    if (checksumFold(checksumSum(f, p.l4, p.l4Len, pseudoSum(f, p, p.l4Len))) !== 0xffff) errors |= R.RXDADV_ERR_L4E;
  }
  return { status, errors };
}

/** Word 0's packet type bits for a parsed frame. */
export function packetType(p: Parsed): number {
  if (p.l3 < 0) return 0;
  return (p.ipv4 ? PKT_IPV4 : PKT_IPV6) | (p.proto === 6 ? PKT_TCP : p.proto === 17 ? PKT_UDP : 0);
}

/** Microsoft's Toeplitz hash of `n` bytes of `data` at `off` under `key` (the 82599's RSS hash, 7.1.2.8.1). */
export function toeplitz(key: Uint8Array, data: Uint8Array, off: number, n: number): number {
  let result = 0;
  let window = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  let next = 32;
  for (let i = 0; i < n; i++) {
    const b = data[off + i]!;
    for (let bit = 7; bit >= 0; bit--) {
      if ((b >> bit) & 1) result ^= window;
      const k = next < key.length * 8 ? (key[next >> 3]! >> (7 - (next & 7))) & 1 : 0;
      window = ((window << 1) | k) >>> 0;
      next++;
    }
  }
  return result >>> 0;
}

/**
 * The RSS hash and type of a frame under MRQC's enabled fields (8.2.3.7.12): addresses, and the ports too when
 * the TCP/UDP field for its family is on. Undefined when nothing applies (then the frame goes to queue 0).
 */
export function rssHash(key: Uint8Array, mrqc: number, f: Uint8Array, p: Parsed): { hash: number; type: number } | undefined {
  if ((mrqc & 0xf) !== R.MRQC_RSSEN || p.l3 < 0) return undefined;
  const addrOff = p.ipv4 ? p.l3 + 12 : p.l3 + 8;
  const addrLen = p.ipv4 ? 8 : 32;
  const tcp = p.ipv4 ? R.MRQC_IPV4_TCP : R.MRQC_IPV6_TCP;
  const udp = p.ipv4 ? R.MRQC_IPV4_UDP : R.MRQC_IPV6_UDP;
  const withPorts = (p.proto === 6 && (mrqc & tcp) !== 0) || (p.proto === 17 && (mrqc & udp) !== 0);
  if (withPorts) {
    const tuple = new Uint8Array(addrLen + 4);
    tuple.set(f.subarray(addrOff, addrOff + addrLen));
    tuple.set(f.subarray(p.l4, p.l4 + 4), addrLen);
    const type = p.proto === 6 ? (p.ipv4 ? RSS_TYPE.tcpIpv4 : RSS_TYPE.tcpIpv6) : p.ipv4 ? RSS_TYPE.udpIpv4 : RSS_TYPE.udpIpv6;
    return { hash: toeplitz(key, tuple, 0, tuple.length), type };
  }
  if ((mrqc & (p.ipv4 ? R.MRQC_IPV4 : R.MRQC_IPV6)) === 0) return undefined;
  return { hash: toeplitz(key, f, addrOff, addrLen), type: p.ipv4 ? RSS_TYPE.ipv4 : RSS_TYPE.ipv6 };
}

/** A TX offload context (7.2.3.2.3), as the engine decoded it from a context descriptor. */
export interface TxContext {
  queue: number;
  idx: number;
  maclen: number;
  iplen: number;
  vlan: number;
  /** TUCMD.IPV4 (else IPv6) and TUCMD.L4T: 0 UDP, 1 TCP, 2 SCTP. */
  ipv4: boolean;
  l4t: number;
  l4len: number;
  mss: number;
}

/** 7.2.4–7.2.5: the IPv4 header checksum (IXSM) and the L4 checksum (TXSM), summed from the L4 header on over the pseudo-header sum software left in the field. */
export function txChecksums(f: Uint8Array, len: number, c: TxContext, ixsm: boolean, txsm: boolean, l4Len = len - c.maclen - c.iplen): void {
  const ip = c.maclen;
  if (ixsm) {
    f[ip + 10] = 0;
    f[ip + 11] = 0;
    const s = ~checksumFold(checksumSum(f, ip, c.iplen)) & 0xffff;
    f[ip + 10] = s >> 8;
    f[ip + 11] = s & 0xff;
  }
  if (txsm) {
    const l4 = ip + c.iplen;
    const at = l4 + (c.l4t === 1 ? 16 : 6);
    let s = ~checksumFold(checksumSum(f, l4, l4Len)) & 0xffff;
    if (c.l4t === 0 && s === 0) s = 0xffff;
    f[at] = s >> 8;
    f[at + 1] = s & 0xff;
  }
}

/**
 * 7.2.4 TCP segmentation: the headers (MACLEN + IPLEN + L4LEN bytes) repeated before each MSS-sized piece of
 * the payload, IPv4 total length / IPv6 payload length and the IPv4 id per segment, the TCP sequence number
 * advanced, FIN and PSH only on the last segment, and the checksums (the TCP field holds the pseudo-header sum
 * without the length, as DPDK asks; each segment's L4 length is added).
 */
export function segment(f: Uint8Array, len: number, c: TxContext, ixsm: boolean): Uint8Array[] {
  const hdr = c.maclen + c.iplen + c.l4len;
  const out: Uint8Array[] = [];
  const ip = c.maclen;
  const tcp = ip + c.iplen;
  const seq0 = ((f[tcp + 4]! << 24) | (f[tcp + 5]! << 16) | (f[tcp + 6]! << 8) | f[tcp + 7]!) >>> 0;
  const id0 = rd16(f, ip + 4);
  const flags = f[tcp + 13]!;
  const seed = rd16(f, tcp + 16);
  for (let at = hdr, n = 0; at < len; at += c.mss, n++) {
    const piece = Math.min(c.mss, len - at);
    const s = new Uint8Array(hdr + piece);
    s.set(f.subarray(0, hdr));
    s.set(f.subarray(at, at + piece), hdr);
    const l4Len = c.l4len + piece;
    if (c.ipv4) {
      const total = c.iplen + l4Len;
      s[ip + 2] = total >> 8;
      s[ip + 3] = total & 0xff;
      const id = (id0 + n) & 0xffff;
      s[ip + 4] = id >> 8;
      s[ip + 5] = id & 0xff;
    } else {
      const payload = c.iplen - 40 + l4Len;
      s[ip + 4] = payload >> 8;
      s[ip + 5] = payload & 0xff;
    }
    const seq = (seq0 + (at - hdr)) >>> 0;
    s.set([seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff], tcp + 4);
    if (at + piece < len) s[tcp + 13] = flags & ~0x09; // FIN and PSH wait for the last segment
    const withLen = checksumFold(seed + l4Len);
    s[tcp + 16] = withLen >> 8;
    s[tcp + 17] = withLen & 0xff;
    txChecksums(s, s.length, c, ixsm && c.ipv4, true, l4Len);
    out.push(s);
  }
  return out;
}
