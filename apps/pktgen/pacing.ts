// Pacing: when a rate-limited generator may send, and how much. Frames go out on an even schedule, frame k
// due at start + k × (frame cost / rate). A release goes when its first frame is due and holds one pacing
// burst, so no frame leaves more than one burst's span (BURST_SPAN_NS) ahead of its time. The pacing burst
// is the caller's burst size, shrunk to what the rate sends in BURST_SPAN_NS: at 1 pps one frame a second,
// at 100 kpps 20 frames every 200 µs, the full 32 from 160 kpps on.
//
// A loop that runs late (a slow pass, a lost CPU) is behind the schedule: a release then also holds the
// frames already due, up to the caller's burst size (never more), and releases follow each other at most
// CATCH_UP × as fast as the rate, so a stall turns into a short, bounded speed-up, not into one large
// burst. Only the last MAX_DEBT_NS of a stall are made up; what is older is forgiven.
//
// The core is pure and clock-injected (every method takes `nowNs`): tests drive it with a fake clock. Cost
// units are frames (pps), frame bits with CRC (bit rates) or wire bits (% of link speed): see pacingFor.

/** A pacing burst spans at most this much of the schedule (ns): the most any frame leaves early. */
export const BURST_SPAN_NS = 200e3;
/** How far behind the schedule a stalled loop may still catch up (ns); what is older is forgiven. */
export const MAX_DEBT_NS = 5e6;
/** While catching up, releases follow each other at most this many times faster than the rate. */
export const CATCH_UP = 2;

/** A rate in cost units: per second, with a frame of `len` bytes (without CRC) costing costA + costB × len. */
export interface PacingRate {
  /** Cost units per second (> 0). */
  perSec: number;
  costA: number;
  costB: number;
}

/**
 * The rate of `--rate` in cost units. `linkSpeedMbps` is asked for percent rates only; undefined when the
 * port reports no speed (the caller refuses the rate then).
 */
export function pacingFor(rate: { unit: "pps" | "bps" | "percent"; value: number }, linkSpeedMbps: () => number): PacingRate | undefined {
  if (rate.unit === "pps") return { perSec: rate.value, costA: 1, costB: 0 };
  // Frame bits with the 4-byte CRC.
  if (rate.unit === "bps") return { perSec: rate.value, costA: 4 * 8, costB: 8 };
  const speed = linkSpeedMbps();
  if (!speed) return undefined;
  // Wire bits: CRC, 8 bytes of preamble and 12 of inter-frame gap.
  return { perSec: (speed * 1e6 * rate.value) / 100, costA: (4 + 20) * 8, costB: 8 };
}

export class Pacer {
  /** Frames per release on schedule: the caller's burst, shrunk at low rates. */
  readonly burst: number;
  /** The most frames in one release (catching up): the caller's burst. */
  readonly maxBurst: number;
  /** The schedule's mean gap between frames (ns). */
  readonly frameNs: number;
  /** How far behind the schedule a release still catches up (ns). */
  readonly maxDebtNs = MAX_DEBT_NS;
  /** Nanoseconds per cost unit. */
  private readonly unitNs: number;
  /** The schedule's start (moved forward when a debt is forgiven). */
  private originNs = 0;
  /** Cost units released since the origin. */
  private spent = 0;
  /** No release before this (spreads a catch-up out). */
  private gateNs = 0;

  /**
   * `perSec`: cost units per second; `frameCost`: a mean frame's cost (1 when counting frames);
   * `maxBurst`: the most frames the caller sends in one burst.
   */
  constructor(perSec: number, frameCost: number, maxBurst: number) {
    if (!(perSec > 0) || !(frameCost > 0) || !(maxBurst >= 1)) throw new RangeError(`Pacer: bad rate ${perSec}/s, frame cost ${frameCost} or burst ${maxBurst}`);
    this.unitNs = 1e9 / perSec;
    this.frameNs = frameCost * this.unitNs;
    this.maxBurst = Math.floor(maxBurst);
    const b = Math.floor(BURST_SPAN_NS / this.frameNs);
    this.burst = b < 1 ? 1 : b > this.maxBurst ? this.maxBurst : b;
  }

  /** Starts the schedule: the first frame is due at `nowNs`. */
  start(nowNs: number): void {
    this.originNs = nowNs;
    this.spent = 0;
    this.gateNs = nowNs;
  }

  /** When the next frame is due by the schedule (ns). */
  dueNs(): number {
    return this.originNs + this.spent * this.unitNs;
  }

  /**
   * How many frames may go now: 0 before the next frame is due; on time, one pacing burst (its last frame
   * at most a burst's span early); behind, the frames due besides, up to maxBurst. A debt beyond
   * maxDebtNs is forgiven here.
   */
  allowance(nowNs: number): number {
    if (nowNs < this.gateNs) return 0;
    const due = this.originNs + this.spent * this.unitNs;
    if (nowNs < due) return 0;
    let late = nowNs - due;
    if (late > this.maxDebtNs) {
      this.originNs += late - this.maxDebtNs;
      late = this.maxDebtNs;
    }
    const n = this.burst + Math.floor(late / this.frameNs);
    return n < this.maxBurst ? n : this.maxBurst;
  }

  /** Records a release at `nowNs` of frames costing `cost` units in all (their count, when counting frames). */
  consume(nowNs: number, cost: number): void {
    this.spent += cost;
    this.gateNs = nowNs + (cost * this.unitNs) / CATCH_UP;
  }

  /** Nanoseconds until the next release may go (0: now). */
  waitNs(nowNs: number): number {
    const due = this.originNs + this.spent * this.unitNs;
    const next = due > this.gateNs ? due : this.gateNs;
    return next > nowNs ? next - nowNs : 0;
  }
}
