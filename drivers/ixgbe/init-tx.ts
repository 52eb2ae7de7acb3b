// 82599 transmit set-up (datasheet 4.6.8): the packet buffer and queue mode under RTTDCS.ARBDIS, per-queue
// rings, DMATXCTL.TE before the first queue is enabled.
import type { Mmio } from "../intel/mmio.ts";
import { CHIP, checkRing, fail } from "./chip.ts";
import * as R from "./regs.ts";

const QUEUE_POLL_MS = 100;

/**
 * 4.6.8 transmit initialization, the global part: HLREG0 TXCRCEN|TXPADEN, then with RTTDCS.ARBDIS set
 * (7.2.1.2.1: MTQC is written only so) the DCB-off/VT-off values of 4.6.11.3.4 — DTXMXSZRQ = 0xFFF, one
 * 160 KiB packet buffer, its threshold 160 − 10 KiB (DPDK's largest expected packet), MTQC = 0 (64 queues,
 * one buffer) — and ARBDIS cleared again.
 */
export function initTx(r: Mmio, o: { txQueues: number }): void {
  if (o.txQueues < 1 || o.txQueues > CHIP.queues) fail(r, `${o.txQueues} TX queues`, `without DCB or VMDq the 82599 transmits on 1..${CHIP.queues}`);
  r.set(R.HLREG0, R.HLREG0_TXCRCEN | R.HLREG0_TXPADEN);
  r.set(R.RTTDCS, R.RTTDCS_ARBDIS);
  r.write(R.DTXMXSZRQ, 0xfff);
  r.write(R.TXPBSIZE(0), 160 << R.PBSIZE_SHIFT);
  r.write(R.TXPBTHRESH(0), 160 - 10);
  for (let n = 1; n < 8; n++) {
    r.write(R.TXPBSIZE(n), 0);
    r.write(R.TXPBTHRESH(n), 0);
  }
  r.write(R.MTQC, 0);
  r.clear(R.RTTDCS, R.RTTDCS_ARBDIS);
}

export interface TxQueueConfig {
  ringIova: number;
  size: number;
  /** TXDCTL prefetch/host/write-back thresholds (8.2.3.9.10); HTHRESH must be non-zero when PTHRESH is used. */
  pthresh?: number;
  hthresh?: number;
  wthresh?: number;
}

/** 4.6.8 per queue, while disabled: ring base and length (8.2.3.9.5–7), head and tail at 0, TXDCTL thresholds. */
export function setupTxQueue(r: Mmio, q: number, c: TxQueueConfig): void {
  checkRing(r, "TX", q, CHIP.queues, c.ringIova, c.size);
  r.write(R.TDBAL(q), c.ringIova % 0x1_0000_0000);
  r.write(R.TDBAH(q), Math.floor(c.ringIova / 0x1_0000_0000));
  r.write(R.TDLEN(q), c.size * CHIP.descBytes);
  r.write(R.TDH(q), 0);
  r.write(R.TDT(q), 0);
  const th = ((c.pthresh ?? 32) & 0x7f) | (((c.hthresh ?? 1) & 0x7f) << R.TXDCTL_HTHRESH_SHIFT) | (((c.wthresh ?? 0) & 0x7f) << R.TXDCTL_WTHRESH_SHIFT);
  r.write(R.TXDCTL(q), (r.read(R.TXDCTL(q)) & ~(R.TXDCTL_THRESH_MASK | R.TXDCTL_ENABLE)) | th);
}

/** 4.6.8: DMATXCTL.TE once, before the first queue is enabled (setting it also enables queue 0, 8.2.3.9.10). */
export function enableTx(r: Mmio): void {
  r.set(R.DMATXCTL, R.DMATXCTL_TE);
}

/** 4.6.8: TXDCTL.ENABLE and poll until it reads back 1; the tail stays put until then. */
export function enableTxQueue(r: Mmio, q: number): void {
  r.set(R.TXDCTL(q), R.TXDCTL_ENABLE);
  r.waitFor(R.TXDCTL(q), R.TXDCTL_ENABLE, R.TXDCTL_ENABLE, QUEUE_POLL_MS, `TX queue ${q} enable (TXDCTL.ENABLE)`);
}

/** 4.6.8.1: clear TXDCTL.ENABLE and poll until it reads back 0. */
export function disableTxQueue(r: Mmio, q: number): void {
  r.clear(R.TXDCTL(q), R.TXDCTL_ENABLE);
  r.waitFor(R.TXDCTL(q), R.TXDCTL_ENABLE, 0, QUEUE_POLL_MS, `TX queue ${q} disable (TXDCTL.ENABLE)`);
}
