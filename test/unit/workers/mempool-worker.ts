// Worker for mempool.test.ts: allocates buffers, stamps them, hands them to the other worker through a
// ring, and frees what the other worker hands over (checking the stamp). Flushes its cache at the end.
import { IndexRing } from "../../../src/mem/ring.ts";
import { runWorker } from "../../../src/lcore/worker-runtime.ts";
import { Mempool, type MempoolHandle } from "../../../src/mem/mempool.ts";

export interface MempoolInit {
  pool: MempoolHandle;
  toPeer: SharedArrayBuffer;
  fromPeer: SharedArrayBuffer;
  send: number;
  me: number;
}

export interface MempoolResult {
  sent: number;
  freed: number;
  badStamp: number;
  notAllocated: number;
  allocFailures: number;
}

runWorker((init: MempoolInit, ctx): MempoolResult => {
  const pool = Mempool.attach(init.pool);
  const out = IndexRing.attach(init.toPeer);
  const inn = IndexRing.attach(init.fromPeer);
  const buf = new Uint32Array(32);
  const res: MempoolResult = { sent: 0, freed: 0, badStamp: 0, notAllocated: 0, allocFailures: 0 };
  const u32 = new Uint32Array(pool.bytes.buffer, pool.bytes.byteOffset, pool.bytes.byteLength >>> 2);
  const peer = 1 - init.me;
  let round = 0;
  while ((res.sent < init.send || res.freed < init.send) && !ctx.shouldStop()) {
    if (res.sent < init.send) {
      // Alternate bulk and single allocations.
      const want = Math.min(round++ & 1 ? 32 : 1, init.send - res.sent);
      let k = 0;
      if (want === 1) {
        const b = pool.alloc();
        if (b >= 0) buf[k++] = b;
      } else if (pool.allocBulk(buf, 0, want) === want) k = want;
      for (let i = 0; i < k; i++) {
        const b = buf[i]!;
        u32[pool.offset(b) >>> 2] = init.me * 0x10000000 + res.sent + i; // the stamp: who, which
        pool.len[b] = 60;
      }
      if (k > 0) {
        if (out.enqueueBulk(buf, 0, k) !== k) throw new Error("hand-over ring full: it is as large as the pool");
        res.sent += k;
      }
    }
    const got = inn.dequeueBurst(buf, 0, 32);
    for (let i = 0; i < got; i++) {
      const b = buf[i]!;
      if (!pool.isAllocated(b)) res.notAllocated++;
      if ((u32[pool.offset(b) >>> 2]! >>> 28) !== peer) res.badStamp++;
      pool.free(b);
    }
    res.freed += got;
  }
  res.allocFailures = pool.allocFailures;
  pool.flushCache();
  return res;
});
