// Test frames both sides of the rig can make: frame i of a stream is fully determined by i, so the host
// can check what it captured byte for byte without being told what was sent.
//   size: 60..1514, varying; destination broadcast; source 02:00:00:00:00:01; EtherType 0x88b5 (local
//   experimental: no kernel answers it); payload: i (32 bits, big-endian), then (i + k) & 0xff.
export const TEST_ETHERTYPE = 0x88b5;

export function testFrameSize(i: number): number {
  return 60 + ((i * 7919) % 1455);
}

/** Writes frame i (of `size` bytes, default testFrameSize(i)) into `into` at `off`; returns its length. */
export function writeTestFrame(i: number, into: Uint8Array, off: number, size = testFrameSize(i)): number {
  into.fill(0xff, off, off + 6);
  into.set([0x02, 0, 0, 0, 0, 0x01], off + 6);
  into[off + 12] = TEST_ETHERTYPE >> 8;
  into[off + 13] = TEST_ETHERTYPE & 0xff;
  into[off + 14] = i >>> 24;
  into[off + 15] = (i >>> 16) & 0xff;
  into[off + 16] = (i >>> 8) & 0xff;
  into[off + 17] = i & 0xff;
  for (let k = 18; k < size; k++) into[off + k] = (i + k) & 0xff;
  return size;
}

export function testFrame(i: number, size = testFrameSize(i)): Uint8Array {
  const f = new Uint8Array(size);
  writeTestFrame(i, f, 0, size);
  return f;
}
