// Latency through a forwarder, bdk against DPDK on the same path (issue 10): bdk pktgen sends timestamped,
// sequence-numbered frames into veth g0 and receives them back on g1; in between, in their own namespace,
// `bdk l2fwd af_packet:f0 af_packet:f1` or `dpdk-testpmd --forward-mode=io` over two net_af_packet ports
// forwards f0 → f1. pktgen's receiver gives p50 / p99 / p99.9 / max of (receive time − send time). The
// forwarder owns core 0, pktgen core 1; each rate runs bdk then testpmd, back to back.
//
// Usage: bun bench/latency.ts [--rates 10000,100000] [--seconds 10] [--json]   (root: namespaces, veths)
import { parseArgs } from "../apps/common/args.ts";
import { NetLab } from "../apps/common/netlab.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { BdkError } from "../src/sys/errors.ts";
import { ensureTestpmd, testpmd } from "./compare.ts";

const OPTIONS = {
  rates: { type: "list", value: "PPS,…", help: "offered rates (default 10000,100000)" },
  seconds: { type: "number", default: 10, min: 1, value: "S", help: "length of each run" },
  json: { type: "bool", help: "print the rows as JSON" },
} as const;

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = process.execPath;

interface Latency { count: number; p50: number; p99: number; p999: number; max: number }
interface Row { forwarder: string; rate: number; received: number; lost: number; latencyNs: Latency }

function forwarderArgv(who: string): string[] {
  if (who === "bdk") return ["taskset", "-c", "0", BUN, `${ROOT}/apps/l2fwd.ts`, "af_packet:f0", "af_packet:f1", "--no-mac-updating", "--period", "0"];
  // One lcore on core 0 (main and forwarding), as bdk's l2fwd forwards in its main thread here.
  return testpmd("bdklat", [0, 0], ["f0", "f1"], "io", "af_packet");
}

async function once(lab: NetLab, fwdNs: string, genNs: string, who: string, rate: number, seconds: number): Promise<Row> {
  const fwd = Bun.spawn([...lab.prefix(fwdNs), ...forwarderArgv(who)], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  try {
    await Bun.sleep(3000); // both are up and forwarding well within this (testpmd's EAL takes the longest)
    if (fwd.exitCode !== null) throw new BdkError(`bench/latency: ${who} exited early: ${(await new Response(fwd.stderr).text()).slice(-400)}`, "see its message");
    const gen = Bun.spawn([...lab.prefix(genNs), "taskset", "-c", "1", BUN, `${ROOT}/apps/pktgen.ts`, "--tx", "af_packet:g0", "--rx", "af_packet:g1",
      "--rate", String(rate), "--duration", String(seconds), "--json", "--interval", "0"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const out = await new Response(gen.stdout).text();
    if ((await gen.exited) !== 0) throw new BdkError(`bench/latency: pktgen failed: ${(await new Response(gen.stderr).text()).slice(-400)}`, "see its message");
    const r = JSON.parse(out.trim().split("\n").pop() ?? "null");
    return { forwarder: who, rate, received: r.rx.received, lost: r.rx.lost, latencyNs: r.rx.latencyNs };
  } finally {
    fwd.kill("SIGINT");
    await Promise.race([fwd.exited, Bun.sleep(3000)]);
    if (fwd.exitCode === null) fwd.kill("SIGKILL");
  }
}

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/latency", OPTIONS, args);
  ensureTestpmd();
  const rates = o.rates.length > 0 ? o.rates.map(Number) : [10_000, 100_000];
  const lab = new NetLab(`bdklat${process.pid}`);
  const rows: Row[] = [];
  try {
    const gen = lab.namespace("gen");
    const fwd = lab.namespace("fwd");
    lab.veth([gen, "g0"], [fwd, "f0"]);
    lab.veth([fwd, "f1"], [gen, "g1"]);
    for (const rate of rates) for (const who of ["bdk", "testpmd"]) rows.push(await once(lab, fwd, gen, who, rate, o.seconds));
  } finally {
    lab.destroy();
  }
  if (o.json) {
    console.log(JSON.stringify({ date: new Date().toISOString(), rows }, null, 1));
    return 0;
  }
  const cpu = (await Bun.file("/proc/cpuinfo").text()).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  const us = (ns: number): string => (ns / 1000).toFixed(1).padStart(8);
  console.log(`bench/latency  ${new Date().toISOString()}  ${cpu}; veth pairs, forwarder on core 0, pktgen on core 1, ${o.seconds} s per run; µs`);
  console.log(`${"forwarder".padEnd(10)} ${"rate".padStart(8)} ${"received".padStart(9)} ${"lost".padStart(6)} ${"p50".padStart(8)} ${"p99".padStart(8)} ${"p99.9".padStart(8)} ${"max".padStart(8)}`);
  for (const r of rows) {
    const l = r.latencyNs;
    console.log(`${r.forwarder.padEnd(10)} ${String(r.rate).padStart(8)} ${String(r.received).padStart(9)} ${String(r.lost).padStart(6)} ${us(l.p50)} ${us(l.p99)} ${us(l.p999)} ${us(l.max)}`);
  }
  return 0;
}

if (import.meta.main) await runAsProgram("bench/latency", main);
