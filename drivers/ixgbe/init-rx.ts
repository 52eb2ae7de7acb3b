// 82599 receive set-up (datasheet 4.6.7 and the filter and RSS registers it names): receive addresses,
// filters, the RX packet buffer and CRC strip, per-queue rings, RSS, VLAN, and RXCTRL.RXEN last. Steps take
// an Mmio and plain numbers; drivers/ixgbe/init.ts runs them in the order of 4.6.3.
import { macToString, parseMac } from "../../src/net/ether.ts";
import { usleep } from "../../src/sys/libc.ts";
import { RSS_IPV4, RSS_IPV4_TCP, RSS_IPV4_UDP, RSS_IPV6, RSS_IPV6_TCP, RSS_IPV6_UDP } from "../../src/ethdev/offloads.ts";
import { multicastHash, multicastTable } from "../intel/filters.ts";
import type { Mmio } from "../intel/mmio.ts";
import { DEFAULT_RSS_KEY, retaBytes, rssKeyWords } from "../intel/rss.ts";
import { CHIP, checkRing, fail } from "./chip.ts";
import * as R from "./regs.ts";

const QUEUE_POLL_MS = 100;

/** 8.2.3.7.8–9: receive address 0, loaded from the EEPROM at reset. */
export function readMac(r: Mmio): string {
  const lo = r.read(R.RAL(0));
  const hi = r.read(R.RAH(0));
  return macToString(new Uint8Array([lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff]));
}

/** 8.2.3.7.9: RAH.AV (bit 31) makes the entry valid. */
export function writeMac(r: Mmio, mac: string): void {
  const b = parseMac(mac);
  r.write(R.RAL(0), (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
  r.write(R.RAH(0), (b[4]! | (b[5]! << 8) | R.RAH_AV) >>> 0);
}

/** 4.6.7 / 8.2.3.7.7: the multicast table zeroed. */
export function clearMulticastTable(r: Mmio): void {
  for (let i = 0; i < R.MTA_WORDS; i++) r.write(R.MTA + 4 * i, 0);
}

/** 4.6.7: the VLAN filter table array (VFTA) zeroed (it decides only with VLNCTRL.VFE). */
export function clearVlanTable(r: Mmio): void {
  for (let i = 0; i < R.VFTA_WORDS; i++) r.write(R.VFTA + 4 * i, 0);
}

/** 8.2.3.7.10 MCSTCTRL.MO = 00: the same 12 bits (47:36) as the 1 GbE chips take. */
export { multicastHash };

/** 8.2.3.7.7 and MCSTCTRL.MFE: accept exactly these groups (an empty list turns the filter off). */
export function setMulticastFilter(r: Mmio, macs: readonly string[]): void {
  const words = multicastTable(r.name, macs);
  for (let i = 0; i < R.MTA_WORDS; i++) r.write(R.MTA + 4 * i, words[i]!);
  r.write(R.MCSTCTRL, macs.length > 0 ? R.MCSTCTRL_MFE : 0);
}

/** MAXFRS.MFS (8.2.3.22) (bytes, CRC included) and 4.6.7: HLREG0.JUMBOEN above 1518 bytes. */
export function setMaxFrame(r: Mmio, bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 64 || bytes > CHIP.maxFrame) fail(r, `max frame ${bytes} is outside 64..${CHIP.maxFrame} bytes`, "pick a frame size the 82599 supports");
  r.write(R.MAXFRS, ((r.read(R.MAXFRS) & 0xffff) | (bytes << R.MAXFRS_MFS_SHIFT)) >>> 0);
  if (bytes > 1518) r.set(R.HLREG0, R.HLREG0_JUMBOEN);
  else r.clear(R.HLREG0, R.HLREG0_JUMBOEN);
}

export interface RxInitOptions {
  crcStrip: boolean;
  mac?: string;
  promiscuous?: boolean;
  allMulticast?: boolean;
  maxFrame?: number;
}

/**
 * 4.6.7 receive initialization, the global part, with RXCTRL.RXEN off throughout (8.2.3.7.1: filters change
 * only while it is clear): receive addresses (entry 0 from the EEPROM unless `mac`, the rest invalid), MTA and
 * VFTA zeroed, FCTRL with broadcasts accepted, VLAN and multicast filters off, RSS off, one 512 KiB packet
 * buffer (4.6.11.3.4, DCB and VT off), HLREG0.RXCRCSTRP and RDRXCTL.CRCSTRIP set alike with
 * RDRXCTL.RSCFRSTSIZE = 0 (4.6.7), the max frame, and CTRL_EXT.NS_DIS (the last step of 4.6.7).
 */
export function initRx(r: Mmio, o: RxInitOptions): void {
  r.clear(R.RXCTRL, R.RXCTRL_RXEN);
  writeMac(r, o.mac ?? readMac(r));
  for (let n = 1; n < 128; n++) {
    r.write(R.RAL(n), 0);
    r.write(R.RAH(n), 0);
  }
  clearMulticastTable(r);
  clearVlanTable(r);
  r.write(R.FCTRL, R.FCTRL_BAM | (o.promiscuous ? R.FCTRL_UPE : 0) | (o.allMulticast || o.promiscuous ? R.FCTRL_MPE : 0));
  r.clear(R.VLNCTRL, R.VLNCTRL_VFE);
  r.write(R.MCSTCTRL, 0);
  r.write(R.MRQC, 0);
  r.write(R.RXPBSIZE(0), 512 << R.PBSIZE_SHIFT);
  for (let n = 1; n < 8; n++) r.write(R.RXPBSIZE(n), 0);
  const strip = o.crcStrip;
  r.write(R.HLREG0, strip ? r.read(R.HLREG0) | R.HLREG0_RXCRCSTRP : r.read(R.HLREG0) & ~R.HLREG0_RXCRCSTRP);
  let rdrxctl = (r.read(R.RDRXCTL) & ~(R.RDRXCTL_RSCFRSTSIZE | R.RDRXCTL_CRCSTRIP)) | R.RDRXCTL_RSCACKC | R.RDRXCTL_FCOE_WRFIX;
  if (strip) rdrxctl |= R.RDRXCTL_CRCSTRIP;
  r.write(R.RDRXCTL, rdrxctl);
  setMaxFrame(r, o.maxFrame ?? 1518);
  r.set(R.CTRL_EXT, R.CTRL_EXT_NS_DIS);
}

export interface RxQueueConfig {
  /** Device address of the descriptor ring, 128-byte aligned. */
  ringIova: number;
  /** Descriptors: a multiple of 8 in 8..8192. */
  size: number;
  /** Bytes the NIC may write per buffer; rounded down to whole KiB (1..16). */
  bufferBytes: number;
  /** SRRCTL.DROP_EN: drop when the ring is empty instead of holding the packet buffer. */
  dropEnable?: boolean;
  vlanStrip?: boolean;
}

/**
 * 4.6.7 per queue, while the queue is disabled: ring base and length (8.2.3.8.1–3), SRRCTL with the buffer
 * size in KiB, advanced one-buffer descriptors (7.1.6) and DROP_EN (8.2.3.8.7), DCA_RXCTRL bit 12 cleared
 * (4.6.7), head and tail at 0.
 */
export function setupRxQueue(r: Mmio, q: number, c: RxQueueConfig): void {
  checkRing(r, "RX", q, CHIP.rxQueues, c.ringIova, c.size);
  const kib = Math.min(16, Math.floor(c.bufferBytes / 1024));
  if (!(kib >= 1)) fail(r, `RX buffers of ${c.bufferBytes} bytes`, `the 82599 needs at least ${CHIP.rxBufferMin} bytes per buffer`);
  r.write(R.RDBAL(q), c.ringIova % 0x1_0000_0000);
  r.write(R.RDBAH(q), Math.floor(c.ringIova / 0x1_0000_0000));
  r.write(R.RDLEN(q), c.size * CHIP.descBytes);
  const keep = r.read(R.SRRCTL(q)) & ~(R.SRRCTL_BSIZEPACKET_MASK | R.SRRCTL_DESCTYPE_MASK | R.SRRCTL_DROP_EN);
  r.write(R.SRRCTL(q), keep | kib | R.SRRCTL_DESCTYPE_ADV_ONEBUF | (c.dropEnable ? R.SRRCTL_DROP_EN : 0));
  r.clear(R.DCA_RXCTRL(q), R.DCA_RXCTRL_BIT12);
  r.write(R.RDH(q), 0);
  r.write(R.RDT(q), 0);
  setVlanStrip(r, q, c.vlanStrip ?? false);
}

/** 4.6.7 steps 8–10: RXDCTL.ENABLE, poll until it reads back 1, only then the tail at size − 1. */
export function enableRxQueue(r: Mmio, q: number, size: number): void {
  r.set(R.RXDCTL(q), R.RXDCTL_ENABLE);
  r.waitFor(R.RXDCTL(q), R.RXDCTL_ENABLE, R.RXDCTL_ENABLE, QUEUE_POLL_MS, `RX queue ${q} enable (RXDCTL.ENABLE)`);
  r.write(R.RDT(q), size - 1);
}

/** 4.6.7.1: clear RXDCTL.ENABLE, poll until the hardware lets go of the ring, then ~100 µs more. */
export function disableRxQueue(r: Mmio, q: number): void {
  r.clear(R.RXDCTL(q), R.RXDCTL_ENABLE);
  r.waitFor(R.RXDCTL(q), R.RXDCTL_ENABLE, 0, QUEUE_POLL_MS, `RX queue ${q} disable (RXDCTL.ENABLE)`);
  usleep(100);
}

/** 8.2.3.8.6 RXDCTL.VME: strip VLAN tags on this queue (into the descriptor). */
export function setVlanStrip(r: Mmio, q: number, on: boolean): void {
  if (on) r.set(R.RXDCTL(q), R.RXDCTL_VME);
  else r.clear(R.RXDCTL(q), R.RXDCTL_VME);
}

/** 8.2.3.7.2 VLNCTRL.VFE: the VFTA decides which tagged frames pass. */
export function setVlanFilter(r: Mmio, on: boolean): void {
  if (on) r.set(R.VLNCTRL, R.VLNCTRL_VFE);
  else r.clear(R.VLNCTRL, R.VLNCTRL_VFE);
}

/** One VLAN id in the VFTA (bit vid & 31 of word vid >> 5). */
export function setVlanId(r: Mmio, vid: number, on: boolean): void {
  const reg = R.VFTA + 4 * ((vid >>> 5) & 0x7f);
  if (on) r.set(reg, 1 << (vid & 31));
  else r.clear(reg, 1 << (vid & 31));
}

/**
 * 4.6.7, last: RXCTRL.RXEN only after everything else, with the security RX path halted around it
 * (SECRXCTRL.RX_DIS, poll SECRXSTAT.SECRX_RDY, set RXEN, clear RX_DIS).
 */
export function enableRx(r: Mmio): void {
  r.set(R.SECRXCTRL, R.SECRXCTRL_RX_DIS);
  r.waitFor(R.SECRXSTAT, R.SECRXSTAT_SECRX_RDY, R.SECRXSTAT_SECRX_RDY, QUEUE_POLL_MS, "RX data path drain (SECRXSTAT.SECRX_RDY)");
  r.set(R.RXCTRL, R.RXCTRL_RXEN);
  r.clear(R.SECRXCTRL, R.SECRXCTRL_RX_DIS);
}

export function disableRx(r: Mmio): void {
  r.clear(R.RXCTRL, R.RXCTRL_RXEN);
}

/** The MRQC field bit of each ethdev RSS_* hash type (8.2.3.7.12). */
const MRQC_FIELDS: readonly (readonly [number, number])[] = [
  [RSS_IPV4, R.MRQC_IPV4], [RSS_IPV4_TCP, R.MRQC_IPV4_TCP], [RSS_IPV4_UDP, R.MRQC_IPV4_UDP],
  [RSS_IPV6, R.MRQC_IPV6], [RSS_IPV6_TCP, R.MRQC_IPV6_TCP], [RSS_IPV6_UDP, R.MRQC_IPV6_UDP],
];

export interface RssConfig {
  /** 40 bytes; DEFAULT_RSS_KEY when absent. */
  key?: Uint8Array | undefined;
  /** 128 entries, each a queue in 0..15. */
  reta: readonly number[];
  /** RSS_* bits of src/ethdev/offloads.ts; 0 turns RSS off. */
  hashTypes: number;
}

/**
 * 7.1.2.8 RSS; MRQC 8.2.3.7.12, RETA and RSSRK beside it: the 40-byte key as ten little-endian words (RSSRK), 128 one-byte RETA entries
 * four to a word, MRQC.MRQE = RSS with the hashed fields (no fields: RSS off), and RXCSUM.PCSD so the
 * descriptor carries the hash instead of the fragment checksum (8.2.3.7.5).
 */
export function setupRss(r: Mmio, c: RssConfig): void {
  const key = c.key ?? DEFAULT_RSS_KEY;
  if (key.length !== CHIP.rssKeyBytes) fail(r, `RSS key of ${key.length} bytes`, `the 82599 takes ${CHIP.rssKeyBytes}`);
  if (c.reta.length !== CHIP.retaEntries || c.reta.some((q) => !Number.isInteger(q) || q < 0 || q >= CHIP.rssQueues)) {
    fail(r, "RSS redirection table", `give ${CHIP.retaEntries} entries, each a queue in 0..${CHIP.rssQueues - 1}`);
  }
  rssKeyWords(key, (i, word) => r.write(R.RSSRK(i), word));
  retaBytes(c.reta, (i, word) => r.write(R.RETA(i), word));
  let fields = 0;
  for (const [bit, field] of MRQC_FIELDS) if (c.hashTypes & bit) fields |= field;
  r.write(R.MRQC, fields === 0 ? 0 : (fields | R.MRQC_RSSEN) >>> 0);
  if (fields !== 0) r.set(R.RXCSUM, R.RXCSUM_PCSD);
}

/** 8.2.3.7.1 FCTRL.UPE/MPE, changed only while RXCTRL.RXEN is clear: the receiver pauses and resumes around it. */
export function setPromiscuous(r: Mmio, promiscuous: boolean, allMulticast: boolean): void {
  const running = (r.read(R.RXCTRL) & R.RXCTRL_RXEN) !== 0;
  if (running) disableRx(r);
  const f = r.read(R.FCTRL) & ~(R.FCTRL_UPE | R.FCTRL_MPE);
  r.write(R.FCTRL, f | (promiscuous ? R.FCTRL_UPE : 0) | (allMulticast || promiscuous ? R.FCTRL_MPE : 0));
  if (running) enableRx(r);
}
