// `bdk demo`: the main job on any Linux box, no NIC needed. As root it builds two veth pairs between two
// private namespaces, runs `bdk l2fwd` on the inner ends and `bdk pktgen` on the outer ends (TX into one
// pair, RX from the other), prints the rates, loss and latency, and removes everything it made, also on
// Ctrl-C. The ports are af_xdp when the kernel allows it (XDP sockets, frames in the pools' own buffers), else
// af_packet; the demo says which it picked and why. Without root it says why and runs pktgen → l2fwd → pktgen
// over in-memory ring ports instead.
//
// What keeps it from losing frames far below the path's capacity (each of these lost frames once):
// - every option is checked before anything is built (pktgen's own parsers);
// - pktgen starts only once l2fwd's worker runs (its "worker on core" line), and sends a warm-up first
//   (demo-pktgen.ts): a cold Bun process runs its packet code slowly and spends CPU compiling it;
// - l2fwd forwards in a pinned worker (--cores), not in its main thread, whose idle naps are timer
//   sleeps of a millisecond or more; with two cores or more the worker has its core to itself and
//   everything else (pktgen, l2fwd's main and helper threads, the demo) runs on another one;
// - pktgen releases frames in small bursts (a release every ≈40 µs), so l2fwd's worker keeps polling
//   while traffic flows instead of going to sleep on epoll between releases (≈100 µs of silence puts it
//   to sleep, and each wake-up costs tens of µs on a VM);
// - every AF_PACKET ring is deep (tens of thousands of frames, hundreds of ms at 100 kpps) with ring
//   frames sized to the demo's frames (and the veths' MTU to match): a process that loses its CPU for a
//   few scheduler ticks (4 ms each at HZ=250) on a shared two-core machine no longer overflows its ring;
// - pktgen waits up to 3 s for frames still in flight (--drain-ms) before it counts the missing as lost.
// What is left is the machine: a forwarder kept off its CPU for longer than its ring holds loses frames,
// so the demo measures how long each busy thread waited for a CPU (demo-cpu.ts) and reports it.
// Children die with the demo: each runs under `setpriv --pdeathsig TERM`, and namespaces left by a demo
// that was killed (named with its pid) are removed by the next one.
import { readdirSync } from "node:fs";
import { helpText, parseArgs, UsageError } from "../../apps/common/args.ts";
import { NetLab, reapStaleLabs } from "../../apps/common/netlab.ts";
import { formatRate, onStopSignal } from "../../apps/common/runtime.ts";
import { parsePktgenArgs, parseRate, resolveOptions, type PktgenResult } from "../../apps/pktgen.ts";
import type { L2fwdResult } from "../../apps/l2fwd.ts";
import { RX_DATA_OFFSET } from "../../drivers/af_packet/uapi.ts";
import { afXdpUnavailable } from "../../drivers/af_xdp/index.ts";
import { openPort } from "../index.ts";
import { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";
import { getAffinity, isRoot } from "../sys/libc.ts";
import { CpuWatch, type ThreadCpu } from "./demo-cpu.ts";
import type { WarmupReport } from "./demo-pktgen.ts";

const OPTIONS = {
  duration: { type: "number", default: 5, min: 1, max: 3600, value: "S", help: "seconds of measured traffic" },
  rate: { type: "string", default: "100kpps", value: "RATE", help: "pktgen's rate (pps, kpps, Mpps, Mbps, % of link; 'max' for unlimited)" },
  size: { type: "string", default: "64", value: "N", help: "frame size in bytes including CRC (or a range 64-1518)" },
  warmup: { type: "number", default: 1, min: 0, max: 60, value: "S", help: "seconds of traffic before the measured run, not counted (0: none)" },
  json: { type: "bool", help: "print one JSON object with both apps' results" },
} as const;

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const BUN = process.execPath;
/** Namespaces are named `${LAB_PREFIX}<pid>-gen` / `-fwd`: the pid tells the next demo whether their maker lives. */
const LAB_PREFIX = "bdkdemo";
/** Memory per AF_PACKET ring the demo aims at; the ring holds as many frames as fit (within the limits below). */
const RING_BYTES = 8 << 20;
const MIN_RING_FRAMES = 512;
const MAX_RING_FRAMES = 32768;
/** AF_PACKET's limit (pktgen's RX ring is twice the others). */
const MAX_RX_RING_FRAMES = 65536;
/** pktgen releases a burst at least this often (ns), far below the ≈100 µs of silence after which l2fwd's worker sleeps. */
const RELEASE_GAP_NS = 40e3;
/** How long pktgen waits for frames in flight after its last one (ms); it stops as soon as all are back. */
const DRAIN_MS = 3000;
/**
 * af_xdp: descriptors per ring (the frames themselves are the pool's buffers, so the pools must hold every
 * ring's worth): l2fwd's two ports fill rings of AF_XDP_RING and can hold as many in TX; pktgen's RX port fills
 * AF_XDP_RING / 2 and its TX port AF_XDP_RING / 8 from its 16384-buffer pool (demo-pktgen.ts). At 100 kpps,
 * 8192 descriptors are 82 ms of a stalled forwarder.
 */
const AF_XDP_RING = 8192;
const AF_XDP_L2FWD_POOL = 4 * AF_XDP_RING + 8192;
/** The largest frame an af_xdp port takes from a default pool (2176-byte buffers less XDP's 256-byte headroom). */
const AF_XDP_MAX_FRAME = 1920;
/** Ring size of the in-memory links of the demo without root. */
const RING_DEMO_FRAMES = 4096;
/** l2fwd's mempool buffers (the default data room): the largest frame it forwards. */
const L2FWD_BUFFER = 2048;
/** veth reports 10 Gbit/s: what a "% of link" rate is a share of. */
const VETH_MBPS = 10000;

/** Everything the demo will do, decided (and checked) before anything is built. */
export interface DemoPlan {
  duration: number;
  warmup: number;
  json: boolean;
  /** pktgen's arguments other than its ports. */
  pktgenArgs: string[];
  /** The frames per second asked for (undefined: as fast as possible). */
  pps: number | undefined;
  /** AF_PACKET ring frame size and frames per ring, for every port but pktgen's RX port. */
  frameSize: number;
  ringFrames: number;
  /**
   * pktgen's RX ring: twice as deep, so that it can take a full ring of l2fwd's at once (a forwarder that
   * wakes up after a stall empties its ring into pktgen's, which may be stalled too).
   */
  rxRingFrames: number;
  /** The veths' MTU: the largest frame a ring frame (and an l2fwd buffer) holds. */
  mtu: number;
  /** pktgen's burst: a release every RELEASE_GAP_NS at the rate, at most 32. */
  burst: number;
}

export interface PortMissed {
  app: "pktgen" | "l2fwd";
  spec: string;
  ipackets: number;
  opackets: number;
  /** Frames the port's RX ring had no room for. */
  imissed: number;
}

export interface DemoResult {
  mode: "veth" | "ring";
  /** The veth demo's port type: af_xdp when the kernel allows it (and the frames fit), else af_packet. */
  portType?: "af_xdp" | "af_packet";
  /** Frames pktgen sent in the measured run that did not come back (pktgen.rx.lost). */
  lost: number;
  warmup: WarmupReport | undefined;
  pktgen: PktgenResult;
  l2fwd?: { totals: L2fwdResult["totals"]; durationSec: number; ports: L2fwdResult["ports"] };
  /** Every port of both apps with its imissed (l2fwd's count since it started, warm-up included). */
  ports: PortMissed[];
  /**
   * CPU time l2fwd's worker and pktgen's loop got during the measured run, and how long they waited for a
   * CPU while runnable (other load on the machine): what explains latency tails and, past the rings' depth, loss.
   */
  cpu?: ThreadCpu[];
  setup: { frameSize?: number; ringFrames: number; rxRingFrames: number; mtu?: number; burst: number; cores: { l2fwd?: number; pktgen?: number } };
}

/** A pktgen refusal, said as the demo's (the option names are the same). */
function asDemoError(e: unknown): never {
  if (e instanceof BdkError) {
    const what = e.fix && e.message.endsWith(`; ${e.fix}`) ? e.message.slice(0, -e.fix.length - 2) : e.message;
    throw new UsageError(`demo: ${what.replace(/^pktgen: /, "")}`, (e.fix ?? "see bdk demo --help").replace("leave --rate out: unlimited", "--rate max: unlimited"));
  }
  throw e;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Parses and checks every option (throws UsageError); nothing is created here. undefined: --help. */
export function planDemo(args: readonly string[]): DemoPlan | undefined {
  const o = parseArgs("demo", OPTIONS, args);
  if (o.help) return undefined;
  if (o._.length > 0) {
    throw new UsageError(`demo: unexpected argument${o._.length > 1 ? "s" : ""} ${o._.map((a) => `"${a}"`).join(" ")}`,
      "bdk demo takes options only: bdk demo [--duration S] [--rate RATE] [--size N] [--warmup S] [--json]");
  }
  let rate;
  try {
    rate = o.rate === "max" ? undefined : parseRate(o.rate);
  } catch (e) {
    asDemoError(e);
  }
  const baseArgs = [...(rate ? ["--rate", o.rate] : []), "--size", o.size, "--duration", String(o.duration), "--json", "--interval", "1",
    "--drain-ms", String(DRAIN_MS)];
  // Everything else pktgen would refuse, refused now (the port specs are placeholders: nothing is opened).
  let sizes: Uint16Array;
  try {
    sizes = resolveOptions(parsePktgenArgs(["--tx", "ring:check0", "--rx", "ring:check1", ...baseArgs])).sizes;
  } catch (e) {
    asDemoError(e);
  }
  let maxLen = 0;
  let sum = 0;
  for (const s of sizes) {
    maxLen = Math.max(maxLen, s);
    sum += s;
  }
  const meanLen = sum / sizes.length;
  if (maxLen > L2FWD_BUFFER) {
    throw new UsageError(`demo: --size ${o.size} makes ${maxLen + 4}-byte frames, larger than the ${L2FWD_BUFFER}-byte buffers l2fwd forwards from`,
      `give --size up to ${L2FWD_BUFFER + 4}`);
  }
  let pps: number | undefined;
  if (rate?.unit === "pps") pps = rate.value;
  else if (rate?.unit === "bps") pps = rate.value / ((meanLen + 4) * 8);
  else if (rate?.unit === "percent") pps = (VETH_MBPS * 1e6 * rate.value) / 100 / ((meanLen + 24) * 8);
  const burst = pps === undefined ? 32 : Math.max(1, Math.min(32, Math.floor((pps * RELEASE_GAP_NS) / 1e9)));
  // Ring frames just big enough for the largest frame, so that deep rings stay small (32768 × 256 bytes for 64-byte frames).
  const frameSize = Math.max(256, nextPow2(maxLen + RX_DATA_OFFSET));
  const ringFrames = Math.max(MIN_RING_FRAMES, Math.min(MAX_RING_FRAMES, RING_BYTES / frameSize));
  return {
    duration: o.duration, warmup: o.warmup, json: o.json, pps, frameSize, ringFrames, rxRingFrames: Math.min(MAX_RX_RING_FRAMES, 2 * ringFrames), burst,
    mtu: Math.min(L2FWD_BUFFER, frameSize - RX_DATA_OFFSET) - 18,
    pktgenArgs: [...baseArgs, "--burst", String(burst)],
  };
}

export async function main(args: string[]): Promise<number> {
  const plan = planDemo(args);
  if (!plan) {
    console.log(helpText("bdk demo", "[--duration S] [--rate RATE] [--size N] [--warmup S] [--json]", OPTIONS));
    return 0;
  }
  const result = isRoot() ? await vethDemo(plan) : await ringDemo(plan);
  if (plan.json) console.log(JSON.stringify(result));
  else printResult(result);
  return result.pktgen.rx && result.pktgen.rx.received > 0 ? 0 : 1;
}

/** Namespaces of earlier demos that were killed: removed, in one line. */
function reapEarlierDemos(): void {
  const stale = reapStaleLabs(LAB_PREFIX, (cmd) => cmd.includes("demo"));
  if (stale.length === 0) return;
  const names = stale.flatMap((s) => s.namespaces);
  const killed = stale.reduce((n, s) => n + s.killed.length, 0);
  console.error(`demo: removed ${names.length} namespace${names.length === 1 ? "" : "s"} left by earlier demo${stale.length === 1 ? "" : "s"} that ` +
    `${stale.length === 1 ? "is" : "are"} gone (pid ${stale.map((s) => s.pid).join(", ")}): ${names.join(", ")}` +
    (killed > 0 ? `; stopped ${killed} process${killed === 1 ? "" : "es"} still running in them` : ""));
}

/** The argv prefix that makes a child die with the demo (SIGTERM when the demo's thread that spawned it exits, however it exits). */
function dieWithParent(): string[] {
  for (const tool of ["setpriv", "taskset"]) {
    if (!Bun.which(tool)) throw new BdkError(`demo: ${tool} not found`, "install util-linux (apt-get install util-linux)");
  }
  return ["setpriv", "--pdeathsig", "TERM", "--"];
}

async function vethDemo(plan: DemoPlan): Promise<DemoResult> {
  const guard = dieWithParent();
  reapEarlierDemos();
  const lab = new NetLab(`${LAB_PREFIX}${process.pid}`);
  // The children run in their own sessions (a terminal's Ctrl-C reaches only the demo) and get exactly one
  // SIGINT from it: a second one would make them exit at once, without their results.
  const children: Bun.Subprocess[] = [];
  const asked = new Set<Bun.Subprocess>();
  const stop = (c: Bun.Subprocess): void => {
    if (asked.has(c)) return;
    asked.add(c);
    c.kill("SIGINT");
  };
  let stopping = false;
  const removeSignal = onStopSignal(() => {
    stopping = true;
    for (const c of children) stop(c);
  });
  // Two cores or more: l2fwd's worker alone on the last (DPDK's isolated forwarding core), everything else
  // on the first: pktgen, l2fwd's main thread (it wakes every 50-100 ms for its link and stop checks and
  // runs a few hundred µs, which on the worker's core is a few hundred µs of queueing each time) and
  // every helper thread of both Bun processes (JIT compilers, GC, allocator scavengers).
  const cpus = getAffinity();
  const l2fwdCore = cpus[cpus.length - 1] ?? 0;
  const otherCore = cpus.length >= 2 ? cpus[0] : undefined;
  const onOtherCore = otherCore !== undefined ? ["taskset", "-c", String(otherCore)] : [];
  try {
    const gen = lab.namespace("gen");
    const fwd = lab.namespace("fwd");
    lab.veth([gen, "gen0"], [fwd, "fwd0"], { mtu: plan.mtu });
    lab.veth([fwd, "fwd1"], [gen, "gen1"], { mtu: plan.mtu });
    console.error(`demo: namespaces ${gen} (pktgen: gen0 → … → gen1) and ${fwd} (l2fwd: fwd0 ↔ fwd1), joined by two veth pairs`);

    const ports = pickPorts(plan);
    console.error(`demo: port type ${ports.type} (${ports.why})`);
    // l2fwd's own time limit is only a backstop (it is stopped when pktgen is done, or dies with the demo).
    const backstop = Math.ceil(plan.warmup + plan.duration + DRAIN_MS / 1000) + 30;
    const l2fwd = Bun.spawn([...guard, ...lab.prefix(fwd), BUN, `${ROOT}/apps/l2fwd.ts`, ...ports.l2fwd,
      "--cores", String(l2fwdCore), "--json", "--period", "1", "--link-wait", "2",
      "--duration", String(backstop)], { stdout: "pipe", stderr: "pipe", detached: true });
    children.push(l2fwd);
    const l2fwdOut = new Response(l2fwd.stdout).text();
    const l2fwdLog = relay(l2fwd.stderr, "l2fwd");
    // Ready: the ports are up and the worker that polls them runs (its line comes after it pinned itself).
    let ready: RegExpExecArray;
    try {
      ready = await waitForLine(l2fwdLog, /worker on core \d+ \(tid (\d+)\)/, 15000, "l2fwd did not start forwarding", l2fwd);
    } finally {
      if (stopping) throw new BdkError("demo: stopped before traffic started");
    }
    const workerTid = Number(ready[1]);
    if (otherCore !== undefined) moveThreads(l2fwd.pid, workerTid, otherCore);

    const pktgen = Bun.spawn([...guard, ...lab.prefix(gen), ...onOtherCore, BUN, `${ROOT}/src/cli/demo-pktgen.ts`, "--warmup", String(plan.warmup), "--",
      "--tx", ports.tx, "--rx", ports.rx, ...plan.pktgenArgs],
    { stdout: "pipe", stderr: "pipe", detached: true });
    children.push(pktgen);
    // The demo itself too, now that its children are started (they would inherit it): it relays their
    // lines and samples their CPU time.
    if (otherCore !== undefined) moveThreads(process.pid, -1, otherCore);
    // The CPU both busy threads get, from the measured run's start (after the warm-up) to pktgen's end.
    let watch: CpuWatch | undefined;
    const startWatch = (): void => {
      watch ??= new CpuWatch([{ name: "l2fwd worker", pid: l2fwd.pid, tid: workerTid }, { name: "pktgen", pid: pktgen.pid, tid: pktgen.pid }]);
    };
    if (plan.warmup === 0) startWatch();
    const pktgenLog = relay(pktgen.stderr, "pktgen", (line) => {
      if (/warm-up .*not counted/.test(line)) startWatch();
    });
    const pktgenOut = await new Response(pktgen.stdout).text();
    const cpu = watch?.stop();
    const pktgenCode = await pktgen.exited;
    await pktgenLog.done;
    stop(l2fwd);
    const l2fwdText = await l2fwdOut;
    await l2fwd.exited;
    await l2fwdLog.done;
    if (pktgenCode !== 0 && stopping) throw new BdkError("demo: stopped during the warm-up");
    if (pktgenCode !== 0) throw new BdkError(`demo: pktgen exited with ${pktgenCode}`, "see its messages above");
    const p = lastJson<PktgenResult>(pktgenOut, "pktgen", (j) => "txPackets" in j);
    const w = jsonLines(pktgenOut).find((j) => "warmup" in j) as { warmup: WarmupReport } | undefined;
    const f = lastJson<L2fwdResult>(l2fwdText, "l2fwd", (j) => "totals" in j);
    return {
      mode: "veth",
      portType: ports.type,
      lost: p.rx?.lost ?? 0,
      warmup: w?.warmup,
      pktgen: p,
      l2fwd: { totals: f.totals, durationSec: f.durationSec, ports: f.ports },
      ports: [...pktgenPorts(p), ...f.ports.map((x): PortMissed => ({
        app: "l2fwd", spec: x.spec, ipackets: x.stats.ipackets, opackets: x.stats.opackets, imissed: x.stats.imissed,
      }))],
      cpu,
      setup: ports.type === "af_xdp"
        ? { ringFrames: AF_XDP_RING, rxRingFrames: AF_XDP_RING / 2, mtu: plan.mtu, burst: plan.burst, cores: { l2fwd: l2fwdCore, pktgen: otherCore } }
        : { frameSize: plan.frameSize, ringFrames: plan.ringFrames, rxRingFrames: plan.rxRingFrames, mtu: plan.mtu, burst: plan.burst, cores: { l2fwd: l2fwdCore, pktgen: otherCore } },
    };
  } finally {
    removeSignal();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
    lab.destroy();
  }
}

/**
 * The veth demo's ports: af_xdp (XDP sockets, frames in the pools' buffers) when this kernel lets us make
 * them and the frames fit an af_xdp buffer, else af_packet, with the reason either way. BDK_DEMO_PORT=af_packet
 * (or af_xdp) decides instead.
 */
function pickPorts(plan: DemoPlan): { type: "af_xdp" | "af_packet"; why: string; l2fwd: string[]; tx: string; rx: string } {
  const fs = `frame_size=${plan.frameSize}`;
  const asked = process.env.BDK_DEMO_PORT;
  let why: string | undefined;
  if (asked === "af_packet") why = "BDK_DEMO_PORT=af_packet";
  else if (plan.mtu + 14 > AF_XDP_MAX_FRAME) why = `frames up to ${plan.mtu + 14} bytes do not fit an af_xdp buffer (${AF_XDP_MAX_FRAME})`;
  else why = afXdpUnavailable();
  if (why === undefined || asked === "af_xdp") {
    return {
      type: "af_xdp",
      why: why === undefined ? "XDP sockets over veth, frames in the pools' own buffers; BDK_DEMO_PORT=af_packet for AF_PACKET" : why,
      l2fwd: ["af_xdp:fwd0", "af_xdp:fwd1", "--ring-size", String(AF_XDP_RING), "--pool", String(AF_XDP_L2FWD_POOL)],
      tx: `af_xdp:gen0,frames=${AF_XDP_RING / 8}`,
      rx: `af_xdp:gen1,frames=${AF_XDP_RING / 2}`,
    };
  }
  return {
    type: "af_packet",
    why: `AF_PACKET rings; af_xdp not used: ${why}`,
    l2fwd: [`af_packet:fwd0,${fs}`, `af_packet:fwd1,${fs}`, "--ring-size", String(plan.ringFrames)],
    tx: `af_packet:gen0,frames=${plan.ringFrames},${fs}`,
    rx: `af_packet:gen1,frames=${plan.rxRingFrames},${fs}`,
  };
}

/** Pins every thread of process `pid` but `keep` to `cpu` (its later threads inherit that from their maker). */
function moveThreads(pid: number, keep: number, cpu: number): void {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return; // gone: the wait for its exit reports that
  }
  for (const tid of tids) {
    if (Number(tid) === keep) continue;
    Bun.spawnSync(["taskset", "-p", "-c", String(cpu), tid], { stdout: "ignore", stderr: "ignore" });
  }
}

function pktgenPorts(p: PktgenResult): PortMissed[] {
  const out: PortMissed[] = [];
  for (const r of [p.ports.tx, p.ports.rx]) {
    if (r) out.push({ app: "pktgen", spec: r.spec, ipackets: r.stats.ipackets, opackets: r.stats.opackets, imissed: r.stats.imissed });
  }
  return out;
}

/**
 * Without root: the same pipeline over in-memory ring links, in one process. pktgen runs in the main
 * thread; l2fwd runs in a pinned worker that attaches to its ends of the links (a ring link hands buffer
 * indices across without a copy, so every end shares one pool). l2fwd stops only after pktgen is done,
 * and pktgen waits up to DRAIN_MS for the frames still in the worker's hands (a loaded machine can
 * deschedule the worker for hundreds of milliseconds).
 */
async function ringDemo(plan: DemoPlan): Promise<DemoResult> {
  console.error("demo: not root, so no namespaces or AF_PACKET sockets: running pktgen → l2fwd → pktgen over in-memory ring ports instead (run as root for the veth demo)");
  const { runL2fwd, parseL2fwdArgs } = await import("../../apps/l2fwd.ts");
  const { runPktgen } = await import("../../apps/pktgen.ts");
  const pool = Mempool.create({ count: 4 * RING_DEMO_FRAMES, name: "demo" });
  // Deep rings: either thread may be descheduled for milliseconds on a busy machine. A ring link never
  // drops (TX takes only what fits), but l2fwd drops what its TX queue does not take, as DPDK's does. So
  // pktgen's RX ring holds more than everything that can be in flight before it: the RX ring l2fwd
  // reads from (pktgen's TX waits when that is full) plus the burst in l2fwd's hands.
  const opts = { pool, rxRingSize: RING_DEMO_FRAMES, txRingSize: RING_DEMO_FRAMES };
  // The first open of a link name is one end, the second the other: pktgen → demo0 → l2fwd → demo1 → pktgen.
  const tx = openPort("ring:demo0", opts);
  const rx = openPort("ring:demo1", { ...opts, rxRingSize: 2 * RING_DEMO_FRAMES });
  const fwd = [openPort("ring:demo0", opts), openPort("ring:demo1", opts)];
  let pktgenDone = false;
  const ac = new AbortController();
  const removeSignal = onStopSignal(() => ac.abort());
  try {
    // Both ends of each link started before l2fwd looks at its links (pktgen leaves started ports as they are).
    for (const p of [tx, rx, ...fwd]) p.start();
    const cpus = getAffinity();
    const core = cpus[cpus.length - 1] ?? 0;
    const fw = parseL2fwdArgs(["ring:demo0", "ring:demo1", "--period", "0", "--link-wait", "0", "--cores", String(core)]);
    const forwarding = runL2fwd(fw, { shouldStop: () => pktgenDone, log: (l) => console.error(l), ports: fwd });
    try {
      const o = { ...parsePktgenArgs(["--tx", "ring:demo0", "--rx", "ring:demo1", ...plan.pktgenArgs]), tx, rx };
      let warmup: WarmupReport | undefined;
      if (plan.warmup > 0) {
        const w = await runPktgen({ ...o, duration: plan.warmup, interval: 0 }, { signal: ac.signal });
        warmup = { seconds: w.durationSec, sent: w.txPackets, received: w.rx?.received ?? 0, lost: w.rx?.lost ?? 0, p99Ns: w.rx?.latencyNs.p99 ?? 0 };
        console.error(`demo: warm-up ${warmup.seconds.toFixed(1)} s (not counted): sent ${warmup.sent}, received ${warmup.received}, lost ${warmup.lost}`);
        tx.resetStats();
        rx.resetStats();
      }
      const r = await runPktgen(o, { signal: ac.signal });
      pktgenDone = true;
      const f = await forwarding;
      return {
        mode: "ring",
        lost: r.rx?.lost ?? 0,
        warmup,
        pktgen: r,
        l2fwd: { totals: f.totals, durationSec: f.durationSec, ports: f.ports },
        ports: [...pktgenPorts(r), ...f.ports.map((x): PortMissed => ({
          app: "l2fwd", spec: x.spec, ipackets: x.stats.ipackets, opackets: x.stats.opackets, imissed: x.stats.imissed,
        }))],
        setup: { ringFrames: RING_DEMO_FRAMES, rxRingFrames: 2 * RING_DEMO_FRAMES, burst: plan.burst, cores: { l2fwd: core } },
      };
    } finally {
      pktgenDone = true;
      await forwarding.catch(() => undefined);
    }
  } finally {
    removeSignal();
    for (const p of [tx, rx, ...fwd]) p.close();
    pool.destroy();
  }
}

interface Log {
  lines: string[];
  waiters: (() => void)[];
  /** Resolves when the stream ends. */
  done: Promise<void>;
}

/** Relays a child's stderr line by line, tagged, keeping the lines (and telling `onLine`). */
function relay(stream: ReadableStream<Uint8Array>, tag: string, onLine?: (line: string) => void): Log {
  const state: Log = { lines: [], waiters: [], done: Promise.resolve() };
  state.done = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    const emit = (line: string): void => {
      state.lines.push(line);
      console.error(`  [${tag}] ${line}`);
      onLine?.(line);
      for (const w of state.waiters.splice(0)) w();
    };
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        emit(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
    if (rest !== "") emit(rest);
    for (const w of state.waiters.splice(0)) w();
  })();
  return state;
}

/** Waits for a line matching `re` and returns its match; fails after `ms` or as soon as `proc` exits. */
async function waitForLine(log: Log, re: RegExp, ms: number, what: string, proc: Bun.Subprocess): Promise<RegExpExecArray> {
  const until = Date.now() + ms;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
    for (const w of log.waiters.splice(0)) w();
  });
  const found = (): RegExpExecArray | undefined => {
    for (const l of log.lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    return undefined;
  };
  for (;;) {
    const m = found();
    if (m) return m;
    if (exited) {
      await log.done;
      const late = found();
      if (late) return late;
      throw new BdkError(`demo: ${what}: it exited with ${proc.exitCode ?? proc.signalCode}`, "see its messages above");
    }
    if (Date.now() > until) throw new BdkError(`demo: ${what} within ${ms / 1000} s`, "see its messages above");
    await new Promise<void>((r) => {
      log.waiters.push(r);
      setTimeout(r, 200);
    });
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const l of text.split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      // not ours
    }
  }
  return out;
}

function lastJson<T>(text: string, who: string, is: (j: Record<string, unknown>) => boolean): T {
  const j = jsonLines(text).filter(is).pop();
  if (!j) throw new BdkError(`demo: ${who} printed no JSON result`, "see its messages above");
  return j as T;
}

function printResult(r: DemoResult): void {
  const p = r.pktgen;
  const us = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1000).toFixed(1)} µs`);
  const what = r.portType === "af_xdp" ? "AF_XDP over veth pairs in private namespaces" : "AF_PACKET over veth pairs in private namespaces";
  console.log(`\nbdk demo (${r.mode === "veth" ? what : "in-memory ring ports"}):`);
  if (r.warmup) console.log(`  warm-up         ${r.warmup.sent} frames in ${r.warmup.seconds.toFixed(1)} s, not counted (lost ${r.warmup.lost})`);
  console.log(`  pktgen sent     ${p.txPackets} frames in ${p.durationSec.toFixed(1)} s (${formatRate(p.txPps)})`);
  if (r.l2fwd) console.log(`  l2fwd forwarded ${r.l2fwd.totals.tx} frames${r.warmup ? ", warm-up included" : ""} (dropped ${r.l2fwd.totals.dropped})`);
  if (p.rx) {
    const l = p.rx.latencyNs;
    console.log(`  pktgen received ${p.rx.received}: lost ${p.rx.lost}, duplicated ${p.rx.duplicated}, reordered ${p.rx.reordered}`);
    console.log(`  latency         p50 ${us(l.p50)}  p99 ${us(l.p99)}  p99.9 ${us(l.p999)}  max ${us(l.max)}`);
  }
  console.log(`  imissed         ${r.ports.map((x) => `${x.app} ${x.spec.split(",")[0]} ${x.imissed}`).join(", ")}  (frames a port's RX ring had no room for)`);
  if (r.cpu) {
    console.log(`  waited for CPU  ${r.cpu.map((t) => `${t.name} ${t.waitPct}% of the run (longest stretch off the CPU ${t.longestStarvedMs} ms)`).join(", ")}`);
  }
}
