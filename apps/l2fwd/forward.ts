// l2fwd's data plane: lanes of RX burst → rewrite MACs in place → TX burst, until told to stop. A lane is
// one RX queue of one port and the TX queue it sends on, on the paired port. The main thread runs every
// lane itself (no --cores), or pinned workers each run theirs (apps/l2fwd/worker.ts) on queues they
// attached from handles. Each thread counts into its own padded block of shared memory (no two threads
// write one cache line, nothing is lost to races); the control plane sums the blocks.
import {
  attachRxQueue, attachTxQueue, Burst, Mempool, net, RxWaiter,
  type QueueHandle, type RxQueue, type TxQueue,
} from "../../src/index.ts";

export interface LaneSpec {
  rx: number;
  rxQueue: number;
  tx: number;
  txQueue: number;
}

/** Counters per thread: rx, tx, dropped per port index at [3*i], [3*i+1], [3*i+2] of the thread's block. */
export class ForwardCounters {
  /** Doubles per block, rounded up to whole cache lines. */
  readonly stride: number;

  constructor(readonly sab: SharedArrayBuffer, readonly ports: number) {
    this.stride = Math.ceil((3 * ports) / 8) * 8;
  }

  static create(ports: number, threads: number): ForwardCounters {
    const stride = Math.ceil((3 * ports) / 8) * 8;
    return new ForwardCounters(new SharedArrayBuffer(8 * stride * Math.max(1, threads)), ports);
  }

  /** Thread t's block. */
  block(t: number): Float64Array {
    return new Float64Array(this.sab, 8 * this.stride * t, this.stride);
  }

  /** rx, tx, dropped of port i summed over every thread. */
  port(i: number): { rx: number; tx: number; dropped: number } {
    const all = new Float64Array(this.sab);
    const out = { rx: 0, tx: 0, dropped: 0 };
    for (let at = 0; at < all.length; at += this.stride) {
      out.rx += all[at + 3 * i]!;
      out.tx += all[at + 3 * i + 1]!;
      out.dropped += all[at + 3 * i + 2]!;
    }
    return out;
  }

  /** rx, tx, dropped of thread t summed over every port. */
  thread(t: number): { rx: number; tx: number; dropped: number } {
    const b = this.block(t);
    const out = { rx: 0, tx: 0, dropped: 0 };
    for (let i = 0; i < this.ports; i++) {
      out.rx += b[3 * i]!;
      out.tx += b[3 * i + 1]!;
      out.dropped += b[3 * i + 2]!;
    }
    return out;
  }
}

export interface LaneOptions {
  burst: number;
  macUpdating: boolean;
  /** Sleep on the RX queues when idle (the default); false: poll without pause, as DPDK's l2fwd does. */
  sleepWhenIdle: boolean;
}

/** What a worker gets: its lanes with the queue handles they use, and its counter block. */
export interface WorkerInit extends LaneOptions {
  lanes: { spec: LaneSpec; rx: QueueHandle; tx: QueueHandle; txMac: string }[];
  counters: SharedArrayBuffer;
  ports: number;
  block: number;
}

/** One lane, ready to run. */
interface Lane {
  rxq: RxQueue;
  txq: TxQueue;
  rxCounter: number;
  txCounter: number;
  burst: Burst;
  /** MAC updating: destination 02:00:00:00:00:<TX port index>, source the TX port's own MAC (DPDK's l2fwd). */
  rewrite: net.MacRewrite;
}

/**
 * Empty polls of every lane before the forwarder sleeps. Roughly 100 µs of silence: short gaps inside a
 * stream never reach it (a sleeping forwarder lets the rings overflow), an idle link soon does.
 */
const IDLE_ROUNDS = 1024;
/**
 * How long an idle worker sleeps on its queues at most before it looks at the stop flag again (ms). Frames
 * wake it at once; this only bounds how late it sees a stop request, and each wake-up costs a few register
 * accesses and system calls (an idle forwarder should cost next to nothing).
 */
const IDLE_SLEEP_MS = 100;
/**
 * The same for a main thread that owns its process (bdk l2fwd without --cores): a few ms at a time, inside
 * its 20 ms slice, so that signals, timers and telemetry still run every slice. It used to yield to the event
 * loop with a 1 ms timer instead, which held a frame arriving after a pause for up to a millisecond
 * (bench/latency.ts: p50 0.54 ms through l2fwd on af_packet at 10 kpps).
 */
const MAIN_IDLE_SLEEP_MS = 5;

function lane(spec: LaneSpec, rxq: RxQueue, txq: TxQueue, txMac: string, burst: number): Lane {
  const rewrite = new net.MacRewrite(new Uint8Array([0x02, 0, 0, 0, 0, spec.tx & 0xff]), macBytes(txMac));
  return { rxq, txq, rxCounter: 3 * spec.rx, txCounter: 3 * spec.tx, burst: new Burst(burst), rewrite };
}

/**
 * Runs lanes on queues this thread already holds (the main thread, no --cores). When idle it sleeps on its RX
 * queues if `sleepOnQueues` (the thread is l2fwd's alone), else it yields to the event loop, so that other
 * work sharing the thread (an in-process pktgen sending on a ring port) gets to run.
 */
export async function forwardInMainThread(pool: Mempool, lanes: { spec: LaneSpec; rxq: RxQueue; txq: TxQueue; txMac: string }[],
  o: LaneOptions, counters: Float64Array, shouldStop: () => boolean, sleepOnQueues = false): Promise<void> {
  const ready = lanes.map((l) => lane(l.spec, l.rxq, l.txq, l.txMac, o.burst));
  const waiter = sleepOnQueues && o.sleepWhenIdle ? new RxWaiter(ready.map((l) => l.rxq)) : undefined;
  try {
    await loop(ready, pool, counters, o.macUpdating, shouldStop, waiter, true, !o.sleepWhenIdle);
  } finally {
    waiter?.close();
  }
}

/** A worker's share: attach the queues of its lanes (one pool attachment for all), forward, sleep on its RX queues when idle. */
export async function forwardInWorker(init: WorkerInit, shouldStop: () => boolean): Promise<void> {
  const pool = Mempool.attach(init.lanes[0]!.rx.pool);
  const lanes: Lane[] = [];
  for (const l of init.lanes) {
    const rxq = await attachRxQueue(l.rx, { pool });
    const txq = await attachTxQueue(l.tx, { pool });
    lanes.push(lane(l.spec, rxq, txq, l.txMac, init.burst));
  }
  const waiter = init.sleepWhenIdle ? new RxWaiter(lanes.map((l) => l.rxq)) : undefined;
  const counters = new ForwardCounters(init.counters, init.ports).block(init.block);
  try {
    await loop(lanes, pool, counters, init.macUpdating, shouldStop, waiter, false, !init.sleepWhenIdle);
  } finally {
    waiter?.close();
    pool.flushCache(); // buffers cached by this worker go back to the shared ring before it exits
  }
}

/**
 * Forwards until stopped. With a waiter it sleeps on its queues when idle; without, it yields to the event
 * loop. The main thread goes back to the event loop after every slice; a worker only looks at its stop flag.
 */
async function loop(lanes: Lane[], pool: Mempool, counters: Float64Array, macUpdating: boolean, shouldStop: () => boolean,
  waiter: RxWaiter | undefined, mainThread: boolean, poll: boolean): Promise<void> {
  let idleRounds = 0;
  for (;;) {
    // A slice of forwarding; then, in the main thread, back to the event loop so that signals, timers and
    // whatever else shares the thread (an in-process pktgen) run.
    const sliceEnd = performance.now() + 20;
    let rounds = 0;
    let idle = false;
    do {
      let moved = 0;
      for (let l = 0; l < lanes.length; l++) moved += forwardLane(lanes[l]!, pool, counters, macUpdating);
      if (moved !== 0) idleRounds = 0;
      else if (++idleRounds >= IDLE_ROUNDS) {
        if (waiter === undefined) {
          // --idle poll: a worker goes on polling; the main thread yields to the event loop at once.
          if (poll) {
            if (!mainThread) continue;
            idleRounds = 0;
            break;
          }
          idle = true;
          break;
        }
        // Nothing to forward for a while: sleep until any of the queues has frames. A worker then looks at its
        // stop flag; the main thread stays in its slice (a wake-up goes straight back to forwarding).
        if (waiter.wait(mainThread ? MAIN_IDLE_SLEEP_MS : IDLE_SLEEP_MS)) idleRounds = 0;
        if (!mainThread || performance.now() >= sliceEnd) break;
      }
    } while ((++rounds & 255) !== 0 || performance.now() < sliceEnd);
    if (shouldStop()) return;
    if (mainThread) await Bun.sleep(idle ? 1 : 0);
  }
}

/** The per-burst work: no allocation, no closures; frames are changed in place in the pool. */
function forwardLane(lane: Lane, pool: Mempool, counters: Float64Array, macUpdating: boolean): number {
  const burst = lane.burst;
  const n = lane.rxq.burst(burst);
  if (n === 0) return 0;
  counters[lane.rxCounter]! += n;
  if (macUpdating) {
    const rewrite = lane.rewrite;
    const bufs = burst.bufs;
    for (let i = 0; i < n; i++) rewrite.apply(pool.bytes, pool.u16, pool.u32, pool.offset(bufs[i]!));
  }
  const sent = lane.txq.burst(burst, 0);
  counters[lane.txCounter + 1]! += sent;
  if (sent < n) {
    counters[lane.txCounter + 2]! += n - sent;
    burst.freeFrom(pool, sent);
  }
  burst.count = 0;
  return n;
}

function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}
