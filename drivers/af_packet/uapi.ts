// The kernel's AF_PACKET interface (include/uapi/linux/if_packet.h, Documentation/networking/packet_mmap.rst):
// option numbers, status words, and the layouts of the structs we pass or read. x86-64 / little-endian.

export const AF_PACKET = 17;
export const SOCK_RAW = 3;
export const SOL_PACKET = 263;
/** ETH_P_ALL (0x0003) as the network-order u16 that socket() and sockaddr_ll want, read as a little-endian number. */
export const ETH_P_ALL_BE = 0x0300;
export const MSG_DONTWAIT = 0x40;

// Socket options (level SOL_PACKET).
export const PACKET_ADD_MEMBERSHIP = 1;
export const PACKET_DROP_MEMBERSHIP = 2;
export const PACKET_RX_RING = 5;
export const PACKET_STATISTICS = 6;
export const PACKET_VERSION = 10;
export const PACKET_HDRLEN = 11;
export const PACKET_RESERVE = 12;
export const PACKET_TX_RING = 13;
export const PACKET_LOSS = 14;
export const PACKET_VNET_HDR = 15;
export const PACKET_FANOUT = 18;
export const PACKET_TX_HAS_OFF = 19;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;

export const TPACKET_V2 = 1;

// packet_mreq.mr_type
export const PACKET_MR_PROMISC = 1;

// PACKET_FANOUT: value = group id (16 bits) | (mode | flags) << 16.
export const PACKET_FANOUT_HASH = 0;
export const PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;
export const PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;

// tp_status, RX side (the kernel sets USER when a frame is ready; we hand it back with KERNEL).
export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1 << 0;
export const TP_STATUS_LOSING = 1 << 2;
export const TP_STATUS_VLAN_VALID = 1 << 4;
export const TP_STATUS_VLAN_TPID_VALID = 1 << 6;
export const TP_STATUS_CSUM_VALID = 1 << 7;
// tp_status, TX side (we set SEND_REQUEST; the kernel moves it through SENDING back to AVAILABLE).
export const TP_STATUS_AVAILABLE = 0;
export const TP_STATUS_SEND_REQUEST = 1 << 0;
export const TP_STATUS_SENDING = 1 << 1;
export const TP_STATUS_WRONG_FORMAT = 1 << 2;
/** The low bits that say who owns a TX frame; the timestamp bits above them do not (a kernel bug once left them set). */
export const TP_STATUS_TX_OWNER_MASK = TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING | TP_STATUS_WRONG_FORMAT;

/**
 * struct tpacket2_hdr (32 bytes), at the start of every frame:
 *   u32 tp_status @0, u32 tp_len @4, u32 tp_snaplen @8, u16 tp_mac @12, u16 tp_net @14,
 *   u32 tp_sec @16, u32 tp_nsec @20, u16 tp_vlan_tci @24, u16 tp_vlan_tpid @26, u8 tp_padding[4] @28.
 * Indices below are in units of the view: Uint32Array words or Uint16Array halves from the frame start.
 */
export const H32_STATUS = 0;
export const H32_LEN = 1;
export const H32_SNAPLEN = 2;
export const H16_MAC = 6;
export const H16_VLAN_TCI = 12;
export const H16_VLAN_TPID = 13;

export const TPACKET_ALIGNMENT = 16;
export const tpacketAlign = (x: number): number => (x + TPACKET_ALIGNMENT - 1) & ~(TPACKET_ALIGNMENT - 1);
export const SOCKADDR_LL_SIZE = 20;
/** TPACKET2_HDRLEN: the aligned header plus a struct sockaddr_ll. */
export const TPACKET2_HDRLEN = tpacketAlign(32) + SOCKADDR_LL_SIZE;
/** Where a TX frame's data starts without PACKET_TX_HAS_OFF: TPACKET2_HDRLEN - sizeof(sockaddr_ll) = 32. */
export const TX_DATA_OFFSET = TPACKET2_HDRLEN - SOCKADDR_LL_SIZE;

/**
 * struct virtio_net_hdr (10 bytes), in front of a frame's data on a socket with PACKET_VNET_HDR:
 *   u8 flags @0, u8 gso_type @1, le16 hdr_len @2, le16 gso_size @4, le16 csum_start @6, le16 csum_offset @8.
 * All zero but hdr_len means "no offload"; hdr_len says how many bytes the kernel copies into the skb's linear
 * part (the rest it attaches as page fragments of the ring).
 */
export const VNET_HDR_LEN = 10;

/**
 * Where the Ethernet header of an untagged RX frame lands (tp_mac): the kernel puts the network header at
 * TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + reserve (+ 10 with a virtio_net_hdr) = 80 + reserve (+ 10), so the
 * Ethernet header starts 14 bytes before: 66 + reserve (+ 10). The driver reads tp_mac per frame all the same.
 */
export function rxDataOffset(reserve: number, vnet: boolean): number {
  return tpacketAlign(TPACKET2_HDRLEN + 16) + reserve + (vnet ? VNET_HDR_LEN : 0) - 14;
}

/**
 * PACKET_RESERVE that puts the Ethernet header at a multiple of 4 (68 without, 76 with a virtio_net_hdr), so
 * that short frames are copied a 32-bit word at a time.
 */
export const rxReserve = (vnet: boolean): number => (vnet ? 0 : 2);

/** The largest tp_mac any of our RX sockets uses: what a ring frame must hold beyond the frame itself. */
export const RX_DATA_OFFSET = Math.max(rxDataOffset(rxReserve(false), false), rxDataOffset(rxReserve(true), true));

/** struct tpacket_req (16 bytes): u32 tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr. */
export function tpacketReq(blockSize: number, blockNr: number, frameSize: number, frameNr: number): Uint32Array {
  return new Uint32Array([blockSize, blockNr, frameSize, frameNr]);
}

/** struct sockaddr_ll (20 bytes): u16 family, be16 protocol, i32 ifindex, u16 hatype, u8 pkttype, u8 halen, u8 addr[8]. */
export function sockaddrLl(ifindex: number, protocolBe: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_LL_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, AF_PACKET, true);
  dv.setUint16(2, protocolBe, true);
  dv.setInt32(4, ifindex, true);
  return b;
}

/** struct packet_mreq (16 bytes): i32 mr_ifindex, u16 mr_type, u16 mr_alen, u8 mr_address[8]. */
export function packetMreq(ifindex: number, type: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, ifindex, true);
  dv.setUint16(4, type, true);
  return b;
}

/** struct tpacket_stats: u32 tp_packets (drops included), u32 tp_drops. Reading it resets both. */
export const TPACKET_STATS_WORDS = 2;
