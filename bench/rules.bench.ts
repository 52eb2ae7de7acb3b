/**
 * The hot-path rules, measured (issue 10): what README.md and ../shared/DESIGN.md say a burst must (not) do,
 * re-decided with numbers from this machine instead of taken on faith.
 *
 *  (a) header fields, big-endian 16- and 32-bit (ethertype, IPv4 total length, UDP ports, an IPv4 address):
 *      a DataView over the pool's memory vs shifts on its Uint8Array (src/net/bytes.ts read16/write16/read32/write32);
 *  (b) copying a frame of 64, 96, 128, 256, 512, 1514 bytes from one pool buffer to another: libc memcpy through
 *      bun:ffi (src/sys/libc.ts `raw.memcpy`, as af_packet's copyFrame does) vs `Uint8Array.prototype.set` of
 *      a subarray vs `copyWithin` vs a byte loop vs a 32-bit word loop (copyFrame's small-frame path);
 *  (c) descriptor writes: 32 descriptors × 4 words then one tail write, every store `Atomics.store` vs plain
 *      stores and one `Atomics.store` for the tail (the current rule: one fence per burst);
 *  (d) polling descriptor status words: `Atomics.load` vs a plain load.
 *
 * Everything runs on a real Mempool (one mmap'd arena, 2 KiB buffers, rotating through 4096 of them so that
 * caches see a pool, not one hot line) and on descriptor rings in a DMA arena, as the drivers do. One
 * iteration is a burst of 32; figures are per packet (or per descriptor / status word), the median of
 * mitata's samples. Results feed a sink that is printed, so nothing is dead code.
 *
 * Run (others benchmark on this 2-core machine too): `flock /tmp/bdk-bench.lock bun bench/rules.bench.ts`
 */
import type { Pointer } from "bun:ffi";
import { bench, do_not_optimize, run, summary } from "mitata";
import { createArena } from "../src/mem/arena.ts";
import { Mempool } from "../src/mem/mempool.ts";
import { read16, read32, write16, write32 } from "../src/net/bytes.ts";
import { raw } from "../src/sys/libc.ts";

const BURST = 32;
const NBUF = 4096;
const pool = Mempool.create({ count: NBUF, name: "rules-bench", hugepages: "prefer" });
const offs = new Uint32Array(NBUF);
for (let i = 0; i < NBUF; i++) offs[i] = pool.offset(pool.take());
const bytes = pool.bytes;
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const words = pool.arena.u32;
const va = pool.arena.va;
/** Plausible headers in every buffer: Ethernet / IPv4 / UDP, then filler. */
function initFrames(): void {
  for (let i = 0; i < NBUF; i++) initFrame(offs[i]!, i);
}
function initFrame(o: number, i: number): void {
  write16(bytes, o + 12, 0x0800);
  bytes[o + 14] = 0x45;
  write16(bytes, o + 16, 46 + (i & 63));
  write32(bytes, o + 26, 0x0a000001 + i);
  write32(bytes, o + 30, 0x0a000101 + i);
  write16(bytes, o + 34, 1024 + (i & 255));
  write16(bytes, o + 36, 5000 + (i & 255));
  for (let k = 42; k < 1514; k++) bytes[o + k] = (i + k) & 0xff;
}
initFrames();

let sink = 0;
let slot = 0;
/** The next burst's first buffer (the 32 that follow it, wrapping). */
function nextSlot(): number {
  const s = slot;
  slot = (slot + BURST) & (NBUF - 1);
  return s;
}

// ---- (a) header fields -------------------------------------------------------------------------------
// Read: ethertype, IPv4 total length, UDP source and destination ports (16-bit), IPv4 source address (32-bit).
// Write: IPv4 total length, both UDP ports (16-bit), IPv4 destination address (32-bit).
// Each burst loads its array from an object field first, as the drivers do (`const bytes = pool.bytes`).
const views = { dv: view };
function readShifts(): number {
  const s = nextSlot();
  const b = pool.bytes;
  let acc = 0;
  for (let k = 0; k < BURST; k++) {
    const o = offs[(s + k) & (NBUF - 1)]!;
    if (read16(b, o + 12) === 0x0800) acc += read16(b, o + 16) + read16(b, o + 34) + read16(b, o + 36) + (read32(b, o + 26) & 0xffff);
  }
  return acc;
}
function readDataView(): number {
  const s = nextSlot();
  const v = views.dv;
  let acc = 0;
  for (let k = 0; k < BURST; k++) {
    const o = offs[(s + k) & (NBUF - 1)]!;
    if (v.getUint16(o + 12) === 0x0800) acc += v.getUint16(o + 16) + v.getUint16(o + 34) + v.getUint16(o + 36) + (v.getUint32(o + 26) & 0xffff);
  }
  return acc;
}
function writeShifts(): void {
  const s = nextSlot();
  const b = pool.bytes;
  for (let k = 0; k < BURST; k++) {
    const o = offs[(s + k) & (NBUF - 1)]!;
    write16(b, o + 16, 46 + k);
    write16(b, o + 34, 1024 + s);
    write16(b, o + 36, 5000 + k);
    write32(b, o + 30, 0x0a000101 + s + k);
  }
}
function writeDataView(): void {
  const s = nextSlot();
  const v = views.dv;
  for (let k = 0; k < BURST; k++) {
    const o = offs[(s + k) & (NBUF - 1)]!;
    v.setUint16(o + 16, 46 + k);
    v.setUint16(o + 34, 1024 + s);
    v.setUint16(o + 36, 5000 + k);
    v.setUint32(o + 30, 0x0a000101 + s + k);
  }
}
// Both variants must agree before anything is timed.
{
  const at = slot;
  const a = readShifts();
  slot = at;
  const b = readDataView();
  if (a !== b) throw new Error(`header reads disagree: shifts ${a}, DataView ${b}`);
}

summary(() => {
  bench("hdr read  shifts (read16/read32)", () => {
    sink += readShifts();
  });
  bench("hdr read  DataView", () => {
    sink += readDataView();
  });
});
summary(() => {
  bench("hdr write shifts (write16/write32)", () => {
    writeShifts();
  });
  bench("hdr write DataView", () => {
    writeDataView();
  });
});

// ---- (b) frame copies ---------------------------------------------------------------------------------
// From buffer i to buffer i + NBUF/2 (both in the pool's arena, 4-byte aligned as pool data is).
const HALF = NBUF / 2;
const SIZES = [64, 96, 128, 256, 512, 1514] as const;
type CopyKind = "memcpy (FFI)" | "set(subarray)" | "copyWithin" | "byte loop" | "u32 word loop";
const COPY_KINDS: CopyKind[] = ["memcpy (FFI)", "set(subarray)", "copyWithin", "byte loop", "u32 word loop"];

function copyMemcpy(len: number): void {
  const s = nextSlot();
  for (let k = 0; k < BURST; k++) {
    const i = (s + k) & (NBUF - 1);
    raw.memcpy((va + offs[(i + HALF) & (NBUF - 1)]!) as Pointer, (va + offs[i]!) as Pointer, len);
  }
}
function copySet(len: number): void {
  const s = nextSlot();
  for (let k = 0; k < BURST; k++) {
    const i = (s + k) & (NBUF - 1);
    const from = offs[i]!;
    bytes.set(bytes.subarray(from, from + len), offs[(i + HALF) & (NBUF - 1)]!);
  }
}
function copyWithin(len: number): void {
  const s = nextSlot();
  for (let k = 0; k < BURST; k++) {
    const i = (s + k) & (NBUF - 1);
    const from = offs[i]!;
    bytes.copyWithin(offs[(i + HALF) & (NBUF - 1)]!, from, from + len);
  }
}
function copyBytes(len: number): void {
  const s = nextSlot();
  for (let k = 0; k < BURST; k++) {
    const i = (s + k) & (NBUF - 1);
    const from = offs[i]!;
    const to = offs[(i + HALF) & (NBUF - 1)]!;
    for (let j = 0; j < len; j++) bytes[to + j] = bytes[from + j]!;
  }
}
function copyWords(len: number): void {
  const s = nextSlot();
  for (let k = 0; k < BURST; k++) {
    const i = (s + k) & (NBUF - 1);
    const from = offs[i]!;
    const to = offs[(i + HALF) & (NBUF - 1)]!;
    let si = from >> 2;
    let di = to >> 2;
    const end = si + (len >> 2);
    while (si < end) words[di++] = words[si++]!;
    for (let j = len & ~3; j < len; j++) bytes[to + j] = bytes[from + j]!;
  }
}
const COPY_FN: Record<CopyKind, (len: number) => void> = {
  "memcpy (FFI)": copyMemcpy, "set(subarray)": copySet, "copyWithin": copyWithin, "byte loop": copyBytes, "u32 word loop": copyWords,
};
// Each variant must copy exactly.
for (const kind of COPY_KINDS) {
  for (let i = 0; i < NBUF; i++) bytes.fill(0, offs[i]!, offs[i]! + 1514);
  const at = slot;
  // Refill the sources of this burst, copy, compare.
  for (let k = 0; k < BURST; k++) {
    const o = offs[(at + k) & (NBUF - 1)]!;
    for (let j = 0; j < 1514; j++) bytes[o + j] = (k * 7 + j) & 0xff;
  }
  slot = at;
  COPY_FN[kind](1514);
  for (let k = 0; k < BURST; k++) {
    const i = (at + k) & (NBUF - 1);
    const to = offs[(i + HALF) & (NBUF - 1)]!;
    for (let j = 0; j < 1514; j++) {
      if (bytes[to + j] !== ((k * 7 + j) & 0xff)) throw new Error(`${kind} copied wrongly (frame ${k}, byte ${j})`);
    }
  }
  slot = at;
}
initFrames();

for (const len of SIZES) {
  summary(() => {
    for (const kind of COPY_KINDS) {
      const fn = COPY_FN[kind];
      bench(`copy ${String(len).padStart(4)} B ${kind}`, () => {
        fn(len);
      });
    }
  });
}

// ---- (c) descriptor writes, (d) status polling ---------------------------------------------------------
// A 512-descriptor ring of 16-byte descriptors in a DMA arena; the "BAR" (tail register) in another.
const RING = 512;
const MASK = RING - 1;
const ringArena = createArena({ size: RING * 16, hugepages: "never", name: "rules-ring" });
const barArena = createArena({ size: 4096, hugepages: "never", name: "rules-bar" });
const desc = ringArena.u32;
const bar = barArena.u32;
const TAIL = 0x818 >>> 2;
const lo = pool.dmaLo;
const hi = pool.dmaHi;
let next = 0;

/** Advanced TX data descriptors (as drivers/intel/adv-rxtx.ts writes them), every store through Atomics. */
function descAtomics(): void {
  const s = nextSlot();
  let n = next;
  for (let k = 0; k < BURST; k++) {
    const b = (s + k) & (NBUF - 1);
    const w = n * 4;
    const len = 60 + k;
    Atomics.store(desc, w, lo[b]! + 128);
    Atomics.store(desc, w + 1, hi[b]!);
    Atomics.store(desc, w + 2, len | 0x2b300000);
    Atomics.store(desc, w + 3, len << 14);
    n = (n + 1) & MASK;
  }
  next = n;
  Atomics.store(bar, TAIL, n);
}
/** The same with plain stores and one Atomics.store for the tail (the drivers' way). */
function descPlain(): void {
  const s = nextSlot();
  let n = next;
  for (let k = 0; k < BURST; k++) {
    const b = (s + k) & (NBUF - 1);
    const w = n * 4;
    const len = 60 + k;
    desc[w] = lo[b]! + 128;
    desc[w + 1] = hi[b]!;
    desc[w + 2] = len | 0x2b300000;
    desc[w + 3] = len << 14;
    n = (n + 1) & MASK;
  }
  next = n;
  Atomics.store(bar, TAIL, n);
}
// The same on an Int32Array over a SharedArrayBuffer (as the queues' control and live words are): is the
// cost Atomics itself or the mmap'd, non-shared memory?
const sabDesc = new Int32Array(new SharedArrayBuffer(RING * 16));
const sabBar = new Int32Array(new SharedArrayBuffer(4096));
function descAtomicsSab(): void {
  const s = nextSlot();
  let n = next;
  for (let k = 0; k < BURST; k++) {
    const b = (s + k) & (NBUF - 1);
    const w = n * 4;
    const len = 60 + k;
    Atomics.store(sabDesc, w, lo[b]! + 128);
    Atomics.store(sabDesc, w + 1, hi[b]!);
    Atomics.store(sabDesc, w + 2, len | 0x2b300000);
    Atomics.store(sabDesc, w + 3, len << 14);
    n = (n + 1) & MASK;
  }
  next = n;
  Atomics.store(sabBar, TAIL, n);
}
function descPlainSab(): void {
  const s = nextSlot();
  let n = next;
  for (let k = 0; k < BURST; k++) {
    const b = (s + k) & (NBUF - 1);
    const w = n * 4;
    const len = 60 + k;
    sabDesc[w] = lo[b]! + 128;
    sabDesc[w + 1] = hi[b]!;
    sabDesc[w + 2] = len | 0x2b300000;
    sabDesc[w + 3] = len << 14;
    n = (n + 1) & MASK;
  }
  next = n;
  Atomics.store(sabBar, TAIL, n);
}
summary(() => {
  bench("desc SAB all Atomics.store", () => {
    descAtomicsSab();
  });
  bench("desc SAB plain + 1 Atomics tail", () => {
    descPlainSab();
  });
});
summary(() => {
  bench("desc 32×4 stores, all Atomics.store", () => {
    descAtomics();
  });
  bench("desc 32×4 stores, plain + 1 Atomics tail", () => {
    descPlain();
  });
});

// (d) An RX burst's scan: count the descriptors whose DD bit (word 2, bit 0) is set, up to 32. Every status
// word has DD set except one in 64, so that the scan length varies a little and a load cannot be assumed.
const statusArena = createArena({ size: RING * 16, hugepages: "never", name: "rules-status" });
const status = statusArena.u32;
for (let i = 0; i < RING; i++) status[i * 4 + 2] = (i & 63) === 63 ? 0x2 : 0x3;
let pollAt = 0;
function pollAtomics(): number {
  const n = pollAt;
  let ready = 0;
  while (ready < BURST && (Atomics.load(status, ((n + ready) & MASK) * 4 + 2) & 1) !== 0) ready++;
  pollAt = (n + ready + 1) & MASK;
  return ready;
}
function pollPlain(): number {
  const n = pollAt;
  let ready = 0;
  while (ready < BURST && (status[((n + ready) & MASK) * 4 + 2]! & 1) !== 0) ready++;
  pollAt = (n + ready + 1) & MASK;
  return ready;
}
const sabStatus = new Int32Array(new SharedArrayBuffer(RING * 16));
for (let i = 0; i < RING; i++) sabStatus[i * 4 + 2] = (i & 63) === 63 ? 0x2 : 0x3;
function pollAtomicsSab(): number {
  const n = pollAt;
  let ready = 0;
  while (ready < BURST && (Atomics.load(sabStatus, ((n + ready) & MASK) * 4 + 2) & 1) !== 0) ready++;
  pollAt = (n + ready + 1) & MASK;
  return ready;
}
function pollPlainSab(): number {
  const n = pollAt;
  let ready = 0;
  while (ready < BURST && (sabStatus[((n + ready) & MASK) * 4 + 2]! & 1) !== 0) ready++;
  pollAt = (n + ready + 1) & MASK;
  return ready;
}
summary(() => {
  bench("poll SAB Atomics.load", () => {
    sink += pollAtomicsSab();
  });
  bench("poll SAB plain load", () => {
    sink += pollPlainSab();
  });
});
summary(() => {
  bench("poll status, Atomics.load", () => {
    sink += pollAtomics();
  });
  bench("poll status, plain load", () => {
    sink += pollPlain();
  });
});

// ---- Run and summarize -----------------------------------------------------------------------------------
const results = await run();
const med = new Map<string, number>();
for (const t of results.benchmarks) {
  const r = t.runs[0];
  if (!r?.stats) throw new Error(`${t.alias}: ${(r?.error as Error | undefined)?.message ?? "no result"}`);
  med.set(t.alias, r.stats.p50);
}
do_not_optimize(sink);
function ns(alias: string, per: number): number {
  const v = med.get(alias);
  if (v === undefined) throw new Error(`no result for ${alias}`);
  return v / per;
}
/** Ratio a/b with a verdict: within ±10 % is noise on this machine. */
function verdict(aName: string, a: number, bName: string, b: number): string {
  const r = a / b;
  if (r >= 0.9 && r <= 1.1) return `same within noise (${r.toFixed(2)}×)`;
  return r > 1 ? `${bName} ${r.toFixed(2)}× faster` : `${aName} ${(1 / r).toFixed(2)}× faster`;
}
const rows: string[][] = [];
function row(rule: string, aName: string, a: number, bName: string, b: number, unit: string): void {
  rows.push([rule, `${aName} ${a.toFixed(2)}`, `${bName} ${b.toFixed(2)}`, (a / b).toFixed(2), unit, verdict(aName, a, bName, b)]);
}
row("(a) read 4×16 + 1×32-bit BE fields", "DataView", ns("hdr read  DataView", BURST), "shifts", ns("hdr read  shifts (read16/read32)", BURST), "ns/pkt");
row("(a) write 3×16 + 1×32-bit BE fields", "DataView", ns("hdr write DataView", BURST), "shifts", ns("hdr write shifts (write16/write32)", BURST), "ns/pkt");
const copyTable: string[] = [];
// Crossovers: the smallest size from which memcpy is faster than each JS way (and stays so for larger sizes).
const from = new Map<CopyKind, number>();
for (const len of SIZES) {
  const per = COPY_KINDS.map((k) => ns(`copy ${String(len).padStart(4)} B ${k}`, BURST));
  copyTable.push(`  ${String(len).padStart(4)} B  ${per.map((v) => v.toFixed(1).padStart(13)).join(" ")}`);
  const memcpy = per[0]!;
  let best = 1;
  for (let i = 2; i < per.length; i++) if (per[i]! < per[best]!) best = i;
  row(`(b) copy ${len} B (vs fastest JS)`, "memcpy", memcpy, COPY_KINDS[best]!, per[best]!, "ns/frame");
  for (let i = 1; i < per.length; i++) {
    const k = COPY_KINDS[i]!;
    if (memcpy < per[i]!) {
      if (!from.has(k)) from.set(k, len);
    } else from.delete(k);
  }
}
row("(c) 32 desc × 4 words + tail", "all Atomics", ns("desc 32×4 stores, all Atomics.store", 1), "plain+1 fence", ns("desc 32×4 stores, plain + 1 Atomics tail", 1), "ns/burst");
row("(d) poll DD status word", "Atomics.load", ns("poll status, Atomics.load", BURST), "plain", ns("poll status, plain load", BURST), "ns/word");
row("(c') the same, Int32Array on a SAB", "all Atomics", ns("desc SAB all Atomics.store", 1), "plain+1 fence", ns("desc SAB plain + 1 Atomics tail", 1), "ns/burst");
row("(d') the same, Int32Array on a SAB", "Atomics.load", ns("poll SAB Atomics.load", BURST), "plain", ns("poll SAB plain load", BURST), "ns/word");

const w = [38, 20, 22, 6, 9];
console.log(`\nframe copies, ns per frame (median):\n  ${"size".padStart(6)}  ${COPY_KINDS.map((k) => k.padStart(13)).join(" ")}`);
for (const line of copyTable) console.log(line);
for (const k of COPY_KINDS.slice(1)) {
  const at = from.get(k);
  console.log(`  memcpy faster than ${k.padEnd(13)} ${at === undefined ? "at none of the sizes measured (up to 1514 B)" : `from ${at} B on`}`);
}
console.log(`\nhot-path rules, measured (A vs B, median; ratio = A / B):`);
console.log(`  ${"rule".padEnd(w[0]!)} ${"A".padEnd(w[1]!)} ${"B".padEnd(w[2]!)} ${"ratio".padStart(w[3]!)} ${"unit".padEnd(w[4]!)} verdict`);
for (const r of rows) {
  console.log(`  ${r[0]!.padEnd(w[0]!)} ${r[1]!.padEnd(w[1]!)} ${r[2]!.padEnd(w[2]!)} ${r[3]!.padStart(w[3]!)} ${r[4]!.padEnd(w[4]!)} ${r[5]}`);
}
console.log(`  (sink ${sink})`);
ringArena.free();
barArena.free();
statusArena.free();
pool.destroy();
