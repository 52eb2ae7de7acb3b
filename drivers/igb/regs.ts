// 82576 (igb) registers and bits by their datasheet names (Intel 82576EB GbE Controller Datasheet, rev. 2.63,
// chapter 8). What the 82576 shares with the 8254x/82574 at the same offsets (CTRL, STATUS, MDIC, ICR/IMS/IMC,
// RCTL, TCTL, MTA, RAL0/RAH0, VFTA, the statistics block …) is in drivers/intel/gbe-regs.ts, re-exported here.
export * from "../intel/gbe-regs.ts";

// Extended interrupts, MSI-X (8.8)
export const EICS = 0x1520;
export const EIMS = 0x1524;
export const EIMC = 0x1528;
export const EIAC = 0x152c;
export const EIAM = 0x1530;
export const EICR = 0x1580;
/** Interrupt throttling per vector (8.8.12): 0 = no throttling. */
export const EITR = 0x1680;
/** General purpose interrupt enable (8.8.14). */
export const GPIE = 0x1514;
export const GPIE_NSICR = 1 << 0;
export const GPIE_MSIX_MODE = 1 << 4;
export const GPIE_EIAME = 1 << 30;
export const GPIE_PBA = 1 << 31;
/**
 * Interrupt vector allocation (8.8.15): IVAR0[n & 7] holds, byte by byte, RX queue n, TX queue n, RX queue
 * n + 8, TX queue n + 8; bit 7 of a byte makes it valid, its low bits name the MSI-X vector.
 */
export const IVAR0 = 0x1700;
/** IVAR_MISC (8.8.16): byte 1 routes the "other" causes (link status change …) to a vector. */
export const IVAR_MISC = 0x1740;
export const IVAR_VALID = 0x80;
export const CTRL_EXT_DRV_LOAD = 1 << 28;

// Receive queues (8.10): queue n's registers at base + 0x40 × n.
export const RDBAL = 0xc000;
export const RDBAH = 0xc004;
export const RDLEN = 0xc008;
export const SRRCTL = 0xc00c;
export const RDH = 0xc010;
export const RDT = 0xc018;
export const RXDCTL = 0xc028;
export const QUEUE_STRIDE = 0x40;
/** SRRCTL (8.10.2): packet buffer size in KiB (6:0), descriptor type (27:25), drop when no descriptor is free (31). */
export const SRRCTL_BSIZEPKT_MASK = 0x7f;
export const SRRCTL_DESCTYPE_ADV_ONEBUF = 1 << 25;
export const SRRCTL_DROP_EN = 1 << 31;
/** RXDCTL / TXDCTL (8.10.10, 8.12.13): the queue's enable. */
export const QUEUE_ENABLE = 1 << 25;
/** Long packet maximum length (8.10.5): frames longer than this are dropped when RCTL.LPE is set. */
export const RLPML = 0x5004;
export const RXCSUM_IPOFL = 1 << 8;
export const RXCSUM_TUOFL = 1 << 9;

// Multiple receive queues and RSS (7.1.2.10, 8.10.x)
export const MRQC = 0x5818;
/** MRQC.MRQE (2:0): RSS on the PF's queues. */
export const MRQC_ENABLE_RSS = 0x2;
export const MRQC_TCP_IPV4 = 1 << 16;
export const MRQC_IPV4 = 1 << 17;
export const MRQC_IPV6 = 1 << 20;
export const MRQC_TCP_IPV6 = 1 << 21;
export const MRQC_UDP_IPV4 = 1 << 22;
export const MRQC_UDP_IPV6 = 1 << 23;
/** Redirection table: 32 registers of four one-byte entries, each the RX queue of its hash value's low 7 bits. */
export const RETA = 0x5c00;
export const RETA_ENTRIES = 128;
export const RSSRK = 0x5c80;
export const RSS_KEY_BYTES = 40;

// Transmit queues (8.12)
export const TDBAL = 0xe000;
export const TDBAH = 0xe004;
export const TDLEN = 0xe008;
export const TDH = 0xe010;
export const TDT = 0xe018;
export const TXDCTL = 0xe028;

// Advanced RX write-back errors in word 2 (7.1.5.2): CE, SE, SEQ, CXE, RXE are frame errors; L4E and IPE checksums.
export const RXD_ERR_FRAME = (1 << 24) | (1 << 25) | (1 << 26) | (1 << 28) | (1 << 31);
export const RXD_ERR_L4E = 1 << 29;
export const RXD_ERR_IPE = 1 << 30;
