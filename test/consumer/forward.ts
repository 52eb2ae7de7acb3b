// An embedding app in miniature: a two-worker forwarder over ring ports, written against the package
// entry alone. The main thread generates FRAMES frames on two queues of `gen`, two pinned workers forward
// gen → in → out → sink (each owning one RX queue of `in` through a queue handle), and the main thread
// counts what reaches `sink`. Prints one JSON line; exits 1 unless every count is exact.
import { Burst, Mempool, openPort, startWorkers } from "bdk";
import type { ForwarderInit } from "./worker.ts";

const FRAMES = Number(process.argv[2] ?? 1_000_000);
const pool = Mempool.create({ count: 16384, name: "consumer" });
const config = { pool, rxQueues: 2, txQueues: 2, rxRingSize: 1024 };
const gen = openPort("ring:in", config);
const fwdIn = openPort("ring:in", config);
const fwdOut = openPort("ring:out", config);
const sink = openPort("ring:out", config);
for (const p of [gen, fwdIn, fwdOut, sink]) p.start();

const group = await startWorkers<ForwarderInit, { forwarded: number; rxQueue: number; portId: number }>(new URL("./worker.ts", import.meta.url), {
  cores: [0, 1],
  name: "consumer",
  init: (_core, w) => ({ rx: fwdIn.rxQueue(w).handle(), tx: fwdOut.txQueue(w).handle() }),
});

const burst = new Burst(32);
const genQueues = [gen.txQueue(0), gen.txQueue(1)];
const sinkQueues = [sink.rxQueue(0), sink.rxQueue(1)];
let sent = 0;
let received = 0;
let wrongPort = 0;
const until = Date.now() + 60_000;
while (received < FRAMES && Date.now() < until) {
  if (sent < FRAMES && sent - received < 4096) {
    burst.count = pool.allocBulk(burst.bufs, 0, Math.min(32, FRAMES - sent));
    for (let i = 0; i < burst.count; i++) pool.len[burst.bufs[i]!] = 60;
    const took = genQueues[(sent >> 5) & 1]!.burst(burst);
    sent += took;
    burst.freeFrom(pool, took);
  }
  for (const q of sinkQueues) {
    const n = q.burst(burst);
    for (let i = 0; i < n; i++) if (pool.port[burst.bufs[i]!] !== sink.id) wrongPort++;
    received += n;
    burst.freeFrom(pool, 0);
  }
}
const results = await group.stop();
const forwarded = results.reduce((s, r) => s + r.forwarded, 0);
const report = {
  frames: FRAMES, sent, received, forwarded, wrongPort,
  workers: results.map((r) => ({ rxQueue: r.rxQueue, forwarded: r.forwarded, portId: r.portId })),
  fwdInId: fwdIn.id,
  stats: { inRx: fwdIn.stats().ipackets, outTx: fwdOut.stats().opackets, sinkRx: sink.stats().ipackets },
};
for (const p of [gen, fwdIn, fwdOut, sink]) p.close();
pool.flushCache();
const leaked = pool.inUse();
pool.destroy();
console.log(JSON.stringify({ ...report, leaked }));
const exact = sent === FRAMES && received === FRAMES && forwarded === FRAMES && wrongPort === 0 && leaked === 0 &&
  report.stats.inRx === FRAMES && report.stats.outTx === FRAMES && report.stats.sinkRx === FRAMES;
process.exit(exact ? 0 : 1);
