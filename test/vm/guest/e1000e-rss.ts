// RSS on the 82574 (run by test/vm/nics.test.ts on a crossed wire): the e1000 sends 64 UDP flows (source
// 10.0.0.1 … 10.0.0.64) to the e1000e, configured with two RX queues and RSS; two pinned workers each own one
// RX queue through its handle and count per flow. Reports what each worker saw.
import { Burst, Mempool, net, openPort, startWorkers } from "../../../src/index.ts";
import { bdk, report } from "./lib.ts";
import type { RssWorkerInit, RssWorkerResult } from "./rss-worker.ts";

const [S, R] = process.argv.slice(2) as [string, string];
report("bind", bdk("devbind", "--bind", "vfio-pci", S, R, "--force").code);
const pool = Mempool.create({ count: 4096, name: "rss" });
const s = openPort(S, { pool });
const r = openPort(R, { pool, rxQueues: 2, txQueues: 2, rss: {} });
s.start();
r.start();
const until = Date.now() + 5000;
while ((!s.link().up || !r.link().up) && Date.now() < until) await Bun.sleep(20);
await Bun.sleep(1300); // QEMU's receive hold after RCTL is written
const group = await startWorkers<RssWorkerInit, RssWorkerResult>(new URL("./rss-worker.ts", import.meta.url), {
  cores: [0, 1], name: "rss", init: (_core, i) => ({ rx: r.rxQueue(i).handle() }),
});
const FLOWS = 64;
const PER_FLOW = 50;
const burst = new Burst(32);
let sent = 0;
for (let round = 0; round < PER_FLOW; round++) {
  for (let f = 0; f < FLOWS; f += 32) {
    burst.count = pool.allocBulk(burst.bufs, 0, 32);
    for (let k = 0; k < burst.count; k++) {
      const b = burst.bufs[k]!;
      const o = pool.offset(b);
      const flow = f + k + 1;
      pool.bytes.fill(0xff, o, o + 6);
      pool.bytes.set([0x02, 0, 0, 0, 0, 0x01], o + 6);
      pool.bytes[o + 12] = 0x08;
      pool.bytes[o + 13] = 0x00;
      net.ipv4Write(pool.bytes, o + 14, 0, 20 + 8 + 18, round, 0, 64, 17, (10 << 24) | flow, (10 << 24) | (1 << 16) | 1);
      net.udpWrite(pool.bytes, o + 34, 1000 + flow, 2000, 8 + 18);
      pool.len[b] = 64;
    }
    let off = 0;
    while (off < burst.count) off += s.txQueue(0).burst(burst, off);
    sent += burst.count;
    burst.count = 0;
    await Bun.sleep(2);
  }
}
await Bun.sleep(2000);
const results = await group.stop(10_000);
report("rss", { sent, workers: results, stats: [r.queueStats(0, "rx"), r.queueStats(1, "rx")], tids: group.workers.map((w) => w.cpus) });
s.close();
r.close();
report("done", true);
