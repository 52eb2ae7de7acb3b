// l2fwd: argument handling, and forwarding between two veth pairs in namespaces this test makes and removes.
import { describe, expect, test } from "bun:test";
import { NetLab } from "../../apps/common/netlab.ts";
import { lanesFor, parseL2fwdArgs, parsePortmap, shareLanes } from "../../apps/l2fwd.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;

describe("l2fwd arguments", () => {
  test("ports pair up in order by default", () => {
    expect(parseL2fwdArgs(["null", "null", "null", "null"]).pairs).toEqual([[0, 1], [2, 3]]);
  });
  test("an odd port count is refused with the fix", () => {
    expect(() => parseL2fwdArgs(["null", "null", "null"])).toThrow("3 ports given, but ports forward in pairs; give an even number of ports, or pair them with --portmap");
  });
  test("--portmap chooses the pairs and is checked", () => {
    expect(parsePortmap("(0,2),(1,3)", 4)).toEqual([[0, 2], [1, 3]]);
    expect(() => parsePortmap("(0,1),(1,2)", 3)).toThrow("uses port 1 twice");
    expect(() => parsePortmap("(0,5)", 2)).toThrow("names port 5, but only 2 ports were given");
    expect(() => parsePortmap("0-1", 2)).toThrow('--portmap "0-1" is malformed');
  });
  test("RX queues are shared out among worker cores, -q per worker as in DPDK, each worker with its own TX queue", () => {
    const pairs: [number, number][] = [[0, 1], [2, 3]];
    const lanes = lanesFor(pairs, 1);
    expect(lanes).toEqual([
      { rx: 0, rxQueue: 0, tx: 1, txQueue: 0 }, { rx: 1, rxQueue: 0, tx: 0, txQueue: 0 },
      { rx: 2, rxQueue: 0, tx: 3, txQueue: 0 }, { rx: 3, rxQueue: 0, tx: 2, txQueue: 0 },
    ]);
    expect(lanesFor([[0, 1]], 2).map((l) => `${l.rx}.${l.rxQueue}`)).toEqual(["0.0", "1.0", "0.1", "1.1"]);
    expect(shareLanes(lanes, [], 0)).toEqual([]);
    const rr = shareLanes(lanes, [0, 1], 0);
    expect(rr.map((w) => w.map((l) => l.rx))).toEqual([[0, 2], [1, 3]]);
    expect(rr.map((w) => w.map((l) => l.txQueue))).toEqual([[0, 0], [1, 1]]);
    expect(shareLanes(lanes, [0, 1, 2], 3).map((w) => w.map((l) => l.rx))).toEqual([[0, 1, 2], [3]]);
    expect(() => shareLanes(lanes, [0], 2)).toThrow("4 RX queue(s) at -q 2 per worker need 2 cores, 1 given");
    expect(() => shareLanes(lanes, [], 2)).toThrow("no --cores were given");
    expect(() => shareLanes(lanesFor([[0, 1]], 1), [0, 1, 2], 0)).toThrow("3 worker cores for 2 RX queue(s)");
  });

  test("bad option values name the option", () => {
    expect(() => parseL2fwdArgs(["--burst", "lots", "null", "null"])).toThrow('--burst expects a whole number, got "lots"');
    expect(() => parseL2fwdArgs(["--burst", "0", "null", "null"])).toThrow("--burst 0 is out of range");
    expect(() => parseL2fwdArgs(["--frobnicate", "null", "null"])).toThrow("unknown option --frobnicate");
    expect(() => parseL2fwdArgs([])).toThrow("no ports given");
    expect(() => parseL2fwdArgs(["--cores", "0,1", "null", "null"])).not.toThrow();
  });
});

/** The CLI as a user runs it, inside a namespace; resolves with its exit code and output. */
function spawnIn(lab: NetLab, ns: string, argv: string[]): Bun.Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([...lab.prefix(ns), BUN, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
}

async function waitFor(p: Bun.Subprocess<"ignore", "pipe", "pipe">, re: RegExp, ms: number): Promise<string> {
  let seen = "";
  const reader = p.stderr.getReader();
  const until = Date.now() + ms;
  while (!re.test(seen)) {
    const left = until - Date.now();
    if (left <= 0) throw new Error(`no ${re} within ${ms} ms; saw: ${seen}`);
    const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => undefined)]);
    if (!chunk || chunk.done) throw new Error(`process ended before ${re}; saw: ${seen}`);
    seen += new TextDecoder().decode(chunk.value);
  }
  reader.releaseLock();
  return seen;
}

/** Two veth pairs: outer ends in `a` and `b` (the same namespace when a === b), inner ends f0/f1 in "fwd". */
function buildLab(tag: string, sameOuter: boolean): { lab: NetLab; a: string; b: string; fwd: string } {
  const lab = new NetLab(`bdkt${process.pid}${tag}`);
  const a = lab.namespace("a");
  const b = sameOuter ? a : lab.namespace("b");
  const fwd = lab.namespace("fwd");
  lab.veth([a, "o0"], [fwd, "f0"]);
  lab.veth([fwd, "f1"], [b, "o1"]);
  return { lab, a, b, fwd };
}

async function stopAndSummary(fw: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<{ workers: unknown[]; ports: { rx: number; tx: number; dropped: number }[]; totals: { rx: number; tx: number; dropped: number } }> {
  fw.kill("SIGINT");
  const out = await new Response(fw.stdout).text();
  expect(await fw.exited).toBe(0);
  return JSON.parse(out.trim().split("\n").pop()!);
}

const L2FWD = (extra: string[]): string[] => [`${ROOT}apps/l2fwd.ts`, "af_packet:f0", "af_packet:f1", "--period", "0", "--link-wait", "1", "--json", ...extra];

describe("l2fwd over two veth pairs (root)", () => {
  test("ping between the outer namespaces crosses l2fwd --no-mac-updating", async () => {
    const { lab, a, b, fwd } = buildLab("p", false);
    try {
      lab.exec(a, ["ip", "addr", "add", "192.0.2.1/24", "dev", "o0"]);
      lab.exec(b, ["ip", "addr", "add", "192.0.2.2/24", "dev", "o1"]);
      const fw = spawnIn(lab, fwd, L2FWD(["--no-mac-updating"]));
      await waitFor(fw, /<-> port 1/, 15000);
      const ping = Bun.spawnSync([...lab.prefix(a), "ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"], { stdout: "pipe", stderr: "pipe" });
      const summary = await stopAndSummary(fw);
      expect(ping.stdout.toString()).toContain("3 received");
      // Echo requests (and ARP) one way, replies the other: both directions forwarded, nothing dropped.
      expect(summary.ports[0]!.rx).toBeGreaterThanOrEqual(3);
      expect(summary.ports[1]!.rx).toBeGreaterThanOrEqual(3);
      expect(summary.totals.dropped).toBe(0);
    } finally {
      lab.destroy();
    }
  }, 60000);

  const oneWorker = [{ rx: 0, rxQueue: 0, tx: 1, txQueue: 0 }, { rx: 1, rxQueue: 0, tx: 0, txQueue: 0 }];
  const twoWorkers = [[{ rx: 0, rxQueue: 0, tx: 1, txQueue: 0 }], [{ rx: 1, rxQueue: 0, tx: 0, txQueue: 1 }]];
  for (const [cores, lanes] of [["1", [oneWorker]], ["0,1", twoWorkers]] as const) {
    test(`pinned workers on cores ${cores} forward 100 k sequence-numbered frames: none lost, none duplicated`, async () => {
      const { lab, a, fwd } = buildLab("s", true);
      try {
        // Deep rings on both sides: the test is about exactness, and a shared CI machine can stall either process for milliseconds.
        const fw = spawnIn(lab, fwd, L2FWD(["--cores", cores, "--ring-size", "4096"]));
        await waitFor(fw, /<-> port 1/, 15000);
        // A rate the forwarder sustains on this 2-core machine with the generator beside it; the test is
        // about exactness, the benches are about speed.
        const gen = Bun.spawnSync([...lab.prefix(a), BUN, `${ROOT}apps/pktgen.ts`, "--tx", "af_packet:o0", "--rx", "af_packet:o1,frames=4096",
          "--count", "100000", "--rate", "40kpps", "--interval", "0", "--json"], { stdout: "pipe", stderr: "pipe" });
        const summary = await stopAndSummary(fw);
        expect(gen.exitCode).toBe(0);
        // Each worker polls its RX queues and sends on its own TX queue of the paired port.
        expect(summary.workers.map((w) => (w as { lanes: unknown }).lanes)).toEqual(lanes as unknown[]);
        const r = JSON.parse(gen.stdout.toString().trim().split("\n").pop()!);
        expect(r.txPackets).toBe(100000);
        expect(r.rx.received).toBe(100000);
        expect(r.rx.lost).toBe(0);
        expect(r.rx.duplicated).toBe(0);
        expect(summary.ports[0]!.rx).toBeGreaterThanOrEqual(100000);
        expect(summary.ports[1]!.tx).toBeGreaterThanOrEqual(100000);
      } finally {
        lab.destroy();
      }
    }, 120000);
  }
});
