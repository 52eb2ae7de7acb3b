// l2fwd's data plane: open the ports of some pairs on one mempool, then rxBurst → rewrite MACs in place →
// txBurst, for both directions of every pair and queue, until told to stop. It runs in the main thread
// (no --cores) or in a pinned worker (apps/l2fwd/worker.ts); counters go to shared memory either way so
// that the control plane can print rates while it runs.
import { attachPort, type PortHandle } from "../../src/ethdev/attach.ts";
import { openPort } from "../../src/ethdev/open.ts";
import { Burst, type Port, type PortStats } from "../../src/ethdev/port.ts";
import { Mempool } from "../../src/mem/mempool.ts";

export interface ForwardInit {
  /** Every port spec of the run; this forwarder opens only those of its pairs. */
  specs: string[];
  pairs: [number, number][];
  queues: number;
  burst: number;
  ringSize: number;
  poolSize: number;
  macUpdating: boolean;
  promiscuous: boolean;
  linkWaitSec: number;
  /** rx, tx, dropped per port index, at [3*i], [3*i+1], [3*i+2]. */
  counters: SharedArrayBuffer;
  /** Log lines to stderr (true when stdout carries JSON). */
  logToStderr: boolean;
  /** A pool to share with other ports of this thread (main-thread runs only: a pool is not cloneable). */
  pool?: Mempool;
  /**
   * Ports another thread opened, configured and started, by port index: this forwarder attaches to them
   * (src/ethdev/attach.ts) instead of opening their specs, and leaves their control to the owner.
   */
  handles?: (PortHandle | undefined)[];
}

export interface ForwardResult {
  /** Final port statistics by port index (only this forwarder's ports). */
  stats: Record<number, PortStats>;
  macs: Record<number, string>;
}

/** One direction of one queue. */
interface Lane {
  rxPort: Port;
  txPort: Port;
  txIndex: number;
  rxCounter: number;
  txCounter: number;
  queue: number;
  burst: Burst;
  /** The TX port's MAC, for MAC updating. */
  txMac: Uint8Array;
}

export async function forwardPairs(init: ForwardInit, shouldStop: () => boolean, yieldToEventLoop: boolean): Promise<ForwardResult> {
  const log = (line: string): void => (init.logToStderr ? console.error(line) : console.log(line));
  const counters = new Float64Array(init.counters);
  const firstHandle = init.handles?.find((h) => h !== undefined);
  const pool = init.pool ?? (firstHandle ? Mempool.attach(firstHandle.pool) : Mempool.create({ count: init.poolSize, name: "l2fwd" }));
  const ownPool = !init.pool && !firstHandle;
  const ports = new Map<number, Port>();
  const owned: Port[] = [];
  try {
    for (const [a, b] of init.pairs) {
      for (const i of [a, b]) {
        const h = init.handles?.[i];
        const port = h ? await attachPort(h, { pool }) : openPort(init.specs[i]!, {
          pool, rxQueues: init.queues, txQueues: init.queues, rxRingSize: init.ringSize, txRingSize: init.ringSize, promiscuous: init.promiscuous,
        });
        ports.set(i, port);
        if (!h) owned.push(port);
      }
    }
    for (const p of owned) p.start();
    await waitForLinks(ports, init.linkWaitSec, log);
    const lanes: Lane[] = [];
    const lane = (rx: number, tx: number, queue: number): Lane => ({
      rxPort: ports.get(rx)!, txPort: ports.get(tx)!, txIndex: tx, rxCounter: 3 * rx, txCounter: 3 * tx, queue,
      burst: new Burst(init.burst), txMac: macBytes(ports.get(tx)!.macAddress()),
    });
    for (const [a, b] of init.pairs) {
      for (let q = 0; q < init.queues; q++) lanes.push(lane(a, b, q), lane(b, a, q));
      log(`l2fwd: port ${a} (${init.specs[a]}) <-> port ${b} (${init.specs[b]})`);
    }
    await loop(lanes, pool, counters, init.macUpdating, shouldStop, yieldToEventLoop);
    const stats: Record<number, PortStats> = {};
    const macs: Record<number, string> = {};
    for (const [i, p] of ports) {
      stats[i] = p.stats();
      macs[i] = p.macAddress();
    }
    return { stats, macs };
  } finally {
    for (const p of ports.values()) {
      try {
        p.close();
      } catch (e) {
        console.error(`l2fwd: closing ${p.spec}: ${(e as Error).message}`);
      }
    }
    if (ownPool) pool.destroy();
  }
}

/**
 * Empty polls of every lane before the forwarder sleeps. Roughly 100 µs of silence: short gaps inside a
 * stream never reach it (a sleeping forwarder lets the kernel's rings overflow), an idle link soon does.
 */
const IDLE_ROUNDS = 1024;

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
  const n = lane.rxPort.rxBurst(lane.queue, burst);
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
  const sent = lane.txPort.txBurst(lane.queue, burst, 0);
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
  if (lane.rxPort.rxWait) lane.rxPort.rxWait(lane.queue, 1);
  else Bun.sleepSync(0.05);
}

async function waitForLinks(ports: Map<number, Port>, seconds: number, log: (line: string) => void): Promise<void> {
  const until = performance.now() + seconds * 1000;
  while ([...ports.values()].some((p) => !p.link().up) && performance.now() < until) await Bun.sleep(100);
  for (const [i, p] of ports) {
    const l = p.link();
    log(`port ${i} (${p.spec}) ${p.macAddress()}: link ${l.up ? "up" : "DOWN"}${l.speedMbps ? ` ${l.speedMbps} Mbit/s` : ""}`);
  }
}

function macBytes(mac: string): Uint8Array {
  return new Uint8Array(mac.split(":").map((h) => parseInt(h, 16)));
}
