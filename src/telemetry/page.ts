// The live page served at "/": one self-contained HTML file (inline style and script, charts drawn on
// <canvas>, nothing fetched from anywhere but this server's /events), readable on a phone. It listens to
// /events (Server-Sent Events, one snapshot per tick), turns counter deltas into rates, and shows per port
// RX/TX rates and drops as scrolling charts, the link, the queue and worker tables, the mempools, and
// pktgen's loss and latency histogram when the process is a pktgen.
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bdk telemetry</title>
<style>
:root { --bg:#0f1419; --card:#1a2129; --fg:#e6e6e6; --dim:#8a96a3; --rx:#4aa3ff; --tx:#5fd38d; --drop:#ff6b6b; --line:#2a333d; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; flex-wrap:wrap; gap:.5em 1.5em; align-items:baseline; padding:.8em 1em; border-bottom:1px solid var(--line); }
header h1 { font-size:1.2em; margin:0; }
.dim { color:var(--dim); }
#status.live { color:var(--tx); } #status.down { color:var(--drop); }
main { display:grid; grid-template-columns:repeat(auto-fill, minmax(min(100%, 420px), 1fr)); gap:1em; padding:1em; }
section { background:var(--card); border-radius:8px; padding:.8em 1em; min-width:0; }
section h2 { font-size:1em; margin:0 0 .4em; display:flex; justify-content:space-between; gap:.5em; flex-wrap:wrap; }
.figures { display:grid; grid-template-columns:repeat(3, 1fr); gap:.3em; margin:.3em 0 .5em; }
.fig { font-variant-numeric:tabular-nums; } .fig b { display:block; font-size:1.25em; }
.rx b { color:var(--rx); } .tx b { color:var(--tx); } .drop b { color:var(--drop); }
canvas { width:100%; height:140px; display:block; }
.up { color:var(--tx); } .down { color:var(--drop); }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; font-size:.92em; }
th, td { text-align:right; padding:.15em .4em; border-bottom:1px solid var(--line); white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
.scroll { overflow-x:auto; }
.wide { grid-column:1 / -1; }
</style>
</head>
<body>
<header>
  <h1>bdk <span id="app">…</span></h1>
  <span class="dim">pid <span id="pid">…</span></span>
  <span class="dim">up <span id="uptime">…</span></span>
  <span id="status" class="down">connecting…</span>
</header>
<main id="main">
  <section id="pktgen" class="wide" hidden>
    <h2><span>pktgen</span><span class="dim" id="pg-state"></span></h2>
    <div class="figures">
      <div class="fig tx"><span class="dim">TX</span><b id="pg-tx">–</b></div>
      <div class="fig rx"><span class="dim">RX</span><b id="pg-rx">–</b></div>
      <div class="fig drop"><span class="dim">lost</span><b id="pg-lost">–</b></div>
    </div>
    <div class="dim" id="pg-lat">latency: –</div>
    <canvas id="pg-hist" aria-label="latency histogram"></canvas>
  </section>
  <div id="ports" style="display:contents"></div>
  <section class="wide"><h2>queues</h2><div class="scroll"><table id="queues"><thead><tr><th>port.queue</th><th>dir</th><th>rate</th><th>packets</th><th>bytes</th><th>errors</th><th>missed</th></tr></thead><tbody></tbody></table></div></section>
  <section><h2>workers</h2><div class="scroll"><table id="workers"><thead><tr><th>worker</th><th>core</th><th>tid</th><th>role</th></tr></thead><tbody></tbody></table></div><p class="dim" id="noworkers">no pinned workers: the main thread does the work</p></section>
  <section><h2>mempools</h2><div class="scroll"><table id="pools"><thead><tr><th>pool</th><th>size</th><th>free</th><th>in use</th></tr></thead><tbody></tbody></table></div></section>
</main>
<script>
"use strict";
const HISTORY = 120;
const $ = (id) => document.getElementById(id);
const ports = new Map();
let prev = null;
let queuePrev = new Map();

function rate(pps) {
  if (!isFinite(pps) || pps < 0) pps = 0;
  if (pps >= 1e6) return (pps / 1e6).toFixed(2) + " Mpps";
  if (pps >= 1e3) return (pps / 1e3).toFixed(2) + " kpps";
  return pps.toFixed(0) + " pps";
}
function bits(bps) {
  if (bps >= 1e9) return (bps / 1e9).toFixed(2) + " Gbit/s";
  if (bps >= 1e6) return (bps / 1e6).toFixed(1) + " Mbit/s";
  return (bps / 1e3).toFixed(1) + " kbit/s";
}
function count(n) { return Number(n).toLocaleString("en-US"); }
function ns(v) { return v >= 1e6 ? (v / 1e6).toFixed(2) + " ms" : v >= 1e3 ? (v / 1e3).toFixed(1) + " µs" : v + " ns"; }
function dur(s) { s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60; return (h ? h + "h " : "") + (h || m ? m + "m " : "") + (s % 60) + "s"; }
function el(tag, attrs, text) { const e = document.createElement(tag); for (const k in attrs || {}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }

function portCard(p) {
  const s = el("section", { class: "port", "data-port": String(p.port) });
  const h = el("h2");
  const title = el("span", {}, "port " + p.port + " · " + p.name);
  const link = el("span", { class: "link" });
  h.append(title, link);
  const figs = el("div", { class: "figures" });
  const mk = (cls, label) => { const d = el("div", { class: "fig " + cls }); d.append(el("span", { class: "dim" }, label)); const b = el("b", { class: cls + "-rate" }, "–"); d.append(b); figs.append(d); return b; };
  const rx = mk("rx", "RX"), tx = mk("tx", "TX"), drop = mk("drop", "drops");
  const canvas = el("canvas", { "aria-label": "rates of port " + p.port });
  const totals = el("div", { class: "dim totals" });
  s.append(h, figs, canvas, totals);
  $("ports").append(s);
  return { s, link, rx, tx, drop, canvas, totals, hist: { rx: [], tx: [], drop: [] } };
}

function sizeCanvas(c) {
  const r = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(c.clientWidth * r)), h = Math.max(1, Math.round(c.clientHeight * r));
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const g = c.getContext("2d");
  g.setTransform(r, 0, 0, r, 0, 0);
  return { g, w: c.clientWidth, h: c.clientHeight };
}

function drawChart(c, hist) {
  const { g, w, h } = sizeCanvas(c);
  g.clearRect(0, 0, w, h);
  const css = getComputedStyle(document.documentElement);
  let max = 1;
  for (const k of ["rx", "tx", "drop"]) for (const v of hist[k]) if (v > max) max = v;
  const top = max * 1.15;
  g.strokeStyle = css.getPropertyValue("--line"); g.lineWidth = 1;
  g.fillStyle = css.getPropertyValue("--dim"); g.font = "11px system-ui, sans-serif";
  for (let i = 0; i <= 2; i++) {
    const y = 4 + (h - 8) * i / 2;
    g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    g.fillText(rate(top * (1 - i / 2)), 4, Math.min(h - 2, y + 12));
  }
  const series = [["rx", "--rx"], ["tx", "--tx"], ["drop", "--drop"]];
  for (const [k, color] of series) {
    const v = hist[k];
    if (v.length < 2) continue;
    g.strokeStyle = css.getPropertyValue(color); g.lineWidth = 1.6; g.beginPath();
    v.forEach((x, i) => { const px = w - (v.length - 1 - i) * (w / (HISTORY - 1)); const py = 4 + (h - 8) * (1 - x / top); i ? g.lineTo(px, py) : g.moveTo(px, py); });
    g.stroke();
  }
}

function drawHistogram(c, buckets) {
  const { g, w, h } = sizeCanvas(c);
  g.clearRect(0, 0, w, h);
  if (!buckets || buckets.length === 0) return;
  const css = getComputedStyle(document.documentElement);
  let max = 1;
  for (const b of buckets) if (b.count > max) max = b.count;
  const bw = w / buckets.length;
  g.font = "10px system-ui, sans-serif";
  buckets.forEach((b, i) => {
    const bh = (h - 16) * (b.count / max);
    g.fillStyle = css.getPropertyValue("--rx");
    g.fillRect(i * bw + 1, h - 14 - bh, Math.max(1, bw - 2), bh);
    if (i % Math.ceil(buckets.length / 8) === 0) { g.fillStyle = css.getPropertyValue("--dim"); g.fillText("≤" + ns(b.le), i * bw + 1, h - 2); }
  });
}

function push(arr, v) { arr.push(v); if (arr.length > HISTORY) arr.shift(); }

function render(s) {
  $("app").textContent = s.app; $("pid").textContent = s.pid; $("uptime").textContent = dur(s.uptimeSec);
  const dt = prev ? (s.mono - prev.mono) / 1000 : 0;
  for (const p of s.ports) {
    let card = ports.get(p.port);
    if (!card) { card = portCard(p); ports.set(p.port, card); }
    const before = prev && prev.ports.find((x) => x.port === p.port);
    const d = (f) => (before && dt > 0 ? Math.max(0, f(p.stats) - f(before.stats)) / dt : 0);
    // Drops: what the port lost (ring full, no buffer, bad frames) plus what the app dropped on it (l2fwd: its TX queue was full).
    const appDrop = (snap) => { const a = snap && snap.values && snap.values.l2fwd && snap.values.l2fwd.ports.find((x) => x.port === p.port); return a ? a.dropped : 0; };
    const rx = d((x) => x.ipackets), tx = d((x) => x.opackets);
    const drop = d((x) => x.imissed + x.rxNoMbuf + x.ierrors) + (before && dt > 0 ? Math.max(0, appDrop(s) - appDrop(prev)) / dt : 0);
    const rxb = d((x) => x.ibytes) * 8, txb = d((x) => x.obytes) * 8;
    if (before) { push(card.hist.rx, rx); push(card.hist.tx, tx); push(card.hist.drop, drop); }
    card.rx.textContent = rate(rx); card.tx.textContent = rate(tx); card.drop.textContent = rate(drop);
    card.rx.title = bits(rxb); card.tx.title = bits(txb);
    card.link.textContent = p.link.up ? "link up" + (p.link.speedMbps ? " " + p.link.speedMbps + " Mbit/s" : "") : "link DOWN" + (p.link.reason ? " (" + p.link.reason + ")" : "");
    card.link.className = "link " + (p.link.up ? "up" : "down");
    card.totals.textContent = p.spec + " · " + p.driver + " · " + (p.mac || "") + " · rx " + count(p.stats.ipackets) + " · tx " + count(p.stats.opackets) + " · missed " + count(p.stats.imissed) + " · errors " + count(p.stats.ierrors + p.stats.oerrors);
    drawChart(card.canvas, card.hist);
  }
  const qb = $("queues").tBodies[0];
  const qrows = [];
  const nextQ = new Map();
  for (const p of s.ports) for (const dir of ["rx", "tx"]) for (const q of p.queues[dir]) {
    const key = p.port + "." + q.queue + dir;
    const last = queuePrev.get(key);
    nextQ.set(key, q.packets);
    const r = last !== undefined && dt > 0 ? Math.max(0, q.packets - last) / dt : 0;
    const tr = el("tr");
    for (const v of [p.port + "." + q.queue, dir, rate(r), count(q.packets), count(q.bytes), count(q.errors), dir === "rx" ? count(q.missed) : "–"]) tr.append(el("td", {}, v));
    qrows.push(tr);
  }
  queuePrev = nextQ;
  qb.replaceChildren(...qrows);
  const wb = $("workers").tBodies[0];
  wb.replaceChildren(...s.workers.map((w) => { const tr = el("tr"); for (const v of [w.index, w.core, w.tid, w.role || ""]) tr.append(el("td", {}, String(v))); return tr; }));
  $("noworkers").hidden = s.workers.length > 0;
  const pb = $("pools").tBodies[0];
  pb.replaceChildren(...s.mempools.map((m) => { const tr = el("tr"); for (const v of [m.name, count(m.size), count(m.free), count(m.inUse)]) tr.append(el("td", {}, v)); return tr; }));
  const v = s.values;
  if (v && v.pktgen) {
    const g = v.pktgen;
    $("pktgen").hidden = false;
    $("pg-tx").textContent = rate(g.txPps); $("pg-rx").textContent = rate(g.rxPps);
    $("pg-lost").textContent = count(g.lost) + (g.txPackets > 0 ? " (" + (100 * g.lost / g.txPackets).toFixed(3) + " %)" : "");
    $("pg-state").textContent = count(g.txPackets) + " sent · " + count(g.rxReceived) + " received · " + (g.state || "");
    const l = g.latency;
    $("pg-lat").textContent = l && l.count > 0 ? "latency p50 " + ns(l.p50) + " · p99 " + ns(l.p99) + " · p99.9 " + ns(l.p999) + " · max " + ns(l.max) + " (" + count(l.count) + " frames)" : "latency: no frames measured yet";
    drawHistogram($("pg-hist"), g.histogram);
  }
  prev = s;
}

function connect() {
  const es = new EventSource("events" + location.search);
  es.onopen = () => { $("status").textContent = "live"; $("status").className = "live"; };
  es.onmessage = (e) => { try { render(JSON.parse(e.data)); } catch (err) { $("status").textContent = "bad update: " + err.message; } };
  es.onerror = () => { $("status").textContent = "reconnecting…"; $("status").className = "down"; };
}
connect();
</script>
</body>
</html>
`;
