#!/usr/bin/env bun
// pktgen: a traffic generator and receiver on bdk ports, in the spirit of Pktgen-DPDK and testpmd's
// txonly/rxonly. It sends IPv4/UDP (or IPv6/UDP) frames whose payload carries a stream id, a sequence
// number and a TX timestamp, or replays a pcap file; on a second port (same process, same loop) or in
// another process (--rx-only) it counts what arrived: loss, duplicates, reordering, checksums, latency.
//
// Read apps/pktgen/generator.ts for how frames are built in place in mempool buffers,
// apps/pktgen/engine.ts for the loop over the TX and RX queue objects (one burst is built, offered with
// txq.burst, what the queue does not take is offered again first, and the RX queues are polled in the same
// loop), apps/pktgen/pacing.ts for how --rate spreads frames evenly, apps/pktgen/workers.ts for --cores (the
// same loop on pinned workers, each with its own TX queue and stream and a share of the RX queues, counting
// into shared memory: counters.ts), and apps/pktgen/run.ts for the command around them (ports, pool, stats,
// result). docs/pktgen.md has the options.
import { columns, LiveScreen, startTelemetry, type Telemetry } from "../src/index.ts";
import { helpText } from "./common/args.ts";
import { formatRate, onStopSignal, runAsProgram } from "./common/runtime.ts";
import { CLI_OPTIONS, parsePktgenArgs } from "./pktgen/options.ts";
import type { PktgenLive } from "./pktgen/live.ts";
import { runPktgen, type PktgenResult, type PktgenStats } from "./pktgen/run.ts";

export { parsePktgenArgs, resolveOptions, parseRate, parseSize, type PktgenOptions } from "./pktgen/options.ts";
export { runPktgen, type PktgenControl, type PktgenResult, type PktgenStats, type PortReport, type StopReason, type TxResult, type WorkerReport } from "./pktgen/run.ts";
export type { QueueResult, RxResult, StreamResult } from "./pktgen/receiver.ts";
export type { LatencySummary } from "./pktgen/histogram.ts";
export { PKTGEN_MAGIC, PAYLOAD_LEN, PAYLOAD_OFF_V4, PAYLOAD_OFF_V6, MIN_FRAME_V6 } from "./pktgen/payload.ts";

const SYNOPSIS = "[--tx] SPEC [--rx SPEC] [options]   |   --rx-only SPEC [options]\n" +
  "       (SPEC: a PCI address or a software port: af_packet:IFACE, ring:NAME, null, pcap:out=FILE)";

const FOOTER = `
examples:
  bdk pktgen --tx af_packet:veth0 --rx af_packet:veth1 --rate 100kpps --duration 10
  bdk pktgen null --count 10000000                      # how fast can frames be built
  bdk pktgen --tx af_packet:eth1 --imix --rate 500Mbps --src-ip 198.18.0.1-198.18.0.254
  bdk pktgen --tx af_packet:eth1 --pcap trace.pcap --loop 0 --rate 10kpps
  bdk pktgen --rx-only af_packet:eth2 --json            # receive another process's stream
  bdk pktgen --tx af_packet:eth1 --rx af_packet:eth2 --cores 0,1 --queues 2 --src-port 1024-1087 --rate 2Mpps
                                                        # two pinned workers, each on a TX and an RX queue`;

function ns(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} ms`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} µs`;
  return `${v} ns`;
}

export function formatStatsLine(s: PktgenStats): string {
  const line = `pktgen: ${s.elapsedSec.toFixed(1)}s  TX ${formatRate(s.txPps)} ${s.txMbps.toFixed(1)} Mbit/s (${s.txPackets})  RX ${formatRate(s.rxPps)} (${s.rxReceived})  lost ${s.lost}`;
  if (!s.workers || s.workers.length < 2) return line;
  // Several workers: each one's rates, on the same line.
  return `${line}  |${s.workers.map((w, i) => ` w${i}@${w.core} TX ${formatRate(w.txPps)} RX ${formatRate(w.rxPps)}`).join(" |")}`;
}

/** The human summary, one line per fact. */
export function formatSummary(r: PktgenResult): string[] {
  const out: string[] = [];
  if (r.tx) {
    out.push(`TX ${r.tx.spec}: ${r.tx.packets} frames, ${r.tx.bytes} bytes in ${r.tx.durationSec.toFixed(3)} s: ${formatRate(r.tx.pps)}, ${r.tx.mbps.toFixed(1)} Mbit/s (sizes ${r.tx.sizes}${r.tx.rate ? `, rate ${r.tx.rate}${r.tx.rateError !== undefined ? ` ${r.tx.rateError >= 0 ? "+" : "−"}${Math.abs(r.tx.rateError * 100).toFixed(2)} %` : ""}` : ""}, stream ${r.tx.streamId}, stop: ${r.stopReason})`);
  }
  if (r.rx) {
    const x = r.rx;
    out.push(`RX ${r.ports.rx?.spec ?? ""}: ${x.received} received, ${x.lost} lost, ${x.duplicated} duplicated, ${x.reordered} reordered, ${x.badChecksum} bad checksum, ${x.other} other (${x.packets} frames in all)`);
    if (x.latencyNs.count > 0) {
      const l = x.latencyNs;
      out.push(`latency: p50 ${ns(l.p50)}  p99 ${ns(l.p99)}  p99.9 ${ns(l.p999)}  max ${ns(l.max)}  mean ${ns(l.mean)}  (min ${ns(l.min)}, ${l.count} frames)`);
    }
    if (x.streams.length > 1) {
      for (const s of x.streams) out.push(`  stream ${s.id}: ${s.received} received, ${s.lost} lost, ${s.duplicated} duplicated, ${s.reordered} reordered`);
    }
    if (x.queues.length > 1) {
      out.push(`  per RX queue (reordering counted within each): ${x.queues.map((q) => `q${q.queue} ${q.received} received, ${q.reordered} reordered`).join("; ")}`);
    }
  }
  for (const [i, w] of r.workers.entries()) {
    const does = [w.txQueue !== null ? `TX queue ${w.txQueue} stream ${w.streamId}: ${w.tx} sent` : "", w.rxQueues.length > 0 ? `RX queue(s) ${w.rxQueues.join(",")}: ${w.rx} received` : ""];
    out.push(`worker ${i} core ${w.core} (tid ${w.tid}): ${does.filter((d) => d !== "").join(", ")}`);
  }
  for (const [k, p] of Object.entries(r.ports)) {
    if (!p) continue;
    const s = p.stats;
    out.push(`port ${k} ${p.spec}: opackets ${s.opackets} ipackets ${s.ipackets} imissed ${s.imissed} ierrors ${s.ierrors} oerrors ${s.oerrors} rxNoMbuf ${s.rxNoMbuf}`);
    if (p.queues.length > 1) out.push(`  per ${k.toUpperCase()} queue packets: ${p.queues.map((q) => q.packets).join(" ")}`);
  }
  return out;
}

/** The terminal screen: rates, totals, loss, latency, ports and workers. */
function screenLines(s: PktgenStats, live: PktgenLive, telemetry: Telemetry | undefined): string[] {
  const v = live.values();
  const l = v.latency;
  const lines = [
    `bdk pktgen  pid ${process.pid}  ${s.elapsedSec.toFixed(0)} s  ${v.state}${telemetry?.httpUrl ? `  ${telemetry.httpUrl}` : ""}   (Ctrl-C stops)`,
    "",
    ...columns([
      ["", "rate", "Mbit/s", "frames"],
      ["TX", formatRate(s.txPps), s.txMbps.toFixed(1), String(s.txPackets)],
      ["RX", formatRate(s.rxPps), "", String(s.rxReceived)],
    ]),
    "",
    `lost ${s.lost}${s.txPackets > 0 ? ` (${((100 * s.lost) / s.txPackets).toFixed(3)} %)` : ""}`,
    l.count > 0 ? `latency p50 ${ns(l.p50)}  p99 ${ns(l.p99)}  p99.9 ${ns(l.p999)}  max ${ns(l.max)}  (${l.count} frames)` : "latency: none measured yet",
    "",
  ];
  const portRows = live.ports.map((p) => {
    let link = "?";
    let st = { ipackets: 0, opackets: 0, imissed: 0 };
    try {
      link = p.link().up ? "up" : "DOWN";
      st = p.stats();
    } catch {
      link = "gone";
    }
    return [p.spec, link, String(st.opackets), String(st.ipackets), String(st.imissed)];
  });
  lines.push(...columns([["port", "link", "opackets", "ipackets", "imissed"], ...portRows]));
  if (s.workers && s.workers.length > 0) {
    lines.push("", ...columns([["worker", "core", "TX rate", "RX rate", "TX", "RX"], ...s.workers.map((w, i) => [String(i), String(w.core), formatRate(w.txPps), formatRate(w.rxPps), String(w.txPackets), String(w.rxReceived)])]));
  }
  return lines;
}

export async function main(argv: string[]): Promise<number> {
  const o = parsePktgenArgs(argv);
  if (o.help) {
    console.log(helpText("bdk pktgen", SYNOPSIS, CLI_OPTIONS, FOOTER));
    return 0;
  }
  const ac = new AbortController();
  const removeSignal = onStopSignal(() => ac.abort());
  // On a terminal (and not --json), one screen redrawn in place; notes then show under it.
  let screen: LiveScreen | undefined;
  let live: PktgenLive | undefined;
  let telemetry: Telemetry | undefined;
  const err = (line: string): void => {
    if (screen) screen.note(line);
    else process.stderr.write(`${line}\n`);
  };
  const wantScreen = o.live !== false && !o.json && (o.interval ?? 1) > 0 && LiveScreen.wanted();
  try {
    const result = await runPktgen(o, {
      signal: ac.signal,
      onStats: (o.interval ?? 1) > 0 ? (s) => (screen && live ? screen.draw(screenLines(s, live, telemetry)) : err(formatStatsLine(s))) : undefined,
      log: err,
      // Live values only when something shows them: a run without telemetry or a screen is as before.
      onStart: !(o.telemetry || o.telemetryHttp !== undefined || wantScreen) ? undefined : (l) => {
        live = l;
        if (o.telemetry || o.telemetryHttp !== undefined) {
          telemetry = startTelemetry({ ports: l.ports, pools: [l.pool], workers: () => l.workers(), app: l.telemetryApp(), ...(o.telemetryHttp !== undefined ? { http: o.telemetryHttp } : {}) });
          err(`pktgen: telemetry on ${telemetry.socketPath} (bdk telemetry ${process.pid}${telemetry.dpdkFilePrefix ? `; dpdk-telemetry.py -f ${telemetry.dpdkFilePrefix}` : ""})${telemetry.httpUrl ? `, ${telemetry.httpUrl} (/metrics, /api/, the live page)` : ""}`);
        }
        if (wantScreen) screen = new LiveScreen();
        return () => {
          if (screen) {
            screen.close();
            screen = undefined;
          }
          telemetry?.close();
          telemetry = undefined;
        };
      },
    });
    const summary = formatSummary(result);
    if (o.json) {
      for (const line of summary) err(line);
      console.log(JSON.stringify(result));
    } else {
      for (const line of summary) console.log(line);
    }
    return 0;
  } finally {
    removeSignal();
  }
}

if (import.meta.main) await runAsProgram("pktgen", main);
