// Side-by-side: bdk against DPDK's dpdk-testpmd on the same veth pairs, in one run, each figure counted by
// the kernel at the far end (/sys/class/net/*/statistics). Prints both rates and their ratio.
//   (a) forwarding: one generator (testpmd txonly) → forwarder (bdk l2fwd | testpmd io) → kernel sink
//   (b) generation: bdk pktgen | testpmd txonly → kernel sink
// Each for both kernel paths (--drivers): AF_PACKET (bdk's af_packet, DPDK's net_af_packet) and AF_XDP (bdk's
// af_xdp, DPDK's net_af_xdp), on the same veths.
// With 2 cores, the generator and the forwarder each own one core (taskset), as in shared/notes/anchors.md.
// Usage: bun bench/compare.ts [--seconds 10] [--warmup 2] [--only forward|generate] [--drivers af_packet,af_xdp]
import { parseArgs } from "../apps/common/args.ts";
import { NetLab } from "../apps/common/netlab.ts";
import { formatRate, runAsProgram } from "../apps/common/runtime.ts";
import { BdkError } from "../src/sys/errors.ts";

const OPTIONS = {
  seconds: { type: "number", default: 10, min: 1, value: "S", help: "measurement window" },
  warmup: { type: "number", default: 2, min: 0, value: "S", help: "seconds before measuring" },
  only: { type: "string", default: "", value: "WHAT", help: "forward or generate" },
  generator: { type: "string", default: "bdk", choices: ["bdk", "testpmd"], value: "WHO", help: "the generator that feeds both forwarders (the faster one keeps the forwarders the bottleneck)" },
  drivers: { type: "string", default: "af_packet,af_xdp", value: "LIST", help: "the kernel paths to compare: af_packet (DPDK's net_af_packet), af_xdp (net_af_xdp), or both" },
  json: { type: "bool", help: "print the results as JSON" },
  telemetry: { type: "bool", help: "also run bdk with --telemetry-http, scraped 10 times a second, and print its rate with telemetry over without (one run)" },
} as const;

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = process.execPath;
const TESTPMD = "dpdk-testpmd";

export function ensureTestpmd(): void {
  if (Bun.which(TESTPMD)) return;
  console.error("bench: dpdk-testpmd missing: installing Debian's dpdk-dev package");
  const r = Bun.spawnSync(["apt-get", "install", "-y", "--no-install-recommends", "dpdk-dev"], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, stdout: "inherit", stderr: "inherit",
  });
  if (r.exitCode !== 0 || !Bun.which(TESTPMD)) throw new BdkError("bench: could not install dpdk-testpmd", "run `apt-get install dpdk-dev` as root");
}

/**
 * testpmd with its main lcore on core `main` and its forwarding lcore on core `fwd` (EAL's --lcores maps
 * logical lcores 0 and 1 onto them; both may be the same core, so that a forwarder stays off the
 * generator's core, as bdk's does).
 */
type Driver = "af_packet" | "af_xdp";

export function testpmd(prefix: string, [main, fwd]: [number, number], vdevs: string[], mode: string, drv: Driver): string[] {
  const cores = main === fwd ? `${main}` : `${main},${fwd}`;
  return [
    "taskset", "-c", cores, TESTPMD, `--lcores=0@${main},1@${fwd}`, "--main-lcore", "0",
    "--no-huge", "-m", "1024", "--no-pci", `--file-prefix=${prefix}`, ...vdevs.map((v, i) => `--vdev=net_${drv}${i},iface=${v}`),
    "--", `--forward-mode=${mode}`, "--txpkts=64", "--total-num-mbufs=16384", "--auto-start", "--stats-period=1", "--burst=32",
  ];
}

/** bdk pktgen at full speed on one core. --size 68: 64 bytes handed to the port, as testpmd's --txpkts=64. */
function pktgen(dev: string, core: number, o: { seconds: number; warmup: number }, drv: Driver): string[] {
  return ["taskset", "-c", String(core), BUN, `${ROOT}/apps/pktgen.ts`, "--tx", `${drv}:${dev}`, "--size", "68", "--interval", "0", "--duration", String(o.seconds + o.warmup + 5)];
}

function counter(lab: NetLab, ns: string, dev: string, what: "rx_packets" | "tx_packets"): number {
  return Number(lab.exec(ns, ["cat", `/sys/class/net/${dev}/statistics/${what}`]).trim());
}

interface Rates {
  /** Frames per second the sink's kernel counted. */
  delivered: number;
  /** Frames per second the generator's interface sent (only for forwarding runs). */
  offered: number;
}

/** Starts the given programs, waits out the warmup, counts the sink for `seconds`, stops everything. */
async function measure(lab: NetLab, programs: string[][], sink: [string, string], source: [string, string] | undefined,
  o: { seconds: number; warmup: number }): Promise<Rates> {
  const procs = programs.map((argv) => Bun.spawn(argv, { stdout: "ignore", stderr: "pipe", stdin: "ignore" }));
  try {
    await Bun.sleep((o.warmup + 1.5) * 1000);
    for (const [i, p] of procs.entries()) {
      if (p.exitCode !== null) throw new BdkError(`bench: ${programs[i]!.join(" ")} exited early: ${(await new Response(p.stderr).text()).slice(-500)}`, "see its message");
    }
    const before = counter(lab, ...sink, "rx_packets");
    const sent = source ? counter(lab, ...source, "tx_packets") : 0;
    const t0 = performance.now();
    await Bun.sleep(o.seconds * 1000);
    const after = counter(lab, ...sink, "rx_packets");
    const sentAfter = source ? counter(lab, ...source, "tx_packets") : 0;
    const seconds = (performance.now() - t0) / 1000;
    return { delivered: (after - before) / seconds, offered: (sentAfter - sent) / seconds };
  } finally {
    for (const p of procs) p.kill("SIGINT");
    await Promise.race([Promise.all(procs.map((p) => p.exited)), Bun.sleep(3000)]);
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  }
}

interface Row { what: string; driver: Driver; bdk: number; testpmd: number; ratio: number; offered?: { bdk: number; testpmd: number }; telemetry?: { on: number; off: number; ratio: number } }

/**
 * --telemetry: bdk's argv with telemetry served on HTTP (in the namespace's own 127.0.0.1), and a scraper on
 * core `core` (off the measured bdk's core) that fetches /metrics and /api/snapshot 10 times a second.
 */
const TELEMETRY_PORT = 9464;
function withTelemetry(lab: NetLab, ns: string, argv: string[], core: number): string[][] {
  const scraper = `for (;;) { for (const p of ["metrics", "api/snapshot"]) { try { await (await fetch("http://127.0.0.1:${TELEMETRY_PORT}/" + p)).text(); } catch {} } await Bun.sleep(100); }`;
  return [[...argv, "--telemetry-http", String(TELEMETRY_PORT)], [...lab.prefix(ns), "taskset", "-c", String(core), BUN, "-e", scraper]];
}

async function forwarding(o: { seconds: number; warmup: number; generator: string; telemetry: boolean }, drv: Driver): Promise<Row> {
  const lab = new NetLab(`bdkbench${process.pid}`);
  try {
    const gen = lab.namespace("gen");
    const fwd = lab.namespace("fwd");
    const sink = lab.namespace("sink");
    lab.veth([gen, "g0"], [fwd, "f0"]);
    lab.veth([fwd, "f1"], [sink, "s1"]);
    // The same generator for both forwarders, on core 1.
    const generator = [...lab.prefix(gen), ...(o.generator === "bdk" ? pktgen("g0", 1, o, drv) : testpmd("gen", [0, 1], ["g0"], "txonly", drv))];
    const bdk = [...lab.prefix(fwd), "taskset", "-c", "0", BUN, `${ROOT}/apps/l2fwd.ts`, `${drv}:f0`, `${drv}:f1`, "--no-mac-updating", "--period", "0"];
    const dpdk = [...lab.prefix(fwd), ...testpmd("fwd", [0, 0], ["f0", "f1"], "io", drv)];
    const b = await measure(lab, [bdk, generator], [sink, "s1"], [gen, "g0"], o);
    const t = o.telemetry ? await measure(lab, [...withTelemetry(lab, fwd, bdk, 1), generator], [sink, "s1"], [gen, "g0"], o) : undefined;
    const d = await measure(lab, [dpdk, generator], [sink, "s1"], [gen, "g0"], o);
    return {
      what: `forwarding: bdk l2fwd vs testpmd io (net_${drv}), both fed by ${o.generator === "bdk" ? "bdk pktgen" : "testpmd txonly"}`,
      driver: drv, bdk: b.delivered, testpmd: d.delivered, ratio: b.delivered / d.delivered, offered: { bdk: b.offered, testpmd: d.offered },
      ...(t ? { telemetry: { on: t.delivered, off: b.delivered, ratio: t.delivered / b.delivered } } : {}),
    };
  } finally {
    lab.destroy();
  }
}

async function generation(o: { seconds: number; warmup: number; telemetry: boolean }, drv: Driver): Promise<Row> {
  const lab = new NetLab(`bdkbench${process.pid}`);
  try {
    const gen = lab.namespace("gen");
    const sink = lab.namespace("sink");
    lab.veth([gen, "g0"], [sink, "s0"]);
    const bdk = [...lab.prefix(gen), ...pktgen("g0", 1, o, drv)];
    const dpdk = [...lab.prefix(gen), ...testpmd("gen", [0, 1], ["g0"], "txonly", drv)];
    const b = (await measure(lab, [bdk], [sink, "s0"], undefined, o)).delivered;
    const t = o.telemetry ? (await measure(lab, withTelemetry(lab, gen, bdk, 0), [sink, "s0"], undefined, o)).delivered : undefined;
    const d = (await measure(lab, [dpdk], [sink, "s0"], undefined, o)).delivered;
    return { what: `generation: bdk pktgen vs testpmd txonly (net_${drv})`, driver: drv, bdk: b, testpmd: d, ratio: b / d, ...(t !== undefined ? { telemetry: { on: t, off: b, ratio: t / b } } : {}) };
  } finally {
    lab.destroy();
  }
}

async function main(args: string[]): Promise<number> {
const o = parseArgs("bench/compare", OPTIONS, args);
ensureTestpmd();
const rows: Row[] = [];
const drivers = o.drivers.split(",").map((d) => d.trim()).filter((d) => d !== "");
for (const d of drivers) {
  if (d !== "af_packet" && d !== "af_xdp") throw new BdkError(`bench/compare: --drivers: "${d}" is not a kernel path bdk and testpmd share`, "give af_packet, af_xdp or both (af_packet,af_xdp)");
}
for (const d of drivers as Driver[]) {
  if (o.only !== "generate") rows.push(await forwarding(o, d));
  if (o.only !== "forward") rows.push(await generation(o, d));
}
const cpu = (await Bun.file("/proc/cpuinfo").text()).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
if (o.json) console.log(JSON.stringify({ date: new Date().toISOString(), cpu, nproc: navigator.hardwareConcurrency, rows }));
else {
  console.log(`${new Date().toISOString().slice(0, 10)}, ${cpu}, ${navigator.hardwareConcurrency} cores, 64-byte frames, ${o.seconds} s windows`);
  for (const r of rows) {
    const offered = r.offered ? ` (offered ${formatRate(r.offered.bdk)} / ${formatRate(r.offered.testpmd)})` : "";
    console.log(`${r.what}: bdk ${formatRate(r.bdk)}, testpmd ${formatRate(r.testpmd)}, ratio ${r.ratio.toFixed(2)}${offered}`);
    if (r.telemetry) console.log(`  bdk with telemetry (HTTP scraped at 10 Hz) ${formatRate(r.telemetry.on)} / without ${formatRate(r.telemetry.off)}: ratio ${r.telemetry.ratio.toFixed(2)}`);
  }
}
return 0;
}

if (import.meta.main) await runAsProgram("bench/compare", main);
