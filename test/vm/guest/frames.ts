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

/**
 * Frame i of the checksum-offload stream: Ethernet + IPv4 + UDP (even i) or TCP (odd i) + 32 bytes, with
 * the IPv4 header checksum zeroed and the L4 checksum field holding only the pseudo-header sum: what an app
 * hands a NIC that is to compute both (DPDK's convention). `complete` fills in the real sums instead.
 */
export function offloadFrame(i: number, into: Uint8Array, off: number, net: typeof import("../../../src/index.ts").net, complete = false): { len: number; l4: "udp" | "tcp" } {
  const tcp = (i & 1) === 1;
  const l4Len = (tcp ? 20 : 8) + 32;
  const ip = off + 14;
  const l4 = ip + 20;
  into.fill(0xff, off, off + 6);
  into.set([0x02, 0, 0, 0, 0, 0x01], off + 6);
  into[off + 12] = 0x08;
  into[off + 13] = 0x00;
  net.ipv4Write(into, ip, 0, 20 + l4Len, i & 0xffff, 0x4000, 64, tcp ? 6 : 17, 0xc0000201, 0xc0000202);
  if (tcp) net.tcpWrite(into, l4, 40000 + i, 80, i * 1000, 0, 0x18, 4096);
  else net.udpWrite(into, l4, 40000 + i, 9, l4Len);
  for (let k = 0; k < 32; k++) into[l4 + l4Len - 32 + k] = (i * 3 + k) & 0xff;
  const csumAt = l4 + (tcp ? 16 : 6);
  if (complete) {
    if (tcp) net.tcpUpdateChecksumIpv4(into, ip, l4, l4Len);
    else net.udpUpdateChecksumIpv4(into, ip, l4);
  } else {
    into[ip + 10] = 0;
    into[ip + 11] = 0;
    const seed = net.checksumFold(net.ipv4PseudoSum(into, ip, tcp ? 6 : 17, l4Len));
    into[csumAt] = seed >> 8;
    into[csumAt + 1] = seed & 0xff;
  }
  return { len: 14 + 20 + l4Len, l4: tcp ? "tcp" : "udp" };
}
