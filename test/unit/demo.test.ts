// `bdk demo` (root): runs pktgen → l2fwd → pktgen over veth pairs and leaves no namespace or link behind.
import { expect, test } from "bun:test";

const ROOT = new URL("../..", import.meta.url).pathname;

function snapshot(): { netns: string; links: string } {
  const run = (argv: string[]): string => Bun.spawnSync(argv, { stdout: "pipe" }).stdout.toString();
  // Link names and indices only: counters and flags of unrelated links may change meanwhile.
  const links = run(["ip", "-o", "link", "show"]).split("\n").map((l) => l.split(":").slice(0, 2).join(":")).join("\n");
  return { netns: run(["ip", "netns", "list"]), links };
}

test("the demo reports rates, loss and latency, and removes every namespace and veth it made", async () => {
  const before = snapshot();
  const p = Bun.spawn([`${ROOT}bin/bdk`, "demo", "--duration", "2", "--json"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(err).toContain("namespaces");
  expect(code).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  expect(r.mode).toBe("veth");
  expect(r.pktgen.txPackets).toBeGreaterThan(0);
  expect(r.pktgen.rx.received).toBeGreaterThan(0);
  expect(r.pktgen.rx.duplicated).toBe(0);
  expect(r.pktgen.rx.latencyNs.p50).toBeGreaterThan(0);
  expect(r.l2fwd.totals.tx).toBeGreaterThanOrEqual(r.pktgen.rx.received);
  expect(snapshot()).toEqual(before);
}, 90000);

test("Ctrl-C during the demo still removes everything", async () => {
  const before = snapshot();
  const p = Bun.spawn([`${ROOT}bin/bdk`, "demo", "--duration", "30"], { stdout: "pipe", stderr: "pipe" });
  // Interrupt once traffic flows.
  const reader = p.stderr.getReader();
  let seen = "";
  const until = Date.now() + 30000;
  while (!/\[pktgen\]/.test(seen) && Date.now() < until) {
    const c = await reader.read();
    if (c.done) break;
    seen += new TextDecoder().decode(c.value);
  }
  p.kill("SIGINT");
  await p.exited;
  expect(snapshot()).toEqual(before);
}, 90000);
