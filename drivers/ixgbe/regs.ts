// Intel 82599 10 GbE Controller registers and bits by their datasheet names (Intel 82599 10 GbE Controller
// Datasheet, section 8.2.3 register descriptions). Offsets were checked against Linux's
// drivers/net/ethernet/intel/ixgbe/ixgbe_type.h and DPDK's drivers/net/ixgbe/base/ixgbe_type.h; where the
// 82599 also answers at an 82598-compatible alias (SRRCTL 0x2100, RAL 0x5400, MRQC 0x5818), the names here
// use the 82599's own address and the alias is noted.
import type { HwCounter } from "../intel/hwstats.ts";

// General (8.2.3.1)
export const CTRL = 0x00000;
export const STATUS = 0x00008;
export const CTRL_EXT = 0x00018;
/** PCIe master disable (5.2.5.3.2): stop issuing DMA before a reset; STATUS.GIO then clears. */
export const CTRL_GIO_DIS = 1 << 2;
export const CTRL_LRST = 1 << 3;
export const CTRL_RST = 1 << 26;
export const CTRL_EXT_NS_DIS = 1 << 16;
/** The driver has taken the device (8.2.3.1.3; Linux IXGBE_CTRL_EXT_DRV_LOAD): firmware leaves it alone. */
export const CTRL_EXT_DRV_LOAD = 1 << 28;
/** PCIe master enable status (8.2.3.1.2): 1 while the function may still issue requests. */
export const STATUS_GIO = 1 << 19;
// EEPROM/Flash control (8.2.3.2.1)
export const EEC = 0x10010;
export const EEC_PRES = 1 << 8;
/** EEPROM auto-read done: set by hardware once the EEPROM has been read after a reset. */
export const EEC_ARD = 1 << 9;

// Interrupts (8.2.3.5)
export const EICR = 0x00800;
export const EICS = 0x00808;
export const EIAC = 0x00810;
export const EIMS = 0x00880;
export const EIMC = 0x00888;
export const EIAM = 0x00890;
export const GPIE = 0x00898;
/** The extended mask registers (8.2.3.5) of MSI-X vectors 0–63 (two of each). */
export const EIMS_EX = (i: number): number => 0x00aa0 + 4 * i;
export const EIMC_EX = (i: number): number => 0x00ab0 + 4 * i;
export const EICR_RTX_QUEUE = 0xffff;
/** GPIE (8.2.3.5.18): MSI-X mode, other-causes clear disable, auto-mask enable, PBA support (Linux's IXGBE_GPIE_*). */
export const GPIE_MSIX_MODE = 1 << 4;
export const GPIE_OCD = 1 << 5;
export const GPIE_EIAME = 1 << 30;
export const GPIE_PBA_SUPPORT = 1 << 31;
/** Interrupt throttle of MSI-X vector n (8.2.3.5.12): 0x820 + 4n for n ≤ 23, then 0x12300 + 4(n − 24); 0 = not throttled. */
export const EITR = (n: number): number => (n <= 23 ? 0x00820 + 4 * n : 0x12300 + 4 * (n - 24));
/**
 * Interrupt vector allocation (8.2.3.5.16): IVAR(n) routes, byte by byte, RX queue 2n, TX queue 2n, RX queue
 * 2n + 1, TX queue 2n + 1 to an MSI-X vector (bits 5:0), bit 7 of each byte making it valid.
 */
export const IVAR = (n: number): number => 0x00900 + 4 * n;
/** IVAR_MISC (8.2.3.5.17): byte 1 routes the "other" causes (link status change …), byte 0 the TCP timer. */
export const IVAR_MISC = 0x00a00;
export const IVAR_VALID = 0x80;
export const EICR_LSC = 1 << 20;
/** EIMC bits 30:0 exist (bit 31 is reserved). */
export const EIMC_ALL = 0x7fffffff;

// MAC (8.2.3.22)
export const HLREG0 = 0x04240;
export const HLREG0_TXCRCEN = 1 << 0;
export const HLREG0_RXCRCSTRP = 1 << 1;
export const HLREG0_JUMBOEN = 1 << 2;
export const HLREG0_TXPADEN = 1 << 10;
export const HLREG0_LPBK = 1 << 15;
/** Max frame size (MFS, bits 31:16, in bytes including the CRC); the 82598 called it MHADD. */
export const MAXFRS = 0x04268;
export const MAXFRS_MFS_SHIFT = 16;
export const AUTOC = 0x042a0;
export const AUTOC_FLU = 1 << 0;
export const AUTOC_RESTART_AN = 1 << 12;
export const AUTOC_LMS_SHIFT = 13;
export const AUTOC_LMS_MASK = 7 << AUTOC_LMS_SHIFT;
/** Link mode select values (8.2.3.22.19). */
export const LMS_1G_NO_AN = 0;
export const LMS_10G_NO_AN = 1;
export const LMS_1G_AN = 2;
export const LMS_10G_SERIAL = 3;
export const LMS_KX4_KX_KR_AN = 4;
export const LMS_SGMII = 5;
export const LMS_KX4_KX_KR_1G_AN = 6;
export const LINKS = 0x042a4;
export const LINKS_UP = 1 << 30;
export const LINKS_SPEED_SHIFT = 28;
export const LINKS_SPEED_MASK = 3 << LINKS_SPEED_SHIFT;
/** LINKS.LINK_SPEED values (bits 29:28). */
export const LINKS_SPEED_100M = 1;
export const LINKS_SPEED_1G = 2;
export const LINKS_SPEED_10G = 3;

// Receive (8.2.3.7 filters, 8.2.3.8 DMA)
export const RXCTRL = 0x03000;
export const RXCTRL_RXEN = 1 << 0;
export const RDRXCTL = 0x02f00;
export const RDRXCTL_CRCSTRIP = 1 << 1;
/** DMA initialization done (read only), set by hardware after a reset. */
export const RDRXCTL_DMAIDONE = 1 << 3;
/** RSC first-packet size, bits 21:17; 4.6.7 asks software to set it to 0 (its default is 8). */
export const RDRXCTL_RSCFRSTSIZE = 0x1f << 17;
/** RSC coalescing on ACK change and the FCoE write fix: "should be set" (8.2.3.8.8). */
export const RDRXCTL_RSCACKC = 1 << 25;
export const RDRXCTL_FCOE_WRFIX = 1 << 26;
export const RXPBSIZE = (n: number): number => 0x03c00 + 4 * n;
export const PBSIZE_SHIFT = 10; // SIZE in KiB at bits 19:10, for RXPBSIZE and TXPBSIZE
export const RXCSUM = 0x05000;
export const RXCSUM_IPPCSE = 1 << 12;
/** RSS hash (1) instead of the fragment checksum (0) in the RX descriptor's write-back. */
export const RXCSUM_PCSD = 1 << 13;
export const FCTRL = 0x05080;
export const FCTRL_SBP = 1 << 1;
export const FCTRL_MPE = 1 << 8;
export const FCTRL_UPE = 1 << 9;
export const FCTRL_BAM = 1 << 10;
export const VLNCTRL = 0x05088;
export const VLNCTRL_VET = 0xffff;
export const VLNCTRL_VFE = 1 << 30;
export const MCSTCTRL = 0x05090;
export const MCSTCTRL_MO_MASK = 3;
export const MCSTCTRL_MFE = 1 << 2;
export const MTA = 0x05200;
export const MTA_WORDS = 128;
export const VFTA = 0x0a000;
export const VFTA_WORDS = 128;
/** Receive address n (128 of them; n ≤ 15 also answer at 0x5400 + 8n, the 82598's place). */
export const RAL = (n: number): number => 0x0a200 + 8 * n;
export const RAH = (n: number): number => 0x0a204 + 8 * n;
export const RAH_AV = 1 << 31;
/** RSS (7.1.2.8; MRQC 8.2.3.7.12): MRQC also answers at 0x5818; RETA holds 128 one-byte entries in 32 words. */
export const MRQC = 0x0ec80;
export const MRQC_RSSEN = 1; // MRQE = 0001b: RSS only
export const MRQC_IPV4_TCP = 1 << 16;
export const MRQC_IPV4 = 1 << 17;
export const MRQC_IPV6_EX_TCP = 1 << 18;
export const MRQC_IPV6_EX = 1 << 19;
export const MRQC_IPV6 = 1 << 20;
export const MRQC_IPV6_TCP = 1 << 21;
export const MRQC_IPV4_UDP = 1 << 22;
export const MRQC_IPV6_UDP = 1 << 23;
export const MRQC_IPV6_EX_UDP = 1 << 24;
export const RETA = (i: number): number => 0x05c00 + 4 * i;
export const RETA_WORDS = 32;
export const RSSRK = (i: number): number => 0x05c80 + 4 * i;
export const RSSRK_WORDS = 10;
// Security RX path, halted around RXCTRL.RXEN (8.2.3.12.5–6, 4.6.7)
export const SECRXCTRL = 0x08d00;
export const SECRXCTRL_SECRX_DIS = 1 << 0;
export const SECRXCTRL_RX_DIS = 1 << 1;
export const SECRXSTAT = 0x08d04;
export const SECRXSTAT_SECRX_RDY = 1 << 0;

// Per RX queue (8.2.3.8.1–8.2.3.8.7): queues 0–63 at 0x1000 + 0x40n, 64–127 at 0xD000 + 0x40(n − 64).
const rxq = (q: number, reg: number): number => (q < 64 ? 0x01000 + 0x40 * q : 0x0d000 + 0x40 * (q - 64)) + reg;
export const RDBAL = (q: number): number => rxq(q, 0x00);
export const RDBAH = (q: number): number => rxq(q, 0x04);
export const RDLEN = (q: number): number => rxq(q, 0x08);
/** Rx DCA control; queues 0–15 also at 0x2200 + 4n. Bit 12 is reserved, defaults to 1 and must be cleared (4.6.7). */
export const DCA_RXCTRL = (q: number): number => rxq(q, 0x0c);
export const DCA_RXCTRL_BIT12 = 1 << 12;
export const RDH = (q: number): number => rxq(q, 0x10);
/** Split receive control; queues 0–15 also at 0x2100 + 4n (Linux uses that alias). */
export const SRRCTL = (q: number): number => rxq(q, 0x14);
export const RDT = (q: number): number => rxq(q, 0x18);
export const RXDCTL = (q: number): number => rxq(q, 0x28);
export const SRRCTL_BSIZEPACKET_MASK = 0x1f; // KiB, 1–16
export const SRRCTL_BSIZEHEADER_MASK = 0x3f << 8;
export const SRRCTL_DESCTYPE_MASK = 7 << 25;
export const SRRCTL_DESCTYPE_ADV_ONEBUF = 1 << 25;
export const SRRCTL_DROP_EN = 1 << 28;
export const RXDCTL_ENABLE = 1 << 25;
/** VLAN strip for this queue (8.2.3.8.6). */
export const RXDCTL_VME = 1 << 30;

// Transmit (8.2.3.9, 8.2.3.10)
export const DMATXCTL = 0x04a80;
export const DMATXCTL_TE = 1 << 0;
export const DTXMXSZRQ = 0x08100;
export const MTQC = 0x08120;
export const RTTDCS = 0x04900;
export const RTTDCS_ARBDIS = 1 << 6;
export const TXPBSIZE = (n: number): number => 0x0cc00 + 4 * n;
export const TXPBTHRESH = (n: number): number => 0x04950 + 4 * n;
const txq = (q: number, reg: number): number => 0x06000 + 0x40 * q + reg; // 128 queues
export const TDBAL = (q: number): number => txq(q, 0x00);
export const TDBAH = (q: number): number => txq(q, 0x04);
export const TDLEN = (q: number): number => txq(q, 0x08);
export const TDH = (q: number): number => txq(q, 0x10);
export const TDT = (q: number): number => txq(q, 0x18);
export const TXDCTL = (q: number): number => txq(q, 0x28);
export const TXDCTL_PTHRESH_SHIFT = 0; // bits 6:0
export const TXDCTL_HTHRESH_SHIFT = 8; // bits 14:8
export const TXDCTL_WTHRESH_SHIFT = 16; // bits 22:16
export const TXDCTL_THRESH_MASK = 0x7f | (0x7f << 8) | (0x7f << 16);
export const TXDCTL_ENABLE = 1 << 25;

/** Missed packets of packet buffer n (8.2.3.23); without DCB every frame goes through buffer 0. */
export const MPC = (n: number): number => 0x03fa0 + 4 * n;
/**
 * Queue packets received drop count (8.2.3.23, QPRDC[0..15], inside the RX queue register blocks of queues
 * 16–31): frames a queue with SRRCTL.DROP_EN dropped because it had no free descriptor (Linux adds them to
 * rx_no_dma_resources). Such frames never fill the packet buffer, so MPC does not see them.
 */
export const QPRDC = (n: number): number => 0x01430 + 0x40 * n;

/**
 * Statistics registers (8.2.3.23), clear on read, with DPDK's ixgbe xstats names (the good-packet counters
 * carry "_hw" as on e1000, since "rx_good_packets" is the port's own count). Wide ones are low/high pairs.
 */
export const HW_COUNTERS: readonly HwCounter[] = [
  { name: "rx_crc_errors", offset: 0x04000 },
  { name: "rx_illegal_byte_errors", offset: 0x04004 },
  { name: "rx_error_bytes", offset: 0x04008 },
  { name: "rx_mac_short_packet_dropped", offset: 0x04010 },
  { name: "mac_local_errors", offset: 0x04034 },
  { name: "mac_remote_errors", offset: 0x04038 },
  { name: "rx_length_errors", offset: 0x04040 },
  { name: "tx_xon_packets", offset: 0x03f60 },
  { name: "tx_xoff_packets", offset: 0x03f68 },
  { name: "rx_xon_packets", offset: 0x041a4 }, // LXONRXCNT: the 82599's register (LXONRXC 0xCF60 is the 82598's)
  { name: "rx_xoff_packets", offset: 0x041a8 },
  { name: "rx_size_64_packets", offset: 0x0405c },
  { name: "rx_size_65_to_127_packets", offset: 0x04060 },
  { name: "rx_size_128_to_255_packets", offset: 0x04064 },
  { name: "rx_size_256_to_511_packets", offset: 0x04068 },
  { name: "rx_size_512_to_1023_packets", offset: 0x0406c },
  { name: "rx_size_1024_to_max_packets", offset: 0x04070 },
  { name: "rx_good_packets_hw", offset: 0x04074 },
  { name: "rx_broadcast_packets", offset: 0x04078 },
  { name: "rx_multicast_packets", offset: 0x0407c },
  { name: "tx_good_packets_hw", offset: 0x04080 },
  { name: "rx_good_bytes_hw", offset: 0x04088, wide: true },
  { name: "tx_good_bytes_hw", offset: 0x04090, wide: true },
  { name: "rx_total_missed_packets", offset: 0x03fa0 }, // MPC(0)
  { name: "rx_undersize_errors", offset: 0x040a4 },
  { name: "rx_fragment_errors", offset: 0x040a8 },
  { name: "rx_oversize_errors", offset: 0x040ac },
  { name: "rx_jabber_errors", offset: 0x040b0 },
  { name: "rx_management_packets", offset: 0x040b4 },
  { name: "rx_management_dropped", offset: 0x040b8 },
  { name: "tx_management_packets", offset: 0x0cf90 },
  { name: "rx_total_bytes", offset: 0x040c0, wide: true },
  { name: "rx_total_packets", offset: 0x040d0 },
  { name: "tx_total_packets", offset: 0x040d4 },
  { name: "tx_size_64_packets", offset: 0x040d8 },
  { name: "tx_size_65_to_127_packets", offset: 0x040dc },
  { name: "tx_size_128_to_255_packets", offset: 0x040e0 },
  { name: "tx_size_256_to_511_packets", offset: 0x040e4 },
  { name: "tx_size_512_to_1023_packets", offset: 0x040e8 },
  { name: "tx_size_1024_to_max_packets", offset: 0x040ec },
  { name: "tx_multicast_packets", offset: 0x040f0 },
  { name: "tx_broadcast_packets", offset: 0x040f4 },
  { name: "rx_l3_l4_xsum_error", offset: 0x04120 },
  ...Array.from({ length: 16 }, (_, n) => ({ name: `rx_q${n}_no_dma_resources`, offset: QPRDC(n) })),
];

// Advanced RX write-back (7.1.6.2), word 2: extended status in bits 19:0 (DD, EOP, VP, L4CS, IPCS … the same
// places as the 82576's) and extended errors in bits 31:20. Linux's ixgbe_type.h: IXGBE_RXDADV_ERR_RXE
// (0x20000000, "any MAC error": CRC, length, undersize, oversize), _TCPE (L4 checksum) and _IPE.
export const RXDADV_ERR_RXE = 1 << 29;
export const RXDADV_ERR_L4E = 1 << 30;
export const RXDADV_ERR_IPE = 1 << 31;
/** Advanced TX data descriptor, word 3 (7.2.3.2.4): CC, "check context": use the offload context IDX names. */
export const TXD_CC = 1 << 7;
