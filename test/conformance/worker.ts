// The conformance suite's worker: attaches one RX and one TX queue from handles and moves `frames` frames,
// from a loopback link (it sends and receives itself) or from a source to a sink. Returns its counts.
import { attachRxQueue, attachTxQueue, Burst, Mempool, runWorker, type QueueHandle } from "../../src/index.ts";

export interface ConformanceWorkerInit {
  rx: QueueHandle;
  tx: QueueHandle;
  loopback: boolean;
  frames: number;
  /** Frames in flight at most (loopback). */
  window: number;
}

export interface ConformanceWorkerResult {
  sent: number;
  received: number;
  wrongPort: number;
  portId: number;
}

runWorker(async (init: ConformanceWorkerInit, ctx): Promise<ConformanceWorkerResult> => {
  const pool = Mempool.attach(init.rx.pool);
  const rxq = await attachRxQueue(init.rx, { pool });
  const txq = await attachTxQueue(init.tx, { pool });
  const burst = new Burst(32);
  let sent = 0;
  let received = 0;
  let wrongPort = 0;
  const until = Date.now() + 60000;
  while (received < init.frames && Date.now() < until && !ctx.shouldStop()) {
    if (init.loopback && sent - received < init.window && sent < init.frames) {
      const n = Math.min(32, init.frames - sent);
      burst.count = pool.allocBulk(burst.bufs, 0, n);
      for (let i = 0; i < burst.count; i++) {
        const b = burst.bufs[i]!;
        pool.len[b] = 60;
        pool.bytes.fill(0xff, pool.offset(b), pool.offset(b) + 6); // broadcast: every port takes it
      }
      const took = txq.burst(burst);
      sent += took;
      burst.freeFrom(pool, took);
    }
    const n = rxq.burst(burst);
    for (let i = 0; i < n; i++) if (pool.port[burst.bufs[i]!] !== rxq.portId) wrongPort++;
    received += n;
    if (!init.loopback) {
      const took = txq.burst(burst);
      sent += took;
      burst.freeFrom(pool, took);
    } else {
      burst.freeFrom(pool, 0);
    }
  }
  pool.flushCache();
  return { sent, received, wrongPort, portId: rxq.portId };
});
