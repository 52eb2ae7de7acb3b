// TEMPORARY (diagnostics; to be deleted)
import { Receiver } from "../../apps/pktgen/receiver.ts";
import { LatencyHistogram } from "../../apps/pktgen/histogram.ts";
const N = 1 << 24;
const T = new Float64Array(N), V = new Float64Array(N);
let k = 0, cur = 0, on = false;
const op = Receiver.prototype.process;
(Receiver.prototype as any).process = function (this: any, pool: any, bufs: any, n: number, now: number) { cur = now; return op.call(this, pool, bufs, n, now); };
const orec = LatencyHistogram.prototype.record;
(LatencyHistogram.prototype as any).record = function (this: any, v: number) { if (on && k < N) { T[k] = cur; V[k++] = v; } return orec.call(this, v); };
const ow = process.stderr.write.bind(process.stderr);
(process.stderr as any).write = (s: string) => { if (/warm-up/.test(String(s))) on = true; return ow(s); };
const { main } = await import("./demo-pktgen.ts");
process.exitCode = await main(process.argv.slice(2));
const t0 = T[0]!;
const lines: string[] = [];
const buckets = new Map<number, { n: number; over: number; max: number }>();
for (let i = 0; i < k; i++) { const b = Math.floor((T[i]! - t0) / 100e6); const e = buckets.get(b) ?? { n: 0, over: 0, max: 0 }; e.n++; if (V[i]! > 200e3) e.over++; if (V[i]! > e.max) e.max = V[i]!; buckets.set(b, e); }
let tot = 0;
for (const [b, e] of [...buckets].sort((a, b) => a[0] - b[0])) { tot += e.over; if (e.over > 0) lines.push(`${(b / 10).toFixed(1)}:${e.over}/${(e.max / 1e3).toFixed(0)}`); }
ow(`TIMELINE total>200us ${tot} of ${k}: ${lines.join(" ")}\n`);
const gaps: string[] = [];
for (let i = 1; i < k; i++) { const g = T[i]! - T[i - 1]!; if (g > 150e3) gaps.push(`${((T[i - 1]! - t0) / 1e6).toFixed(0)}:${(g / 1e3).toFixed(0)}`); }
ow(`RXGAPS>150us (ms at:us) ${gaps.length}: ${gaps.join(" ")}\n`);
