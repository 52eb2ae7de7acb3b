// Faults mid-run: pktgen → l2fwd → pktgen over veth pairs in namespaces this test makes and removes (root).
// An interface taken down for 2 s and brought back is reported as two timestamped events and forwarding
// resumes by itself; an interface deleted mid-run is reported (with the reason) while the other pair keeps
// forwarding; Ctrl-C still prints the summary and exits 0 in both cases.
import { describe, expect, test } from "bun:test";
import { NetLab } from "../../apps/common/netlab.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const isRoot = process.getuid?.() === 0;

type Proc = Bun.Subprocess<"ignore", "pipe", "pipe">;

/** Collects a process's stderr as it comes, so that the test can wait for a line. */
function collect(p: Proc): { text: () => string } {
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of p.stderr) text += decoder.decode(chunk);
  })();
  return { text: () => text };
}

async function waitFor(log: { text: () => string }, re: RegExp, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!re.test(log.text())) {
    if (Date.now() > until) throw new Error(`no ${re} within ${ms} ms; saw:\n${log.text()}`);
    await Bun.sleep(20);
  }
}

/** A pktgen run in namespace `ns` from `tx` to `rx`; resolves with its JSON result. */
function pktgen(lab: NetLab, ns: string, tx: string, rx: string, extra: string[]): { txPackets: number; rx: { received: number; lost: number } } {
  const r = Bun.spawnSync([...lab.prefix(ns), BUN, `${ROOT}apps/pktgen.ts`, "--tx", `af_packet:${tx}`, "--rx", `af_packet:${rx},frames=4096`, "--json", "--interval", "0", ...extra],
    { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  return JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
}

async function stop(fw: Proc): Promise<{ events: { port: number; up: boolean; at: number; reason?: string }[]; ports: { rx: number; tx: number }[] }> {
  fw.kill("SIGINT");
  const out = await new Response(fw.stdout).text();
  expect(await fw.exited).toBe(0);
  return JSON.parse(out.trim().split("\n").pop()!);
}

describe.if(isRoot)("l2fwd under faults (root)", () => {
  test("an interface down for 2 s: two events, forwarding resumes, the summary on Ctrl-C", async () => {
    const lab = new NetLab(`bdkf${process.pid}d`);
    try {
      const a = lab.namespace("a");
      const fwd = lab.namespace("fwd");
      lab.veth([a, "o0"], [fwd, "f0"]);
      lab.veth([fwd, "f1"], [a, "o1"]);
      const fw: Proc = Bun.spawn([...lab.prefix(fwd), BUN, `${ROOT}apps/l2fwd.ts`, "af_packet:f0", "af_packet:f1", "--period", "0", "--link-wait", "2",
        "--json", "--ring-size", "4096"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const log = collect(fw);
      await waitFor(log, /<-> port 1/, 15_000);
      expect(pktgen(lab, a, "o0", "o1", ["--count", "2000", "--rate", "20kpps"]).rx.received).toBe(2000);

      lab.exec(fwd, ["ip", "link", "set", "f1", "down"]);
      await waitFor(log, /port 1 \(af_packet:f1\) link DOWN/, 5_000);
      await Bun.sleep(2000);
      lab.exec(fwd, ["ip", "link", "set", "f1", "up"]);
      await waitFor(log, /port 1 \(af_packet:f1\) link up/, 10_000);
      // Forwarding resumed by itself: a new stream arrives whole.
      const after = pktgen(lab, a, "o0", "o1", ["--count", "2000", "--rate", "20kpps"]);
      expect(after.rx.received).toBe(2000);
      expect(after.rx.lost).toBe(0);

      const summary = await stop(fw);
      const port1 = summary.events.filter((e) => e.port === 1);
      expect(port1.map((e) => e.up)).toEqual([false, true]);
      expect(port1[1]!.at - port1[0]!.at).toBeGreaterThanOrEqual(1500);
      expect(summary.ports[0]!.rx).toBeGreaterThanOrEqual(4000);
      expect(log.text()).toMatch(/\d{4}-\d\d-\d\dT[\d:.]+Z port 1 \(af_packet:f1\) link DOWN/);
    } finally {
      lab.destroy();
    }
  }, 90_000);

  test("an interface deleted mid-run: reported with the reason; the other pair keeps forwarding; the summary on Ctrl-C", async () => {
    const lab = new NetLab(`bdkf${process.pid}x`);
    try {
      const a = lab.namespace("a");
      const fwd = lab.namespace("fwd");
      lab.veth([a, "o0"], [fwd, "f0"]);
      lab.veth([fwd, "f1"], [a, "o1"]);
      lab.veth([a, "o2"], [fwd, "f2"]);
      lab.veth([fwd, "f3"], [a, "o3"]);
      const fw: Proc = Bun.spawn([...lab.prefix(fwd), BUN, `${ROOT}apps/l2fwd.ts`, "af_packet:f0", "af_packet:f1", "af_packet:f2", "af_packet:f3",
        "--period", "0", "--link-wait", "2", "--json"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const log = collect(fw);
      await waitFor(log, /<-> port 3/, 15_000);
      lab.exec(fwd, ["ip", "link", "del", "f1"]);
      await waitFor(log, /port 1 \(af_packet:f1\) link DOWN \(.*no longer exists/, 5_000);
      const other = pktgen(lab, a, "o2", "o3", ["--count", "2000", "--rate", "20kpps"]);
      expect(other.rx.received).toBe(2000);
      const summary = await stop(fw);
      expect(summary.events.some((e) => e.port === 1 && !e.up && /no longer exists/.test(e.reason ?? ""))).toBe(true);
      expect(summary.ports[2]!.rx).toBeGreaterThanOrEqual(2000);
      expect(summary.ports[3]!.tx).toBeGreaterThanOrEqual(2000);
    } finally {
      lab.destroy();
    }
  }, 90_000);
});
