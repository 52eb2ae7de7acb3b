// The telemetry commands, in the manner of DPDK's telemetry library: a command is a path ("/ethdev/stats"),
// an optional parameter after a comma ("/ethdev/stats,0"), and the answer is one JSON object whose only key
// is the command ({"/ethdev/stats": {…}}). "/" lists the commands, "/help,CMD" explains one. An unknown
// command or a bad parameter answers {"CMD": null, "error": "…"}: one line naming the thing and the fix.
import { BdkError } from "../sys/errors.ts";
import { portSnapshot, poolSnapshot, type TelemetryCommand, type TelemetryModel } from "./model.ts";

/** The version string /info reports (and the greeting a client reads on connect). */
export const TELEMETRY_VERSION = "bdk telemetry 1";
/** Longest answer a client should expect (DPDK's max_output_len); ours are never cut, the figure is advisory. */
export const MAX_OUTPUT_LEN = 1 << 20;

export class CommandError extends BdkError {}

function portParam(model: TelemetryModel, param: string | undefined, cmd: string): number {
  const n = model.ports().length;
  const hint = n === 0 ? "this process has no ports" : `give a port number 0..${n - 1}, e.g. ${cmd},0 (/ethdev/list lists them)`;
  if (param === undefined || param === "") throw new CommandError(`${cmd} needs a port number`, hint);
  if (!/^[0-9]+$/.test(param)) throw new CommandError(`${cmd}: "${param}" is not a port number`, hint);
  const i = Number(param);
  if (i >= n) throw new CommandError(`${cmd}: no port ${param}`, hint);
  return i;
}

export class CommandTable {
  readonly commands = new Map<string, TelemetryCommand>();

  constructor(readonly model: TelemetryModel) {
    const m = model;
    const add = (name: string, help: string, run: (param: string | undefined) => unknown): void => {
      this.commands.set(name, { help, run });
    };
    add("/", "Lists the commands. Takes no parameters.", () => [...this.commands.keys()]);
    add("/info", "The process: version, pid, app, uptime, max_output_len. Takes no parameters.", () => this.info());
    add("/help", "Explains a command. Parameter: a command, e.g. /help,/ethdev/stats", (p) => {
      if (p === undefined || p === "") throw new CommandError("/help needs a command", "e.g. /help,/ethdev/stats (/ lists the commands)");
      const c = this.commands.get(p);
      if (!c) throw new CommandError(`/help: no command "${p}"`, "/ lists the commands");
      return { [p]: c.help };
    });
    add("/ethdev/list", "The port numbers. Takes no parameters.", () => m.ports().map((_, i) => i));
    add("/ethdev/info", "A port's spec, driver, name, MAC, MTU, queues and limits. Parameter: port number", (p) => {
      const i = portParam(m, p, "/ethdev/info");
      const port = m.port(i)!;
      const cfg = port.config;
      let mtu: number | null = null;
      let promiscuous: boolean | null = null;
      try {
        mtu = port.mtu();
        promiscuous = port.promiscuous();
      } catch {
        // a closed port: the rest still says what it was
      }
      const s = portSnapshot(port, i);
      return {
        port: i, id: port.id, spec: port.spec, driver: port.driver, name: s.name, mac: s.mac, mtu, promiscuous, started: port.started,
        rx_queues: cfg?.rxQueues ?? 0, tx_queues: cfg?.txQueues ?? 0, rx_ring_sizes: cfg?.rxRingSizes ?? [], tx_ring_sizes: cfg?.txRingSizes ?? [],
        mempool: cfg?.pool.name ?? null, rss: cfg?.rss !== undefined,
      };
    });
    add("/ethdev/stats", "A port's basic stats, with per-queue arrays (DPDK's names). Parameter: port number", (p) => {
      const i = portParam(m, p, "/ethdev/stats");
      const s = portSnapshot(m.port(i)!, i);
      return {
        ipackets: s.stats.ipackets, opackets: s.stats.opackets, ibytes: s.stats.ibytes, obytes: s.stats.obytes,
        imissed: s.stats.imissed, ierrors: s.stats.ierrors, oerrors: s.stats.oerrors, rx_nombuf: s.stats.rxNoMbuf,
        q_ipackets: s.queues.rx.map((q) => q.packets), q_opackets: s.queues.tx.map((q) => q.packets),
        q_ibytes: s.queues.rx.map((q) => q.bytes), q_obytes: s.queues.tx.map((q) => q.bytes),
        q_errors: s.queues.rx.map((q) => q.errors),
      };
    });
    add("/ethdev/xstats", "Every named counter of a port (xstats: rx_good_packets …, per queue, the driver's own). Parameter: port number", (p) => {
      const i = portParam(m, p, "/ethdev/xstats");
      const out: Record<string, number> = {};
      for (const x of m.xstats(i)) out[x.name] = x.value;
      return out;
    });
    add("/ethdev/link_status", "A port's link: status, speed (Mbit/s), duplex. Parameter: port number", (p) => {
      const i = portParam(m, p, "/ethdev/link_status");
      const l = portSnapshot(m.port(i)!, i).link;
      return { status: l.up ? "UP" : "DOWN", speed: l.speedMbps, duplex: l.fullDuplex ? "full-duplex" : "half-duplex", ...(l.reason ? { reason: l.reason } : {}) };
    });
    add("/ethdev/queue_stats", "A port's per-queue counters: rx (packets, bytes, errors, missed, nombuf) and tx (packets, bytes, errors). Parameter: port number", (p) => {
      const i = portParam(m, p, "/ethdev/queue_stats");
      return portSnapshot(m.port(i)!, i).queues;
    });
    add("/workers", "The pinned workers: index, core, kernel tid and what each does. Takes no parameters.", () => m.workers());
    add("/eal/lcore/list", "The cores the workers are pinned to (DPDK's lcore list). Takes no parameters.", () => [...new Set(m.workers().map((w) => w.core))]);
    add("/mempool/list", "The mempools' names. Takes no parameters.", () => m.pools().map((p) => p.name));
    add("/mempool/info", "A mempool's size, free and in-use buffers and data room. Parameter: mempool name", (p) => {
      const pools = m.pools();
      const pool = pools.find((x) => x.name === p);
      if (!pool) throw new CommandError(`/mempool/info: no mempool "${p ?? ""}"`, `give one of: ${pools.map((x) => x.name).join(", ") || "(none)"}`);
      return poolSnapshot(pool);
    });
    add("/snapshot", "Everything the live page shows, in one object. Takes no parameters.", () => m.snapshot());
    for (const [name, c] of Object.entries(m.sources.app?.commands ?? {})) this.commands.set(name, c);
  }

  info(): Record<string, unknown> {
    return { version: TELEMETRY_VERSION, pid: process.pid, app: this.model.appName, uptime_s: Math.round(this.model.uptimeSec() * 10) / 10, max_output_len: MAX_OUTPUT_LEN };
  }

  /** Runs one command line ("/ethdev/stats,0") and returns the answer object. Never throws. */
  run(line: string): Record<string, unknown> {
    const text = line.trim();
    const comma = text.indexOf(",");
    const name = comma < 0 ? text : text.slice(0, comma);
    const param = comma < 0 ? undefined : text.slice(comma + 1);
    const c = this.commands.get(name);
    if (!c) {
      return { [name || "/"]: null, error: `no command "${name}"${name.startsWith("/") ? "" : " (commands start with /)"}; send / for the list` };
    }
    try {
      return { [name]: c.run(param) };
    } catch (e) {
      if (e instanceof BdkError) return { [name]: null, error: e.message };
      return { [name]: null, error: `${name} failed: ${(e as Error).message}` };
    }
  }
}
