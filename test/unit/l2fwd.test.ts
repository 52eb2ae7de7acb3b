// l2fwd: argument handling, and forwarding between two veth pairs in namespaces this test makes and removes.
import { describe, expect, spyOn, test } from "bun:test";
import { existsSync, mkdtempSync, readlinkSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allowedCores } from "../../apps/common/args.ts";
import { NetLab } from "../../apps/common/netlab.ts";
import { lanesFor, main as l2fwdMain, parseL2fwdArgs, parsePortmap, runL2fwd, shareLanes } from "../../apps/l2fwd.ts";
import { claimInterface, claimPath, readClaim } from "../../drivers/af_packet/claim.ts";
import { Mempool, openPort } from "../../src/index.ts";

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
    const twoQueues = lanesFor([[0, 1]], 2);
    expect(twoQueues.map((l) => `${l.rx}.${l.rxQueue}`)).toEqual(["0.0", "0.1", "1.0", "1.1"]);
    // Round-robin: worker w owns RX queue w of both ports, so RSS splits each direction between the workers.
    expect(shareLanes(twoQueues, [0, 1], 0).map((w) => w.map((l) => `${l.rx}.${l.rxQueue}`))).toEqual([["0.0", "1.0"], ["0.1", "1.1"]]);
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

  test("numbers follow the one strict grammar: -b 1e3, 0x20 and \" 32\" are refused, a period of 3.5 s is accepted", () => {
    for (const bad of ["1e3", "0x20", " 32", "3.5"]) {
      expect(() => parseL2fwdArgs(["-b", bad, "null", "null"])).toThrow(`l2fwd: --burst expects a whole number, got "${bad}"`);
    }
    expect(parseL2fwdArgs(["-T", "3.5", "null", "null"]).period).toBe(3.5);
    expect(() => parseL2fwdArgs(["-T", "1e1", "null", "null"])).toThrow('l2fwd: --period expects a number, got "1e1"');
    expect(() => parseL2fwdArgs(["-b", "32", "-b", "64", "null", "null"])).toThrow('l2fwd: --burst given twice ("-b 32" and "-b 64")');
  });

  test("--pool and --ring-size: one range message, from min and max", () => {
    expect(() => parseL2fwdArgs(["--pool", "0", "null", "null"])).toThrow("l2fwd: --pool 0 is out of range; give 64..16777216");
    expect(() => parseL2fwdArgs(["--pool", "99999999999", "null", "null"])).toThrow("l2fwd: --pool 99999999999 is out of range; give 64..16777216");
    expect(() => parseL2fwdArgs(["--ring-size", "1048576", "null", "null"])).toThrow("l2fwd: --ring-size 1048576 is out of range; give 64..65536");
    expect(() => parseL2fwdArgs(["--ring-size", "1000", "null", "null"])).toThrow("l2fwd: --ring-size 1000 is not a power of two");
  });

  test("--cores: an empty list is refused, a core outside the affinity mask too; a core twice is allowed", () => {
    expect(() => parseL2fwdArgs(["--cores", "", "null", "null"])).toThrow("l2fwd: --cores needs a value, got an empty one");
    expect(() => parseL2fwdArgs(["--cores", "0,,1", "null", "null"])).toThrow("(an empty item)");
    expect(() => parseL2fwdArgs(["--cores=", "null", "null"])).toThrow("--cores needs a value");
    const allowed = allowedCores()!;
    const outside = [1023, 1022].find((c) => !allowed.includes(c))!;
    expect(() => parseL2fwdArgs(["--cores", `0,${outside}`, "null", "null"])).toThrow(`l2fwd: core ${outside} is not among the cores this process may run on`);
    expect(parseL2fwdArgs(["--cores", "0,0", "null", "null"]).cores).toBe("0,0");
  });

  test("two workers on one core: one warning line naming the core and the worker count", async () => {
    const pool = Mempool.create({ count: 1024, hugepages: "never", name: "l2fwd-shared-core" });
    // Both ends of both links: l2fwd gets one end of each.
    const all = ["ring:shared-core-a", "ring:shared-core-a", "ring:shared-core-b", "ring:shared-core-b"].map((spec) => openPort(spec, { pool, rxQueues: 2, txQueues: 2 }));
    const ports = [all[1]!, all[2]!];
    const lines: string[] = [];
    try {
      for (const p of all) p.start();
      const o = parseL2fwdArgs(["ring:shared-core-a", "ring:shared-core-b", "--cores", "0,0", "--port-queues", "2", "--period", "0", "--link-wait", "0"]);
      const r = await runL2fwd(o, { ports, shouldStop: () => true, log: (l) => lines.push(l) });
      expect(r.workers.map((w) => w.core)).toEqual([0, 0]);
    } finally {
      for (const p of all) p.close();
      pool.destroy();
    }
    expect(lines.filter((l) => l.includes("warning"))).toEqual(["l2fwd: warning: core 0 runs 2 workers: they share it (fine while they sleep; when busy each gets 1/2 of the core)"]);
  }, 20000);

  test("--idle poll forwards in the main thread and in a worker; --idle takes only sleep or poll", async () => {
    expect(() => parseL2fwdArgs(["--idle", "busy", "null", "null"])).toThrow(/--idle/);
    for (const cores of [[], ["--cores", "0"]]) {
      const o = parseL2fwdArgs(["--idle", "poll", "--period", "0", "--duration", "0.3", ...cores, "null", "null"]);
      const r = await runL2fwd(o, { log: () => {} });
      // null ports: every RX burst is full, so both directions forward; nothing is idle long enough to sleep
      expect(r.totals.tx).toBeGreaterThan(0);
      expect(r.totals.rx).toBeGreaterThanOrEqual(r.totals.tx);
    }
  }, 20000);

  test("the same port twice is refused with both indices", () => {
    expect(() => parseL2fwdArgs(["af_packet:x", "af_packet:x"])).toThrow('l2fwd: ports 0 and 1 are the same interface x ("af_packet:x" and "af_packet:x")');
    expect(() => parseL2fwdArgs(["af_packet:x", "af_packet:y", "af_packet:z", "af_packet:x,frames=4096"])).toThrow("l2fwd: ports 0 and 3 are the same interface x");
    expect(() => parseL2fwdArgs(["03:00.0", "0000:03:00.0"])).toThrow("l2fwd: ports 0 and 1 are the same PCI device 0000:03:00.0");
    expect(() => parseL2fwdArgs(["ring:a", "ring:a"])).toThrow("l2fwd: ports 0 and 1 are the two ends of one ring link a");
    expect(() => parseL2fwdArgs(["--portmap", "(0,1)", "ring:a", "ring:a"])).toThrow("two ends of one ring link a");
    // Ports that share nothing may repeat.
    expect(parseL2fwdArgs(["null", "null"]).pairs).toEqual([[0, 1]]);
  });

  test("the help says what 0 means for every duration and count", async () => {
    const out: string[] = [];
    const log = spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    try {
      await l2fwdMain(["--help"]);
    } finally {
      log.mockRestore();
    }
    const help = out.join("\n");
    expect(help).toMatch(/--duration S +stop after S seconds \(0: no limit, run until Ctrl-C\)/);
    expect(help).toMatch(/--period S +seconds between stats lines \(0: none\)/);
  });
});

describe("the af_packet interface claim", () => {
  const fdsOn = (path: string): number => readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;

  test("a second process on the interface is warned with the holder's pid and command; released at close and at exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bdk-claim-"));
    try {
      // Another process holds the claim on ifindex 1 until its stdin closes.
      const holder = Bun.spawn([BUN, "-e", `
        import { claimInterface } from "${ROOT}drivers/af_packet/claim.ts";
        const c = claimInterface("af_packet:lo", "lo", 1, { dir: ${JSON.stringify(dir)} });
        console.log(c.held ? "held" : "not held");
        for await (const _ of Bun.stdin.stream()) {}`], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("held\n");
      const path = claimPath(1, dir);
      expect(readClaim(path)).toEqual({ pid: holder.pid, command: expect.any(String) });

      const warnings: string[] = [];
      const warn = (_key: string, message: string): void => void warnings.push(message);
      const second = claimInterface("af_packet:lo", "lo", 1, { dir, warn });
      expect(second.held).toBe(false);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toStartWith(`af_packet:lo: interface lo is already in use by bdk process ${holder.pid} (`);
      expect(warnings[0]).toContain("both receive its frames");
      second.release();

      // The holder exits: the lock dies with it, and the next claim is ours, without a word.
      holder.stdin.end();
      await holder.exited;
      const mine = claimInterface("af_packet:lo", "lo", 1, { dir, warn });
      const again = claimInterface("af_packet:lo2", "lo", 1, { dir, warn }); // a second port of this process shares it
      expect([mine.held, again.held, warnings.length]).toEqual([true, true, 1]);
      expect(readClaim(path)?.pid).toBe(process.pid);
      expect(fdsOn(path)).toBe(1);
      mine.release();
      expect(fdsOn(path)).toBe(1); // the other port still holds it
      again.release();
      again.release(); // idempotent
      expect(fdsOn(path)).toBe(0); // closed: released
      expect(existsSync(path)).toBe(false); // and the file is gone with the last holder (no stale files pile up)
      const later = claimInterface("af_packet:lo", "lo", 1, { dir, warn }); // a new file, claimed at once
      expect([later.held, warnings.length, readClaim(path)?.pid]).toEqual([true, 1, process.pid]);
      later.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20000);

  test.skipIf(process.getuid?.() !== 0)("two processes opening af_packet:lo: the second warns, naming the first's pid (root)", async () => {
    const holder = Bun.spawn([BUN, "-e", `
      import { openPort } from "${ROOT}src/index.ts";
      const p = openPort("af_packet:lo");
      console.log("open");
      for await (const _ of Bun.stdin.stream()) {}
      p.close();`], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    try {
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe("open\n");
      const second = Bun.spawnSync([BUN, "-e", `
        import { openPort } from "${ROOT}src/index.ts";
        openPort("af_packet:lo").close();`], { stdout: "pipe", stderr: "pipe" });
      expect(second.exitCode).toBe(0);
      expect(second.stderr.toString()).toContain(`bdk: warning: af_packet:lo: interface lo is already in use by bdk process ${holder.pid}`);
    } finally {
      holder.stdin.end();
      await holder.exited;
    }
    // Once the first has closed its port, nobody is warned.
    const third = Bun.spawnSync([BUN, "-e", `
      import { openPort } from "${ROOT}src/index.ts";
      openPort("af_packet:lo").close();`], { stdout: "pipe", stderr: "pipe" });
    expect(third.stderr.toString()).not.toContain("already in use");
  }, 20000);
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
