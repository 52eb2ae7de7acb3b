/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Bytes are summed as big-endian 16-bit words; an odd trailing byte is the high byte of a word whose
 * low byte is zero. Sums are kept "unfolded" (a plain non-negative number) so that several pieces
 * (pseudo-header, header, payload) can be added before one fold. Every function here is
 * allocation-free and safe on a per-packet path.
 */

/**
 * Adds the bytes `buf[off .. off+len)` as big-endian 16-bit words to `initial` and returns the
 * unfolded sum. `len` may be odd. Pieces can be chained: `checksumSum(b, o2, l2, checksumSum(b, o1, l1))`
 * is only correct when `l1` is even (an odd piece would shift the following bytes by one).
 */
export function checksumSum(buf: Uint8Array, off: number, len: number, initial: number = 0): number {
  // High and low bytes summed apart stay small integers (no carry handling in the loop).
  let hi = 0;
  let lo = 0;
  let i = off;
  const end = off + len;
  const end16 = off + (len & ~15);
  // 16 bytes per turn: measured ~12% faster than 8 on Bun 1.4 (bench/net.bench.ts).
  while (i < end16) {
    hi += buf[i] + buf[i + 2] + buf[i + 4] + buf[i + 6] + buf[i + 8] + buf[i + 10] + buf[i + 12] + buf[i + 14];
    lo += buf[i + 1] + buf[i + 3] + buf[i + 5] + buf[i + 7] + buf[i + 9] + buf[i + 11] + buf[i + 13] + buf[i + 15];
    i += 16;
  }
  while (i + 1 < end) {
    hi += buf[i];
    lo += buf[i + 1];
    i += 2;
  }
  if (i < end) hi += buf[i];
  return initial + hi * 256 + lo;
}

/** Folds an unfolded sum into 16 bits with end-around carry (not complemented). */
export function checksumFold(sum: number): number {
  while (sum > 0xffffffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The finished checksum: one's complement of the folded sum, 0..0xffff. */
export function checksumFinish(sum: number): number {
  return ~checksumFold(sum) & 0xffff;
}

/** The Internet checksum of `buf[off .. off+len)` plus `initial` (an unfolded sum, e.g. a pseudo-header). */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial: number = 0): number {
  return ~checksumFold(checksumSum(buf, off, len, initial)) & 0xffff;
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word covered by `csum` changed from `oldWord`
 * to `newWord`. HC' = ~(~HC + ~m + m').
 */
export function checksumAdjust16(csum: number, oldWord: number, newWord: number): number {
  const sum = (~csum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~checksumFold(sum) & 0xffff;
}

/**
 * RFC 1624 for a 32-bit field aligned on a 16-bit boundary of the checksummed data (an IPv4
 * address, a TCP sequence number): `oldValue`/`newValue` are unsigned 32-bit numbers.
 */
export function checksumAdjust32(csum: number, oldValue: number, newValue: number): number {
  const sum =
    (~csum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  return ~checksumFold(sum) & 0xffff;
}
