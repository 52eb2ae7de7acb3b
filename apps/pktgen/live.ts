// pktgen's live values, read from the shared blocks its threads already publish into once per ~10 ms slice
// (counters.ts), never from the data path: rates, loss so far, latency percentiles and a histogram. What
// runPktgen hands to control.onStart, for --telemetry (app values, commands and Prometheus metrics) and for
// the terminal screen.
import type { MetricFamily, Mempool, Port, TelemetryApp, TelemetryWorker } from "../../src/index.ts";
import type { RunCounters } from "./counters.ts";
import { bucketBounds, HISTOGRAM_BUCKETS, LatencyHistogram, type LatencySummary } from "./histogram.ts";

/** Upper bounds (ns) of the coarse latency buckets shown on the page and exported to Prometheus. */
export const LATENCY_LE_NS = [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 1e9] as const;

export interface PktgenLiveValues {
  state: "sending" | "draining" | "receiving" | "done";
  elapsedSec: number;
  txPackets: number;
  txBytes: number;
  /** Over the last second or so. */
  txPps: number;
  txMbps: number;
  rxReceived: number;
  rxPps: number;
  /** By the highest sequence numbers seen (frames in flight count until they arrive). */
  lost: number;
  latency: LatencySummary;
  /** Frames per coarse bucket (not cumulative): le is the bucket's upper bound in ns (Infinity: the rest). */
  histogram: { le: number; count: number }[];
}

interface Sample {
  t: number;
  sent: number;
  bytes: number;
  received: number;
}

export class PktgenLive {
  private readonly samples: Sample[] = [];
  private readonly t0 = performance.now();
  private done = false;
  /** Samples the totals a few times a second, so that a rate is there whenever someone first asks. */
  private readonly sampler: ReturnType<typeof setInterval>;

  constructor(private readonly counters: RunCounters, readonly ports: Port[], readonly pool: Mempool, private readonly sending: boolean,
    private readonly workerList: () => TelemetryWorker[]) {
    this.sample();
    this.sampler = setInterval(() => this.sample(), 250);
    this.sampler.unref?.();
  }

  /** The run is over (the result is being made): the state says so. */
  finish(): void {
    this.done = true;
    clearInterval(this.sampler);
  }

  /** Adds the totals now to the last second's samples; returns them. */
  private sample(): Sample {
    const c = this.counters;
    const now = performance.now();
    const s: Sample = { t: now, sent: c.sent(), bytes: c.sentBytes(), received: c.received() };
    const samples = this.samples;
    if (samples.length === 0 || now - samples[samples.length - 1]!.t >= 200) samples.push(s);
    while (samples.length > 2 && now - samples[1]!.t >= 1000) samples.shift();
    return s;
  }

  workers(): TelemetryWorker[] {
    return this.workerList();
  }

  /** Every RX queue's latency histogram, merged. */
  latency(): LatencyHistogram {
    const h = new LatencyHistogram();
    for (let q = 0; q < this.counters.rx.length; q++) h.add(this.counters.rxTally(q).latency);
    return h;
  }

  /** Frames per coarse bucket (LATENCY_LE_NS, then the rest), from the fine log-linear buckets by their midpoints. */
  static coarse(h: LatencyHistogram): { le: number; count: number }[] {
    const out = [...LATENCY_LE_NS, Infinity].map((le) => ({ le, count: 0 }));
    for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
      const n = h.counts[i]!;
      if (n === 0) continue;
      const [lo, hi] = bucketBounds(i);
      const mid = (lo + hi) / 2;
      let b = 0;
      while (b < LATENCY_LE_NS.length && mid > LATENCY_LE_NS[b]!) b++;
      out[b]!.count += n;
    }
    return out;
  }

  values(): PktgenLiveValues {
    const c = this.counters;
    const now = performance.now();
    // Rates over the last second or so, whoever asks and however often (the page, the socket, the screen).
    const s = this.sample();
    const base = this.samples[0]!;
    const secs = (now - base.t) / 1000;
    const rate = (a: number, b: number): number => (secs > 0.05 ? (a - b) / secs : 0);
    const h = this.latency();
    const txEnded = this.sending && c.txEndNs() > 0;
    return {
      state: this.done ? "done" : !this.sending ? "receiving" : txEnded ? "draining" : "sending",
      elapsedSec: (now - this.t0) / 1000,
      txPackets: s.sent,
      txBytes: s.bytes,
      txPps: rate(s.sent, base.sent),
      txMbps: (rate(s.bytes, base.bytes) + 4 * rate(s.sent, base.sent)) * 8 / 1e6,
      rxReceived: s.received,
      rxPps: rate(s.received, base.received),
      lost: c.lostSoFar(),
      latency: h.summary(),
      histogram: PktgenLive.coarse(h),
    };
  }

  /** What --telemetry adds: the values for the page, /pktgen/… commands and bdk_pktgen_* metrics. */
  telemetryApp(): TelemetryApp {
    return {
      name: "pktgen",
      values: () => ({ pktgen: this.values() }),
      commands: {
        "/pktgen/stats": {
          help: "pktgen's run so far: state, frames sent and received, rates, frames lost, latency percentiles (ns). Takes no parameters.",
          run: () => {
            const { histogram: _h, ...v } = this.values();
            return v;
          },
        },
        "/pktgen/latency": {
          help: "pktgen's latency histogram: frames per bucket, le = upper bound in ns (null: above the last). Takes no parameters.",
          run: () => ({ ...this.latency().summary(), buckets: PktgenLive.coarse(this.latency()).map((b) => ({ le: Number.isFinite(b.le) ? b.le : null, count: b.count })) }),
        },
      },
      metrics: (): MetricFamily[] => {
        const v = this.values();
        const h = this.latency();
        let cum = 0;
        const buckets = v.histogram.map((b) => {
          cum += b.count;
          return { suffix: "_bucket", labels: { le: Number.isFinite(b.le) ? String(b.le / 1e9) : "+Inf" }, value: cum };
        });
        return [
          { name: "bdk_pktgen_tx_packets_total", type: "counter", help: "Frames pktgen sent (the TX queues took).", samples: [{ value: v.txPackets }] },
          { name: "bdk_pktgen_tx_bytes_total", type: "counter", help: "Bytes of the frames pktgen sent, without CRC.", samples: [{ value: v.txBytes }] },
          { name: "bdk_pktgen_rx_packets_total", type: "counter", help: "pktgen frames received (duplicates included).", samples: [{ value: v.rxReceived }] },
          { name: "bdk_pktgen_lost_packets", type: "gauge", help: "Frames lost so far, by the highest sequence numbers seen (frames in flight count until they arrive).", samples: [{ value: v.lost }] },
          { name: "bdk_pktgen_tx_rate_pps", type: "gauge", help: "Frames sent per second over the last second.", samples: [{ value: Math.round(v.txPps) }] },
          { name: "bdk_pktgen_rx_rate_pps", type: "gauge", help: "pktgen frames received per second over the last second.", samples: [{ value: Math.round(v.rxPps) }] },
          {
            name: "bdk_pktgen_latency_seconds", type: "histogram", help: "Latency of received pktgen frames, TX timestamp to RX.",
            samples: [...buckets, { suffix: "_sum", value: h.sum / 1e9 }, { suffix: "_count", value: h.count }],
          },
        ];
      },
    };
  }
}
