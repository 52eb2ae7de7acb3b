// 8254x / 82574 registers and bits by their datasheet names. Sections cite the PCI/PCI-X Family of Gigabit
// Ethernet Controllers Software Developer's Manual (8254x SDM, rev. 4.0) and the 82574 GbE Controller
// Datasheet (rev. 3.4); where both have a register, the offsets agree. What the 82576 (igb) also has at the
// same place is in drivers/intel/gbe-regs.ts, re-exported here.
export * from "../intel/gbe-regs.ts";

/** 82574 only: interrupt vector allocation for MSI-X (82574 datasheet 10.2.4.9). */
export const IVAR = 0x00e4;
// Receive (SDM 13.4.22–13.4.37)
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
export const RFCTL = 0x5008;
/** 82574: multiple receive queues command (RSS), redirection table, RSS key (82574 datasheet 10.2.5.14–10.2.5.16). */
export const MRQC = 0x5818;
export const RETA = 0x5c00;
export const RSSRK = 0x5c80;
// Transmit (SDM 13.4.33–13.4.44)
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

// Legacy descriptors, 16 bytes (drivers/intel/ring.ts DESC_BYTES; SDM 3.2.3 receive, 3.3.3 transmit): four 32-bit words.
//   RX: [0..1] buffer address; [2] length (15:0), checksum (31:16); [3] status (7:0), errors (15:8), special (31:16)
//   TX: [0..1] buffer address; [2] length (15:0), CSO (23:16), CMD (31:24); [3] STA (7:0), CSS (15:8), special (31:16)
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

