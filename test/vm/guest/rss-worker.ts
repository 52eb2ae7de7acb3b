// A pinned worker of nic-rss.ts: owns one RX queue (attached from its handle) and counts, per flow (the
// source address's last byte), the frames and the RSS hashes it sees, until told to stop.
import { attachRxQueue, Burst, BUF_RSS_HASH, Mempool, runWorker, RxWaiter, type QueueHandle } from "../../../src/index.ts";

export interface RssWorkerInit {
  rx: QueueHandle;
}

export interface RssWorkerResult {
  queue: number;
  frames: number[];
  hashes: number[][];
  withoutHash: number;
}

runWorker(async (init: RssWorkerInit, ctx): Promise<RssWorkerResult> => {
  const pool = Mempool.attach(init.rx.pool);
  const rxq = await attachRxQueue(init.rx, { pool });
  const waiter = new RxWaiter([rxq]);
  const frames = new Array<number>(256).fill(0);
  const hashes: Set<number>[] = Array.from({ length: 256 }, () => new Set<number>());
  let withoutHash = 0;
  const burst = new Burst(32);
  while (!ctx.shouldStop()) {
    const n = rxq.burst(burst);
    if (n === 0) {
      waiter.wait(20);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const b = burst.bufs[i]!;
      const o = pool.offset(b);
      if (pool.bytes[o + 12] !== 0x08 || pool.bytes[o + 13] !== 0x00) continue;
      const flow = pool.bytes[o + 14 + 15]!; // IPv4 source address, last byte
      frames[flow]!++;
      if ((pool.flags[b]! & BUF_RSS_HASH) === 0) withoutHash++;
      else hashes[flow]!.add(pool.rssHash[b]!);
    }
    burst.freeFrom(pool, 0);
  }
  waiter.close();
  pool.flushCache();
  return { queue: rxq.queueId, frames, hashes: hashes.map((h) => [...h]), withoutHash };
});
