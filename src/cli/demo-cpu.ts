// How much CPU the demo's two busy threads (l2fwd's worker, pktgen's loop) actually got. Both poll while
// traffic flows, so a thread that is runnable but off the CPU is the machine's doing (other load), and a
// forwarder kept off the CPU for longer than its RX ring holds loses frames however deep the ring is.
// The kernel counts both per thread in /proc/PID/task/TID/schedstat: nanoseconds on the CPU and nanoseconds
// runnable in a run queue (added when the thread next gets the CPU). Sampled every SAMPLE_MS.
import { readFileSync } from "node:fs";

const SAMPLE_MS = 100;
/** A sample in which the thread ran less than this share of the time counts towards a stretch off the CPU. */
const BARELY_RAN = 0.1;

export interface ThreadCpu {
  name: string;
  /** Time on the CPU, and runnable but waiting for it, over the watch (ms). */
  runMs: number;
  waitMs: number;
  /** waitMs as a share of the watch's wall time (%). */
  waitPct: number;
  /** The longest stretch in which the thread was runnable and barely ran (ms, to SAMPLE_MS). */
  longestStarvedMs: number;
}

function schedstat(pid: number, tid: number): [number, number] | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").trim().split(" ");
    return [Number(f[0]), Number(f[1])];
  } catch {
    return undefined;
  }
}

class Watched {
  private first: [number, number] | undefined;
  private last: [number, number] | undefined;
  private streakMs = 0;
  private streakWaitMs = 0;
  longestStarvedMs = 0;

  constructor(readonly name: string, readonly pid: number, readonly tid: number) {
    this.first = this.last = schedstat(pid, tid);
  }

  sample(dtMs: number): void {
    const now = schedstat(this.pid, this.tid);
    if (!now || !this.last) return;
    const ran = (now[0] - this.last[0]) / 1e6;
    const waited = (now[1] - this.last[1]) / 1e6;
    this.last = now;
    // Wait time is booked when the thread gets the CPU back: a long stall shows as samples where it barely
    // ran, then one with the whole wait. A stretch counts as starved when that wait covers half of it.
    this.streakWaitMs += waited;
    if (ran < BARELY_RAN * dtMs) {
      this.streakMs += dtMs;
      return;
    }
    if (this.streakMs > 0 && this.streakWaitMs >= this.streakMs / 2) this.longestStarvedMs = Math.max(this.longestStarvedMs, Math.round(this.streakMs));
    this.streakMs = 0;
    this.streakWaitMs = 0;
  }

  result(wallMs: number): ThreadCpu {
    const a = this.first ?? [0, 0];
    const b = this.last ?? a;
    const waitMs = (b[1] - a[1]) / 1e6;
    if (this.streakMs > 0 && this.streakWaitMs >= this.streakMs / 2) this.longestStarvedMs = Math.max(this.longestStarvedMs, Math.round(this.streakMs));
    return {
      name: this.name, runMs: Math.round((b[0] - a[0]) / 1e6), waitMs: Math.round(waitMs),
      waitPct: wallMs > 0 ? Math.round((1000 * waitMs) / wallMs) / 10 : 0, longestStarvedMs: this.longestStarvedMs,
    };
  }
}

/** Watches threads (name, pid, tid) from now until stop(). */
export class CpuWatch {
  private readonly threads: Watched[];
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly started = performance.now();
  private lastAt = this.started;

  constructor(threads: { name: string; pid: number; tid: number }[]) {
    this.threads = threads.map((t) => new Watched(t.name, t.pid, t.tid));
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  private sample(): void {
    const now = performance.now();
    for (const t of this.threads) t.sample(now - this.lastAt);
    this.lastAt = now;
  }

  stop(): ThreadCpu[] {
    clearInterval(this.timer);
    this.sample();
    const wall = performance.now() - this.started;
    return this.threads.map((t) => t.result(wall));
  }
}
