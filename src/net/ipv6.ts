/**
 * IPv6 fixed header (RFC 8200). `off` is where the IPv6 header starts. Addresses are 16 bytes at an
 * offset of some array. Per-packet functions are allocation-free; `parseIpv6` / `ipv6ToString` are
 * for setup and logging.
 *
 * ```
 *  0                    4              6       7         8      24     40
 *  |ver:4|tc:8|flow:20  | payload len  | next  | hop lim | src  | dst  |
 * ```
 */
import { BdkError } from "../sys/errors.ts";
import { bytesEqual, copyBytes, read16, write16 } from "./bytes.ts";
import { checksumSum } from "./checksum.ts";

export const IPV6_HDR_LEN = 40;
export const IPV6_ADDR_LEN = 16;
export const IPV6_SRC_OFF = 8;
export const IPV6_DST_OFF = 24;

/** Next-header values that are extension headers or L4 protocols often met. */
export const IPV6_NEXT_HOP_BY_HOP = 0;
export const IPV6_NEXT_ROUTING = 43;
export const IPV6_NEXT_FRAGMENT = 44;
export const IPV6_NEXT_NONE = 59;
export const IPV6_NEXT_DEST_OPTS = 60;

/**
 * Writes the 40-byte header; returns 40. `payloadLen` excludes the 40 header bytes. Addresses are
 * copied from `src[srcOff..+16)` and `dst[dstOff..+16)`.
 */
export function ipv6Write(
  buf: Uint8Array,
  off: number,
  trafficClass: number,
  flowLabel: number,
  payloadLen: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): number {
  buf[off] = 0x60 | ((trafficClass >>> 4) & 0x0f);
  buf[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f);
  buf[off + 2] = flowLabel >>> 8;
  buf[off + 3] = flowLabel;
  write16(buf, off + 4, payloadLen);
  buf[off + 6] = nextHeader;
  buf[off + 7] = hopLimit;
  copyBytes(buf, off + IPV6_SRC_OFF, src, srcOff, 16);
  copyBytes(buf, off + IPV6_DST_OFF, dst, dstOff, 16);
  return IPV6_HDR_LEN;
}

export function ipv6Version(buf: Uint8Array, off: number): number {
  return buf[off] >>> 4;
}
export function ipv6TrafficClass(buf: Uint8Array, off: number): number {
  return ((buf[off] & 0x0f) << 4) | (buf[off + 1] >>> 4);
}
export function ipv6FlowLabel(buf: Uint8Array, off: number): number {
  return ((buf[off + 1] & 0x0f) << 16) | (buf[off + 2] << 8) | buf[off + 3];
}
export function ipv6PayloadLen(buf: Uint8Array, off: number): number {
  return read16(buf, off + 4);
}
export function ipv6NextHeader(buf: Uint8Array, off: number): number {
  return buf[off + 6];
}
export function ipv6HopLimit(buf: Uint8Array, off: number): number {
  return buf[off + 7];
}
/** Copies the source address into `out[outOff..+16)`. */
export function ipv6GetSrc(buf: Uint8Array, off: number, out: Uint8Array, outOff: number = 0): void {
  copyBytes(out, outOff, buf, off + IPV6_SRC_OFF, 16);
}
/** Copies the destination address into `out[outOff..+16)`. */
export function ipv6GetDst(buf: Uint8Array, off: number, out: Uint8Array, outOff: number = 0): void {
  copyBytes(out, outOff, buf, off + IPV6_DST_OFF, 16);
}
export function ipv6SetSrc(buf: Uint8Array, off: number, addr: Uint8Array, addrOff: number = 0): void {
  copyBytes(buf, off + IPV6_SRC_OFF, addr, addrOff, 16);
}
export function ipv6SetDst(buf: Uint8Array, off: number, addr: Uint8Array, addrOff: number = 0): void {
  copyBytes(buf, off + IPV6_DST_OFF, addr, addrOff, 16);
}
export function ipv6SetPayloadLen(buf: Uint8Array, off: number, len: number): void {
  write16(buf, off + 4, len);
}
export function ipv6SetHopLimit(buf: Uint8Array, off: number, hopLimit: number): void {
  buf[off + 7] = hopLimit;
}

/** True when 16 bytes at `aOff` of `a` equal 16 bytes at `bOff` of `b`. */
export function ipv6AddrEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return bytesEqual(a, aOff, b, bOff, 16);
}

/** ff00::/8 */
export function ipv6AddrIsMulticast(buf: Uint8Array, addrOff: number): boolean {
  return buf[addrOff] === 0xff;
}

/** Version 6 and the payload within the `len` bytes available at `off`. */
export function ipv6IsValid(buf: Uint8Array, off: number, len: number): boolean {
  return len >= IPV6_HDR_LEN && buf[off] >>> 4 === 6 && read16(buf, off + 4) + IPV6_HDR_LEN <= len;
}

/**
 * Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer packet of `l4Len` bytes
 * with next header `nextHeader`, taking src and dst from the IPv6 header at `off`.
 */
export function ipv6PseudoSum(buf: Uint8Array, off: number, nextHeader: number, l4Len: number): number {
  return checksumSum(buf, off + IPV6_SRC_OFF, 32) + (l4Len >>> 16) + (l4Len & 0xffff) + nextHeader;
}

// ---- setup-time helpers -------------------------------------------------------------------------

function badIpv6(text: string): BdkError {
  return new BdkError(
    `invalid IPv6 address ${JSON.stringify(text)}: expected eight groups of 1-4 hex digits separated by ":" ` +
      `(one "::" may stand for a run of zero groups; the last 32 bits may be dotted IPv4) like fd00::1`,
  );
}

/** Parses an IPv6 address (RFC 4291 §2.2 text forms) into `out[outOff..+16)`; throws a BdkError on bad input. */
export function parseIpv6Into(text: string, out: Uint8Array, outOff: number = 0): void {
  const s = text.trim();
  const halves = s.split("::");
  if (halves.length > 2 || s.length === 0) throw badIpv6(text);
  const groups: number[][] = [];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h]!;
    const g: number[] = [];
    if (half.length > 0) {
      const parts = half.split(":");
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        const last = h === halves.length - 1 && i === parts.length - 1;
        if (last && p.includes(".")) {
          let v4: number;
          try {
            v4 = parseDotted(p);
          } catch {
            throw badIpv6(text);
          }
          g.push(v4 >>> 16, v4 & 0xffff);
        } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
          g.push(parseInt(p, 16));
        } else {
          throw badIpv6(text);
        }
      }
    }
    groups.push(g);
  }
  const head = groups[0]!;
  const tail = groups.length === 2 ? groups[1]! : [];
  const n = head.length + tail.length;
  if (groups.length === 1 ? n !== 8 : n > 7) throw badIpv6(text);
  const words = new Array<number>(8).fill(0);
  for (let i = 0; i < head.length; i++) words[i] = head[i]!;
  for (let i = 0; i < tail.length; i++) words[8 - tail.length + i] = tail[i]!;
  for (let i = 0; i < 8; i++) write16(out, outOff + 2 * i, words[i]!);
}

function parseDotted(p: string): number {
  const parts = p.split(".");
  if (parts.length !== 4) throw new Error("bad");
  let v = 0;
  for (const q of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(q) || Number(q) > 255) throw new Error("bad");
    v = v * 256 + Number(q);
  }
  return v;
}

/** Parses an IPv6 address into a new 16-byte array; throws a BdkError naming the bad input. */
export function parseIpv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  parseIpv6Into(text, out, 0);
  return out;
}

/**
 * Formats 16 bytes at `off` in the RFC 5952 canonical form: lower case, no leading zeros, the
 * longest run (first on a tie) of two or more zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d.
 */
export function ipv6ToString(buf: Uint8Array, off: number = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(read16(buf, off + 2 * i));
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) => w.slice(a, b).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
