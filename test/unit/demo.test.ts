// `bdk demo` (root): runs pktgen → l2fwd → pktgen over veth pairs and leaves no namespace or link behind.
import { expect, test } from "bun:test";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The namespaces and links the demo could leave behind (other tests may be making their own meanwhile). */
function snapshot(): { netns: string[]; links: string[] } {
  const run = (argv: string[]): string[] => Bun.spawnSync(argv, { stdout: "pipe" }).stdout.toString().split("\n");
  const ours = /bdkdemo|\b(gen|fwd)[01]\b/;
  return { netns: run(["ip", "netns", "list"]).filter((l) => ours.test(l)), links: run(["ip", "-o", "link", "show"]).filter((l) => ours.test(l)) };
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
  expect(seen).toContain("[pktgen]");
  p.kill("SIGINT");
  await p.exited;
  expect(snapshot()).toEqual(before);
  expect(before.netns).toEqual([]);
}, 90000);

test("without root the demo says why and runs over in-memory ring ports", async () => {
  const p = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", `${ROOT}bin/bdk`, "demo", "--duration", "1", "--json"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(err).toContain("not root, so no namespaces or AF_PACKET sockets");
  expect(code).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  expect(r.mode).toBe("ring");
  expect(r.pktgen.rx.received).toBe(r.pktgen.txPackets);
  expect(r.pktgen.rx.lost).toBe(0);
  expect(r.l2fwd.totals.tx).toBe(r.pktgen.txPackets);
}, 60000);
