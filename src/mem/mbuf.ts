// What the per-buffer metadata arrays of a Mempool hold: RX flags (`flags`), packet types (`packetType`) and
// TX offload requests (`txOffload`). Plain numbers, so that a driver tests a bit without a lookup. Packet
// type values are DPDK's RTE_PTYPE_* ones, so a NIC's packet-type table can be ported from a DPDK driver
// unchanged. Mempool re-exports all of them.

// ---- RX flags: the `flags` array, what a driver learned about a received frame (0 after alloc) ----
// A flag also says when a field is valid (rssHash, vlanTci, packetType): alloc clears the flag, not the field.

/** `rssHash` holds the NIC's RSS hash of the frame. */
export const BUF_RSS_HASH = 1 << 0;
/** The NIC removed the VLAN tag from the frame's bytes; its TCI is in `vlanTci` (always set with BUF_VLAN). */
export const BUF_VLAN_STRIPPED = 1 << 1;
/** The NIC checked the IPv4 header checksum and it is wrong. */
export const BUF_IP_CSUM_BAD = 1 << 2;
/** The NIC checked the TCP/UDP checksum and it is wrong. */
export const BUF_L4_CSUM_BAD = 1 << 3;
/** The NIC checked the IPv4 header checksum and it is right. */
export const BUF_IP_CSUM_GOOD = 1 << 4;
/** The NIC checked the TCP/UDP checksum and it is right. */
export const BUF_L4_CSUM_GOOD = 1 << 5;
/** `vlanTci` holds the frame's VLAN tag (TCI); with BUF_VLAN_STRIPPED the tag is no longer in the bytes. */
export const BUF_VLAN = 1 << 6;
/**
 * `packetType` holds the NIC's classification of the frame. Without it the type is unknown: alloc clears the
 * flags, not packetType (one store less per packet), so read the type through Mempool.packetTypeOf(i).
 */
export const BUF_PTYPE = 1 << 7;
/** The IP checksum verdict: `(flags & BUF_IP_CSUM_MASK) === 0` means not checked (the NIC could not, or was not asked). */
export const BUF_IP_CSUM_MASK = BUF_IP_CSUM_BAD | BUF_IP_CSUM_GOOD;
/** The L4 checksum verdict: `(flags & BUF_L4_CSUM_MASK) === 0` means not checked. */
export const BUF_L4_CSUM_MASK = BUF_L4_CSUM_BAD | BUF_L4_CSUM_GOOD;

// ---- Packet types: the `packetType` array, what the NIC parsed on RX, valid when flags has BUF_PTYPE ----
// One field per layer (bits 0-3: L2, 4-7: L3, 8-11: L4); compare `type & PTYPE_Lx_MASK` with a value.

/** Nothing parsed (a driver or NIC that does not classify frames): what packetTypeOf(i) says without BUF_PTYPE. */
export const PTYPE_UNKNOWN = 0;
/** Ethernet, no VLAN tag left in the frame (an untagged frame, or one whose tag the NIC stripped). */
export const PTYPE_L2_ETHER = 0x1;
/** Ethernet with an 802.1Q tag still in the frame. */
export const PTYPE_L2_ETHER_VLAN = 0x6;
export const PTYPE_L2_MASK = 0xf;
/** IPv4 (DPDK reserves bit 4 for IPv4: `packetType & PTYPE_L3_IPV4` is a test for it). */
export const PTYPE_L3_IPV4 = 0x10;
/** IPv6 (bit 6 likewise). */
export const PTYPE_L3_IPV6 = 0x40;
export const PTYPE_L3_MASK = 0xf0;
export const PTYPE_L4_TCP = 0x100;
export const PTYPE_L4_UDP = 0x200;
/** An IP fragment: no L4 type can be told (a first fragment included). */
export const PTYPE_L4_FRAG = 0x300;
export const PTYPE_L4_ICMP = 0x500;
export const PTYPE_L4_MASK = 0xf00;

// ---- TX offload requests: the `txOffload` array, what a TX driver must ask the NIC to do (0 after alloc) ----
// The header lengths (`l2Len`, `l3Len`, `l4Len`) and `tsoSegsz` are read only when a request here needs them;
// alloc does not reset them, so whoever sets a request sets the lengths it needs too.

/** Compute the IPv4 header checksum (needs l2Len, l3Len; the packet is IPv4: set TX_IPV4 too). */
export const TX_IP_CKSUM = 1 << 0;
/** Compute the TCP checksum (needs l2Len, l3Len; the pseudo-header sum is in the checksum field, as DPDK asks). */
export const TX_TCP_CKSUM = 1 << 1;
/** Compute the UDP checksum (needs l2Len, l3Len; pseudo-header sum in the field likewise). */
export const TX_UDP_CKSUM = 1 << 2;
/** Insert an 802.1Q tag with `vlanTci` (the frame's bytes carry no tag). */
export const TX_VLAN = 1 << 3;
/** TCP segmentation: cut the payload into `tsoSegsz`-byte segments (needs l2Len, l3Len, l4Len; implies the TCP checksum, and IPv4 also wants TX_IP_CKSUM). */
export const TX_TCP_SEG = 1 << 4;
/** The packet is IPv4 (tells the NIC which L3 header the offsets point at). */
export const TX_IPV4 = 1 << 5;
/** The packet is IPv6. */
export const TX_IPV6 = 1 << 6;
