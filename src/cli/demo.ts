// `bdk demo`: the main job on any Linux box, no NIC needed. As root it builds two veth pairs between two
// private namespaces, runs `bdk l2fwd` on the inner ends and `bdk pktgen` on the outer ends (TX into one
// pair, RX from the other), prints the rates, loss and latency, and removes everything it made, also on
// Ctrl-C. Without root it says why and runs pktgen → l2fwd → pktgen over in-memory ring ports instead.
import { helpText, parseArgs } from "../../apps/common/args.ts";
import { NetLab } from "../../apps/common/netlab.ts";
import { formatRate, onStopSignal } from "../../apps/common/runtime.ts";
import { openPort } from "../index.ts";
import { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";
import { getAffinity, isRoot } from "../sys/libc.ts";

const OPTIONS = {
  duration: { type: "number", default: 5, min: 1, max: 3600, value: "S", help: "seconds of traffic" },
  rate: { type: "string", default: "100kpps", value: "RATE", help: "pktgen's rate (pps, kpps, Mpps, Mbps; 'max' for unlimited)" },
  size: { type: "string", default: "64", value: "N", help: "frame size in bytes including CRC (or a range 64-1518)" },
  json: { type: "bool", help: "print one JSON object with both apps' results" },
} as const;

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = process.execPath;

export interface DemoResult {
  mode: "veth" | "ring";
  pktgen: PktgenJson;
  l2fwd?: { totals: { rx: number; tx: number; dropped: number }; durationSec: number };
}

interface PktgenJson {
  txPackets: number;
  txPps: number;
  durationSec: number;
  rx?: { received: number; lost: number; duplicated: number; reordered: number; latencyNs: { p50: number; p99: number; p999: number; max: number } };
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs("demo", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk demo", "[--duration S] [--rate RATE] [--size N]", OPTIONS));
    return 0;
  }
  const rateArgs = o.rate === "max" ? [] : ["--rate", o.rate];
  const common = [...rateArgs, "--size", o.size, "--duration", String(o.duration), "--json", "--interval", "1"];
  const result = isRoot() ? await vethDemo(common, o.duration) : await ringDemo(common);
  if (o.json) console.log(JSON.stringify(result));
  else printResult(result);
  return result.pktgen.rx && result.pktgen.rx.received > 0 ? 0 : 1;
}

async function vethDemo(pktgenArgs: string[], duration: number): Promise<DemoResult> {
  const lab = new NetLab(`bdkdemo${process.pid}`);
  const children: Bun.Subprocess[] = [];
  const removeSignal = onStopSignal(() => {
    for (const c of children) c.kill("SIGINT");
  });
  try {
    const gen = lab.namespace("gen");
    const fwd = lab.namespace("fwd");
    lab.veth([gen, "gen0"], [fwd, "fwd0"]);
    lab.veth([fwd, "fwd1"], [gen, "gen1"]);
    console.error(`demo: namespaces ${gen} (pktgen: gen0 → … → gen1) and ${fwd} (l2fwd: fwd0 ↔ fwd1), joined by two veth pairs`);

    const l2fwd = Bun.spawn([...lab.prefix(fwd), BUN, `${ROOT}/apps/l2fwd.ts`, "af_packet:fwd0", "af_packet:fwd1",
      "--json", "--period", "1", "--link-wait", "2", "--duration", String(duration + 3)], { stdout: "pipe", stderr: "pipe" });
    children.push(l2fwd);
    const l2fwdLog = relay(l2fwd.stderr, "l2fwd");
    await waitForLine(l2fwdLog, /<-> port/, 15000, "l2fwd did not start forwarding");

    const pktgen = Bun.spawn([...lab.prefix(gen), BUN, `${ROOT}/apps/pktgen.ts`, "--tx", "af_packet:gen0", "--rx", "af_packet:gen1", ...pktgenArgs],
      { stdout: "pipe", stderr: "pipe" });
    children.push(pktgen);
    relay(pktgen.stderr, "pktgen");
    const pktgenOut = await new Response(pktgen.stdout).text();
    const pktgenCode = await pktgen.exited;
    l2fwd.kill("SIGINT");
    const l2fwdOut = await new Response(l2fwd.stdout).text();
    await l2fwd.exited;
    if (pktgenCode !== 0) throw new BdkError(`demo: pktgen exited with ${pktgenCode}`, "see its messages above");
    return { mode: "veth", pktgen: lastJson(pktgenOut, "pktgen"), l2fwd: lastJson(l2fwdOut, "l2fwd") };
  } finally {
    removeSignal();
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
    lab.destroy();
  }
}

/**
 * Without root: the same pipeline over in-memory ring links, in one process. pktgen runs in the main
 * thread; l2fwd runs in a pinned worker that attaches to its ends of the links (a ring link hands buffer
 * indices across without a copy, so every end shares one pool).
 */
async function ringDemo(pktgenArgs: string[]): Promise<DemoResult> {
  console.error("demo: not root, so no namespaces or AF_PACKET sockets: running pktgen → l2fwd → pktgen over in-memory ring ports instead (run as root for the veth demo)");
  const { runL2fwd, parseL2fwdArgs } = await import("../../apps/l2fwd.ts");
  const { runPktgen, parsePktgenArgs } = await import("../../apps/pktgen.ts");
  const pool = Mempool.create({ count: 16384, name: "demo" });
  // Deep rings: either thread may be descheduled for milliseconds on a busy machine.
  const opts = { pool, rxRingSize: 4096, txRingSize: 4096 };
  // The first open of a link name is one end, the second the other: pktgen → demo0 → l2fwd → demo1 → pktgen.
  const tx = openPort("ring:demo0", opts);
  const rx = openPort("ring:demo1", opts);
  const fwd = [openPort("ring:demo0", opts), openPort("ring:demo1", opts)];
  let pktgenDone = false;
  try {
    for (const p of fwd) p.start();
    const core = Math.max(0, ...getAffinity());
    const fw = parseL2fwdArgs(["ring:demo0", "ring:demo1", "--period", "0", "--link-wait", "0", "--cores", String(core)]);
    const forwarding = runL2fwd(fw, { shouldStop: () => pktgenDone, log: (l) => console.error(l), ports: fwd });
    try {
      const r = await runPktgen({ ...parsePktgenArgs(["--tx", "ring:demo0", "--rx", "ring:demo1", ...pktgenArgs]), tx, rx });
      pktgenDone = true;
      const f = await forwarding;
      return { mode: "ring", pktgen: r as unknown as PktgenJson, l2fwd: { totals: f.totals, durationSec: f.durationSec } };
    } finally {
      pktgenDone = true;
      await forwarding.catch(() => undefined);
    }
  } finally {
    for (const p of [tx, rx, ...fwd]) p.close();
    pool.destroy();
  }
}

function relay(stream: ReadableStream<Uint8Array>, tag: string): { lines: string[]; waiters: (() => void)[] } {
  const state = { lines: [] as string[], waiters: [] as (() => void)[] };
  void (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        state.lines.push(line);
        console.error(`  [${tag}] ${line}`);
        for (const w of state.waiters.splice(0)) w();
      }
    }
  })();
  return state;
}

async function waitForLine(log: { lines: string[]; waiters: (() => void)[] }, re: RegExp, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!log.lines.some((l) => re.test(l))) {
    if (Date.now() > until) throw new BdkError(`demo: ${what} within ${ms / 1000} s`, "see its messages above");
    await new Promise<void>((r) => {
      log.waiters.push(r);
      setTimeout(r, 200);
    });
  }
}

function lastJson<T>(text: string, who: string): T {
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) throw new BdkError(`demo: ${who} printed no JSON result`, "see its messages above");
  return JSON.parse(line) as T;
}

function printResult(r: DemoResult): void {
  const p = r.pktgen;
  console.log(`\nbdk demo (${r.mode === "veth" ? "AF_PACKET over veth pairs in private namespaces" : "in-memory ring ports"}):`);
  console.log(`  pktgen sent     ${p.txPackets} frames in ${p.durationSec.toFixed(1)} s (${formatRate(p.txPps)})`);
  if (r.l2fwd) console.log(`  l2fwd forwarded ${r.l2fwd.totals.tx} frames (dropped ${r.l2fwd.totals.dropped})`);
  if (p.rx) {
    const l = p.rx.latencyNs;
    const us = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1000).toFixed(1)} µs`);
    console.log(`  pktgen received ${p.rx.received}: lost ${p.rx.lost}, duplicated ${p.rx.duplicated}, reordered ${p.rx.reordered}`);
    console.log(`  latency         p50 ${us(l.p50)}  p99 ${us(l.p99)}  p99.9 ${us(l.p999)}  max ${us(l.max)}`);
  }
}
