// The 82599's limits for one port, and the checks the init steps share (Intel 82599 10 GbE Controller Datasheet).
import { BdkError } from "../../src/sys/errors.ts";
import type { Mmio } from "../intel/mmio.ts";

/** What the 82599 offers one port, and what this init configures. */
export const CHIP = {
  /** Hardware queues (datasheet 1.3): 128 RX and 128 TX. */
  rxQueues: 128,
  txQueues: 128,
  /**
   * Queue pairs this init configures: 64. Without DCB or virtualization MTQC.NUM_TC_OR_Q = 00b gives 64 TX
   * queues (4.6.11.3.4; DPDK's IXGBE_NONE_MODE_TX_NB_QUEUES), and RX queues are paired with them.
   */
  queues: 64,
  /** RSS spreads over 16 queues at most: RETA entries are 4-bit queue indices in RSS-only mode (7.1.2.8). */
  rssQueues: 16,
  retaEntries: 128,
  rssKeyBytes: 40,
  /** Largest frame, CRC included: 15.5 KiB (datasheet 1.3; MAXFRS). */
  maxFrame: 15872,
  /** RDLEN/TDLEN are 128-byte multiples, validated up to 8 K descriptors (8.2.3.8.3, 8.2.3.9.7). */
  minRing: 8,
  maxRing: 8192,
  ringAlign: 128,
  /** SRRCTL.BSIZEPACKET: 1 to 16 KiB in 1 KiB steps (8.2.3.8.7). */
  rxBufferMin: 1024,
  rxBufferMax: 16384,
  descBytes: 16,
} as const;

export function fail(r: Mmio, what: string, fix: string): never {
  throw new BdkError(`${r.name}: ${what}`, fix);
}

export function checkRing(r: Mmio, what: string, q: number, queues: number, iova: number, size: number): void {
  if (!Number.isInteger(q) || q < 0 || q >= queues) fail(r, `${what} queue ${q} is outside 0..${queues - 1}`, "use a queue the 82599 has");
  if (!Number.isInteger(size) || size < CHIP.minRing || size > CHIP.maxRing || size % 8 !== 0) fail(r, `${what} ring of ${size} descriptors`, `use a multiple of 8 in ${CHIP.minRing}..${CHIP.maxRing}`);
  if (!Number.isSafeInteger(iova) || iova < 0 || iova % CHIP.ringAlign !== 0) fail(r, `${what} ring IOVA 0x${iova.toString(16)} is not 128-byte aligned`, "allocate the ring 128-byte aligned");
}
