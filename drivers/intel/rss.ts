// Receive-side scaling pieces every Intel chip of bdk uses the same way: the default Toeplitz key and the
// packing of a redirection table into registers of four one-byte entries.

/** The key of Microsoft's RSS verification suite, which NIC drivers use as their default. */
export const DEFAULT_RSS_KEY = new Uint8Array([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
  0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
]);

/**
 * A redirection table as 32-bit register values, entry 4i + k in byte k of word i; `entry` turns a queue
 * number into the byte the chip wants (the queue itself on 82576/82599; bit 7 for queue 1 on the 82574).
 */
export function retaBytes(reta: readonly number[], write: (word: number, value: number) => void, entry: (queue: number) => number = (q) => q): void {
  for (let i = 0; i < reta.length / 4; i++) {
    let word = 0;
    for (let k = 0; k < 4; k++) word |= (entry(reta[4 * i + k]!) & 0xff) << (8 * k);
    write(i, word >>> 0);
  }
}

/** The key as ten little-endian 32-bit register values (RSSRK on every one of these chips). */
export function rssKeyWords(key: Uint8Array, write: (word: number, value: number) => void): void {
  for (let i = 0; i < key.length / 4; i++) write(i, (key[4 * i]! | (key[4 * i + 1]! << 8) | (key[4 * i + 2]! << 16) | (key[4 * i + 3]! << 24)) >>> 0);
}
