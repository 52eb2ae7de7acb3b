// Worker for ring.test.ts: moves indices through a shared IndexRing.
//   spsc-producer: enqueues 0..n-1 in bursts.   spsc-consumer: dequeues n, checks order, counts each value.
//   mpmc: produces its share [from, to) and consumes until the group has consumed `total`.
import { IndexRing } from "../../../src/mem/ring.ts";
import { runWorker } from "../../../src/lcore/worker-runtime.ts";
import { raw } from "../../../src/sys/libc.ts";

export interface RingInit {
  role: "spsc-producer" | "spsc-consumer" | "mpmc";
  ring: SharedArrayBuffer;
  /** Uint32Array counter per value. */
  seen: SharedArrayBuffer;
  /** Int32Array: [0] = consumed so far (mpmc). */
  shared: SharedArrayBuffer;
  n: number;
  from?: number;
  to?: number;
  producers?: number;
  share?: number;
}

export interface RingResult {
  core: number;
  cpu: number;
  produced: number;
  consumed: number;
  outOfOrder: number;
  stopped: boolean;
}

runWorker((init: RingInit, ctx): RingResult => {
  const ring = IndexRing.attach(init.ring);
  const seen = new Uint32Array(init.seen);
  const shared = new Int32Array(init.shared);
  const buf = new Uint32Array(32);
  const res: RingResult = { core: ctx.core, cpu: -1, produced: 0, consumed: 0, outOfOrder: 0, stopped: false };
  if (init.role === "spsc-producer") {
    let next = 0;
    while (next < init.n) {
      if (ctx.shouldStop()) { res.stopped = true; break; }
      const k = Math.min(32, init.n - next);
      for (let i = 0; i < k; i++) buf[i] = next + i;
      next += ring.enqueueBurst(buf, 0, k);
    }
    res.produced = next;
  } else if (init.role === "spsc-consumer") {
    let expect = 0;
    while (expect < init.n) {
      if (ctx.shouldStop()) { res.stopped = true; break; }
      const k = ring.dequeueBurst(buf, 0, 32);
      for (let i = 0; i < k; i++) {
        const v = buf[i]!;
        if (v !== expect) res.outOfOrder++;
        seen[v]!++;
        expect++;
      }
    }
    res.consumed = expect;
  } else {
    // Each producer p makes values p, p + P, p + 2P … below n; a consumer sees each producer's values rising.
    const P = init.producers!;
    const last = new Float64Array(P).fill(-1);
    let next = init.from!;
    const total = init.n;
    for (;;) {
      if (ctx.shouldStop()) { res.stopped = true; break; }
      if (next < total) {
        let k = 0;
        for (let v = next; k < 32 && v < total; v += P) buf[k++] = v;
        const put = ring.enqueueBurst(buf, 0, k);
        next += put * P;
        res.produced += put;
      }
      const got = ring.dequeueBurst(buf, 0, 32);
      for (let i = 0; i < got; i++) {
        const v = buf[i]!;
        const p = v % P;
        if (v <= last[p]!) res.outOfOrder++;
        last[p] = v;
        Atomics.add(seen, v, 1);
      }
      res.consumed += got;
      if (got > 0 && Atomics.add(shared, 0, got) + got >= total) break;
      if (got === 0 && Atomics.load(shared, 0) >= total) break;
    }
  }
  res.cpu = raw.sched_getcpu();
  return res;
});
