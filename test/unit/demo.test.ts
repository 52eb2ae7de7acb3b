// `bdk demo` (root): runs pktgen → l2fwd → pktgen over veth pairs, loses nothing far below capacity, and
// leaves no namespace, link or process behind: not on Ctrl-C, and (with the next demo's help) not on SIGKILL.
import { expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, watch } from "node:fs";
import { listNamespaces, processCmdline } from "../../apps/common/netlab.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BDK = `${ROOT}bin/bdk`;

/** The namespaces and links the demo could leave behind (other tests may be making their own meanwhile). */
function snapshot(): { netns: string[]; links: string[] } {
  const run = (argv: string[]): string[] => Bun.spawnSync(argv, { stdout: "pipe" }).stdout.toString().split("\n");
  const ours = /bdkdemo|\b(gen|fwd)[01]\b/;
  return { netns: run(["ip", "netns", "list"]).filter((l) => ours.test(l)), links: run(["ip", "-o", "link", "show"]).filter((l) => ours.test(l)) };
}

async function runDemo(args: string[]): Promise<{ out: string; err: string; code: number; pid: number }> {
  const p = Bun.spawn([BDK, "demo", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code, pid: p.pid };
}

/** Running processes whose parent is `pid`, with their command lines. */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push({ pid: Number(d), cmd: processCmdline(Number(d)).join(" ") });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Reads a child's stderr until `re` matches (or the stream ends); returns what was read. */
async function readUntil(stream: ReadableStream<Uint8Array>, re: RegExp, ms: number): Promise<string> {
  const reader = stream.getReader();
  let seen = "";
  const until = Date.now() + ms;
  while (!re.test(seen) && Date.now() < until) {
    const c = await reader.read();
    if (c.done) break;
    seen += new TextDecoder().decode(c.value);
  }
  reader.releaseLock();
  return seen;
}

test("the demo reports rates, loss, latency and every port's imissed, loses nothing at 100 kpps, and removes every namespace and veth it made", async () => {
  const before = snapshot();
  const { out, err, code } = await runDemo(["--duration", "3", "--json"]);
  expect(err).toContain("namespaces");
  expect(code).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  expect(r.mode).toBe("veth");
  expect(r.pktgen.txPackets).toBeGreaterThan(0);
  expect(r.pktgen.rx.duplicated).toBe(0);
  // How long the machine kept the demo's two busy threads off the CPU while they were runnable.
  expect(r.cpu.map((t: { name: string }) => t.name)).toEqual(["l2fwd worker", "pktgen"]);
  for (const t of r.cpu) expect(t.runMs).toBeGreaterThan(0);
  // Far below the path's capacity nothing may go missing: not in the rings (imissed), not anywhere else.
  // The one thing the demo cannot help is a machine that keeps its forwarder off the CPU for longer than
  // the ring holds (on a shared box: another job's QEMU guest; nice does not help there); the demo
  // measures that, and only then is a loss not the demo's fault.
  const ringMs = (1000 * r.setup.ringFrames) / 100e3;
  const starved = r.cpu.filter((t: { longestStarvedMs: number }) => t.longestStarvedMs >= 0.75 * ringMs);
  if (r.lost !== 0 && starved.length > 0) {
    console.warn(`demo test: ${r.lost} frames lost while the machine kept ${JSON.stringify(starved)} off the CPU for longer than the ${ringMs} ms its ring holds: not counted against the demo`);
  } else {
    if (r.lost !== 0) console.error(`demo lost ${r.lost}: ${JSON.stringify({ ports: r.ports, cpu: r.cpu, warmup: r.warmup, l2fwd: r.l2fwd.totals })}\n${err}`);
    expect(r.lost).toBe(0);
    expect(r.pktgen.rx.lost).toBe(0);
    expect(r.pktgen.rx.received).toBe(r.pktgen.txPackets);
  }
  expect(r.pktgen.rx.latencyNs.p50).toBeGreaterThan(0);
  expect(r.pktgen.rx.latencyNs.p99).toBeGreaterThanOrEqual(r.pktgen.rx.latencyNs.p50);
  // Each of the four ports, with its imissed: pktgen's two (for the measured run) and l2fwd's two.
  // The port type the demo picked (af_xdp when the kernel allows it, else af_packet), said on stderr.
  const t = r.portType as string;
  expect(["af_xdp", "af_packet"]).toContain(t);
  expect(err).toContain(`demo: port type ${t}`);
  expect(r.ports.map((p: { app: string; spec: string }) => `${p.app} ${p.spec.split(",")[0]}`).sort())
    .toEqual([`l2fwd ${t}:fwd0`, `l2fwd ${t}:fwd1`, `pktgen ${t}:gen0`, `pktgen ${t}:gen1`]);
  for (const p of r.ports) expect(typeof p.imissed).toBe("number");
  expect(r.ports.find((p: { app: string; spec: string }) => p.app === "pktgen" && p.spec.startsWith(`${t}:gen1`)).imissed).toBe(0);
  expect(r.l2fwd.ports[0].stats.imissed).toBe(r.ports.find((p: { spec: string }) => p.spec.startsWith(`${t}:fwd0`)).imissed);
  // l2fwd also forwarded the warm-up.
  expect(r.l2fwd.totals.tx).toBeGreaterThanOrEqual(r.pktgen.rx.received);
  expect(snapshot()).toEqual(before);
}, 90000);

test("the human summary shows latency percentiles and each port's imissed", async () => {
  const { out, code } = await runDemo(["--duration", "1", "--warmup", "0"]);
  expect(code).toBe(0);
  expect(out).toMatch(/latency\s+p50 [\d.]+ (µs|ms)\s+p99 [\d.]+ (µs|ms)\s+p99\.9/);
  expect(out).toMatch(/imissed\s+pktgen (af_packet|af_xdp):gen0 \d+, pktgen \1:gen1 \d+, l2fwd \1:fwd0 \d+, l2fwd \1:fwd1 \d+/);
  expect(out).toMatch(/waited for CPU\s+l2fwd worker [\d.]+% of the run/);
}, 60000);

test("Ctrl-C during the demo still removes everything", async () => {
  const before = snapshot();
  const p = Bun.spawn([BDK, "demo", "--duration", "30"], { stdout: "pipe", stderr: "pipe" });
  // Interrupt once traffic flows.
  const seen = await readUntil(p.stderr, /\[pktgen\]/, 30000);
  expect(seen).toContain("[pktgen]");
  p.kill("SIGINT");
  await p.exited;
  expect(snapshot()).toEqual(before);
  expect(before.netns).toEqual([]);
}, 90000);

test("SIGKILL of the demo: its l2fwd and pktgen die with it, and the next demo removes its namespaces and says so", async () => {
  const p = Bun.spawn([BDK, "demo", "--duration", "60"], { stdout: "ignore", stderr: "pipe" });
  const seen = await readUntil(p.stderr, /\[pktgen\]/, 30000);
  expect(seen).toContain("[pktgen]");
  // bin/bdk execs Bun, so the demo is p.pid; its children are l2fwd and pktgen (setpriv and ip exec them in place).
  const kids = childrenOf(p.pid).filter((c) => /l2fwd|pktgen/.test(c.cmd));
  expect(kids.length).toBe(2);
  const ours = (ns: string): boolean => ns.startsWith(`bdkdemo${p.pid}-`);
  expect(listNamespaces().filter(ours).length).toBe(2);
  p.kill("SIGKILL");
  await p.exited;

  // Within a few seconds no child of it runs any more (a zombie or a reused pid does not count).
  const until = Date.now() + 5000;
  const running = (): typeof kids => kids.filter((k) => processCmdline(k.pid).join(" ") === k.cmd);
  while (running().length > 0 && Date.now() < until) await Bun.sleep(100);
  expect(running()).toEqual([]);

  // Its namespaces outlive it (nothing can delete them on SIGKILL) until the next demo finds them.
  const left = listNamespaces().filter(ours);
  const next = await runDemo(["--duration", "1", "--warmup", "0", "--json"]);
  expect(next.code).toBe(0);
  expect(listNamespaces().filter(ours)).toEqual([]);
  if (left.length > 0) {
    const line = next.err.split("\n").filter((l) => l.includes(`pid ${p.pid}`));
    expect(line.length).toBe(1);
    expect(line[0]).toMatch(/^demo: removed 2 namespaces left by earlier demo/);
    for (const ns of left) expect(line[0]).toContain(ns);
  }
}, 120000);

test("unexpected arguments and a bad rate are refused before anything is built", async () => {
  // Watch namespaces come and go while the refused demos run: none of theirs may appear, even briefly.
  mkdirSync("/run/netns", { recursive: true });
  const events: string[] = [];
  const watcher = watch("/run/netns", (_e, name) => events.push(String(name)));
  try {
    for (const [args, word] of [[["extra-arg"], '"extra-arg"'], [["--duration", "1", "one", "two"], '"one" "two"'], [["--rate", "10xpps"], "10xpps"],
      [["--size", "10"], "--size 10"], [["--size", "9000"], "--size 9000"], [["--rate", "0"], "--rate 0"]] as const) {
      const { out, err, code, pid } = await runDemo([...args]);
      expect(code).not.toBe(0);
      expect(out).toBe("");
      const lines = err.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toStartWith("bdk demo: ");
      expect(lines[0]).toContain(word);
      expect(err).not.toContain("namespaces");
      await Bun.sleep(50);
      expect(events.filter((n) => n.startsWith(`bdkdemo${pid}-`))).toEqual([]);
    }
  } finally {
    watcher.close();
  }
}, 60000);

test("without root the demo says why and runs over in-memory ring ports", async () => {
  const p = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BDK, "demo", "--duration", "1", "--json"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(err).toContain("not root, so no namespaces or AF_PACKET sockets");
  expect(code).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  expect(r.mode).toBe("ring");
  expect(r.pktgen.rx.received).toBe(r.pktgen.txPackets);
  expect(r.pktgen.rx.lost).toBe(0);
  expect(r.lost).toBe(0);
  // l2fwd forwarded the warm-up and the measured run, every frame of both.
  expect(r.l2fwd.totals.tx).toBe(r.pktgen.txPackets + r.warmup.sent);
  expect(r.l2fwd.totals.dropped).toBe(0);
}, 60000);
