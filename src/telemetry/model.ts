// What telemetry reports, read from what a bdk process already keeps: each port's stats(), queueStats(),
// xstats() and link() (sums of the per-queue counter blocks in shared memory, written by whichever thread
// owns the queue), its mempools' free counts, its workers as startWorkers pinned them, and whatever an app
// adds (pktgen's rates, loss and latency). Nothing here runs per packet: every figure is read when asked.
import type { Port, XStat } from "../ethdev/port.ts";
import type { Mempool } from "../mem/mempool.ts";

/** A pinned worker as telemetry shows it (startWorkers' WorkerInfo, plus what it does). */
export interface TelemetryWorker {
  index: number;
  core: number;
  tid: number;
  /** What it polls or sends, in a few words ("RX 0.0 1.0 → TX queue 0"). */
  role?: string;
  [key: string]: unknown;
}

/** One Prometheus sample: labels and a value. */
export interface MetricSample {
  labels?: Record<string, string | number>;
  value: number;
  /** Appended to the family's name (histograms: "_bucket", "_sum", "_count"). */
  suffix?: string;
}

/** One metric family: its name (with `_total` for a counter), HELP text, TYPE and samples. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "untyped";
  samples: MetricSample[];
}

/** A command an app adds to the socket and to /api (e.g. "/pktgen/stats"). */
export interface TelemetryCommand {
  help: string;
  /** `param` is what follows the first comma ("/ethdev/stats,0" → "0"), or undefined. */
  run: (param: string | undefined) => unknown;
}

/** What an app adds: its name, its values for the live page, its commands and its metrics. */
export interface TelemetryApp {
  /** "l2fwd", "pktgen" … (shown by /info and on the page). */
  name: string;
  /** The app's values for the live page and /api/app (small: read at the page's rate). */
  values?: () => Record<string, unknown>;
  commands?: Record<string, TelemetryCommand>;
  metrics?: () => MetricFamily[];
}

export interface TelemetrySources {
  /** Ports by index (the index is the port number every command and label uses). A function when ports come and go. */
  ports: readonly Port[] | (() => readonly Port[]);
  /** Pools to report; default: the pools the ports are configured with. */
  pools?: readonly Mempool[] | (() => readonly Mempool[]);
  /** The pinned workers (startWorkers' group.workers, or the app's own description of them). */
  workers?: () => readonly TelemetryWorker[];
  app?: TelemetryApp;
}

export interface PortSnapshot {
  port: number;
  id: number;
  spec: string;
  driver: string;
  name: string;
  mac: string;
  started: boolean;
  link: { up: boolean; speedMbps: number; fullDuplex: boolean; reason?: string };
  stats: { ipackets: number; opackets: number; ibytes: number; obytes: number; imissed: number; ierrors: number; oerrors: number; rxNoMbuf: number };
  queues: {
    rx: { queue: number; packets: number; bytes: number; errors: number; missed: number; noMbuf: number }[];
    tx: { queue: number; packets: number; bytes: number; errors: number }[];
  };
}

export interface PoolSnapshot {
  name: string;
  size: number;
  free: number;
  inUse: number;
  dataRoom: number;
}

/** Everything the live page shows, in one object (what /api/snapshot and each Server-Sent Event carry). */
export interface Snapshot {
  /** Wall clock (ms since the epoch) and the process's monotonic clock (ms) when it was read: rates come from deltas of `mono`. */
  time: number;
  mono: number;
  pid: number;
  app: string;
  uptimeSec: number;
  ports: PortSnapshot[];
  workers: TelemetryWorker[];
  mempools: PoolSnapshot[];
  values: Record<string, unknown> | undefined;
}

function list<T>(x: readonly T[] | (() => readonly T[]) | undefined): readonly T[] {
  if (x === undefined) return [];
  return typeof x === "function" ? x() : x;
}

/** Reads a port without ever throwing: a closed or vanished port reports what it can. */
export function portSnapshot(p: Port, index: number): PortSnapshot {
  const safe = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch {
      return fallback;
    }
  };
  const cfg = p.config;
  const rxQ = cfg?.rxQueues ?? 0;
  const txQ = cfg?.txQueues ?? 0;
  const info = safe(() => p.info(), { name: p.spec } as { name: string });
  return {
    port: index, id: p.id, spec: p.spec, driver: p.driver, name: info.name,
    mac: safe(() => p.macAddress(), ""),
    started: p.started,
    link: safe(() => {
      const l = p.link();
      return { up: l.up, speedMbps: l.speedMbps, fullDuplex: l.fullDuplex, ...(l.reason ? { reason: l.reason } : {}) };
    }, { up: false, speedMbps: 0, fullDuplex: false, reason: "unreadable" }),
    stats: safe(() => ({ ...p.stats() }), { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNoMbuf: 0 }),
    queues: {
      rx: safe(() => Array.from({ length: rxQ }, (_, q) => {
        const s = p.queueStats(q, "rx");
        return { queue: q, packets: s.packets, bytes: s.bytes, errors: s.errors, missed: s.missed, noMbuf: s.noMbuf };
      }), []),
      tx: safe(() => Array.from({ length: txQ }, (_, q) => {
        const s = p.queueStats(q, "tx");
        return { queue: q, packets: s.packets, bytes: s.bytes, errors: s.errors };
      }), []),
    },
  };
}

export function poolSnapshot(pool: Mempool): PoolSnapshot {
  // available(): the shared free ring plus this thread's cache (a worker's cache holds at most a few dozen).
  const free = Math.min(pool.count, pool.available());
  return { name: pool.name, size: pool.count, free, inUse: pool.count - free, dataRoom: pool.dataRoom };
}

/** The readers every front end (socket, HTTP, page) shares. */
export class TelemetryModel {
  readonly startedAt = Date.now();
  private readonly t0 = performance.now();

  constructor(readonly sources: TelemetrySources) {}

  get appName(): string {
    return this.sources.app?.name ?? "bdk";
  }

  ports(): readonly Port[] {
    return list(this.sources.ports);
  }

  port(index: number): Port | undefined {
    return this.ports()[index];
  }

  pools(): Mempool[] {
    const given = list(this.sources.pools);
    if (given.length > 0) return [...given];
    const seen = new Set<Mempool>();
    for (const p of this.ports()) {
      const cfg = p.config;
      if (!cfg) continue;
      seen.add(cfg.pool);
      for (const rp of cfg.rxPools) seen.add(rp);
    }
    return [...seen];
  }

  workers(): TelemetryWorker[] {
    try {
      return [...(this.sources.workers?.() ?? [])];
    } catch {
      return [];
    }
  }

  appValues(): Record<string, unknown> | undefined {
    const v = this.sources.app?.values;
    if (!v) return undefined;
    try {
      return v();
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  xstats(index: number): XStat[] {
    return this.port(index)?.xstats() ?? [];
  }

  uptimeSec(): number {
    return (performance.now() - this.t0) / 1000;
  }

  snapshot(): Snapshot {
    return {
      time: Date.now(),
      mono: performance.now(),
      pid: process.pid,
      app: this.appName,
      uptimeSec: this.uptimeSec(),
      ports: this.ports().map((p, i) => portSnapshot(p, i)),
      workers: this.workers(),
      mempools: this.pools().map(poolSnapshot),
      values: this.appValues(),
    };
  }
}
