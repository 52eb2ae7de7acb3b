// Worker for ring-port.test.ts: the queues of one end of a ring link in each of two pinned workers.
//   gen:  allocates, stamps a sequence number, sends on end A; receives the echo, checks order, frees.
//   echo: receives on end B and sends every frame back (retrying until the ring takes it).
import { attachRxQueue, attachTxQueue, Burst, Mempool, runWorker, type QueueHandle } from "../../../src/index.ts";

export interface RingPortInit {
  role: "gen" | "echo";
  rx: QueueHandle;
  tx: QueueHandle;
  n: number;
}

export interface RingPortResult {
  role: string;
  sent: number;
  received: number;
  outOfOrder: number;
  refused: number;
  portId: number;
}

runWorker(async (init: RingPortInit, ctx): Promise<RingPortResult> => {
  const pool = Mempool.attach(init.rx.pool);
  const rxq = await attachRxQueue(init.rx, { pool });
  const txq = await attachTxQueue(init.tx, { pool });
  const res: RingPortResult = { role: init.role, sent: 0, received: 0, outOfOrder: 0, refused: 0, portId: rxq.portId };
  const rx = new Burst(32);
  const tx = new Burst(32);
  const u32 = new Uint32Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength >>> 2);
  if (init.role === "gen") {
    let expect = 0;
    while ((res.sent < init.n || res.received < init.n) && !ctx.shouldStop()) {
      const want = Math.min(32, init.n - res.sent);
      if (want > 0 && pool.allocBulk(tx.bufs, 0, want) === want) {
        for (let i = 0; i < want; i++) {
          const b = tx.bufs[i]!;
          u32[pool.offset(b) >>> 2] = res.sent + i;
          pool.len[b] = 60 + ((res.sent + i) & 7);
        }
        tx.count = want;
        const k = txq.burst(tx);
        res.sent += k;
        res.refused += want - k;
        tx.freeFrom(pool, k);
      }
      const got = rxq.burst(rx);
      for (let i = 0; i < got; i++) {
        const b = rx.bufs[i]!;
        if (u32[pool.offset(b) >>> 2] !== expect) res.outOfOrder++;
        expect++;
        pool.free(b);
      }
      res.received += got;
    }
  } else {
    while (!ctx.shouldStop()) {
      const got = rxq.burst(rx);
      if (got === 0) continue;
      res.received += got;
      let off = 0;
      while (off < got && !ctx.shouldStop()) off += txq.burst(rx, off);
      res.sent += off;
      rx.freeFrom(pool, off);
    }
  }
  pool.flushCache();
  return res;
});
