// Bringing an 82599 up, step by step as the Intel 82599 10 GbE Controller Datasheet describes it (4.6.3 and
// the sections it points to). Each function is one step on an Mmio and plain numbers and cites its section;
// nothing here knows about ports or VFIO, so the ixgbe port and the register model in test/ixgbe/ call the
// same steps. Receive steps are in init-rx.ts, transmit steps in init-tx.ts; this module exports them all.
// Descriptor rings and their buffers are the caller's: fill the RX ring before enableRxQueue.
import { usleep } from "../../src/sys/libc.ts";
import type { Mmio } from "../intel/mmio.ts";
import { CHIP, fail } from "./chip.ts";
import { enableRx, enableRxQueue, initRx, readMac, setupRss, setupRxQueue, type RssConfig, type RxInitOptions, type RxQueueConfig } from "./init-rx.ts";
import { enableTx, enableTxQueue, initTx, setupTxQueue, type TxQueueConfig } from "./init-tx.ts";
import * as R from "./regs.ts";

export { CHIP } from "./chip.ts";
export * from "./init-rx.ts";
export * from "./init-tx.ts";

const RESET_GUARD_US = 1000; // 8.2.3.1.1: wait ~1 ms after setting CTRL.RST before touching any register
const RESET_SETTLE_US = 10_000; // 4.6.3.2: wait at least 10 ms after a global reset
const POLL_MS = 1000;

/** 4.6.3.1: mask every cause (EIMC and the two extended masks), then clear what is pending (EICR is write-1-to-clear). */
export function disableInterrupts(r: Mmio): void {
  r.write(R.EIMC, R.EIMC_ALL);
  r.write(R.EIMC_EX(0), 0xffffffff);
  r.write(R.EIMC_EX(1), 0xffffffff);
  r.write(R.EICR, 0xffffffff);
}

/**
 * 5.2.5.3.2 master disable, then 4.6.3.2 global reset: CTRL.RST|LRST, ~1 ms before the bit may be polled
 * (8.2.3.1.1), poll until it clears, 10 ms to settle, and interrupts masked again (4.6.3.1). When the master
 * never quiesces, 5.2.5.3.2 asks for two resets in a row instead.
 */
export function globalReset(r: Mmio): void {
  r.set(R.CTRL, R.CTRL_GIO_DIS);
  const until = performance.now() + 80;
  while ((r.read(R.STATUS) & R.STATUS_GIO) !== 0 && performance.now() < until) usleep(100);
  const twice = (r.read(R.STATUS) & R.STATUS_GIO) !== 0;
  for (let i = twice ? 2 : 1; i > 0; i--) {
    r.write(R.CTRL, r.read(R.CTRL) | R.CTRL_RST | R.CTRL_LRST);
    usleep(RESET_GUARD_US);
    r.waitFor(R.CTRL, R.CTRL_RST | R.CTRL_LRST, 0, POLL_MS, "global reset (CTRL.RST)");
  }
  usleep(RESET_SETTLE_US);
  disableInterrupts(r);
}

/** 4.6.3 step 3: the EEPROM auto-read after reset (EEC.ARD, 8.2.3.2.1). Returns whether an EEPROM is present (EEC.PRES). */
export function waitEepromAutoRead(r: Mmio): boolean {
  r.waitFor(R.EEC, R.EEC_ARD, R.EEC_ARD, POLL_MS, "EEPROM auto-read (EEC.ARD)");
  return (r.read(R.EEC) & R.EEC_PRES) !== 0;
}

/** 4.6.3 step 4: DMA initialization done (RDRXCTL.DMAIDONE, 8.2.3.8.8) before RX or TX is set up. */
export function waitDmaInitDone(r: Mmio): void {
  r.waitFor(R.RDRXCTL, R.RDRXCTL_DMAIDONE, R.RDRXCTL_DMAIDONE, POLL_MS, "DMA initialization (RDRXCTL.DMAIDONE)");
}

/**
 * 4.6.4 link setup through AUTOC (8.2.3.22.19): keep the link mode the EEPROM loaded, or select `lms`
 * (R.LMS_10G_SERIAL for SFI, R.LMS_KX4_KX_KR_AN for backplane autonegotiation), then restart autonegotiation.
 * SFP+ module identification and firmware-shared AUTOC locking are not done here.
 */
export function setupLink(r: Mmio, lms?: number): void {
  let autoc = r.read(R.AUTOC);
  if (lms !== undefined) autoc = (autoc & ~R.AUTOC_LMS_MASK) | ((lms & 7) << R.AUTOC_LMS_SHIFT);
  r.write(R.AUTOC, autoc | R.AUTOC_RESTART_AN);
}

export interface LinkStatus {
  up: boolean;
  speedMbps: number;
  fullDuplex: boolean;
}

/** LINKS (8.2.3.22, next to AUTOC): LINK_UP (bit 30) and LINK_SPEED (29:28); the 82599's links are full duplex. */
export function linkStatus(r: Mmio): LinkStatus {
  const l = r.read(R.LINKS);
  const up = (l & R.LINKS_UP) !== 0;
  const speed = [0, 100, 1000, 10000][(l & R.LINKS_SPEED_MASK) >>> R.LINKS_SPEED_SHIFT]!;
  return { up, speedMbps: up ? speed : 0, fullDuplex: up };
}

/** Polls LINKS until the link is up or `timeoutMs` passes; a link still down is an answer, not an error. */
export function waitForLink(r: Mmio, timeoutMs: number): LinkStatus {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const s = linkStatus(r);
    if (s.up || performance.now() > until) return s;
    usleep(1000);
  }
}

/** 4.6.5: statistics clear on read, so reading each once (low half first) starts them from zero. */
export function clearStats(r: Mmio, counters: readonly { offset: number; wide?: boolean }[] = R.HW_COUNTERS): void {
  for (const c of counters) {
    r.read(c.offset);
    if (c.wide) r.read(c.offset + 4);
  }
}

export interface BringUpOptions extends Partial<RxInitOptions> {
  rxQueues: readonly RxQueueConfig[];
  txQueues: readonly TxQueueConfig[];
  rss?: RssConfig;
  /** AUTOC link mode; the EEPROM's when absent. */
  lms?: number;
  /** Wait this long for the link at the end (0: do not wait). */
  linkTimeoutMs?: number;
  /** EIMS causes to unmask at the end (4.6.3 step 9); none by default. */
  interruptMask?: number;
}

/** The whole of 4.6.3 in its order, for one port: returns the MAC in RAL/RAH[0] and the link as last seen. */
export function bringUp(r: Mmio, o: BringUpOptions): { mac: string; link: LinkStatus } {
  if (o.rxQueues.length < 1 || o.rxQueues.length > CHIP.queues) fail(r, `${o.rxQueues.length} RX queues`, `configure 1..${CHIP.queues}`);
  disableInterrupts(r); // 4.6.3 step 1
  globalReset(r); // step 2
  waitEepromAutoRead(r); // step 3
  waitDmaInitDone(r); // step 4
  setupLink(r, o.lms); // step 5
  clearStats(r); // step 6
  initRx(r, { crcStrip: o.crcStrip ?? true, mac: o.mac, promiscuous: o.promiscuous, allMulticast: o.allMulticast, maxFrame: o.maxFrame }); // step 7
  if (o.rss) setupRss(r, o.rss);
  o.rxQueues.forEach((c, q) => setupRxQueue(r, q, c));
  o.rxQueues.forEach((c, q) => enableRxQueue(r, q, c.size));
  enableRx(r);
  initTx(r, { txQueues: o.txQueues.length }); // step 8
  o.txQueues.forEach((c, q) => setupTxQueue(r, q, c));
  enableTx(r);
  o.txQueues.forEach((_c, q) => enableTxQueue(r, q));
  if (o.interruptMask) r.write(R.EIMS, o.interruptMask); // step 9
  const link = o.linkTimeoutMs ? waitForLink(r, o.linkTimeoutMs) : linkStatus(r);
  return { mac: readMac(r), link };
}
