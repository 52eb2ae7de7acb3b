// Worker for af_packet-workers.test.ts: RX queue `queue` and TX queue `queue` of an af_packet port the main
// thread opened and started, attached from their handles. The worker transmits `txFrames` frames (EtherType
// 0x88b5, byte 14 = its queue, bytes 15..18 = a sequence number) and receives until told to stop, noting the
// 32-bit id at byte 42 of every frame (the test's UDP frames carry one there). Idle and done sending, it
// sleeps in an RxWaiter over its RX queue (epoll on the queue's socket) instead of spinning.
import type { QueueHandle } from "../../../src/ethdev/queue.ts";
import { attachRxQueue, attachTxQueue, Burst, RxWaiter } from "../../../src/index.ts";
import { runWorker } from "../../../src/lcore/worker-runtime.ts";
import { Mempool } from "../../../src/mem/mempool.ts";

export interface AfPacketWorkerInit {
  rx: QueueHandle;
  tx: QueueHandle;
  queue: number;
  txFrames: number;
  /** Destination and source MAC of the frames it sends, as 6 bytes. */
  dst: number[];
  src: number[];
}

export interface AfPacketWorkerResult {
  queue: number;
  /** The ids of the frames received on its RX queue, in order. */
  ids: number[];
  sent: number;
  /** Bursts that took fewer frames than offered (TX ring full): retried. */
  shortBursts: number;
  /** The port id the queues carry (what RX writes into pool.port), and received frames that carried another. */
  portId: number;
  wrongPort: number;
  /** RxWaiter sleeps, and those that ended with a frame ready. */
  waits: number;
  wakes: number;
  /** The worker's queues' own counters when it finished (the same memory the owner's port sums). */
  rxQueuePackets: number;
  txQueuePackets: number;
}

runWorker(async (init: AfPacketWorkerInit, ctx): Promise<AfPacketWorkerResult> => {
  const pool = Mempool.attach(init.rx.pool);
  const rxq = await attachRxQueue(init.rx, { pool });
  const txq = await attachTxQueue(init.tx, { pool });
  const waiter = new RxWaiter([rxq]);
  const q = init.queue;
  const res: AfPacketWorkerResult = {
    queue: q, ids: [], sent: 0, shortBursts: 0, portId: rxq.portId, wrongPort: 0, waits: 0, wakes: 0,
    rxQueuePackets: 0, txQueuePackets: 0,
  };
  const rx = new Burst(32);
  const tx = new Burst(32);
  const bytes = pool.bytes;
  try {
    while (!ctx.shouldStop()) {
      if (res.sent < init.txFrames) {
        const want = Math.min(32, init.txFrames - res.sent);
        if (pool.allocBulk(tx.bufs, 0, want) === want) {
          for (let i = 0; i < want; i++) {
            const b = tx.bufs[i]!;
            const o = pool.offset(b);
            const seq = res.sent + i;
            for (let k = 0; k < 6; k++) {
              bytes[o + k] = init.dst[k]!;
              bytes[o + 6 + k] = init.src[k]!;
            }
            bytes[o + 12] = 0x88;
            bytes[o + 13] = 0xb5;
            bytes[o + 14] = q;
            bytes[o + 15] = seq >>> 24;
            bytes[o + 16] = (seq >>> 16) & 0xff;
            bytes[o + 17] = (seq >>> 8) & 0xff;
            bytes[o + 18] = seq & 0xff;
            for (let k = 19; k < 60; k++) bytes[o + k] = k;
            pool.len[b] = 60;
          }
          tx.count = want;
          const took = txq.burst(tx);
          if (took < want) res.shortBursts++;
          tx.freeFrom(pool, took);
          res.sent += took;
        }
      }
      const n = rxq.burst(rx);
      for (let i = 0; i < n; i++) {
        const b = rx.bufs[i]!;
        if (pool.port[b] !== rxq.portId) res.wrongPort++;
        const o = pool.offset(b) + 42;
        res.ids.push(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
        pool.free(b);
      }
      // Idle and done sending: sleep until a frame comes or 5 ms pass, then look at the stop flag.
      if (n === 0 && res.sent >= init.txFrames) {
        res.waits++;
        if (waiter.wait(5)) res.wakes++;
      }
    }
  } finally {
    waiter.close();
  }
  res.rxQueuePackets = rxq.stats().packets;
  res.txQueuePackets = txq.stats().packets;
  pool.flushCache();
  return res;
});
