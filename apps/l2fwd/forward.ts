// l2fwd's data plane: lanes of rxBurst → rewrite MACs in place → txBurst, until told to stop. A lane is one
// RX queue of one port and the TX queue it sends on, on the paired port. The main thread runs every lane
// itself (no --cores), or pinned workers each run theirs (apps/l2fwd/worker.ts) on views of the ports the
// main thread opened. Counters go to shared memory either way, so that the control plane can print rates.
import { attachPort, type PortHandle } from "../../src/ethdev/attach.ts";
import { Burst, type Port } from "../../src/ethdev/port.ts";
import { Mempool } from "../../src/mem/mempool.ts";

export interface LaneSpec {
  rx: number;
  rxQueue: number;
  tx: number;
  txQueue: number;
}

export interface LaneOptions {
  burst: number;
  macUpdating: boolean;
  /** rx, tx, dropped per port index, at [3*i], [3*i+1], [3*i+2]. */
  counters: SharedArrayBuffer;
}

/** What a worker gets: the ports as handles (by port index; only those its lanes touch are attached). */
export interface WorkerInit extends LaneOptions {
  handles: (PortHandle | undefined)[];
  lanes: LaneSpec[];
}

/** One lane, ready to run. */
interface Lane {
  rxPort: Port;
  txPort: Port;
  rxQueue: number;
  txQueue: number;
  txIndex: number;
  rxCounter: number;
  txCounter: number;
  burst: Burst;
  /** The TX port's MAC, for MAC updating. */
  txMac: Uint8Array;
}

/**
 * Empty polls of every lane before the forwarder sleeps. Roughly 100 µs of silence: short gaps inside a
 * stream never reach it (a sleeping forwarder lets the kernel's rings overflow), an idle link soon does.
 */
const IDLE_ROUNDS = 1024;

/** Runs `specs` over `ports` (by index) until `shouldStop`; the main thread yields to its event loop between slices. */
export async function forwardLanes(ports: Port[], pool: Mempool, specs: LaneSpec[], o: LaneOptions, shouldStop: () => boolean, yieldToEventLoop: boolean): Promise<void> {
  const lanes: Lane[] = specs.map((l) => ({
    rxPort: ports[l.rx]!, txPort: ports[l.tx]!, rxQueue: l.rxQueue, txQueue: l.txQueue, txIndex: l.tx,
    rxCounter: 3 * l.rx, txCounter: 3 * l.tx, burst: new Burst(o.burst), txMac: macBytes(ports[l.tx]!.macAddress()),
  }));
  await loop(lanes, pool, new Float64Array(o.counters), o.macUpdating, shouldStop, yieldToEventLoop);
}

/** A worker's share: attach to the ports its lanes use (one pool attachment for all), forward, drop the views. */
export async function forwardInWorker(init: WorkerInit, shouldStop: () => boolean): Promise<void> {
  const first = init.handles.find((h) => h !== undefined)!;
  const pool = Mempool.attach(first.pool);
  const ports: Port[] = [];
  const used = new Set(init.lanes.flatMap((l) => [l.rx, l.tx]));
  try {
    for (const i of used) ports[i] = await attachPort(init.handles[i]!, { pool });
    await forwardLanes(ports, pool, init.lanes, init, shouldStop, false);
  } finally {
    for (const p of ports) p?.close(); // a view's close only drops the view
    pool.flushCache(); // buffers cached by this worker go back to the shared ring before it exits
  }
}

async function loop(lanes: Lane[], pool: Mempool, counters: Float64Array, macUpdating: boolean, shouldStop: () => boolean, yieldToEventLoop: boolean): Promise<void> {
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
        // Nothing to forward for a while: a worker sleeps on a port that can wait; the main thread yields.
        if (yieldToEventLoop) {
          idle = true;
          break;
        }
        idleWait(lanes[idleRounds % lanes.length]!);
      }
    } while ((++rounds & 255) !== 0 || performance.now() < sliceEnd);
    if (shouldStop()) return;
    if (yieldToEventLoop) await Bun.sleep(idle ? 1 : 0);
  }
}

/** The per-burst work: no allocation, no closures; frames are changed in place in the pool. */
function forwardLane(lane: Lane, pool: Mempool, counters: Float64Array, macUpdating: boolean): number {
  const burst = lane.burst;
  const n = lane.rxPort.rxBurst(lane.rxQueue, burst);
  if (n === 0) return 0;
  counters[lane.rxCounter]! += n;
  if (macUpdating) {
    // DPDK's l2fwd: destination 02:00:00:00:00:<TX port>, source the TX port's own MAC.
    const bytes = pool.bytes;
    const src = lane.txMac;
    const bufs = burst.bufs;
    for (let i = 0; i < n; i++) {
      const off = pool.offset(bufs[i]!);
      bytes[off] = 0x02;
      bytes[off + 1] = 0;
      bytes[off + 2] = 0;
      bytes[off + 3] = 0;
      bytes[off + 4] = 0;
      bytes[off + 5] = lane.txIndex;
      bytes[off + 6] = src[0]!;
      bytes[off + 7] = src[1]!;
      bytes[off + 8] = src[2]!;
      bytes[off + 9] = src[3]!;
      bytes[off + 10] = src[4]!;
      bytes[off + 11] = src[5]!;
    }
  }
  const sent = lane.txPort.txBurst(lane.txQueue, burst, 0);
  counters[lane.txCounter + 1]! += sent;
  if (sent < n) {
    counters[lane.txCounter + 2]! += n - sent;
    burst.freeFrom(pool, sent);
  }
  burst.count = 0;
  return n;
}

/** Sleeps on a port that can wait (a socket's poll, a NIC's interrupt), rather than burn the core. */
function idleWait(lane: Lane): void {
  if (lane.rxPort.rxWait) lane.rxPort.rxWait(lane.rxQueue, 1);
  else Bun.sleepSync(0.05);
}

function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}
