// 8254x / 82574 registers and bits by their datasheet names. Sections cite the PCI/PCI-X Family of Gigabit
// Ethernet Controllers Software Developer's Manual (8254x SDM, rev. 4.0) and the 82574 GbE Controller
// Datasheet (rev. 3.4); where both have a register, the offsets agree.

// General (SDM 13.4)
export const CTRL = 0x0000;
export const STATUS = 0x0008;
export const EECD = 0x0010;
export const EERD = 0x0014;
export const CTRL_EXT = 0x0018;
export const MDIC = 0x0020;
// Interrupts (SDM 13.4.17–13.4.21)
export const ICR = 0x00c0;
export const ITR = 0x00c4;
export const ICS = 0x00c8;
export const IMS = 0x00d0;
export const IMC = 0x00d8;
/** 82574 only: interrupt vector allocation for MSI-X (82574 datasheet 10.2.4.9). */
export const IVAR = 0x00e4;
// Receive (SDM 13.4.22–13.4.37)
export const RCTL = 0x0100;
export const RDBAL = 0x2800;
export const RDBAH = 0x2804;
export const RDLEN = 0x2808;
export const RDH = 0x2810;
export const RDT = 0x2818;
export const RDTR = 0x2820;
export const RXDCTL = 0x2828;
export const RADV = 0x282c;
/** Queue n's receive registers are RDBAL + n × 0x100 (82574: two queues). */
export const RX_QUEUE_STRIDE = 0x100;
export const RXCSUM = 0x5000;
export const RFCTL = 0x5008;
export const MTA = 0x5200;
export const MTA_WORDS = 128;
export const RAL0 = 0x5400;
export const RAH0 = 0x5404;
export const VFTA = 0x5600;
export const VFTA_WORDS = 128;
/** 82574: multiple receive queues command (RSS), redirection table, RSS key (82574 datasheet 10.2.5.14–10.2.5.16). */
export const MRQC = 0x5818;
export const RETA = 0x5c00;
export const RSSRK = 0x5c80;
// Transmit (SDM 13.4.33–13.4.44)
export const TCTL = 0x0400;
export const TIPG = 0x0410;
export const TDBAL = 0x3800;
export const TDBAH = 0x3804;
export const TDLEN = 0x3808;
export const TDH = 0x3810;
export const TDT = 0x3818;
export const TIDV = 0x3820;
export const TXDCTL = 0x3828;
export const TADV = 0x382c;
export const TX_QUEUE_STRIDE = 0x100;
/** 82574: transmit arbitration count; bit 10 must stay set or the queue never transmits (82574 datasheet 10.2.6.11). */
export const TARC0 = 0x3840;
/** VLAN Ether type (SDM 13.4.4). */
export const VET = 0x0038;

// CTRL bits (SDM 13.4.1)
export const CTRL_FD = 1 << 0;
export const CTRL_LRST = 1 << 3;
export const CTRL_ASDE = 1 << 5;
export const CTRL_SLU = 1 << 6;
export const CTRL_ILOS = 1 << 7;
export const CTRL_RST = 1 << 26;
export const CTRL_VME = 1 << 30;
export const CTRL_PHY_RST = 1 << 31;

// STATUS bits (SDM 13.4.2)
export const STATUS_FD = 1 << 0;
export const STATUS_LU = 1 << 1;
export const STATUS_SPEED_SHIFT = 6;

// Interrupt causes (SDM 13.4.17)
export const ICR_TXDW = 1 << 0;
export const ICR_LSC = 1 << 2;
export const ICR_RXDMT0 = 1 << 4;
export const ICR_RXO = 1 << 6;
export const ICR_RXT0 = 1 << 7;
/** 82574: the causes of the two RX queues in MSI-X mode. */
export const ICR_RXQ0 = 1 << 20;
export const ICR_RXQ1 = 1 << 21;

// RCTL bits (SDM 13.4.22)
export const RCTL_EN = 1 << 1;
export const RCTL_SBP = 1 << 2;
export const RCTL_UPE = 1 << 3;
export const RCTL_MPE = 1 << 4;
export const RCTL_LPE = 1 << 5;
export const RCTL_BAM = 1 << 15;
export const RCTL_BSIZE_SHIFT = 16;
export const RCTL_VFE = 1 << 18;
export const RCTL_BSEX = 1 << 25;
export const RCTL_SECRC = 1 << 26;

// TCTL bits (SDM 13.4.33)
export const TCTL_EN = 1 << 1;
export const TCTL_PSP = 1 << 3;
export const TCTL_CT_SHIFT = 4;
export const TCTL_COLD_SHIFT = 12;

// RXCSUM (SDM 13.4.37; 82574 10.2.5.1)
export const RXCSUM_IPOFLD = 1 << 8;
export const RXCSUM_TUOFLD = 1 << 9;
export const RXCSUM_PCSD = 1 << 13;

// Legacy descriptors, 16 bytes (SDM 3.2.3 receive, 3.3.3 transmit): four 32-bit words.
//   RX: [0..1] buffer address; [2] length (15:0), checksum (31:16); [3] status (7:0), errors (15:8), special (31:16)
//   TX: [0..1] buffer address; [2] length (15:0), CSO (23:16), CMD (31:24); [3] STA (7:0), CSS (15:8), special (31:16)
export const DESC_BYTES = 16;
export const RXD_STAT_DD = 1 << 0;
export const RXD_STAT_EOP = 1 << 1;
export const RXD_STAT_IXSM = 1 << 2;
export const RXD_STAT_VP = 1 << 3;
export const RXD_STAT_UDPCS = 1 << 4;
export const RXD_STAT_TCPCS = 1 << 5;
export const RXD_STAT_IPCS = 1 << 6;
export const RXD_ERR_TCPE = 1 << 13; // errors byte bit 5, in word 3
export const RXD_ERR_IPE = 1 << 14; // errors byte bit 6
export const RXD_ERR_FRAME = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 12) | (1 << 15); // CE, SE, SEQ, CXE, RXE
export const TXD_CMD_EOP = 1 << 24;
export const TXD_CMD_IFCS = 1 << 25;
export const TXD_CMD_RS = 1 << 27;
export const TXD_CMD_VLE = 1 << 30;
export const TXD_STAT_DD = 1 << 0;
// Extended TX descriptors (SDM 3.3.6 context, 3.3.7 data): DEXT in the command, DTYP in bits 23:20 of word 2,
// the data descriptor's POPTS in bits 15:8 of word 3.
export const TXD_CMD_DEXT = 1 << 29;
export const TXD_DTYP_DATA = 1 << 20;
export const TXD_POPTS_IXSM = 1 << 0;
export const TXD_POPTS_TXSM = 1 << 1;
/** The context descriptor's TUCMD (bits 31:24 of word 2). */
export const TUCMD_TCP = 1 << 0;
export const TUCMD_IP = 1 << 1;
export const TUCMD_RS = 1 << 3;
export const TUCMD_DEXT = 1 << 5;

// 82574 extended RX descriptors (82574 datasheet 7.1.5.2), 16 bytes. Read format: [0..1] buffer address,
// [2..3] zero. Write-back: [0] MRQ (RSS type 3:0), [1] RSS hash (or IP id and checksum), [2] extended status
// (7:0 as the legacy status byte) and errors (31:24 as the legacy errors byte), [3] length (15:0), VLAN (31:16).
export const RFCTL_EXTEN = 1 << 15;
export const ERXD_ERR_FRAME = (1 << 24) | (1 << 25) | (1 << 26) | (1 << 28) | (1 << 31);
export const ERXD_ERR_TCPE = 1 << 29;
export const ERXD_ERR_IPE = 1 << 30;
// RSS (82574 datasheet 7.1.12, 10.2.5.14-16): MRQC enable and hash fields; RETA entries are bytes whose bit 7
// picks queue 1; the key is ten little-endian words.
export const MRQC_RSS_ENABLE = 1;
export const MRQC_TCP_IPV4 = 1 << 16;
export const MRQC_IPV4 = 1 << 17;
export const MRQC_IPV6 = 1 << 20;
export const MRQC_TCP_IPV6 = 1 << 21;
export const RETA_ENTRIES = 128;
export const RSS_KEY_BYTES = 40;

// MDIC (SDM 13.4.6): PHY registers through the MAC.
export const MDIC_DATA_MASK = 0xffff;
export const MDIC_REG_SHIFT = 16;
export const MDIC_PHY_SHIFT = 21;
export const MDIC_OP_WRITE = 1 << 26;
export const MDIC_OP_READ = 2 << 26;
export const MDIC_READY = 1 << 28;
export const MDIC_ERROR = 1 << 30;
/** PHY control register and its bits (SDM 13.5.1). */
export const PHY_CTRL = 0;
export const PHY_CTRL_RESTART_AN = 1 << 9;
export const PHY_CTRL_AN_ENABLE = 1 << 12;

/** Statistics registers (SDM 13.7), clear on read; names as DPDK's em PMD reports them where it has them. */
export const HW_COUNTERS = [
  { name: "rx_crc_errors", offset: 0x4000 },
  { name: "rx_align_errors", offset: 0x4004 },
  { name: "rx_symbol_errors", offset: 0x4008 },
  { name: "rx_errors", offset: 0x400c },
  { name: "rx_missed_packets", offset: 0x4010 },
  { name: "tx_single_collisions", offset: 0x4014 },
  { name: "tx_excessive_collisions", offset: 0x4018 },
  { name: "tx_multiple_collisions", offset: 0x401c },
  { name: "tx_late_collisions", offset: 0x4020 },
  { name: "tx_total_collisions", offset: 0x4028 },
  { name: "tx_deferred", offset: 0x4030 },
  { name: "rx_length_errors", offset: 0x4040 },
  { name: "rx_xon_packets", offset: 0x4048 },
  { name: "tx_xon_packets", offset: 0x404c },
  { name: "rx_xoff_packets", offset: 0x4050 },
  { name: "tx_xoff_packets", offset: 0x4054 },
  { name: "rx_size_64_packets", offset: 0x405c },
  { name: "rx_size_65_to_127_packets", offset: 0x4060 },
  { name: "rx_size_128_to_255_packets", offset: 0x4064 },
  { name: "rx_size_256_to_511_packets", offset: 0x4068 },
  { name: "rx_size_512_to_1023_packets", offset: 0x406c },
  { name: "rx_size_1024_to_max_packets", offset: 0x4070 },
  { name: "rx_good_packets_hw", offset: 0x4074 },
  { name: "rx_broadcast_packets", offset: 0x4078 },
  { name: "rx_multicast_packets", offset: 0x407c },
  { name: "tx_good_packets_hw", offset: 0x4080 },
  { name: "rx_good_bytes_hw", offset: 0x4088, wide: true },
  { name: "tx_good_bytes_hw", offset: 0x4090, wide: true },
  { name: "rx_no_buffer_count", offset: 0x40a0 },
  { name: "rx_undersize_errors", offset: 0x40a4 },
  { name: "rx_fragment_errors", offset: 0x40a8 },
  { name: "rx_oversize_errors", offset: 0x40ac },
  { name: "rx_jabber_errors", offset: 0x40b0 },
  { name: "rx_total_bytes", offset: 0x40c0, wide: true },
  { name: "tx_total_bytes", offset: 0x40c8, wide: true },
  { name: "rx_total_packets", offset: 0x40d0 },
  { name: "tx_total_packets", offset: 0x40d4 },
  { name: "tx_multicast_packets", offset: 0x40f0 },
  { name: "tx_broadcast_packets", offset: 0x40f4 },
  { name: "tx_tso_packets", offset: 0x40f8 },
] as const;
