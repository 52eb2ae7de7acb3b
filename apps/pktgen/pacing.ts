// Pacing: when a rate-limited generator may send, and how much. Frames go out on an even schedule, frame k
// due at start + k × (frame cost / rate); a release goes when its first frame is due and holds one pacing
// burst, so no frame leaves more than one burst ahead of its time. The pacing burst is the burst size the
// caller gives, shrunk to what the rate sends in BURST_SPAN_NS (at 1 pps one frame a second, at 100 kpps
// bursts of 20 every 200 µs; the full 32 from 160 kpps on).
//
// A loop that lost the CPU falls behind the schedule: it may catch up (the average rate holds) but only
// within MAX_DEBT_NS (or one burst, if that is longer) and at most at CATCH_UP × the rate, so a stall turns
// into a short, bounded speed-up, never into one large burst. What is older than that is forgiven.
//
// The core is pure and clock-injected (every method takes `nowNs`): tests drive it with a fake clock. Cost
// units are frames (pps), frame bits with CRC (Mbit/s) or wire bits (% of link speed); see pacingFor.

/** A pacing burst spans at most this much of the schedule (ns): the most any frame leaves early. */
export const BURST_SPAN_NS = 200e3;
/** How far behind the schedule a stalled loop may still catch up (ns), at least one pacing burst. */
export const MAX_DEBT_NS = 2e6;
/** While catching up, releases follow each other at most this many times faster than the rate. */
export const CATCH_UP = 2;

/** A rate in cost units: per ns, with a frame of `len` bytes (without CRC) costing costA + costB × len. */
export interface PacingRate {
  /** Cost units per ns (> 0). */
  perNs: number;
  costA: number;
  costB: number;
}

/**
 * The rate of `--rate` in cost units. `linkSpeedMbps` is asked for percent rates only; it returns 0 when
 * the port reports no speed (the caller refuses the rate then).
 */
export function pacingFor(rate: { unit: "pps" | "bps" | "percent"; value: number }, linkSpeedMbps: () => number): PacingRate | undefined {
  if (rate.unit === "pps") return { perNs: rate.value / 1e9, costA: 1, costB: 0 };
  // Frame bits with the 4-byte CRC.
  if (rate.unit === "bps") return { perNs: rate.value / 1e9, costA: 4 * 8, costB: 8 };
  const speed = linkSpeedMbps();
  if (!speed) return undefined;
  // Wire bits: CRC, 8 bytes of preamble and 12 of inter-frame gap.
  return { perNs: (speed * 1e6 * rate.value) / 100 / 1e9, costA: (4 + 20) * 8, costB: 8 };
}

export class Pacer {
  /** Frames per release at most: the caller's burst, shrunk at low rates. */
  readonly burst: number;
  /** The schedule's mean gap between frames (ns). */
  readonly frameNs: number;
  /** How far behind the schedule a release still catches up (ns). */
  readonly maxDebtNs: number;
  private readonly perNs: number;
  /** The schedule's start (moved forward when a debt is forgiven). */
  private originNs = 0;
  /** Cost units released since the origin. */
  private spent = 0;
  /** No release before this (spreads a catch-up out). */
  private gateNs = 0;

  /**
   * `perNs`: cost units per ns; `frameCost`: a mean frame's cost (1 when counting frames); `maxBurst`: the
   * most frames the caller sends in one burst.
   */
  constructor(perNs: number, frameCost: number, maxBurst: number) {
    if (!(perNs > 0) || !(frameCost > 0) || !(maxBurst >= 1)) throw new RangeError(`Pacer: bad rate ${perNs}/ns, frame cost ${frameCost} or burst ${maxBurst}`);
    this.perNs = perNs;
    this.frameNs = frameCost / perNs;
    const b = Math.floor(BURST_SPAN_NS / this.frameNs);
    this.burst = b < 1 ? 1 : b > maxBurst ? Math.floor(maxBurst) : b;
    this.maxDebtNs = Math.max(MAX_DEBT_NS, this.burst * this.frameNs);
  }

  /** Starts the schedule: the first frame is due at `nowNs`. */
  start(nowNs: number): void {
    this.originNs = nowNs;
    this.spent = 0;
    this.gateNs = nowNs;
  }

  /** When the next frame is due by the schedule (ns). */
  dueNs(): number {
    return this.originNs + this.spent / this.perNs;
  }

  /** How many frames may go now (0 or the pacing burst); forgives a debt beyond maxDebtNs. */
  allowance(nowNs: number): number {
    if (nowNs < this.gateNs) return 0;
    const due = this.originNs + this.spent / this.perNs;
    if (nowNs < due) return 0;
    const late = nowNs - due;
    if (late > this.maxDebtNs) this.originNs += late - this.maxDebtNs;
    return this.burst;
  }

  /** Records a release at `nowNs` of frames costing `cost` units in all (their count, when counting frames). */
  consume(nowNs: number, cost: number): void {
    this.spent += cost;
    this.gateNs = nowNs + cost / this.perNs / CATCH_UP;
  }

  /** Nanoseconds until the next release may go (0: now). */
  waitNs(nowNs: number): number {
    const due = this.originNs + this.spent / this.perNs;
    const next = due > this.gateNs ? due : this.gateNs;
    return next > nowNs ? next - nowNs : 0;
  }
}
