#!/usr/bin/env bun
// The demo's traffic generator: `bdk pktgen` (the same runPktgen, options, stats lines and JSON) with a
// warm-up in front, in one process. A fresh Bun process runs its first hundred milliseconds of packet code
// in the interpreter and spends CPU compiling it; on a small machine that shows up as milliseconds of
// queueing (and, with shallow rings, loss) at the start of every run. So the demo sends for a while first,
// not counted, on the same ports, and measures only once pktgen and the forwarder are both warm.
//
//   bun src/cli/demo-pktgen.ts --warmup S -- PKTGEN-ARGS…
//
// Prints what `bdk pktgen --json` prints: stats lines and the summary on stderr, one JSON object on
// stdout; the warm-up adds a line on stderr and its own JSON object ({"warmup": …}) on stdout.
import { formatStatsLine, formatSummary, parsePktgenArgs, resolveOptions, runPktgen, type PktgenResult } from "../../apps/pktgen.ts";
import { formatRate, onStopSignal, runAsProgram } from "../../apps/common/runtime.ts";
import { openPort, type Port } from "../index.ts";
import { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";

export interface WarmupReport {
  seconds: number;
  sent: number;
  received: number;
  lost: number;
  p99Ns: number;
}

export async function main(argv: string[]): Promise<number> {
  const sep = argv.indexOf("--");
  if (sep < 0) throw new BdkError("demo-pktgen: no pktgen arguments", "usage: demo-pktgen.ts --warmup S -- PKTGEN-ARGS…");
  const own = argv.slice(0, sep);
  const warmup = Number(own[1]);
  if (own.length !== 2 || own[0] !== "--warmup" || !(warmup >= 0)) {
    throw new BdkError(`demo-pktgen: bad arguments "${own.join(" ")}"`, "give --warmup S (seconds, 0 for none) before --");
  }
  const o = parsePktgenArgs(argv.slice(sep + 1));
  if (typeof o.tx !== "string" || typeof o.rx !== "string") throw new BdkError("demo-pktgen: give --tx SPEC and --rx SPEC", "the demo sends and receives");
  const r = resolveOptions(o);

  const ac = new AbortController();
  const removeSignal = onStopSignal(() => ac.abort());
  const err = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  // One pool and two ports for both runs (runPktgen leaves ports it is given open), sized as runPktgen would.
  const maxLen = r.sizes.reduce((m, s) => Math.max(m, s), 0);
  const dataRoom = Math.max(2048, Math.ceil(maxLen / 128) * 128);
  // af_xdp ports keep their rings' worth of the pool's own buffers in the kernel (fill and TX rings): a larger pool.
  const xdp = [o.tx, o.rx].some((s) => s.startsWith("af_xdp:"));
  const pool = Mempool.create({ count: xdp ? 16384 : dataRoom > 2048 ? 4096 : 8192, dataRoom, name: "pktgen" });
  const ports: Port[] = [];
  try {
    const tx = openPort(o.tx, { pool, rxQueues: 1, txQueues: 1 });
    ports.push(tx);
    const rx = openPort(o.rx, { pool, rxQueues: 1, txQueues: 1 });
    ports.push(rx);
    if (warmup > 0) {
      const w = await runPktgen({ ...o, tx, rx, duration: warmup, count: undefined, interval: 0 }, { signal: ac.signal, log: err });
      const report: WarmupReport = { seconds: w.durationSec, sent: w.txPackets, received: w.rx?.received ?? 0, lost: w.rx?.lost ?? 0, p99Ns: w.rx?.latencyNs.p99 ?? 0 };
      err(`pktgen: warm-up ${report.seconds.toFixed(1)} s (not counted): sent ${report.sent} (${formatRate(w.txPps)}), received ${report.received}, lost ${report.lost}`);
      process.stdout.write(`${JSON.stringify({ warmup: report })}\n`);
      // The measured run starts from zero: its ports' counters too, and a heap without the warm-up's garbage
      // (a collection in the middle of the run would stop the loop for milliseconds).
      tx.resetStats();
      rx.resetStats();
      Bun.gc(true);
    }
    if (ac.signal.aborted) return 1;
    const result: PktgenResult = await runPktgen({ ...o, tx, rx }, {
      signal: ac.signal,
      onStats: (o.interval ?? 1) > 0 ? (s) => err(formatStatsLine(s)) : undefined,
      log: err,
    });
    for (const line of formatSummary(result)) err(line);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    removeSignal();
    for (const p of ports.reverse()) {
      try {
        p.close();
      } catch (e) {
        err(`pktgen: closing ${p.spec}: ${(e as Error).message}`);
      }
    }
    pool.destroy();
  }
}

if (import.meta.main) await runAsProgram("pktgen", main);
