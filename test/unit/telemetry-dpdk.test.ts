// DPDK's own client against bdk: dpdk-telemetry.py (Debian's dpdk-dev, installed by scripts/setup.sh) reads
// a running `bdk pktgen --telemetry` over DPDK's telemetry v2 socket (<runtime>/dpdk/bdk-<pid>/dpdk_telemetry.v2,
// SOCK_SEQPACKET): -l lists the prefix, commands piped on stdin answer the port's stats, and the socket and its
// directory are gone after SIGINT. Then, in this process, the server's rough edges with a raw Python client:
// many clients at once and more than it takes, clients that leave mid-way or send without reading, a
// command too long, an answer too long, a NUL-terminated command; no connection is left open.
// Nothing is installed here: without dpdk-telemetry.py the first test fails with what to run.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mempool, openPort, startTelemetry } from "../../src/index.ts";
import { DPDK_MAX_CLIENTS, DPDK_MAX_OUTPUT_LEN, DPDK_SOCKET_NAME, dpdkRuntimeDir } from "../../src/telemetry/dpdk.ts";
import { waitForOutput } from "./telemetry-helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const CLIENT = Bun.which("dpdk-telemetry.py");
const RUNTIME = mkdtempSync(join(tmpdir(), "bdk-telemetry-dpdk-"));
// RUNTIME_DIRECTORY is where dpdk-telemetry.py and bdk both look first (before /var/run or $XDG_RUNTIME_DIR).
const ENV = { ...process.env, BDK_RUNTIME_DIR: RUNTIME, RUNTIME_DIRECTORY: RUNTIME };
const DPDK_DIR = join(RUNTIME, "dpdk");

afterAll(() => rmSync(RUNTIME, { recursive: true, force: true }));

/** Runs a program without blocking this process's event loop (the in-process server answers from it). */
async function run(cmd: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe", env: ENV });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** dpdk-telemetry.py with commands on stdin: one parsed JSON answer per command. */
async function dpdkTelemetry(prefix: string, commands: string[]): Promise<Record<string, unknown>[]> {
  const r = await run([CLIENT!, "-f", prefix], commands.map((c) => `${c}\n`).join(""));
  if (r.code !== 0) throw new Error(`dpdk-telemetry.py -f ${prefix}: exit ${r.code}: ${r.err}${r.out}`);
  return r.out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

function bdkTelemetry(pid: number, cmd: string): unknown {
  const r = Bun.spawnSync([BUN, `${ROOT}src/cli/main.ts`, "telemetry", String(pid), cmd, "--compact"], { stdout: "pipe", stderr: "pipe", env: ENV });
  if (r.exitCode !== 0) throw new Error(`bdk telemetry ${pid} ${cmd}: ${r.stderr.toString()}`);
  return (JSON.parse(r.stdout.toString()) as Record<string, unknown>)[cmd.split(",")[0]!];
}

type Stats = Record<string, number | number[]>;

describe("dpdk-telemetry.py against bdk pktgen --telemetry", () => {
  test("-l lists bdk-<pid>; piped commands answer the ports' stats; the socket goes on SIGINT", async () => {
    if (!CLIENT) throw new Error("dpdk-telemetry.py is not installed: run scripts/setup.sh (Debian's dpdk-dev provides /usr/bin/dpdk-telemetry.py)");
    const gen = Bun.spawn([BUN, `${ROOT}src/cli/main.ts`, "pktgen", "--tx", "ring:td", "--rx", "ring:td", "--rate", "20kpps", "--duration", "60",
      "--cores", "0", "--interval", "0", "--json", "--telemetry"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
    try {
      await waitForOutput(gen.stderr, /telemetry on .*\n[^]*worker 0 on core 0/, 20000);
      const pid = gen.pid;
      const prefix = `bdk-${pid}`;
      const sock = join(DPDK_DIR, prefix, DPDK_SOCKET_NAME);
      expect(existsSync(sock)).toBe(true);
      await Bun.sleep(1000);

      const list = await run([CLIENT, "-l"]);
      expect(list.out).toContain(`${prefix}\n- ${DPDK_SOCKET_NAME}  # Connect with '${CLIENT} -f ${prefix}'`);

      // Counters only grow: what dpdk-telemetry.py reads lies between bdk's own answers before and after.
      const before = [bdkTelemetry(pid, "/ethdev/stats,0"), bdkTelemetry(pid, "/ethdev/stats,1")] as Stats[];
      const answers = await dpdkTelemetry(prefix, ["/ethdev/list", "/ethdev/stats,0", "/ethdev/stats,1", "/info", "/", "/help,/ethdev/stats",
        "/ethdev/xstats,1", "/ethdev/link_status,0", "/mempool/list", "/pktgen/stats", "/nope", "/ethdev/stats,7"]);
      const after = [bdkTelemetry(pid, "/ethdev/stats,0"), bdkTelemetry(pid, "/ethdev/stats,1")] as Stats[];
      expect(answers).toHaveLength(12);
      const [ports, s0, s1, info, cmds, help, xs, link, pools, pg, nope, noPort] = answers as Record<string, any>[];
      expect(ports).toEqual({ "/ethdev/list": [0, 1] });
      for (const [i, s] of [s0!["/ethdev/stats"], s1!["/ethdev/stats"]].entries()) {
        expect(Object.keys(s).sort()).toEqual(Object.keys(before[i]!).sort());
        for (const k of ["ipackets", "opackets", "ibytes", "obytes"]) {
          expect(s[k]).toBeGreaterThanOrEqual(before[i]![k] as number);
          expect(s[k]).toBeLessThanOrEqual(after[i]![k] as number);
        }
        for (const k of ["imissed", "ierrors", "oerrors", "rx_nombuf"]) expect(s[k]).toBe(0);
      }
      expect(s0!["/ethdev/stats"].opackets).toBeGreaterThan(5000); // the TX end of the ring link
      expect(s1!["/ethdev/stats"].ipackets).toBeGreaterThan(5000); // the RX end
      expect(s1!["/ethdev/stats"].q_ipackets).toHaveLength(1);
      expect(info!["/info"]).toMatchObject({ pid, app: "pktgen", version: "bdk telemetry 1", max_output_len: DPDK_MAX_OUTPUT_LEN });
      expect(cmds!["/"]).toEqual(expect.arrayContaining(["/", "/info", "/help", "/ethdev/list", "/ethdev/stats", "/ethdev/xstats", "/pktgen/stats"]));
      expect(help!["/help"]).toEqual({ "/ethdev/stats": expect.stringContaining("port number") });
      expect(xs!["/ethdev/xstats"].rx_good_packets).toBeGreaterThanOrEqual(before[1]!.ipackets as number);
      expect(link).toEqual({ "/ethdev/link_status": { status: "UP", speed: expect.any(Number), duplex: "full-duplex" } });
      expect(pools).toEqual({ "/mempool/list": ["pktgen"] });
      expect(pg!["/pktgen/stats"].state).toBe("sending");
      // Unknown or failed: DPDK's null under the command's key, and bdk's reason beside it.
      expect(nope).toEqual({ "/nope": null, error: expect.stringContaining('no command "/nope"') });
      expect(noPort).toEqual({ "/ethdev/stats": null, error: expect.stringContaining("no port 7") });

      // One client after another, and the interactive mode's "quit".
      const again = await dpdkTelemetry(prefix, ["/eal/lcore/list", "quit", "/info"]);
      expect(again).toEqual([{ "/eal/lcore/list": [0] }]);

      gen.kill("SIGINT");
      const out = await new Response(gen.stdout).text();
      expect(await gen.exited).toBe(0);
      expect(JSON.parse(out.trim().split("\n").pop()!).stopReason).toBe("stopped");
      expect(existsSync(sock)).toBe(false);
      expect(existsSync(join(DPDK_DIR, prefix))).toBe(false);
      // The client then finds nothing to connect to, and says so.
      const gone = await run([CLIENT, "-f", prefix], "/info\n");
      expect(gone.out).toContain(`Error connecting to ${sock}`);
    } finally {
      gen.kill("SIGKILL");
    }
  }, 90000);
});

// A raw SOCK_SEQPACKET client for what dpdk-telemetry.py never does. Prints one JSON line of findings.
const RAW_CLIENT = String.raw`
import json, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    return s
def ask(s, cmd, n=1 << 20):
    s.send(cmd)
    return json.loads(s.recv(n))
out = {}
if mode == "rude":
    for i in range(5):                      # gone before the greeting
        conn().close()
    for i in range(5):                      # a command, then gone before the answer
        s = conn(); s.recv(1024); s.send(b"/snapshot"); s.close()
    s = conn(); s.recv(1024); s.setblocking(False)
    sent = 0
    t = time.time()
    while time.time() - t < 1.0:            # commands with long answers, never read: the server must stop reading
        try:
            s.send(b"/half"); sent += 1
        except BlockingIOError:
            time.sleep(0.01)
    s.close()
    out["unread"] = sent
    s = conn(); out["hello"] = json.loads(s.recv(1024)); out["list"] = ask(s, b"/ethdev/list"); s.close()
elif mode == "many":
    n = int(sys.argv[3])
    socks = [conn() for i in range(n)]
    served = []
    for s in socks:
        m = s.recv(1024)
        served.append(s if m else None)
    out["served"] = sum(1 for s in served if s)
    out["answers"] = [ask(s, b"/info")["/info"]["pid"] for s in served if s]
    for s in socks: s.close()
elif mode == "edges":
    s = conn(); out["hello"] = json.loads(s.recv(1024))
    out["long"] = ask(s, b"/" + b"x" * 5000)
    out["nul"] = ask(s, b"/ethdev/list\0")
    out["comma"] = ask(s, b"/help,/ethdev/stats")
    out["big"] = ask(s, b"/big", out["hello"]["max_output_len"])
    out["half"] = len(ask(s, b"/half", out["hello"]["max_output_len"])["/half"])
    out["empty"] = ask(s, b"/")
    s.close()
print(json.dumps(out))
`;

async function rawClient(path: string, mode: string, ...args: string[]): Promise<Record<string, any>> {
  const r = await run(["python3", "-c", RAW_CLIENT, path, mode, ...args]);
  if (r.code !== 0) throw new Error(`raw client ${mode}: exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as Record<string, any>;
}

/** The states of the sockets bound to `path` (this machine's, from /proc/net/unix): "listening", "connected" … */
function unixSocketsAt(path: string): string[] {
  const states: Record<string, string> = { "01": "listening", "02": "connecting", "03": "connected", "04": "disconnecting" };
  return readFileSync("/proc/net/unix", "utf8").split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f[7] === path).map((f) => states[f[5]!] ?? f[5]!);
}

describe("the DPDK socket in this process (startTelemetry)", () => {
  test("many clients, rude clients, long commands and answers; stale prefixes go; no connection left open", async () => {
    // A prefix left by a killed bdk process (no such pid: above pid_max) is removed when telemetry starts.
    const stale = join(DPDK_DIR, "bdk-4194305");
    mkdirSync(stale, { recursive: true });
    writeFileSync(join(stale, DPDK_SOCKET_NAME), "");
    const pool = Mempool.create({ count: 256, hugepages: "never", name: "dpdk-test" });
    const port = openPort("null", { pool });
    port.start();
    const t = startTelemetry({
      ports: [port],
      socketPath: join(RUNTIME, `${process.pid}.sock`),
      dpdk: { dir: DPDK_DIR }, // this process's env has no RUNTIME_DIRECTORY; the clients' has
      app: {
        name: "dpdktest",
        commands: {
          "/big": { help: "An answer longer than max_output_len.", run: () => "x".repeat(DPDK_MAX_OUTPUT_LEN) },
          "/half": { help: "An answer of 60 000 bytes.", run: () => "y".repeat(60000) },
        },
      },
    });
    try {
      expect(dpdkRuntimeDir(ENV)).toBe(DPDK_DIR);
      expect(t.dpdkFilePrefix).toBe(`bdk-${process.pid}`);
      expect(t.dpdkSocketPath).toBe(join(DPDK_DIR, `bdk-${process.pid}`, DPDK_SOCKET_NAME));
      expect(existsSync(stale)).toBe(false);
      const path = t.dpdkSocketPath!;
      const stats = t.command("/ethdev/stats,0")["/ethdev/stats"];

      // Twelve dpdk-telemetry.py at once, each several commands; a null port's stats stand still.
      const many = await Promise.all(Array.from({ length: 12 }, () => dpdkTelemetry(t.dpdkFilePrefix!, ["/ethdev/stats,0", "/mempool/list", "/ethdev/list", "/info"])));
      for (const answers of many) {
        expect(answers).toEqual([{ "/ethdev/stats": stats }, { "/mempool/list": ["dpdk-test"] }, { "/ethdev/list": [0] },
          { "/info": expect.objectContaining({ pid: process.pid, app: "dpdktest", max_output_len: DPDK_MAX_OUTPUT_LEN }) }]);
      }

      // More clients held open than it serves: the extra ones are closed at once (as DPDK does), the rest answer.
      const held = await rawClient(path, "many", String(DPDK_MAX_CLIENTS + 4));
      expect(held.served).toBe(DPDK_MAX_CLIENTS);
      expect(held.answers).toEqual(Array(DPDK_MAX_CLIENTS).fill(process.pid));

      // Clients that leave before the greeting, before an answer, or with answers unread: the next one is served.
      const rude = await rawClient(path, "rude");
      expect(rude.unread).toBeGreaterThan(0);
      expect(rude.hello).toEqual({ version: "bdk telemetry 1", pid: process.pid, max_output_len: DPDK_MAX_OUTPUT_LEN });
      expect(rude.list).toEqual({ "/ethdev/list": [0] });

      const edges = await rawClient(path, "edges");
      expect(edges.long).toEqual({ error: expect.stringContaining("at most 4096 bytes") });
      expect(edges.nul).toEqual({ "/ethdev/list": [0] });
      expect(edges.comma).toEqual({ "/help": { "/ethdev/stats": expect.any(String) } });
      expect(edges.big).toEqual({ "/big": null, error: expect.stringContaining(`more than this socket's max_output_len (${DPDK_MAX_OUTPUT_LEN})`) });
      expect(edges.half).toBe(60000);
      expect(edges.empty["/"]).toEqual(expect.arrayContaining(["/big", "/half", "/ethdev/stats"]));

      // Every connection closed by now (each client has exited): the server holds only its listening socket.
      // (Sockets it accepted carry its path too, in /proc/net/unix.)
      await Bun.sleep(200);
      expect(unixSocketsAt(path)).toEqual(["listening"]);
    } finally {
      t.close();
      port.stop();
      port.close();
    }
    expect(existsSync(t.dpdkSocketPath!)).toBe(false);
    expect(existsSync(join(DPDK_DIR, `bdk-${process.pid}`))).toBe(false);
  }, 60000);

  test("an embedding program's DPDK socket goes on an unhandled SIGTERM; no room for it is a warning; a bad file prefix is one clear error", async () => {
    const child = Bun.spawn([BUN, "-e", `
      import { Mempool, openPort, startTelemetry } from "${ROOT}src/index.ts";
      const pool = Mempool.create({ count: 256, hugepages: "never", name: "embed" });
      const p = openPort("null", { pool }); p.start();
      const t = startTelemetry({ ports: [p] });
      console.log(t.dpdkSocketPath);
      setInterval(() => {}, 1000);
    `], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
    const path = (await waitForOutput(child.stdout, /v2\n/, 15000)).trim();
    expect(path).toBe(join(DPDK_DIR, `bdk-${child.pid}`, DPDK_SOCKET_NAME));
    if (CLIENT) expect(await dpdkTelemetry(`bdk-${child.pid}`, ["/mempool/list"])).toEqual([{ "/mempool/list": ["embed"] }]);
    child.kill("SIGTERM");
    expect(await child.exited).not.toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(DPDK_DIR, `bdk-${child.pid}`))).toBe(false);

    // Where the DPDK socket cannot go, bdk's own socket still serves, with one warning.
    const noDpdk = await run([BUN, "-e", `
      import { Mempool, openPort, startTelemetry } from "${ROOT}src/index.ts";
      const pool = Mempool.create({ count: 64, hugepages: "never", name: "nodpdk" });
      process.env.RUNTIME_DIRECTORY = "/dev/null/x";
      const t = startTelemetry({ ports: [openPort("null", { pool })] });
      console.log(JSON.stringify({ sock: t.socketPath, dpdk: t.dpdkSocketPath ?? null }));
      t.close();
    `]);
    expect(noDpdk.code).toBe(0);
    expect(JSON.parse(noDpdk.out)).toEqual({ sock: expect.stringContaining(RUNTIME), dpdk: null });
    expect(noDpdk.err.trim().split("\n")).toEqual([expect.stringMatching(/^bdk: warning: telemetry: cannot create \/dev\/null\/x\/dpdk\/bdk-[0-9]+: .*no DPDK telemetry socket/)]);

    const pool = Mempool.create({ count: 64, hugepages: "never", name: "dpdk-bad" });
    expect(() => startTelemetry({ ports: [], pools: [pool], socket: false, dpdk: { filePrefix: "../etc" } })).toThrow('telemetry: "../etc" is not a file prefix');
    expect(() => startTelemetry({ ports: [], pools: [pool], socket: false, dpdk: { dir: `/tmp/${"d".repeat(120)}` } })).toThrow("longer than a Unix socket allows");
  }, 30000);
});
