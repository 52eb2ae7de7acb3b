/**
 * Big-endian field access on packet bytes: the only way multi-byte header fields are read or written
 * (no DataView on the hot path). Allocation-free; 32-bit reads return unsigned numbers.
 */

/** Reads the big-endian 16-bit word at `off`. */
export function read16(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

/** Writes `value` as a big-endian 16-bit word at `off`. */
export function write16(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 8;
  buf[off + 1] = value;
}

/** Reads the big-endian unsigned 32-bit word at `off`. */
export function read32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/** Writes `value` (unsigned or signed 32-bit) big-endian at `off`. */
export function write32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 24;
  buf[off + 1] = value >>> 16;
  buf[off + 2] = value >>> 8;
  buf[off + 3] = value;
}

/** Copies `len` bytes (a short field: MAC, IPv6 address) from `src[srcOff..]` to `dst[dstOff..]`. Overlap-safe. */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  if (dst === src && dstOff > srcOff && dstOff < srcOff + len) {
    for (let i = len - 1; i >= 0; i--) dst[dstOff + i] = src[srcOff + i];
  } else {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
  }
}

/** True when `a[aOff..aOff+len)` equals `b[bOff..bOff+len)`. */
export function bytesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
