/**
 * The drivers' hot path against the same work in C, in one run (issue 10): for each descriptor format, mode
 * and burst size, bench/nic-model.ts (bdk's own burst code on the descriptor-level NIC model) and
 * bench/baseline/l2fwd.c (its C twin, built here with `gcc -O2` into a temporary directory) each run as a
 * child process, one cell at a time, one after the other; each subtracts its own model's cost. Prints
 * ns/packet, Mpps and the ratio bdk/C per row, with the date, CPU model, Bun and gcc versions and the load
 * average, and for the l2fwd cells the JS heap around the timed part, the cells allocated and the GCs
 * (JSC's own GC log, BUN_JSC_logGC=1 in the child, counted between the child's markers).
 *
 * Usage: bun bench/line-rate.ts [--format adv,legacy,extended] [--mode rx,tx,l2fwd] [--bursts 1,8,32,64,256]
 *        [--seconds 0.5] [--warmup 0.3] [--repeat N] [--core N] [--seqcst] [--json]
 * The e1000e's TX queue is the e1000's (legacy descriptors), so "extended" runs rx and l2fwd only.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { helpText, parseArgs, UsageError } from "../apps/common/args.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { BdkError } from "../src/sys/errors.ts";
import { CELL_OPTIONS, DEFAULT_BURSTS, FORMAT_NAMES, FORMATS, gcsBetween, oneOf, MARK_END, MARK_START, MODES, withoutGcLog, type CellResult, type Format, type Mode } from "./nic-model.ts";

const HERE = new URL(".", import.meta.url).pathname;
const C_SOURCE = join(HERE, "baseline", "l2fwd.c");
const MODEL = join(HERE, "nic-model.ts");

const OPTIONS = {
  ...CELL_OPTIONS,
  seconds: { ...CELL_OPTIONS.seconds, help: "timed seconds per cell and side (the model alone is timed as long again)" },
  warmup: { ...CELL_OPTIONS.warmup, help: "warm-up seconds per cell and side" },
  repeat: { type: "int", default: 1, min: 1, max: 99, value: "N", help: "processes per cell and side; each side's median is the row (the JIT's choices vary a little from one process to the next)" },
  core: { type: "int", default: -1, min: -1, value: "N", help: "pin both children to this core with taskset (-1: no pinning)" },
  seqcst: { type: "bool", help: "also build the C with a seq_cst tail store (an xchg, as JS's Atomics.store) and print it as a column" },
  json: { type: "bool", help: "print the rows as JSON" },
} as const;

interface CResult {
  impl: "c";
  format: Format;
  mode: Mode;
  burst: number;
  totalNs: number;
  modelNs: number;
  ns: number;
  mpps: number;
  packets: number;
  seconds: number;
  cpu: number;
  modelCpu: number;
  tail: string;
}

interface Row {
  format: Format;
  mode: Mode;
  burst: number;
  bdk: CellResult;
  c: CResult;
  cSeqCst?: CResult;
  ratio: number;
  /** The smallest share of a timed part (bdk, C, both models) its thread spent on a CPU. */
  onCpu: number;
  /** l2fwd: JSC GCs while the timed part ran. */
  gcs?: number;
}

function machine(): { date: string; cpu: string; bun: string; gcc: string; kernel: string } {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
  const gcc = Bun.spawnSync(["gcc", "--version"]).stdout.toString().split("\n")[0] ?? "";
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  return { date: new Date().toISOString(), cpu: `${cpu} (${cores} CPUs)`, bun: Bun.version, gcc, kernel };
}

function loadavg(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** gcc -O2 the baseline into dir; the path of the binary. */
function buildC(dir: string, seqcst: boolean): string {
  if (!Bun.which("gcc")) {
    throw new BdkError("bench/line-rate: gcc is not installed (the C baseline is built here, never shipped)",
      "install it: `apt-get install --no-install-recommends gcc libc6-dev` (as root), then run the bench again");
  }
  const out = join(dir, seqcst ? "l2fwd-seqcst" : "l2fwd");
  const args = ["gcc", "-O2", "-Wall", "-Wextra", ...(seqcst ? ["-DSEQCST_TAIL"] : []), "-o", out, C_SOURCE];
  const r = Bun.spawnSync(args, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new BdkError(`bench/line-rate: ${args.join(" ")} failed:\n${r.stderr.toString()}`, "see the compiler's message");
  return out;
}

function pinned(argv: string[], core: number): string[] {
  return core >= 0 ? ["taskset", "-c", String(core), ...argv] : argv;
}

function runBdk(format: Format, mode: Mode, burst: number, o: { seconds: number; warmup: number; ring: number; pool: number; core: number }): { r: CellResult; gcs: number | undefined } {
  const argv = pinned([process.execPath, MODEL, "--json", "--format", format, "--mode", mode, "--bursts", String(burst), "--seconds", String(o.seconds),
    "--warmup", String(o.warmup), "--ring", String(o.ring), "--pool", String(o.pool)], o.core);
  const p = Bun.spawnSync(argv, { env: { ...process.env, BUN_JSC_logGC: "1" }, stdout: "pipe", stderr: "pipe" });
  const stderr = p.stderr.toString();
  if (p.exitCode !== 0) throw new BdkError(`bench/line-rate: ${argv.join(" ")} failed:\n${withoutGcLog(stderr)}`, "see its message");
  const r = JSON.parse(p.stdout.toString().trim().split("\n").pop()!) as CellResult;
  // JSC's GC log between the markers that surround the timed part (l2fwd cells only print them).
  const gcs = gcsBetween(stderr, MARK_START, MARK_END);
  return { r, gcs };
}

function runC(bin: string, format: Format, mode: Mode, burst: number, o: { seconds: number; warmup: number; ring: number; pool: number; core: number }): CResult {
  const argv = pinned([bin, format, mode, String(burst), String(o.seconds), String(o.warmup), String(o.ring), String(o.pool)], o.core);
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new BdkError(`bench/line-rate: ${argv.join(" ")} failed: ${p.stderr.toString()}`, "see its message");
  return JSON.parse(p.stdout.toString().trim()) as CResult;
}


const f2 = (n: number): string => n.toFixed(2);

/** The middle element by key (the lower middle of an even count). */
function median<T>(xs: T[], key: (x: T) => number): T {
  return [...xs].sort((a, b) => key(a) - key(b))[(xs.length - 1) >> 1]!;
}
/** A row whose timed parts ran on a CPU less than this share of the time is flagged. */
const BUSY = 0.95;

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/line-rate", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bench/line-rate", "bun bench/line-rate.ts [options]", OPTIONS));
    return 0;
  }
  const formats = o.format.length > 0 ? oneOf("bench/line-rate", "format", o.format, FORMATS) : [...FORMATS];
  const modes = o.mode.length > 0 ? oneOf("bench/line-rate", "mode", o.mode, MODES) : [...MODES];
  const bursts = o.bursts.length > 0 ? o.bursts.map(Number) : [...DEFAULT_BURSTS];
  for (const b of bursts) if (!Number.isInteger(b) || b < 1 || b > 1024 || b >= o.ring) throw new UsageError(`bench/line-rate: burst ${b} is out of range`, `give 1..${Math.min(1024, o.ring - 1)}`);
  if (o.core >= 0 && !Bun.which("taskset")) throw new BdkError("bench/line-rate: --core needs taskset", "install util-linux");

  const dir = mkdtempSync(join(tmpdir(), "bdk-line-rate-"));
  try {
    const bin = buildC(dir, false);
    const binSeq = o.seqcst ? buildC(dir, true) : undefined;
    const m = machine();
    const loadBefore = loadavg();
    const rows: Row[] = [];
    const sides = { seconds: o.seconds, warmup: o.warmup, ring: o.ring, pool: o.pool, core: o.core };
    if (!o.json) {
      console.log(`bench/line-rate  ${m.date}`);
      console.log(`CPU ${m.cpu}; kernel ${m.kernel}; Bun ${m.bun}; ${m.gcc} (-O2)`);
      console.log(`rings ${o.ring} descriptors, pool ${o.pool} buffers, ${o.seconds} s timed per cell and side after ${o.warmup} s warm-up${o.repeat > 1 ? `, median of ${o.repeat} processes per side` : ""}; ` +
        `${o.core >= 0 ? `both sides pinned to core ${o.core}` : "not pinned"}; load average ${loadBefore}`);
      console.log("ns/packet: the driver's and the app's work, the NIC model's own cost (printed as 'model') subtracted; ratio = bdk / C ns/packet");
      console.log("");
      const seqHead = binSeq ? "  C seq_cst tail ns" : "";
      console.log(`${"format".padEnd(20)}${"mode".padEnd(7)}${"burst".padStart(5)}  ${"bdk ns".padStart(7)} ${"Mpps".padStart(7)}  ${"C ns".padStart(7)} ${"Mpps".padStart(7)}  ${"ratio".padStart(5)}  model ns bdk/C  on-CPU${seqHead}`);
    }
    for (const format of formats) {
      for (const mode of modes) {
        if (format === "extended" && mode === "tx") continue; // the e1000e's TX is the legacy queue
        for (const burst of bursts) {
          // --repeat N: N processes per side, alternating; the median (by ns/packet) of each side is the row.
          const bdkRuns: { r: CellResult; gcs: number | undefined }[] = [];
          const cRuns: CResult[] = [];
          const seqRuns: CResult[] = [];
          for (let i = 0; i < o.repeat; i++) {
            bdkRuns.push(runBdk(format, mode, burst, sides));
            cRuns.push(runC(bin, format, mode, burst, sides));
            if (binSeq) seqRuns.push(runC(binSeq, format, mode, burst, sides));
          }
          const { r, gcs } = median(bdkRuns, (x) => x.r.ns);
          const c = median(cRuns, (x) => x.ns);
          const cSeqCst = binSeq ? median(seqRuns, (x) => x.ns) : undefined;
          const onCpu = Math.min(r.cpu, r.modelCpu, c.cpu, c.modelCpu);
          const row: Row = { format, mode, burst, bdk: r, c, cSeqCst, ratio: r.ns / c.ns, onCpu, gcs };
          rows.push(row);
          if (!o.json) {
            const seq = cSeqCst ? `  ${f2(cSeqCst.ns).padStart(17)}` : "";
            console.log(`${FORMAT_NAMES[format].padEnd(20)}${mode.padEnd(7)}${String(burst).padStart(5)}  ${f2(r.ns).padStart(7)} ${f2(r.mpps).padStart(7)}  ` +
              `${f2(c.ns).padStart(7)} ${f2(c.mpps).padStart(7)}  ${f2(row.ratio).padStart(5)}  ${f2(r.modelNs).padStart(5)} / ${f2(c.modelNs).padEnd(5)}  ` +
              `${`${Math.round(100 * onCpu)}%`.padStart(5)}${onCpu < BUSY ? "*" : " "}${seq}`);
            if (r.heap) {
              const h = r.heap;
              console.log(`${"".padEnd(32)}heap ${h.sizeBefore} → ${h.sizeAfter} B (capacity ${h.capacityBefore} → ${h.capacityAfter}), ` +
                `${h.cellsAllocated} cells allocated, ${gcs ?? "?"} GCs over ${f2(r.seconds)} s (${(r.packets / 1e6).toFixed(1)} M packets)`);
            }
          }
        }
      }
    }
    const loadAfter = loadavg();
    if (o.json) {
      console.log(JSON.stringify({ machine: m, loadBefore, loadAfter, options: { ring: o.ring, pool: o.pool, seconds: o.seconds, warmup: o.warmup, core: o.core, repeat: o.repeat }, rows }, null, 1));
    } else {
      console.log("");
      const at32 = rows.filter((r) => r.mode === "l2fwd" && r.burst === 32);
      for (const r of at32) {
        console.log(`l2fwd burst 32, ${FORMAT_NAMES[r.format]}: bdk ${f2(r.bdk.ns)} ns/packet (${f2(r.bdk.mpps)} Mpps), C ${f2(r.c.ns)} ns/packet (${f2(r.c.mpps)} Mpps), ratio ${f2(r.ratio)}`);
      }
      const busy = rows.filter((r) => r.onCpu < BUSY).length;
      console.log(`on-CPU: the smallest share of the four timed parts (bdk, C, each model) that their thread spent on a CPU (/proc/thread-self/schedstat); ` +
        `${busy === 0 ? "every row ≥ 95 %" : `* ${busy} row(s) below 95 %: another process took the core, rerun when the machine is quiet`}`);
      console.log(`load average ${loadBefore} before, ${loadAfter} after`);
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await runAsProgram("bench/line-rate", main);
