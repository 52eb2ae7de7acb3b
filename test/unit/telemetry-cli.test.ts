// `bdk telemetry` against a running pktgen (a real process, ring loopback, one pinned worker): each
// command's JSON answer, the interactive mode (commands on stdin), --all, errors as JSON with exit 1, and
// the socket gone once pktgen stops on SIGINT.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForOutput } from "./telemetry-helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const RUNTIME = mkdtempSync(join(tmpdir(), "bdk-telemetry-cli-"));
const ENV = { ...process.env, BDK_RUNTIME_DIR: RUNTIME };

afterAll(() => rmSync(RUNTIME, { recursive: true, force: true }));

function bdk(args: string[], stdin?: string): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([BUN, `${ROOT}src/cli/main.ts`, "telemetry", ...args], { stdout: "pipe", stderr: "pipe", env: ENV, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** One command's answer: the value under the command's key. */
function ask(pid: number | undefined, cmd: string): unknown {
  const r = bdk([...(pid === undefined ? [] : [String(pid)]), cmd]);
  if (r.code !== 0) throw new Error(`bdk telemetry ${pid} ${cmd}: exit ${r.code}: ${r.err}`);
  const answer = JSON.parse(r.out) as Record<string, unknown>;
  expect(Object.keys(answer)).toEqual([cmd.split(",")[0]!]);
  return answer[cmd.split(",")[0]!];
}

describe("bdk telemetry against a running pktgen", () => {
  test("every command answers JSON; interactive; --all; errors; the socket goes on SIGINT", async () => {
    const gen = Bun.spawn([BUN, `${ROOT}src/cli/main.ts`, "pktgen", "--tx", "ring:tc", "--rx", "ring:tc", "--rate", "20kpps", "--duration", "60",
      "--cores", "0", "--interval", "0", "--json", "--telemetry"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
    try {
      const seen = { text: "" };
      await waitForOutput(gen.stderr, /telemetry on .*\n[^]*worker 0 on core 0/, 20000, seen);
      const pid = gen.pid;
      const sock = join(RUNTIME, `${pid}.sock`);
      expect(seen.text).toContain(`telemetry on ${sock} (bdk telemetry ${pid}; dpdk-telemetry.py -f bdk-${pid})`);
      await Bun.sleep(1500);

      const list = ask(pid, "/") as string[];
      for (const c of ["/", "/info", "/help", "/ethdev/list", "/ethdev/info", "/ethdev/stats", "/ethdev/xstats", "/ethdev/link_status", "/ethdev/queue_stats",
        "/workers", "/eal/lcore/list", "/mempool/list", "/mempool/info", "/pktgen/stats", "/pktgen/latency"]) expect(list).toContain(c);
      // Without a PID: the only process serving telemetry.
      const info = ask(undefined, "/info") as Record<string, unknown>;
      expect(info).toMatchObject({ pid, app: "pktgen", version: "bdk telemetry 1" });
      expect(ask(pid, "/help,/ethdev/stats")).toEqual({ "/ethdev/stats": expect.stringContaining("port number") });
      // The TX end and the RX end of the ring link are ports 0 and 1.
      expect(ask(pid, "/ethdev/list")).toEqual([0, 1]);
      expect(ask(pid, "/ethdev/info,0")).toMatchObject({ port: 0, spec: "ring:tc", driver: "ring", tx_queues: 1, mempool: "pktgen" });
      const tx = ask(pid, "/ethdev/stats,0") as Record<string, number | number[]>;
      const rx = ask(pid, "/ethdev/stats,1") as Record<string, number | number[]>;
      expect(tx.opackets as number).toBeGreaterThan(10000);
      expect(rx.ipackets as number).toBeGreaterThan(10000);
      expect(tx.q_opackets).toHaveLength(1);
      expect(Object.keys(tx).sort()).toEqual(["ibytes", "ierrors", "imissed", "ipackets", "obytes", "oerrors", "opackets", "q_errors", "q_ibytes", "q_ipackets", "q_obytes", "q_opackets", "rx_nombuf"]);
      const xs = ask(pid, "/ethdev/xstats,1") as Record<string, number>;
      expect(xs.rx_good_packets).toBeGreaterThan(10000);
      expect(xs.rx_q0_packets).toBeGreaterThan(10000);
      expect(ask(pid, "/ethdev/link_status,0")).toEqual({ status: "UP", speed: expect.any(Number), duplex: "full-duplex" });
      const qs = ask(pid, "/ethdev/queue_stats,1") as { rx: { queue: number; packets: number }[]; tx: unknown[] };
      expect(qs.rx[0]!.queue).toBe(0);
      expect(qs.rx[0]!.packets).toBeGreaterThan(10000);
      const workers = ask(pid, "/workers") as { index: number; core: number; tid: number; role: string }[];
      expect(workers).toHaveLength(1);
      expect(workers[0]).toMatchObject({ index: 0, core: 0, role: "TX queue 0, RX queue(s) 0" });
      expect(workers[0]!.tid).toBeGreaterThan(0);
      expect(ask(pid, "/eal/lcore/list")).toEqual([0]);
      expect(ask(pid, "/mempool/list")).toEqual(["pktgen"]);
      const pool = ask(pid, "/mempool/info,pktgen") as { size: number; free: number; inUse: number };
      expect(pool.size).toBe(8192);
      expect(pool.free + pool.inUse).toBe(8192);
      const st = ask(pid, "/pktgen/stats") as Record<string, unknown> & { latency: Record<string, number> };
      expect(st.state).toBe("sending");
      // A rate over the last second (a shared machine may slow the worker down, never speed it past --rate).
      expect(st.txPps as number).toBeGreaterThan(1000);
      expect(st.txPps as number).toBeLessThan(25000);
      expect(st.rxReceived as number).toBeGreaterThan(10000);
      expect(st.lost as number).toBeLessThan(1000);
      expect(st.latency.count).toBeGreaterThan(10000);
      for (const k of ["p50", "p99", "p999", "max", "mean", "min"]) expect(st.latency[k]).toBeGreaterThan(0);
      expect(st.latency.p50).toBeLessThanOrEqual(st.latency.p99);
      const lat = ask(pid, "/pktgen/latency") as { count: number; buckets: { le: number | null; count: number }[] };
      expect(lat.buckets.at(-1)!.le).toBeNull();
      expect(lat.buckets.reduce((n, b) => n + b.count, 0)).toBe(lat.count);

      // Errors: JSON with null and the reason, exit 1, one line on stderr.
      for (const [cmd, msg] of [["/ethdev/stats,7", "/ethdev/stats: no port 7; give a port number 0..1"], ["/ethdev/stats", "/ethdev/stats needs a port number"],
        ["/mempool/info,nope", '/mempool/info: no mempool "nope"; give one of: pktgen'], ["/nope", 'no command "/nope"; send / for the list']] as const) {
        const r = bdk([String(pid), cmd]);
        expect(r.code).toBe(1);
        const answer = JSON.parse(r.out);
        expect(answer[cmd.split(",")[0]!]).toBeNull();
        expect(answer.error).toContain(msg);
        expect(r.err.trim().split("\n")).toHaveLength(1);
      }

      // Interactive: one command per line on stdin, one JSON answer per line out; "quit" ends it.
      const i = bdk([String(pid), "--compact"], "/ethdev/list\n\n/ethdev/link_status,1\nbogus\n/mempool/list\nquit\n/info\n");
      expect(i.code).toBe(0);
      const lines = i.out.trim().split("\n").map((l) => JSON.parse(l));
      expect(lines).toEqual([
        { "/ethdev/list": [0, 1] },
        { "/ethdev/link_status": { status: "UP", speed: expect.any(Number), duplex: "full-duplex" } },
        { error: '"bogus" is not a command; commands start with / ("/" lists them)' },
        { "/mempool/list": ["pktgen"] },
      ]);

      // --all: every live process, its pid with each answer.
      const all = bdk(["--all", "/ethdev/list", "--compact"]);
      expect(all.code).toBe(0);
      expect(JSON.parse(all.out)).toEqual({ pid, "/ethdev/list": [0, 1] });

      // SIGINT: pktgen stops, prints its result, and its socket is gone.
      expect(existsSync(sock)).toBe(true);
      gen.kill("SIGINT");
      const out = await new Response(gen.stdout).text();
      expect(await gen.exited).toBe(0);
      expect(JSON.parse(out.trim().split("\n").pop()!).stopReason).toBe("stopped");
      expect(existsSync(sock)).toBe(false);
      const gone = bdk([String(pid), "/info"]);
      expect(gone.code).toBe(1);
      expect(gone.err.trim()).toBe(`bdk telemetry: no process ${pid}; bdk telemetry --all lists the bdk processes that serve telemetry`);
    } finally {
      gen.kill("SIGKILL");
    }
  }, 90000);

  test("an embedding program: startTelemetry() removes its socket when an unhandled SIGTERM ends it", async () => {
    const child = Bun.spawn([BUN, "-e", `
      import { Mempool, openPort, startTelemetry } from "${ROOT}src/index.ts";
      const pool = Mempool.create({ count: 256, hugepages: "never", name: "embed" });
      const p = openPort("null", { pool }); p.start();
      const t = startTelemetry({ ports: [p] });
      console.log(t.socketPath);
      setInterval(() => {}, 1000);
    `], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
    const path = (await waitForOutput(child.stdout, /\.sock\n/, 15000)).trim();
    expect(path).toBe(join(RUNTIME, `${child.pid}.sock`));
    expect(ask(child.pid, "/mempool/list")).toEqual(["embed"]);
    child.kill("SIGTERM");
    expect(await child.exited).not.toBe(0);
    expect(existsSync(path)).toBe(false);
  }, 30000);
});
