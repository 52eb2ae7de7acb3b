// The data side of the 82599 register model (test/ixgbe/model.ts): its options, the address decoding, the
// reset values, and what the driver configured read back from the registers as plain data for tests.
import * as R from "../../drivers/ixgbe/regs.ts";
import { macToString, parseMac } from "../../src/net/ether.ts";

export interface ModelOptions {
  /** The MAC address the EEPROM loads into RAL/RAH[0] at reset. */
  mac?: string;
  /** AUTOC as the EEPROM loads it (default: LMS = 10 GbE serial, as on SFP+ boards). */
  autoc?: number;
  /** Reads of CTRL until RST/LRST clear (the driver must poll). */
  resetReads?: number;
  /** Reads of EEC until ARD sets, of RDRXCTL until DMAIDONE sets, after a reset. */
  eepromReads?: number;
  dmaInitReads?: number;
  /** Reads of RXDCTL/TXDCTL until ENABLE reads back as written. */
  queueEnableReads?: number;
  /** Reads of SECRXSTAT until SECRX_RDY sets once SECRXCTRL.RX_DIS is set. */
  secRxReads?: number;
  /** Reads of LINKS until the link is up after an autonegotiation restart or linkUp(). */
  linkReads?: number;
  /** 8.2.3.1.1: no register access within this many ms of setting CTRL.RST. */
  resetGuardMs?: number;
  /** Throw at the offending access (default), or only record it. */
  throwOnViolation?: boolean;
}

export const DEFAULTS: Required<ModelOptions> = {
  mac: "00:1b:21:0a:0b:0c", autoc: R.LMS_10G_SERIAL << R.AUTOC_LMS_SHIFT, resetReads: 3, eepromReads: 2, dmaInitReads: 2,
  queueEnableReads: 2, secRxReads: 1, linkReads: 3, resetGuardMs: 1, throwOnViolation: true,
};

/** 82598-compatible aliases the 82599 also answers at (Linux uses them for queues/entries 0–15 and MRQC). */
export function canonical(off: number): number {
  if (off >= 0x2100 && off < 0x2140) return R.SRRCTL((off - 0x2100) >>> 2);
  if (off >= 0x2200 && off < 0x2240) return R.DCA_RXCTRL((off - 0x2200) >>> 2);
  if (off >= 0x5400 && off < 0x5480) return 0x0a200 + (off - 0x5400);
  if (off === 0x5818) return R.MRQC;
  return off;
}

export function rxQueueOf(off: number): number {
  if (off >= 0x1000 && off < 0x2000) return (off - 0x1000) >>> 6;
  if (off >= 0xd000 && off < 0xe000) return 64 + ((off - 0xd000) >>> 6);
  return -1;
}

export const txQueueOf = (off: number): number => (off >= 0x6000 && off < 0x8000 ? (off - 0x6000) >>> 6 : -1);

/** Reset values of 8.2.3 (those the init touches); EEC.ARD and RDRXCTL.DMAIDONE come some reads later. */
export function resetValues(u: Uint32Array, o: Required<ModelOptions>): void {
  u.fill(0);
  const set = (off: number, v: number): void => void (u[off >>> 2] = v >>> 0);
  set(R.STATUS, R.STATUS_GIO);
  set(R.EEC, R.EEC_PRES | (1 << 4) | (2 << 11)); // present, flash writes disabled, size field 0010b
  set(R.RDRXCTL, 8 << 17); // RSCFRSTSIZE = 8
  set(R.HLREG0, R.HLREG0_TXCRCEN | R.HLREG0_RXCRCSTRP | (1 << 3) | R.HLREG0_TXPADEN | (1 << 16));
  set(R.MAXFRS, 1518 << R.MAXFRS_MFS_SHIFT);
  set(R.AUTOC, o.autoc);
  set(R.VLNCTRL, 0x8100);
  set(R.DMATXCTL, 0x8100 << 16);
  set(R.RTTDCS, (1 << 22) | (1 << 23)); // BDPM, BPBFSM
  set(R.DTXMXSZRQ, 0x10);
  set(R.SECRXCTRL, R.SECRXCTRL_SECRX_DIS);
  set(R.TXPBTHRESH(0), 0x96);
  for (let n = 0; n < 8; n++) {
    set(R.RXPBSIZE(n), 0x200 << R.PBSIZE_SHIFT);
    set(R.TXPBSIZE(n), 0xa0 << R.PBSIZE_SHIFT);
  }
  for (let q = 0; q < 128; q++) {
    set(R.SRRCTL(q), 2 | (4 << 8)); // 2 KiB buffers, 256-byte headers
    set(R.DCA_RXCTRL(q), (1 << 9) | R.DCA_RXCTRL_BIT12 | (1 << 13) | (1 << 15));
    set(0x0600c + 0x40 * q, (1 << 9) | (1 << 11) | (1 << 13)); // DCA_TXCTRL
  }
  const m = parseMac(o.mac);
  set(R.RAL(0), m[0]! | (m[1]! << 8) | (m[2]! << 16) | (m[3]! << 24));
  set(R.RAH(0), m[4]! | (m[5]! << 8) | R.RAH_AV);
}

export interface RxQueueState {
  index: number;
  /** RXDCTL.ENABLE as the hardware reports it. */
  enabled: boolean;
  ringIova: number;
  descriptors: number;
  /** SRRCTL.BSIZEPACKET in bytes. */
  bufferBytes: number;
  /** SRRCTL.DESCTYPE: 1 = advanced, one buffer. */
  descType: number;
  dropEnable: boolean;
  vlanStrip: boolean;
  head: number;
  tail: number;
}

export interface TxQueueState {
  index: number;
  enabled: boolean;
  ringIova: number;
  descriptors: number;
  pthresh: number;
  hthresh: number;
  wthresh: number;
  head: number;
  tail: number;
}

export interface ModelState {
  resets: number;
  resetInProgress: boolean;
  anRestarts: number;
  linkUp: boolean;
  speedMbps: number;
  linkMode: number;
  mac: string;
  rxEnabled: boolean;
  txEnabled: boolean;
  /** HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP both set. */
  crcStrip: boolean;
  broadcast: boolean;
  promiscuous: boolean;
  allMulticast: boolean;
  multicastFilter: boolean;
  vlanFilter: boolean;
  maxFrame: number;
  jumbo: boolean;
  txCrc: boolean;
  txPad: boolean;
  interruptMask: number;
  pendingCauses: number;
  rxPacketBufferKiB: number[];
  txPacketBufferKiB: number[];
  mtqc: number;
  rxQueues: RxQueueState[];
  txQueues: TxQueueState[];
  rss: { enabled: boolean; mrqc: number; key: Uint8Array; reta: number[]; pcsd: boolean };
  /** Every statistics register read since the last reset, and all zero now. */
  statsCleared: boolean;
}

export interface ModelExtra {
  resetting: boolean;
  resets: number;
  anRestarts: number;
  counters: ReadonlySet<number>;
  countersRead: ReadonlySet<number>;
}

export function snapshot(u32: Uint32Array, x: ModelExtra): ModelState {
  const rd = (off: number): number => u32[off >>> 2]!;
  const has = (off: number, bit: number): boolean => (rd(off) & bit) !== 0;
  const iova = (lo: number, hi: number): number => rd(hi) * 0x1_0000_0000 + rd(lo);
  const rxQueues: RxQueueState[] = [];
  for (let q = 0; q < 128; q++) {
    if (rd(R.RDLEN(q)) === 0 && !has(R.RXDCTL(q), R.RXDCTL_ENABLE)) continue;
    const s = rd(R.SRRCTL(q));
    rxQueues.push({
      index: q, enabled: has(R.RXDCTL(q), R.RXDCTL_ENABLE), ringIova: iova(R.RDBAL(q), R.RDBAH(q)), descriptors: rd(R.RDLEN(q)) / 16,
      bufferBytes: (s & R.SRRCTL_BSIZEPACKET_MASK) * 1024, descType: (s & R.SRRCTL_DESCTYPE_MASK) >>> 25, dropEnable: (s & R.SRRCTL_DROP_EN) !== 0,
      vlanStrip: has(R.RXDCTL(q), R.RXDCTL_VME), head: rd(R.RDH(q)), tail: rd(R.RDT(q)),
    });
  }
  const txQueues: TxQueueState[] = [];
  for (let q = 0; q < 128; q++) {
    if (rd(R.TDLEN(q)) === 0 && !has(R.TXDCTL(q), R.TXDCTL_ENABLE)) continue;
    const c = rd(R.TXDCTL(q));
    txQueues.push({
      index: q, enabled: (c & R.TXDCTL_ENABLE) !== 0, ringIova: iova(R.TDBAL(q), R.TDBAH(q)), descriptors: rd(R.TDLEN(q)) / 16,
      pthresh: c & 0x7f, hthresh: (c >>> 8) & 0x7f, wthresh: (c >>> 16) & 0x7f, head: rd(R.TDH(q)), tail: rd(R.TDT(q)),
    });
  }
  const key = new Uint8Array(40);
  for (let i = 0; i < 10; i++) for (let k = 0; k < 4; k++) key[4 * i + k] = (rd(R.RSSRK(i)) >>> (8 * k)) & 0xff;
  const reta: number[] = [];
  for (let i = 0; i < 32; i++) for (let k = 0; k < 4; k++) reta.push((rd(R.RETA(i)) >>> (8 * k)) & 0xff);
  const ral = rd(R.RAL(0));
  const rah = rd(R.RAH(0));
  const links = rd(R.LINKS);
  const linkUp = (links & R.LINKS_UP) !== 0;
  return {
    resets: x.resets, resetInProgress: x.resetting, anRestarts: x.anRestarts,
    linkUp, speedMbps: linkUp ? [0, 100, 1000, 10000][(links >>> R.LINKS_SPEED_SHIFT) & 3]! : 0, linkMode: (rd(R.AUTOC) & R.AUTOC_LMS_MASK) >>> R.AUTOC_LMS_SHIFT,
    mac: macToString(new Uint8Array([ral & 0xff, (ral >>> 8) & 0xff, (ral >>> 16) & 0xff, ral >>> 24, rah & 0xff, (rah >>> 8) & 0xff])),
    rxEnabled: has(R.RXCTRL, R.RXCTRL_RXEN), txEnabled: has(R.DMATXCTL, R.DMATXCTL_TE),
    crcStrip: has(R.HLREG0, R.HLREG0_RXCRCSTRP) && has(R.RDRXCTL, R.RDRXCTL_CRCSTRIP),
    broadcast: has(R.FCTRL, R.FCTRL_BAM), promiscuous: has(R.FCTRL, R.FCTRL_UPE), allMulticast: has(R.FCTRL, R.FCTRL_MPE),
    multicastFilter: has(R.MCSTCTRL, R.MCSTCTRL_MFE), vlanFilter: has(R.VLNCTRL, R.VLNCTRL_VFE),
    maxFrame: rd(R.MAXFRS) >>> R.MAXFRS_MFS_SHIFT, jumbo: has(R.HLREG0, R.HLREG0_JUMBOEN),
    txCrc: has(R.HLREG0, R.HLREG0_TXCRCEN), txPad: has(R.HLREG0, R.HLREG0_TXPADEN),
    interruptMask: rd(R.EIMS), pendingCauses: rd(R.EICR),
    rxPacketBufferKiB: Array.from({ length: 8 }, (_, n) => rd(R.RXPBSIZE(n)) >>> R.PBSIZE_SHIFT),
    txPacketBufferKiB: Array.from({ length: 8 }, (_, n) => rd(R.TXPBSIZE(n)) >>> R.PBSIZE_SHIFT),
    mtqc: rd(R.MTQC), rxQueues, txQueues,
    rss: { enabled: (rd(R.MRQC) & 0xf) === R.MRQC_RSSEN, mrqc: rd(R.MRQC), key, reta, pcsd: has(R.RXCSUM, R.RXCSUM_PCSD) },
    statsCleared: [...x.counters].every((off) => x.countersRead.has(off) && rd(off) === 0),
  };
}
