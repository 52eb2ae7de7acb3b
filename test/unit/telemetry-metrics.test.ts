// /metrics during a real l2fwd run: l2fwd forwards between two veth pairs in namespaces this test makes
// (root), pktgen offers traffic from the outer ends, and the test scrapes /metrics while it flows and once
// it has stopped: the format parses (HELP/TYPE, names, labels), counters only grow, and at rest every port
// counter equals the port's own stats() (as the telemetry socket reports it, and as l2fwd's --json summary
// does after the run). Also: the bad-input paths of --telemetry-http, one error line each.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetLab } from "../../apps/common/netlab.ts";
import { TelemetryClient } from "../../src/telemetry/socket.ts";
import { parseProm, promValue, waitForOutput, type PromFamily } from "./telemetry-helpers.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const RUNTIME = mkdtempSync(join(tmpdir(), "bdk-telemetry-"));
const ENV = { ...process.env, BDK_RUNTIME_DIR: RUNTIME };

afterAll(() => rmSync(RUNTIME, { recursive: true, force: true }));

/** GET inside a namespace (l2fwd's 127.0.0.1 is the namespace's own). */
function getIn(lab: NetLab, ns: string, url: string): string {
  const r = Bun.spawnSync([...lab.prefix(ns), BUN, "-e", `const r = await fetch(${JSON.stringify(url)}); if (!r.ok) process.exit(3); process.stdout.write(await r.text());`], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`GET ${url} in ${ns} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

type Stats = { ipackets: number; opackets: number; ibytes: number; obytes: number; imissed: number; ierrors: number; oerrors: number; rx_nombuf: number };

/** The port counters /metrics exports, by the names of the socket's /ethdev/stats. */
function portFromMetrics(f: Map<string, PromFamily>, port: number): Stats {
  const v = (family: string, labels: Record<string, string | number>): number => {
    const x = promValue(f, family, { port, ...labels });
    if (x === undefined) throw new Error(`no ${family} for port ${port} ${JSON.stringify(labels)}`);
    return x;
  };
  return {
    ipackets: v("bdk_port_packets_total", { direction: "rx" }), opackets: v("bdk_port_packets_total", { direction: "tx" }),
    ibytes: v("bdk_port_bytes_total", { direction: "rx" }), obytes: v("bdk_port_bytes_total", { direction: "tx" }),
    imissed: v("bdk_port_missed_total", {}), ierrors: v("bdk_port_errors_total", { direction: "rx" }), oerrors: v("bdk_port_errors_total", { direction: "tx" }),
    rx_nombuf: v("bdk_port_rx_nombuf_total", {}),
  };
}

function counters(f: Map<string, PromFamily>): Map<string, number> {
  const out = new Map<string, number>();
  for (const fam of f.values()) {
    if (fam.type !== "counter") continue;
    for (const s of fam.samples) out.set(`${s.name}${JSON.stringify(s.labels)}`, s.value);
  }
  return out;
}

describe("telemetry /metrics during an l2fwd run (root, veth pairs)", () => {
  test("scraped twice while traffic flows: the format parses, counters grow; at rest they equal the ports' stats()", async () => {
    const lab = new NetLab(`bdkt${process.pid}tm`);
    let fw: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
    try {
      const a = lab.namespace("a");
      const fwd = lab.namespace("fwd");
      lab.veth([a, "o0"], [fwd, "f0"]);
      lab.veth([fwd, "f1"], [a, "o1"]);
      fw = Bun.spawn([...lab.prefix(fwd), BUN, `${ROOT}apps/l2fwd.ts`, "af_packet:f0", "af_packet:f1", "--period", "0", "--link-wait", "1", "--json",
        "--ring-size", "4096", "--telemetry-http", "0"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: ENV });
      const seen = { text: "" };
      await waitForOutput(fw.stderr, /<-> port 1/, 20000, seen);
      const url = /(http:\/\/127\.0\.0\.1:[0-9]+\/)/.exec(seen.text)?.[1];
      expect(url).toBeDefined();
      // l2fwd runs in its own network namespace: it is found by its pid, which the namespace does not change.
      const pid = Number(/bdk telemetry ([0-9]+)/.exec(seen.text)![1]);
      expect(existsSync(join(RUNTIME, `${pid}.sock`))).toBe(true);

      const gen = Bun.spawn([...lab.prefix(a), BUN, `${ROOT}apps/pktgen.ts`, "--tx", "af_packet:o0", "--rx", "af_packet:o1,frames=4096",
        "--rate", "20kpps", "--duration", "4", "--interval", "0", "--json"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      await Bun.sleep(1500);
      const first = parseProm(getIn(lab, fwd, `${url}metrics`));
      await Bun.sleep(1000);
      const second = parseProm(getIn(lab, fwd, `${url}metrics`));

      // Names, types and labels.
      for (const name of ["bdk_port_packets_total", "bdk_port_bytes_total", "bdk_port_errors_total", "bdk_port_missed_total", "bdk_queue_packets_total", "bdk_l2fwd_packets_total"]) {
        expect(first.get(name)?.type).toBe("counter");
        expect(first.get(name)!.help.length).toBeGreaterThan(10);
      }
      expect(first.get("bdk_port_link_up")?.type).toBe("gauge");
      for (const s of first.get("bdk_queue_packets_total")!.samples) {
        expect(Object.keys(s.labels).sort()).toEqual(["direction", "port", "queue"]);
        expect(["rx", "tx"]).toContain(s.labels.direction!);
      }
      expect(first.get("bdk_port_packets_total")!.samples.map((s) => `${s.labels.port}${s.labels.direction}`).sort()).toEqual(["0rx", "0tx", "1rx", "1tx"]);
      expect(promValue(first, "bdk_port_link_up", { port: 0 })).toBe(1);
      // Traffic flows: port 0 receives, port 1 sends; and between the scrapes every counter grew or stayed.
      const c1 = counters(first);
      const c2 = counters(second);
      expect(c1.size).toBeGreaterThan(10);
      for (const [k, v] of c1) {
        expect(c2.has(k)).toBe(true);
        if (c2.get(k)! < v) throw new Error(`counter ${k} went down: ${v} → ${c2.get(k)}`);
      }
      expect(promValue(first, "bdk_port_packets_total", { port: 0, direction: "rx" })!).toBeGreaterThan(1000);
      expect(promValue(second, "bdk_port_packets_total", { port: 1, direction: "tx" })!).toBeGreaterThan(promValue(first, "bdk_port_packets_total", { port: 1, direction: "tx" })!);

      expect(await gen.exited).toBe(0);
      const r = JSON.parse((await new Response(gen.stdout).text()).trim().split("\n").pop()!);
      expect(r.rx.received).toBeGreaterThan(0);

      // At rest: the scrape equals the ports' own stats(), read through the socket before and after it.
      const client = await TelemetryClient.connect(pid, RUNTIME);
      let rest: Map<string, PromFamily> | undefined;
      try {
        for (let attempt = 0; attempt < 10 && !rest; attempt++) {
          await Bun.sleep(300);
          const before = [await client.command("/ethdev/stats,0"), await client.command("/ethdev/stats,1")];
          const scrape = parseProm(getIn(lab, fwd, `${url}metrics`));
          const after = [await client.command("/ethdev/stats,0"), await client.command("/ethdev/stats,1")];
          if (JSON.stringify(before) !== JSON.stringify(after)) continue; // a frame still moved: look again
          for (const port of [0, 1]) {
            const { q_ipackets: _a, q_opackets: _b, q_ibytes: _c, q_obytes: _d, q_errors: _e, ...basic } = (after[port]!["/ethdev/stats"] as Stats & Record<string, unknown>);
            expect(portFromMetrics(scrape, port)).toEqual(basic as Stats);
          }
          rest = scrape;
        }
      } finally {
        client.close();
      }
      expect(rest).toBeDefined();
      expect(promValue(rest!, "bdk_port_packets_total", { port: 0, direction: "rx" })).toBeGreaterThanOrEqual(r.txPackets);

      // And l2fwd's own summary after the run: the same figures (nothing moved since).
      fw.kill("SIGINT");
      const out = await new Response(fw.stdout).text();
      expect(await fw.exited).toBe(0);
      const summary = JSON.parse(out.trim().split("\n").pop()!);
      for (const port of [0, 1]) {
        const s = summary.ports[port].stats;
        expect(portFromMetrics(rest!, port)).toEqual({
          ipackets: s.ipackets, opackets: s.opackets, ibytes: s.ibytes, obytes: s.obytes, imissed: s.imissed, ierrors: s.ierrors, oerrors: s.oerrors, rx_nombuf: s.rxNoMbuf,
        });
      }
      // The socket went with the process.
      expect(existsSync(join(RUNTIME, `${pid}.sock`))).toBe(false);
    } finally {
      fw?.kill("SIGKILL");
      lab.destroy();
    }
  }, 90000);
});

describe("telemetry bad input: one line naming the thing and the fix", () => {
  const run = (args: string[]): { code: number; out: string; err: string } => {
    const r = Bun.spawnSync([BUN, `${ROOT}src/cli/main.ts`, ...args], { stdout: "pipe", stderr: "pipe", env: ENV });
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  test("an HTTP port in use", async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, "127.0.0.1", res));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = run(["l2fwd", "null", "null", "--duration", "1", "--telemetry-http", String(port)]);
      expect(r.code).toBe(1);
      expect(r.err.trim()).toBe(`bdk l2fwd: telemetry: HTTP port ${port} on 127.0.0.1 is in use; give another --telemetry-http PORT (0 picks a free one), or stop what listens there`);
    } finally {
      busy.close();
    }
  }, 30000);

  test("a malformed --telemetry-http", () => {
    for (const app of ["l2fwd", "pktgen"]) {
      const r = run(app === "l2fwd" ? ["l2fwd", "null", "null", "--telemetry-http", "port80"] : ["pktgen", "null", "--telemetry-http", "99999"]);
      expect(r.code).toBe(1);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).toContain(`bdk ${app}: --telemetry-http`);
      expect(r.err).toContain("write e.g. 9100");
    }
  });

  test("bdk telemetry: no such pid, no socket, nothing running, bad command", () => {
    let r = run(["telemetry", "999999999"]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe("bdk telemetry: no process 999999999; bdk telemetry --all lists the bdk processes that serve telemetry");
    r = run(["telemetry", String(process.pid), "/info"]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toContain(`no socket for pid ${process.pid}`);
    expect(r.err).toContain("start it with --telemetry");
    r = run(["telemetry", "--all"]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe(`bdk telemetry: no bdk process serves telemetry (no live socket in ${RUNTIME}); start one with --telemetry, e.g. bdk l2fwd --telemetry null null`);
    r = run(["telemetry", "1", "ethdev"]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe('bdk telemetry: "ethdev" is not a command; commands start with / (bdk telemetry PID / lists them)');
    r = run(["telemetry", "--frob"]);
    expect(r.err.trim()).toBe("bdk telemetry: unknown option --frob; options: --all --pretty --compact --help");
  });
});

describe("telemetry in this process (null ports)", () => {
  test("/api maps paths to commands with their HTTP status; /events streams snapshots; label values are escaped", async () => {
    const { Mempool, openPort, startTelemetry } = await import("../../src/index.ts");
    const { renderFamilies } = await import("../../src/telemetry/metrics.ts");
    const pool = Mempool.create({ count: 256, hugepages: "never", name: "inproc" });
    const ports = [openPort("null", { pool }), openPort("null", { pool })];
    for (const p of ports) p.start();
    const t = startTelemetry({ ports, socket: false, http: { port: 0, hz: 10 } });
    try {
      expect(t.socketPath).toBeUndefined();
      const get = async (path: string): Promise<{ status: number; body: string; type: string }> => {
        const r = await fetch(`${t.httpUrl}${path}`);
        return { status: r.status, body: await r.text(), type: r.headers.get("content-type") ?? "" };
      };
      expect(JSON.parse((await get("api/ethdev/stats/1")).body)).toHaveProperty(["/ethdev/stats", "ipackets"]);
      expect(JSON.parse((await get("api/ethdev/stats,1")).body)).toHaveProperty(["/ethdev/stats", "ipackets"]);
      expect((await get("api/ethdev/stats/9")).status).toBe(400);
      expect((await get("api/nope")).status).toBe(404);
      expect((await get("api/%zz")).status).toBe(404);
      expect(JSON.parse((await get("api/")).body).commands.map((c: { command: string }) => c.command)).toContain("/ethdev/xstats");
      expect((await get("nope")).status).toBe(404);
      const page = await get("");
      expect(page.type).toContain("text/html");
      expect(page.body).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i); // nothing loaded from anywhere
      const metrics = await get("metrics");
      expect(metrics.type).toContain("version=0.0.4");
      expect(parseProm(metrics.body).get("bdk_port_info")!.samples).toHaveLength(2);
      // Server-Sent Events: a snapshot per tick.
      const events = await fetch(`${t.httpUrl}events?hz=10`);
      expect(events.headers.get("content-type")).toBe("text/event-stream");
      const reader = events.body!.getReader();
      let text = "";
      while ((text.match(/^data: /gm) ?? []).length < 3) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      const snaps = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)));
      expect(snaps[0].ports).toHaveLength(2);
      expect(snaps[2].mono).toBeGreaterThan(snaps[0].mono);
      // Escapes: backslash, quote and newline in a label value; the reader gets them back.
      const text2 = renderFamilies([{ name: "x_total", type: "counter", help: "a\\b\nc", samples: [{ labels: { v: 'q"\\\n' }, value: 1 }] }]);
      expect(text2).toBe('# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\nx_total{v="q\\"\\\\\\n"} 1\n');
      expect(parseProm(text2).get("x_total")!.samples[0]!.labels.v).toBe('q"\\\n');
    } finally {
      t.close();
      for (const p of ports) p.close();
      pool.destroy();
    }
  });
});
