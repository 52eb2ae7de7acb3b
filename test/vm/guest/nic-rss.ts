// RSS (run by test/vm/nic-suites.ts): two NICs of one kind, NIC 0 on the host's tapA, NIC 1 on tapB.
// Arguments: the two PCI addresses and the number of RX queues Q.
//   1. NIC 0 with Q RX queues and RSS; Q pinned workers (on cores 0, 1, 0, 1 …) each own one RX queue
//      through its handle and count the host's 64 UDP flows (source 10.0.0.1 … 10.0.0.64) per flow, with
//      the RSS hash each buffer carries. The host sends when told `@@rss-ready`, signals `rss-sent` when done.
//   2. `bdk l2fwd --cores 0,1 --port-queues Q` between the two: two pinned workers, worker w owning RX queues
//      w, w + 2 … and TX queue w of both ports, forward the host's flows from tapA to tapB. The host signals
//      `fwd-done`.
import { readFileSync } from "node:fs";
import { Mempool, openPort, startWorkers } from "../../../src/index.ts";
import { bdk, BUN, PROJECT, report, waitSignal } from "./lib.ts";
import type { RssWorkerInit, RssWorkerResult } from "./rss-worker.ts";

const [R, B, queueArg = "2"] = process.argv.slice(2) as [string, string, string?];
const Q = Number(queueArg);
report("bind", bdk("devbind", "--bind", "vfio-pci", R, B, "--force").code);

// ---- 1. per-flow queue and hash ----
{
  const pool = Mempool.create({ count: 4096, name: "rss" });
  const r = openPort(R, { pool, rxQueues: Q, txQueues: 1, rss: {} });
  r.start();
  const until = Date.now() + 5000;
  while (!r.link().up && Date.now() < until) await Bun.sleep(20);
  await Bun.sleep(1300); // QEMU's receive hold after RCTL is written
  const group = await startWorkers<RssWorkerInit, RssWorkerResult>(new URL("./rss-worker.ts", import.meta.url), {
    cores: Array.from({ length: Q }, (_, i) => i % 2), name: "rss", init: (_core, i) => ({ rx: r.rxQueue(i).handle() }),
  });
  report("rss-ready", { mac: r.macAddress() });
  await waitSignal("rss-sent", 120_000);
  await Bun.sleep(1000);
  const results = await group.stop(10_000);
  report("rss", { workers: results, stats: Array.from({ length: Q }, (_, q) => r.queueStats(q, "rx")), cpus: group.workers.map((w) => w.cpus) });
  r.close();
  pool.flushCache();
  pool.destroy();
}

// ---- 2. l2fwd with two pinned workers ----
{
  const fw = Bun.spawn([BUN, `${PROJECT}/apps/l2fwd.ts`, R, B, "--cores", "0,1", "--port-queues", String(Q), "--no-mac-updating", "--period", "0",
    "--link-wait", "5", "--json"], { cwd: PROJECT, stdout: "pipe", stderr: "pipe" });
  let err = "";
  const pump = (async () => {
    for await (const chunk of fw.stderr) {
      err += new TextDecoder().decode(chunk);
      if ((err.match(/worker on core/g) ?? []).length === 2 && !err.includes("@@sent-ready")) {
        err += "@@sent-ready";
        await Bun.sleep(1500); // RCTL's hold
        report("fwd-ready", true);
      }
    }
  })();
  await waitSignal("fwd-done", 240_000);
  // Where the workers run, from /proc while they do (l2fwd logs each worker's tid).
  const pinned = [...err.matchAll(/worker on core (\d+) \(tid (\d+)\)/g)].map(([, core, tid]) => ({
    core: Number(core),
    allowed: /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${fw.pid}/task/${tid}/status`, "utf8"))?.[1],
  }));
  fw.kill("SIGINT");
  const out = await new Response(fw.stdout).text();
  const code = await fw.exited;
  await pump;
  report("fwd", { code, pinned, summary: JSON.parse(out.trim().split("\n").pop() ?? "null"), err: err.replace("@@sent-ready", "").split("\n").slice(-8) });
}
report("done", true);
