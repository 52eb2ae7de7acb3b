// Worker for af_packet-workers.test.ts: a view of an af_packet port the main thread opened and started. The
// worker owns RX queue `queue` and TX queue `queue`: it transmits `txFrames` frames (EtherType 0x88b5, byte 14 =
// its queue, bytes 15..18 = a sequence number) and receives until told to stop, noting the 32-bit id at byte 42
// of every frame (the test's UDP frames carry one there). It also tries the control plane, which must refuse.
import { attachPort, type PortHandle } from "../../../src/ethdev/attach.ts";
import { Burst, type Port } from "../../../src/ethdev/port.ts";
import { runWorker } from "../../../src/lcore/worker-runtime.ts";
import { Mempool } from "../../../src/mem/mempool.ts";

export interface AfPacketWorkerInit {
  port: PortHandle;
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
  /** Messages of the errors the control plane threw on the view ("" if it did not throw). */
  refused: Record<string, string>;
  started: boolean;
  linkUp: boolean;
  promiscuous: boolean;
  /** The view's own counters for its queues when it finished. */
  rxQueuePackets: number;
  txQueuePackets: number;
}

function errorOf(f: () => unknown): string {
  try {
    f();
    return "";
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

runWorker(async (init: AfPacketWorkerInit, ctx): Promise<AfPacketWorkerResult> => {
  const pool = Mempool.attach(init.port.pool);
  const port: Port = await attachPort(init.port, { pool });
  const q = init.queue;
  const res: AfPacketWorkerResult = {
    queue: q, ids: [], sent: 0, shortBursts: 0, refused: {}, started: port.started, linkUp: port.link().up,
    promiscuous: port.promiscuous(), rxQueuePackets: 0, txQueuePackets: 0,
  };
  res.refused.configure = errorOf(() => port.configure({ pool }));
  res.refused.start = errorOf(() => port.start());
  res.refused.stop = errorOf(() => port.stop());
  res.refused.setMtu = errorOf(() => port.setMtu(1400));
  res.refused.setPromiscuous = errorOf(() => port.setPromiscuous(false));
  res.refused.setMacAddress = errorOf(() => port.setMacAddress("02:00:00:00:00:99"));

  const rx = new Burst(32);
  const tx = new Burst(32);
  const bytes = pool.bytes;
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
        const took = port.txBurst(q, tx);
        if (took < want) res.shortBursts++;
        tx.freeFrom(pool, took);
        res.sent += took;
      }
    }
    const n = port.rxBurst(q, rx);
    for (let i = 0; i < n; i++) {
      const b = rx.bufs[i]!;
      const o = pool.offset(b) + 42;
      res.ids.push(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
      pool.free(b);
    }
    // Idle and done sending: sleep in poll(2) on the queue's socket for a few ms, then look at the stop flag.
    if (n === 0 && res.sent >= init.txFrames) port.rxWait!(q, 5);
  }
  res.rxQueuePackets = port.queueStats(q, "rx").ipackets;
  res.txQueuePackets = port.queueStats(q, "tx").opackets;
  pool.flushCache();
  port.close();
  return res;
});
