// l2fwd's live views, all read from counters the forwarders already keep (the ports' per-queue blocks and
// l2fwd's per-thread blocks), never from the data path: --telemetry (the socket, /metrics, the page, with
// l2fwd's own per-port forwarded/dropped counts as app values) and the terminal screen redrawn in place.
import {
  columns, LiveScreen, startTelemetry,
  type MetricFamily, type Port, type Telemetry, type TelemetryWorker,
} from "../../src/index.ts";
import { formatRate } from "../common/runtime.ts";
import type { ForwardCounters, LaneSpec } from "./forward.ts";

export interface L2fwdView {
  ports: Port[];
  specs: string[];
  counters: ForwardCounters;
  /** The pinned workers once started (empty: the main thread forwards). */
  workers: () => { core: number; tid: number; lanes: LaneSpec[] }[];
}

function workerList(v: L2fwdView): TelemetryWorker[] {
  return v.workers().map((w, i) => ({
    index: i, core: w.core, tid: w.tid,
    role: `RX ${w.lanes.map((l) => `${l.rx}.${l.rxQueue}`).join(" ")} → TX queue ${w.lanes[0]?.txQueue ?? 0}`,
    ...v.counters.thread(i),
  }));
}

/** Starts telemetry for an l2fwd run (the socket; with `http`, HTTP too). */
export function startL2fwdTelemetry(v: L2fwdView, http: string | undefined): Telemetry {
  const perPort = (): { port: number; spec: string; rx: number; tx: number; dropped: number }[] =>
    v.specs.map((spec, i) => ({ port: i, spec, ...v.counters.port(i) }));
  return startTelemetry({
    ports: v.ports,
    workers: () => workerList(v),
    ...(http !== undefined ? { http } : {}),
    app: {
      name: "l2fwd",
      values: () => ({ l2fwd: { ports: perPort() } }),
      commands: {
        "/l2fwd/stats": { help: "l2fwd's own counts per port: frames received, sent, and dropped because the paired port's TX queue was full. Takes no parameters.", run: () => perPort() },
      },
      metrics: (): MetricFamily[] => {
        const p = perPort();
        return [
          {
            name: "bdk_l2fwd_packets_total", type: "counter", help: "Frames l2fwd received on (rx) or sent from (tx) the port.",
            samples: p.flatMap((x) => [{ labels: { port: x.port, direction: "rx" }, value: x.rx }, { labels: { port: x.port, direction: "tx" }, value: x.tx }]),
          },
          {
            name: "bdk_l2fwd_dropped_total", type: "counter", help: "Frames l2fwd freed because this port's TX queue did not take them.",
            samples: p.map((x) => ({ labels: { port: x.port }, value: x.dropped })),
          },
        ];
      },
    },
  });
}

/** The terminal screen: a table of ports (link, rates, totals, drops) and workers, redrawn every tick. */
export class L2fwdScreen {
  readonly screen = new LiveScreen();
  private last: { rx: number; tx: number; missed: number }[] = [];
  private lastTime = performance.now();
  private readonly started = performance.now();

  constructor(private readonly v: L2fwdView, private readonly where: string) {}

  draw(): void {
    const now = performance.now();
    const secs = (now - this.lastTime) / 1000;
    const rows: string[][] = [["port", "link", "RX rate", "TX rate", "RX", "TX", "dropped", "imissed"]];
    const current: { rx: number; tx: number; missed: number }[] = [];
    const total = { rx: 0, tx: 0, dropped: 0, rxRate: 0, txRate: 0 };
    this.v.ports.forEach((p, i) => {
      const c = this.v.counters.port(i);
      let up = "?";
      let missed = 0;
      try {
        const l = p.link();
        up = l.up ? `up${l.speedMbps ? ` ${l.speedMbps}M` : ""}` : "DOWN";
        missed = p.stats().imissed;
      } catch {
        up = "gone";
      }
      const before = this.last[i] ?? { rx: c.rx, tx: c.tx, missed };
      const rxRate = secs > 0 ? (c.rx - before.rx) / secs : 0;
      const txRate = secs > 0 ? (c.tx - before.tx) / secs : 0;
      rows.push([`${i} ${this.v.specs[i]}`, up, formatRate(rxRate), formatRate(txRate), String(c.rx), String(c.tx), String(c.dropped), String(missed)]);
      current.push({ rx: c.rx, tx: c.tx, missed });
      total.rx += c.rx;
      total.tx += c.tx;
      total.dropped += c.dropped;
      total.rxRate += rxRate;
      total.txRate += txRate;
    });
    rows.push(["total", "", formatRate(total.rxRate), formatRate(total.txRate), String(total.rx), String(total.tx), String(total.dropped), ""]);
    const lines = [`bdk l2fwd  pid ${process.pid}  up ${((now - this.started) / 1000).toFixed(0)} s${this.where}   (Ctrl-C stops)`, "", ...columns(rows)];
    const workers = workerList(this.v);
    if (workers.length > 0) {
      lines.push("", ...columns([["worker", "core", "tid", "RX", "TX", "dropped", "polls"], ...workers.map((w) => [String(w.index), String(w.core), String(w.tid), String(w.rx), String(w.tx), String(w.dropped), String(w.role)])]));
    }
    this.screen.draw(lines);
    this.last = current;
    this.lastTime = now;
  }

  close(): void {
    this.screen.close();
  }
}
