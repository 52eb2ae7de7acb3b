// What every driver's queue objects share: identity, the counter block, stats and handles. A driver's RX
// queue extends RxQueueBase with its burst (the RX path, readable in one function) and, where the device
// can wake a sleeping thread, its interrupt fd.
import type { Mempool } from "../mem/mempool.ts";
import type { Burst } from "./burst.ts";
import { C_BYTES, C_ERRORS, C_MISSED, C_NOMBUF, C_PACKETS, QueueCounters } from "./counters.ts";
import type { QueueHandle, QueueStats, RxQueue, TxQueue } from "./queue.ts";

/** Who a queue is: everything but its driver state; the same in the owner and in a worker. */
export interface QueueIdentity {
  /** The driver module's URL (import.meta.url of the module exporting attachQueue). */
  module: string;
  driver: string;
  spec: string;
  portId: number;
  queueId: number;
  pool: Mempool;
  counters: QueueCounters;
}

/** The identity a worker's queue gets from a handle. */
export function identityFrom(h: QueueHandle, pool: Mempool): QueueIdentity {
  const counters = new QueueCounters(h.counters, h.counters.byteLength / 64);
  return { module: h.module, driver: h.driver, spec: h.spec, portId: h.portId, queueId: h.queueId, pool, counters };
}

abstract class QueueBase {
  readonly portId: number;
  readonly queueId: number;
  readonly pool: Mempool;
  /** This queue's counter block (C_PACKETS, C_BYTES …): the burst adds to it once per burst. */
  protected readonly cnt: Float64Array;

  constructor(protected readonly ident: QueueIdentity, private readonly dir: "rx" | "tx") {
    this.portId = ident.portId;
    this.queueId = ident.queueId;
    this.pool = ident.pool;
    this.cnt = ident.counters.block(ident.queueId);
  }

  stats(): QueueStats {
    const c = this.cnt;
    return { packets: c[C_PACKETS]!, bytes: c[C_BYTES]!, errors: c[C_ERRORS]!, missed: c[C_MISSED]!, noMbuf: c[C_NOMBUF]! };
  }

  /** The driver's part of the handle: plain data (SharedArrayBuffers, numbers, strings). */
  protected abstract handleState(): unknown;

  handle(): QueueHandle {
    const i = this.ident;
    return {
      module: i.module, driver: i.driver, spec: i.spec, portId: i.portId, dir: this.dir, queueId: i.queueId,
      pool: i.pool.handle(), counters: i.counters.sab, state: this.handleState(),
    };
  }
}

export abstract class RxQueueBase extends QueueBase implements RxQueue {
  constructor(ident: QueueIdentity) {
    super(ident, "rx");
  }

  abstract burst(burst: Burst): number;
  abstract ready(): boolean;

  /** No fd by default: a waiter polls such a queue instead of sleeping on it. */
  eventFd(): number {
    return -1;
  }

  enableInterrupt(): void {}
  disableInterrupt(): void {}
}

export abstract class TxQueueBase extends QueueBase implements TxQueue {
  constructor(ident: QueueIdentity) {
    super(ident, "tx");
  }

  abstract burst(burst: Burst, start?: number): number;
}
