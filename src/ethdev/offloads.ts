// Offload capabilities and requests as bitmasks, as DPDK's RTE_ETH_{RX,TX}_OFFLOAD_*: a port declares what
// it can do (capabilities().rxOffloads / txOffloads), configure() asks for a subset, and a request the port
// cannot honour is refused by name. Per-packet requests (checksum this frame, insert this tag, segment this
// chain) go in the mempool's txOffload flags of each buffer; per-packet results in its RX flags.

/** RX: strip the 802.1Q tag into the buffer's vlanTci (BUF_VLAN_STRIPPED set). */
export const RX_OFFLOAD_VLAN_STRIP = 1 << 0;
/** RX: report the IPv4 header checksum status in the buffer's flags. */
export const RX_OFFLOAD_IPV4_CKSUM = 1 << 1;
export const RX_OFFLOAD_UDP_CKSUM = 1 << 2;
export const RX_OFFLOAD_TCP_CKSUM = 1 << 3;
/** RX: the RSS hash of each frame in the buffer's rssHash (BUF_RSS_HASH set). */
export const RX_OFFLOAD_RSS_HASH = 1 << 4;
/** RX: frames longer than one buffer arrive as chains (next / nbSegs / pktLen). */
export const RX_OFFLOAD_SCATTER = 1 << 5;
/** RX: drop tagged frames whose VLAN is not in the port's filter table. */
export const RX_OFFLOAD_VLAN_FILTER = 1 << 6;
/** RX: keep the 4-byte FCS at the end of each frame. */
export const RX_OFFLOAD_KEEP_CRC = 1 << 7;

/** TX: insert the buffer's vlanTci as an 802.1Q tag when its txOffload asks (TX_VLAN). */
export const TX_OFFLOAD_VLAN_INSERT = 1 << 0;
export const TX_OFFLOAD_IPV4_CKSUM = 1 << 1;
export const TX_OFFLOAD_UDP_CKSUM = 1 << 2;
export const TX_OFFLOAD_TCP_CKSUM = 1 << 3;
/** TX: TCP segmentation of a chain (l2Len, l3Len, l4Len, tsoSegsz in the head buffer). */
export const TX_OFFLOAD_TCP_TSO = 1 << 4;
/** TX: chains of buffers are accepted (one frame, several segments). */
export const TX_OFFLOAD_MULTI_SEGS = 1 << 5;

export const RX_OFFLOAD_NAMES: Readonly<Record<number, string>> = {
  [RX_OFFLOAD_VLAN_STRIP]: "vlan_strip",
  [RX_OFFLOAD_IPV4_CKSUM]: "ipv4_cksum",
  [RX_OFFLOAD_UDP_CKSUM]: "udp_cksum",
  [RX_OFFLOAD_TCP_CKSUM]: "tcp_cksum",
  [RX_OFFLOAD_RSS_HASH]: "rss_hash",
  [RX_OFFLOAD_SCATTER]: "scatter",
  [RX_OFFLOAD_VLAN_FILTER]: "vlan_filter",
  [RX_OFFLOAD_KEEP_CRC]: "keep_crc",
};

export const TX_OFFLOAD_NAMES: Readonly<Record<number, string>> = {
  [TX_OFFLOAD_VLAN_INSERT]: "vlan_insert",
  [TX_OFFLOAD_IPV4_CKSUM]: "ipv4_cksum",
  [TX_OFFLOAD_UDP_CKSUM]: "udp_cksum",
  [TX_OFFLOAD_TCP_CKSUM]: "tcp_cksum",
  [TX_OFFLOAD_TCP_TSO]: "tcp_tso",
  [TX_OFFLOAD_MULTI_SEGS]: "multi_segs",
};

/** RSS hash types (what fields a port hashes to pick a queue). */
export const RSS_IPV4 = 1 << 0;
export const RSS_IPV4_TCP = 1 << 1;
export const RSS_IPV4_UDP = 1 << 2;
export const RSS_IPV6 = 1 << 3;
export const RSS_IPV6_TCP = 1 << 4;
export const RSS_IPV6_UDP = 1 << 5;

export const RSS_NAMES: Readonly<Record<number, string>> = {
  [RSS_IPV4]: "ipv4", [RSS_IPV4_TCP]: "ipv4_tcp", [RSS_IPV4_UDP]: "ipv4_udp",
  [RSS_IPV6]: "ipv6", [RSS_IPV6_TCP]: "ipv6_tcp", [RSS_IPV6_UDP]: "ipv6_udp",
};

/** "vlan_strip, rss_hash" for a mask (bits without a name as hex). */
export function flagNames(mask: number, names: Readonly<Record<number, string>>): string {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= mask >>> 0; bit = (bit << 1) >>> 0) {
    if ((mask & bit) !== 0) out.push(names[bit] ?? `0x${bit.toString(16)}`);
  }
  return out.length ? out.join(", ") : "none";
}
