// pktgen on pinned workers (--cores), DPDK Pktgen's "-m [1:2].0" in bdk's style: the main thread opens and
// starts the ports (the control plane stays with it) and hands each worker plain-data queue handles. Worker
// w attaches TX queue w of the TX port and RX queues w, w + N … of the RX port, and runs the same engine
// as the main thread would (engine.ts): its 1/N share of --count and --rate, as stream ID + w, with the
// frame ranges dealt round-robin (generator.ts), one receiver per RX queue. Every thread publishes its
// counts into its own blocks of shared memory (counters.ts); the main thread reads them for the stats
// lines, decides when the run ends (all TX done and everything arrived or the drain ran out, --rx-only's
// duration or count, a stop request), stops the group, and merges the blocks into the result.
import {
  attachRxQueue, attachTxQueue, Mempool, monotonicNs, startWorkers, type QueueHandle, type RxQueue,
} from "../../src/index.ts";
import { RunCounters, type CountersHandle, type StopReason } from "./counters.ts";
import { Engine } from "./engine.ts";
import { FrameGenerator } from "./generator.ts";
import type { ResolvedOptions } from "./options.ts";
import { Pacer, type PacingRate } from "./pacing.ts";
import { Receiver } from "./receiver.ts";

/** What worker w gets (structured-cloneable). */
export interface PktgenWorkerInit {
  /** This worker's place among the sending threads (its stream is streamId + index) and how many send. */
  index: number;
  txThreads: number;
  /** How many workers start together (the start barrier). */
  workers: number;
  /** The resolved options, without ports. */
  options: ResolvedOptions;
  /** The TX port's MAC (the default source MAC). */
  mac: string;
  tx: QueueHandle | undefined;
  /** Frames this worker sends (Infinity: no limit of its own). */
  limit: number;
  /** Its share of --rate (undefined: as fast as the queue takes frames). */
  pacing: PacingRate | undefined;
  /** Its RX queues: handles, and their queue numbers (their blocks in the counters). */
  rx: QueueHandle[];
  rxQueues: number[];
  /** Streams counted as ours (Receiver's ownStream, ownCount). */
  own: number;
  ownCount: number;
  counters: CountersHandle;
}

/** One slice of the worker's loop (ns): it publishes its counts and looks at the stop flag in between. */
const SLICE_NS = 10e6;

/** The worker's side: attach the queues (one pool attachment for all), run the engine until told to stop. */
export async function pktgenWorker(init: PktgenWorkerInit, shouldStop: () => boolean): Promise<void> {
  const first = init.tx ?? init.rx[0];
  if (first === undefined) return;
  const pool = Mempool.attach(first.pool);
  let engine: Engine | undefined;
  try {
    const txq = init.tx ? await attachTxQueue(init.tx, { pool }) : undefined;
    const rxqs: RxQueue[] = [];
    for (const h of init.rx) rxqs.push(await attachRxQueue(h, { pool }));
    const counters = new RunCounters(init.counters);
    counters.arriveAndWait(init.workers, shouldStop); // every worker's queues attached: start the schedules together
    const o = init.options;
    const src = txq ? new FrameGenerator(o, init.mac, init.index, init.txThreads) : undefined;
    const p = init.pacing;
    const pacer = p && src ? new Pacer(p.perSec, p.costA + p.costB * src.meanLen, o.burst) : undefined;
    const start = monotonicNs();
    pacer?.start(start);
    const e = (engine = new Engine({
      pool, txq, rxqs, recvs: rxqs.map(() => new Receiver(init.own, init.ownCount)), src,
      burst: o.burst, limit: init.limit, endNs: o.durationNs > 0 ? start + o.durationNs : 0, rxCount: 0, drainNs: 0,
      pacer, costA: p?.costA ?? 1, costB: p?.costB ?? 0, drainByPackets: false, external: true,
      txBlock: txq ? counters.tx[init.index] : undefined, rxBlocks: init.rxQueues.map((q) => counters.rx[q]!),
    }));
    while (!e.done) {
      if (shouldStop()) e.stopTx();
      else {
        e.slice(monotonicNs() + SLICE_NS);
        e.publish();
      }
    }
  } finally {
    engine?.publish();
    engine?.close();
    pool.flushCache(); // buffers cached by this worker go back to the shared ring before it exits
  }
}

/** A started worker: its core, its thread, and the CPU list /proc showed for that thread once pinned. */
export interface StartedWorker {
  core: number;
  tid: number;
  cpus: number[];
}

export interface WorkersRun {
  cores: number[];
  inits: PktgenWorkerInit[];
  counters: RunCounters;
  sending: boolean;
  receiving: boolean;
  /** After TX ends, how long to wait for frames in flight (ns). */
  drainNs: number;
  /** --rx-only: stop after this long (ns, 0: no limit) or this many frames received (0: no limit). */
  rxDurationNs: number;
  rxCount: number;
  /** Called every MONITOR_MS with the time (live stats). */
  tick: (nowNs: number) => void;
  stopRequested: () => boolean;
  log: (line: string) => void;
  /** Told which threads run, once they are pinned (for live views). */
  onStarted?: (workers: StartedWorker[]) => void;
}

/** How often the main thread looks at the workers' counts (ms). */
const MONITOR_MS = 10;

/**
 * The main thread's side: starts the pinned workers, watches their counts until the run is over, stops
 * them (a worker's failure comes out of here as one BdkError naming it) and says why the run ended.
 */
export async function runOnWorkers(w: WorkersRun): Promise<{ stopReason: StopReason; workers: StartedWorker[] }> {
  const group = await startWorkers<PktgenWorkerInit, void>(new URL("./worker.ts", import.meta.url), {
    cores: w.cores, name: "pktgen", init: (_core, i) => w.inits[i]!,
  });
  const workers: StartedWorker[] = group.workers.map((x) => ({ core: x.core, tid: x.tid, cpus: [...x.cpus] }));
  w.onStarted?.(workers);
  for (const [i, x] of workers.entries()) {
    const init = w.inits[i]!;
    const tx = init.tx ? `TX queue ${init.index} (stream ${(init.options.streamId + init.index) & 0xffff})` : "";
    const rx = init.rxQueues.length > 0 ? `RX queue${init.rxQueues.length > 1 ? "s" : ""} ${init.rxQueues.join(",")}` : "";
    w.log(`pktgen: worker ${i} on core ${x.core} (tid ${x.tid}): ${[tx, rx].filter((t) => t !== "").join(", ")}`);
  }
  // Every worker returned: a TX-only run is over, or one failed and the others followed (stop() says which).
  let settled = false;
  group.join().then(() => (settled = true), () => (settled = true));
  const c = w.counters;
  const start = monotonicNs();
  let stopReason: StopReason | undefined;
  try {
    for (;;) {
      await Bun.sleep(MONITOR_MS);
      const now = monotonicNs();
      w.tick(now);
      if (settled) break;
      if (w.stopRequested()) {
        stopReason = "stopped";
        break;
      }
      if (w.sending) {
        const end = c.txEndNs();
        if (end === 0) continue;
        if (!w.receiving || c.unique() >= c.sent() || now >= end + w.drainNs) break;
      } else if (w.rxDurationNs > 0 && now - start >= w.rxDurationNs) {
        stopReason = "duration";
        break;
      } else if (w.rxCount > 0 && c.received() >= w.rxCount) {
        stopReason = "rx-count";
        break;
      }
    }
  } catch (e) {
    await group.stop(5000).catch(() => {});
    throw e;
  }
  await group.stop(5000);
  if (stopReason === undefined) {
    // TX ended the run: the reason of the thread whose TX ended last (they all end by count or duration).
    let last = -1;
    stopReason = "stopped";
    for (let t = 0; t < c.tx.length; t++) {
      const x = c.txTally(t);
      if (x.endNs > last) {
        last = x.endNs;
        stopReason = x.stopReason;
      }
    }
  }
  return { stopReason, workers };
}
