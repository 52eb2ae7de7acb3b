// Registers that the 8254x, the 82574 and the 82576 (igb) have at the same offsets with the same bits, by
// their datasheet names: 8254x SDM (PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
// Manual, rev. 4.0), 82574 datasheet (rev. 3.4), 82576 datasheet (rev. 2.63) chapter 8. Chip-specific
// registers stay in drivers/e1000/regs.ts and drivers/igb/regs.ts.

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
// Receive and transmit control, filters (SDM 13.4.22–13.4.44)
export const RCTL = 0x0100;
export const RXCSUM = 0x5000;
export const MTA = 0x5200;
export const MTA_WORDS = 128;
export const RAL0 = 0x5400;
export const RAH0 = 0x5404;
export const VFTA = 0x5600;
export const VFTA_WORDS = 128;
export const TCTL = 0x0400;
export const TIPG = 0x0410;
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
