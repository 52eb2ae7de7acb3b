// RX and TX queues: where the bursts are (DPDK's split: the port is the control plane, rx_pkt_burst and
// tx_pkt_burst take a queue). A port hands out its queues as objects; an app's hot loop holds the queue and
// calls its burst, with no lookup per call. A queue can move to a pinned worker as a handle:
//
//   owner:   const h = port.rxQueue(1).handle();         // plain, structured-cloneable data
//   worker:  const rxq = await attachRxQueue(h);         // the same queue: burst, stats, interrupts
//
// Rules (DPDK's): one queue is used by one thread at a time; the owner (the thread that opened the port)
// keeps the control plane (configure, start, stop, close, MTU, MAC …) and stops its workers before it stops,
// reconfigures or closes the port: a handle is good for one configuration (for ports whose queues exist only
// while started, such as af_packet's sockets, for one start). A queue's counters live in shared memory, one
// 64-byte block per queue, so the owner's port.stats() sums what every worker did.
import { Mempool, type MempoolHandle } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";
import type { Burst } from "./burst.ts";

export interface QueueStats {
  packets: number;
  bytes: number;
  /** RX: unusable frames; TX: frames the port refused. */
  errors: number;
  /** RX only: frames lost for lack of ring room. */
  missed: number;
  /** RX only: refills that found the pool empty. */
  noMbuf: number;
}

export interface RxQueue {
  /** The port's id: what this queue writes into pool.port[b], the same number in every thread. */
  readonly portId: number;
  readonly queueId: number;
  /** Fills burst.bufs[0..n) with received buffers (up to its capacity) and returns n; the caller owns them. */
  burst(burst: Burst): number;
  /** True when a frame is waiting (cheap, no system call): checked after arming the interrupt, before sleeping. */
  ready(): boolean;
  /**
   * A file descriptor that becomes readable when frames arrive while the interrupt is enabled (a socket, a
   * VFIO interrupt's eventfd), for epoll; -1 when the queue has none (the waiter then polls it).
   */
  eventFd(): number;
  /** Arms the queue's interrupt: the next arrival makes eventFd() readable. */
  enableInterrupt(): void;
  /** Disarms it and clears a pending wake-up. */
  disableInterrupt(): void;
  stats(): QueueStats;
  /** The plain data a worker passes to attachRxQueue. */
  handle(): QueueHandle;
}

export interface TxQueue {
  readonly portId: number;
  readonly queueId: number;
  /**
   * Offers burst.bufs[start..count) for transmission; returns how many it took, from the front. The port
   * owns (and later frees) what it took; the rest still belongs to the caller.
   */
  burst(burst: Burst, start?: number): number;
  stats(): QueueStats;
  handle(): QueueHandle;
}

export interface QueueHandle<S = unknown> {
  /** URL of the driver module that exports `attachQueue(handle, pool): RxQueue | TxQueue`. */
  module: string;
  driver: string;
  spec: string;
  portId: number;
  dir: "rx" | "tx";
  queueId: number;
  pool: MempoolHandle;
  /** The port's counter blocks for this direction (QueueCounters.sab). */
  counters: SharedArrayBuffer;
  /** Driver-specific, structured-cloneable (SharedArrayBuffers in it are shared, not copied). */
  state: S;
}

export interface AttachOptions {
  /** A pool this thread already attached to the same memory (Mempool.attach); default: attach the handle's pool. */
  pool?: Mempool;
}

/** Signature of a driver module's attachQueue export. */
export type QueueAttacher = (h: QueueHandle, pool: Mempool) => RxQueue | TxQueue;

/** This thread's object for an RX queue another thread's port owns. */
export async function attachRxQueue(h: QueueHandle, opts: AttachOptions = {}): Promise<RxQueue> {
  return (await attach(h, "rx", opts)) as RxQueue;
}

/** This thread's object for a TX queue another thread's port owns. */
export async function attachTxQueue(h: QueueHandle, opts: AttachOptions = {}): Promise<TxQueue> {
  return (await attach(h, "tx", opts)) as TxQueue;
}

async function attach(h: QueueHandle, dir: "rx" | "tx", opts: AttachOptions): Promise<RxQueue | TxQueue> {
  const fn = dir === "rx" ? "attachRxQueue" : "attachTxQueue";
  if (!h || typeof h !== "object" || typeof h.module !== "string" || !h.pool || !(h.counters instanceof SharedArrayBuffer)) {
    throw new BdkError(`${fn}: not a queue handle`, `pass what port.${dir}Queue(q).handle() returned in the thread that opened the port`);
  }
  if (h.dir !== dir) throw new BdkError(`${fn}: the handle is of ${h.spec}'s ${h.dir.toUpperCase()} queue ${h.queueId}`, `use attach${h.dir === "rx" ? "Rx" : "Tx"}Queue for it`);
  const pool = poolFor(h, opts.pool);
  let mod: { attachQueue?: QueueAttacher };
  try {
    mod = await import(h.module);
  } catch (e) {
    throw new BdkError(`${fn}(${h.spec}): cannot load the driver module ${h.module}: ${(e as Error).message}`, "the handle must come from a port of this bdk checkout");
  }
  if (typeof mod.attachQueue !== "function") {
    throw new BdkError(`${fn}(${h.spec}): driver ${h.driver} cannot hand its queues to a worker`, `its module ${h.module} exports no attachQueue()`);
  }
  return mod.attachQueue(h, pool);
}

/** The pool a worker's queue uses: the given one (checked to be the same memory) or a fresh attachment. */
export function poolFor(h: QueueHandle, pool: Mempool | undefined): Mempool {
  if (!pool) return Mempool.attach(h.pool);
  if (pool.arena.va !== h.pool.arena.va) {
    throw new BdkError(`attaching ${h.spec} queue ${h.queueId}: the pool given is "${pool.name}", not the queue's pool "${h.pool.name}"`, "pass Mempool.attach(handle.pool), or omit the pool");
  }
  return pool;
}

export function checkHandleDriver(h: QueueHandle, driver: string): void {
  if (h.driver !== driver) throw new BdkError(`attachQueue: a ${h.driver} handle given to the ${driver} driver`, "use attachRxQueue / attachTxQueue from the package entry");
}
