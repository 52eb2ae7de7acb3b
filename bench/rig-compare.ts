/**
 * bdk and DPDK side by side on the VM rig's emulated NICs (issue 10): `bdk l2fwd` and `dpdk-testpmd`
 * (Debian's DPDK, its em / igb poll-mode drivers over vfio-pci, `--iova-mode=va` through the vIOMMU) take
 * turns forwarding between the same two NICs of one guest (test/vm/guest/side-by-side.ts), with the host's
 * kernel on both wires (TAPs in namespaces). For each turn:
 *   - time to first frame: a 1 kpps probe stream already runs into NIC 0 when the guest starts the
 *     forwarder; from the moment the host sees the guest's "start" line to the first frame tcpdump sees
 *     leave NIC 1 (both on the host's clock);
 *   - forwarding: `bdk pktgen` offers --rate for --seconds into NIC 0 and counts what arrives from NIC 1.
 * Under TCG the emulated devices and the vCPUs share the host's cores, so these rates are QEMU's, not the
 * NICs' or the drivers' alone: the comparison is what it shows, both programs on the same path.
 *
 * Usage: bun bench/rig-compare.ts [--nic e1000|e1000e|igb] [--order bdk,testpmd,bdk,testpmd] [--rate 30000] [--seconds 5] [--json]
 * Needs the rig (scripts/setup.sh --vm) and dpdk-testpmd on the host (apt-get install dpdk); runs as root.
 */
import { helpText, parseArgs, UsageError } from "../apps/common/args.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { BdkError } from "../src/sys/errors.ts";
import { ROOT, TapNamespaces } from "../test/vm/host.ts";
import { rigReady, runInGuest, type RigHandle } from "../test/vm/rig.ts";
import { nicAddresses, type NicModel } from "../test/vm/topology.ts";

const OPTIONS = {
  nic: { type: "string", default: "e1000", value: "MODEL", help: "e1000, e1000e or igb (two of them)" },
  order: { type: "list", value: "W,…", help: "forwarders in turn: bdk, bdk-poll (l2fwd --idle poll), testpmd (default bdk,testpmd,bdk,testpmd)" },
  rate: { type: "int", default: 30000, min: 100, value: "PPS", help: "offered rate of the forwarding phase" },
  seconds: { type: "number", default: 5, min: 1, value: "S", help: "length of the forwarding phase" },
  json: { type: "bool", help: "print the turns as JSON" },
} as const;

export interface Turn {
  who: string;
  /** Seconds from the guest's start line to the first forwarded frame at the host. */
  firstFrameS: number | null;
  offered: number;
  received: number;
  /** received / seconds */
  pps: number;
  /** What the forwarder itself counted (frames sent out of NIC 1). */
  forwarderCount: number | null;
  code: number | null;
}

/** Lines from the guest, awaitable by prefix. */
class Lines {
  private readonly seen: string[] = [];
  private readonly waiting: { prefix: string; resolve: (l: string) => void }[] = [];

  push(line: string): void {
    const w = this.waiting.findIndex((x) => line.startsWith(x.prefix));
    if (w >= 0) this.waiting.splice(w, 1)[0]!.resolve(line);
    else this.seen.push(line);
  }

  next(prefix: string, ms: number): Promise<string> {
    const i = this.seen.findIndex((l) => l.startsWith(prefix));
    if (i >= 0) return Promise.resolve(this.seen.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "${prefix}" line from the guest within ${ms} ms`)), ms);
      this.waiting.push({ prefix, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  }
}

async function firstFrame(taps: TapNamespaces): Promise<{ listening: Promise<void>; when: Promise<number | null>; proc: Bun.Subprocess }> {
  const proc = Bun.spawn(taps.in(1, ["tcpdump", "-i", taps.taps[1]!, "-Q", "in", "-c", "1", "-tt", "-n", "--immediate-mode", "udp"]), { stdout: "pipe", stderr: "pipe" });
  let resolveListening!: () => void;
  const listening = new Promise<void>((r) => (resolveListening = r));
  void (async () => {
    let s = "";
    for await (const c of proc.stderr) {
      s += new TextDecoder().decode(c);
      if (s.includes("listening on")) resolveListening();
    }
    resolveListening();
  })();
  const when = (async () => {
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    const t = Number(out.trim().split(/\s+/)[0]);
    return Number.isFinite(t) && t > 0 ? t : null;
  })();
  return { listening, when, proc };
}

function pktgen(taps: TapNamespaces, ns: number, args: string[]): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn(taps.in(ns, [process.execPath, `${ROOT}apps/pktgen.ts`, ...args, "--json", "--interval", "0"]), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

async function jsonOf(p: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<any> {
  const out = await new Response(p.stdout).text();
  await p.exited;
  return JSON.parse(out.trim().split("\n").pop() || "null");
}

export async function compareOnRig(model: NicModel, order: string[], rate: number, seconds: number, log: (s: string) => void = () => {}): Promise<Turn[]> {
  const ready = rigReady();
  if (!ready.ok) throw new BdkError(`bench/rig-compare: ${ready.why}`, "run scripts/setup.sh --vm");
  if (!Bun.which("dpdk-testpmd") && order.includes("testpmd")) throw new BdkError("bench/rig-compare: dpdk-testpmd is not installed", "apt-get install dpdk");
  const taps = new TapNamespaces("bdkc", 2);
  const [A, B] = nicAddresses([model, model]) as [string, string];
  const lines = new Lines();
  const turns: Turn[] = [];
  let failure: Error | undefined;
  await taps.create();
  try {
    const run = await runInGuest({
      nics: [{ model, tap: taps.taps[0]! }, { model, tap: taps.taps[1]! }],
      hostRoot: true,
      memMb: 1536,
      command: `bun test/vm/guest/side-by-side.ts ${A} ${B} ${order.join(" ")}`,
      timeoutSec: 240 + order.length * (seconds + 90),
      onStart: async (_nics, rig: RigHandle) => {
        await taps.wire();
        void (async () => {
          try {
            for (let i = 0; i < order.length; i++) turns.push(await turn(rig, i));
          } catch (e) {
            failure = e as Error;
            for (let i = 0; i < order.length; i++) {
              rig.signal(`go-${i}`);
              rig.signal(`stop-${i}`);
            }
          }
        })();
      },
      onLine: (line) => {
        if (line.startsWith("@@")) lines.push(line);
        else if (/error|Error|EAL/.test(line)) log(`guest: ${line}`);
      },
    });
    if (failure) throw failure;
    if (run.code !== 0) throw new BdkError(`bench/rig-compare: the guest script failed (exit ${run.code}):\n${run.output.split("\n").slice(-20).join("\n")}`, "see its output");
    return turns;
  } finally {
    await taps.remove();
  }

  async function turn(rig: RigHandle, i: number): Promise<Turn> {
    const who = order[i]!;
    const probe = pktgen(taps, 0, ["--tx", `af_packet:${taps.taps[0]}`, "--rate", "1000", "--duration", "300"]);
    const ff = await firstFrame(taps);
    await ff.listening;
    rig.signal(`go-${i}`);
    await lines.next("@@start ", 120_000);
    const started = Date.now() / 1000;
    const timer = setTimeout(() => ff.proc.kill(), 120_000);
    const first = await ff.when;
    clearTimeout(timer);
    probe.kill("SIGINT");
    await probe.exited;
    const firstFrameS = first === null ? null : first - started;
    log(`${who}: first frame ${firstFrameS === null ? "never" : `${firstFrameS.toFixed(2)} s`} after start`);
    await Bun.sleep(500);
    // Forwarding: the receiver first, then the offered stream.
    const rx = pktgen(taps, 1, ["--rx-only", `af_packet:${taps.taps[1]},frames=4096`, "--duration", String(seconds + 4)]);
    await Bun.sleep(1000);
    const tx = await jsonOf(pktgen(taps, 0, ["--tx", `af_packet:${taps.taps[0]},frames=4096`, "--rate", String(rate), "--duration", String(seconds)]));
    const got = await jsonOf(rx);
    rig.signal(`stop-${i}`);
    const done = JSON.parse((await lines.next(`@@fwd-${i} `, 120_000)).slice(`@@fwd-${i} `.length));
    const offered = tx?.txPackets ?? 0;
    const received = got?.rx?.received ?? 0;
    log(`${who}: offered ${offered}, received ${received} (${(received / seconds).toFixed(0)} pps); its own count ${done.forwarded}; exit ${done.code}`);
    return { who, firstFrameS, offered, received, pps: received / seconds, forwarderCount: done.forwarded, code: done.code };
  }
}

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/rig-compare", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bench/rig-compare", "bun bench/rig-compare.ts [options]", OPTIONS));
    return 0;
  }
  if (!["e1000", "e1000e", "igb"].includes(o.nic)) throw new UsageError(`bench/rig-compare: --nic ${o.nic} is not one of e1000, e1000e, igb`, "e.g. --nic igb");
  const order = o.order.length > 0 ? o.order : ["bdk", "testpmd", "bdk", "testpmd"];
  for (const w of order) if (!["bdk", "bdk-poll", "testpmd"].includes(w)) throw new UsageError(`bench/rig-compare: --order ${w} is not bdk, bdk-poll or testpmd`, "e.g. --order bdk,testpmd");
  const turns = await compareOnRig(o.nic as NicModel, order, o.rate, o.seconds, o.json ? () => {} : (s) => console.error(s));
  if (o.json) {
    console.log(JSON.stringify({ nic: o.nic, rate: o.rate, seconds: o.seconds, turns }, null, 1));
    return 0;
  }
  console.log(`bench/rig-compare  ${new Date().toISOString()}  two ${o.nic} in one QEMU ${"TCG"} guest, host TAPs; offered ${o.rate} pps for ${o.seconds} s per turn`);
  console.log(`${"forwarder".padEnd(10)} ${"first frame".padStart(12)} ${"offered".padStart(9)} ${"received".padStart(9)} ${"pps".padStart(8)}  own count`);
  for (const t of turns) {
    console.log(`${t.who.padEnd(10)} ${(t.firstFrameS === null ? "never" : `${t.firstFrameS.toFixed(2)} s`).padStart(12)} ${String(t.offered).padStart(9)} ${String(t.received).padStart(9)} ${t.pps.toFixed(0).padStart(8)}  ${t.forwarderCount}`);
  }
  const avg = (who: string, f: (t: Turn) => number | null): number => {
    const xs = turns.filter((t) => t.who === who).map(f).filter((x): x is number => x !== null);
    return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  };
  for (const who of ["bdk", "bdk-poll"]) {
    if (!order.includes(who) || !order.includes("testpmd")) continue;
    console.log(`forwarding ${who} / testpmd: ${(avg(who, (t) => t.pps) / avg("testpmd", (t) => t.pps)).toFixed(2)}; ` +
      `first frame ${who} ${avg(who, (t) => t.firstFrameS).toFixed(2)} s, testpmd ${avg("testpmd", (t) => t.firstFrameS).toFixed(2)} s`);
  }
  return 0;
}

if (import.meta.main) await runAsProgram("bench/rig-compare", main);
