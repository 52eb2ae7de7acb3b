// /metrics in the Prometheus text exposition format (version 0.0.4): per family a "# HELP" and a "# TYPE"
// line, then one sample per line, `name{label="value",…} value`. Counters end in `_total`; ports and
// queues are labels (port, queue, direction), so one family covers every port.
import type { MetricFamily, MetricSample, Snapshot, TelemetryModel } from "./model.ts";

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export function renderFamilies(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels ? Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",") : "";
      out.push(`${f.name}${s.suffix ?? ""}${labels ? `{${labels}}` : ""} ${formatValue(s.value)}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** The families every bdk process exports, from one snapshot. */
export function coreFamilies(s: Snapshot): MetricFamily[] {
  const fam = (name: string, type: MetricFamily["type"], help: string, samples: MetricSample[]): MetricFamily => ({ name, type, help, samples });
  const perDir = (rx: (p: Snapshot["ports"][number]) => number, tx: (p: Snapshot["ports"][number]) => number): MetricSample[] =>
    s.ports.flatMap((p) => [
      { labels: { port: p.port, name: p.name, direction: "rx" }, value: rx(p) },
      { labels: { port: p.port, name: p.name, direction: "tx" }, value: tx(p) },
    ]);
  const rxOnly = (v: (p: Snapshot["ports"][number]) => number): MetricSample[] => s.ports.map((p) => ({ labels: { port: p.port, name: p.name }, value: v(p) }));
  const queues = (rx: (q: Snapshot["ports"][number]["queues"]["rx"][number]) => number, tx: ((q: Snapshot["ports"][number]["queues"]["tx"][number]) => number) | undefined): MetricSample[] =>
    s.ports.flatMap((p) => [
      ...p.queues.rx.map((q) => ({ labels: { port: p.port, queue: q.queue, direction: "rx" }, value: rx(q) })),
      ...(tx ? p.queues.tx.map((q) => ({ labels: { port: p.port, queue: q.queue, direction: "tx" }, value: tx(q) })) : []),
    ]);
  return [
    fam("bdk_info", "gauge", "This bdk process: its app and pid (always 1).", [{ labels: { app: s.app, pid: s.pid }, value: 1 }]),
    fam("bdk_uptime_seconds", "gauge", "Seconds since telemetry started.", [{ value: Math.round(s.uptimeSec * 1000) / 1000 }]),
    fam("bdk_port_info", "gauge", "A port: its spec, driver, name and MAC (always 1).", s.ports.map((p) => ({ labels: { port: p.port, spec: p.spec, driver: p.driver, name: p.name, mac: p.mac }, value: 1 }))),
    fam("bdk_port_link_up", "gauge", "1 while the port's link is up, 0 while it is down.", rxOnly((p) => (p.link.up ? 1 : 0))),
    fam("bdk_port_link_speed_bits_per_second", "gauge", "The link speed the port reports (0: unknown, as on emulated and virtual links).", rxOnly((p) => p.link.speedMbps * 1e6)),
    fam("bdk_port_packets_total", "counter", "Frames the port handed to the app (rx, DPDK's ipackets) or that its TX queues took (tx, opackets).", perDir((p) => p.stats.ipackets, (p) => p.stats.opackets)),
    fam("bdk_port_bytes_total", "counter", "Bytes of those frames, without CRC (ibytes, obytes).", perDir((p) => p.stats.ibytes, (p) => p.stats.obytes)),
    fam("bdk_port_errors_total", "counter", "Frames received but unusable (rx, ierrors) or refused by the port (tx, oerrors).", perDir((p) => p.stats.ierrors, (p) => p.stats.oerrors)),
    fam("bdk_port_missed_total", "counter", "Frames lost for lack of room in an RX ring: the app did not poll in time (DPDK's imissed).", rxOnly((p) => p.stats.imissed)),
    fam("bdk_port_rx_nombuf_total", "counter", "RX refills that found the mempool empty (DPDK's rx_nombuf).", rxOnly((p) => p.stats.rxNoMbuf)),
    fam("bdk_queue_packets_total", "counter", "Frames per queue: received (rx) or taken for sending (tx).", queues((q) => q.packets, (q) => q.packets)),
    fam("bdk_queue_bytes_total", "counter", "Bytes per queue, without CRC.", queues((q) => q.bytes, (q) => q.bytes)),
    fam("bdk_queue_errors_total", "counter", "Unusable frames (rx) or refused frames (tx) per queue.", queues((q) => q.errors, (q) => q.errors)),
    fam("bdk_queue_missed_total", "counter", "Frames lost for lack of room in this RX ring.", queues((q) => q.missed, undefined)),
    fam("bdk_mempool_buffers", "gauge", "Mempool buffers by state: free (in the shared ring and this thread's cache) or in_use.",
      s.mempools.flatMap((m) => [{ labels: { pool: m.name, state: "free" }, value: m.free }, { labels: { pool: m.name, state: "in_use" }, value: m.inUse }])),
    fam("bdk_mempool_size", "gauge", "Buffers in the mempool.", s.mempools.map((m) => ({ labels: { pool: m.name }, value: m.size }))),
    fam("bdk_worker_info", "gauge", "A pinned worker: its index, core and kernel tid (always 1).", s.workers.map((w) => ({ labels: { worker: w.index, core: w.core, tid: w.tid }, value: 1 }))),
  ];
}

/** The whole /metrics page: the core families, then the app's. */
export function renderMetrics(model: TelemetryModel, snapshot: Snapshot = model.snapshot()): string {
  const families = coreFamilies(snapshot);
  const app = model.sources.app?.metrics;
  if (app) {
    try {
      families.push(...app());
    } catch {
      // an app's metrics that cannot be read are left out; the ports' still are
    }
  }
  return renderFamilies(families.filter((f) => f.samples.length > 0 || f.type !== "untyped"));
}
