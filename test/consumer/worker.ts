// One pinned worker: owns one RX queue of the forwarder's input port and one TX queue of its output port,
// both attached from handles; forwards until told to stop; sleeps on its RX queue when idle.
import { attachRxQueue, attachTxQueue, Burst, Mempool, runWorker, RxWaiter, type QueueHandle } from "bdk";

export interface ForwarderInit {
  rx: QueueHandle;
  tx: QueueHandle;
}

runWorker(async (init: ForwarderInit, ctx) => {
  const pool = Mempool.attach(init.rx.pool);
  const rxq = await attachRxQueue(init.rx, { pool });
  const txq = await attachTxQueue(init.tx, { pool });
  const waiter = new RxWaiter([rxq]);
  const burst = new Burst(32);
  let forwarded = 0;
  let idle = 0;
  while (!ctx.shouldStop()) {
    const n = rxq.burst(burst);
    if (n === 0) {
      if (++idle > 1000) waiter.wait(5);
      continue;
    }
    idle = 0;
    let sent = 0;
    // Back-pressure: the output ring is full until the main thread drains it; keep offering the rest.
    while (sent < n && !ctx.shouldStop()) sent += txq.burst(burst, sent);
    burst.freeFrom(pool, sent);
    forwarded += sent;
  }
  waiter.close();
  pool.flushCache();
  return { forwarded, rxQueue: rxq.queueId, portId: rxq.portId };
});
