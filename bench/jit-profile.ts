/**
 * Where the time goes in JIT-compiled code: runs a command under `perf record` with JavaScriptCore writing a
 * JITDump (BUN_JSC_useJITDump), then maps the samples onto the code JSC loaded and prints the share of each
 * compiled function (with its tier: Baseline, DFG, FTL) and an annotated disassembly (objdump) of the
 * hottest ones, restricted to their hot regions. JSC's own sampling profiler (bun:jsc profile) loses line
 * numbers in FTL code; this shows the instructions: bounds checks (cmp/jbe), int32 overflow checks (jo),
 * uint32-fits-int32 checks (test/js), spills (-0x..(%rbp)), the xchg of Atomics.store.
 *
 * Usage: bun bench/jit-profile.ts [--top 3] [--block 64] [--min 1.5] -- bun bench/nic-model.ts --format adv --mode l2fwd --bursts 32 --seconds 2
 * Needs perf (Debian: linux-perf) and objdump (binutils). `perf inject --jit` is not used: it expects the
 * dump to be named jit-PID.dump, and JSC names it jit-TID-PID.dump.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { helpText, parseArgs } from "../apps/common/args.ts";
import { runAsProgram } from "../apps/common/runtime.ts";
import { BdkError } from "../src/sys/errors.ts";

const OPTIONS = {
  top: { type: "int", default: 3, min: 0, value: "N", help: "functions to disassemble" },
  block: { type: "int", default: 64, min: 16, value: "BYTES", help: "size of the code blocks whose share decides what is shown" },
  min: { type: "number", default: 1.5, min: 0, value: "PCT", help: "show blocks with at least this share of their function's samples" },
  freq: { type: "int", default: 8000, min: 100, value: "HZ", help: "sampling frequency" },
} as const;

interface CodeLoad {
  addr: number;
  size: number;
  name: string;
  index: number;
  code: Uint8Array;
}

/** JIT_CODE_LOAD records of a JITDump file (perf's tools/perf/Documentation/jitdump-specification.txt). */
function codeLoads(file: string): CodeLoad[] {
  const buf = readFileSync(file);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== 0x4a695444) throw new BdkError(`${file} is not a JITDump file`, "pass the jit-*.dump JSC wrote");
  const loads: CodeLoad[] = [];
  let off = dv.getUint32(8, true);
  while (off + 16 <= buf.length) {
    const id = dv.getUint32(off, true);
    const size = dv.getUint32(off + 4, true);
    if (size === 0) break;
    if (id === 0) {
      const addr = Number(dv.getBigUint64(off + 16 + 16, true));
      const codeSize = Number(dv.getBigUint64(off + 16 + 24, true));
      const index = Number(dv.getBigUint64(off + 16 + 32, true));
      const nameStart = off + 56;
      const nameEnd = buf.indexOf(0, nameStart);
      loads.push({ addr, size: codeSize, name: buf.subarray(nameStart, nameEnd).toString("utf8"), index, code: buf.subarray(nameEnd + 1, nameEnd + 1 + codeSize) });
    }
    off += size;
  }
  return loads;
}

function need(tool: string, pkg: string): void {
  if (!Bun.which(tool)) throw new BdkError(`bench/jit-profile: ${tool} is not installed`, `install it: apt-get install ${pkg}`);
}

async function main(args: string[]): Promise<number> {
  const o = parseArgs("bench/jit-profile", OPTIONS, args);
  if (o.help || o._.length === 0) {
    console.log(helpText("bench/jit-profile", "bun bench/jit-profile.ts [options] -- COMMAND…", OPTIONS));
    return o.help ? 0 : 2;
  }
  need("perf", "linux-perf");
  need("objdump", "binutils");
  const dir = mkdtempSync(join(tmpdir(), "bdk-jit-profile-"));
  try {
    const data = join(dir, "perf.data");
    const rec = Bun.spawnSync(["perf", "record", "-e", "task-clock", "-k", "1", "-F", String(o.freq), "-o", data, "--", ...o._], {
      env: { ...process.env, BUN_JSC_useJITDump: "true", BUN_JSC_jitDumpDirectory: dir }, stdout: "inherit", stderr: "pipe",
    });
    if (rec.exitCode !== 0) throw new BdkError(`bench/jit-profile: perf record failed: ${rec.stderr.toString().slice(-500)}`, "is perf allowed here (kernel.perf_event_paranoid)?");
    const dumps = readdirSync(dir).filter((f) => /^jit-.*\.dump$/.test(f));
    const loads = dumps.flatMap((f) => codeLoads(join(dir, f)));
    const script = Bun.spawnSync(["perf", "script", "-i", data, "-F", "ip"], { stdout: "pipe", stderr: "pipe" });
    const ips = new Map<number, number>();
    let total = 0;
    for (const line of script.stdout.toString().split("\n")) {
      const t = line.trim();
      if (t === "") continue;
      const ip = parseInt(t, 16);
      ips.set(ip, (ips.get(ip) ?? 0) + 1);
      total++;
    }
    // A sample belongs to the latest code load that covers it (JSC reuses freed code memory).
    loads.sort((a, b) => a.addr - b.addr);
    const perLoad = new Map<CodeLoad, Map<number, number>>();
    let outside = 0;
    for (const [ip, n] of ips) {
      let best: CodeLoad | undefined;
      for (const l of loads) {
        if (l.addr > ip) break;
        if (ip < l.addr + l.size && (!best || l.index > best.index)) best = l;
      }
      if (!best) {
        outside += n;
        continue;
      }
      let m = perLoad.get(best);
      if (!m) perLoad.set(best, (m = new Map()));
      m.set(ip, (m.get(ip) ?? 0) + n);
    }
    const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    const ranked = [...perLoad.entries()].sort((a, b) => sum(b[1]) - sum(a[1]));
    console.log(`\n${total} samples; ${((100 * outside) / Math.max(1, total)).toFixed(1)} % outside JIT code (the runtime, the kernel, C)`);
    for (const [l, m] of ranked.slice(0, 15)) console.log(`${((100 * sum(m)) / total).toFixed(2).padStart(7)} %  ${l.name}`);
    for (const [l, m] of ranked.slice(0, o.top)) {
      const n = sum(m);
      const bin = join(dir, `code-${l.index}.bin`);
      writeFileSync(bin, l.code);
      const dis = Bun.spawnSync(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", `--adjust-vma=0x${l.addr.toString(16)}`, bin], { stdout: "pipe" }).stdout.toString();
      const blocks = new Map<number, number>();
      for (const [ip, c] of m) {
        const b = Math.floor((ip - l.addr) / o.block);
        blocks.set(b, (blocks.get(b) ?? 0) + c);
      }
      console.log(`\n===== ${l.name}: ${n} samples (${((100 * n) / total).toFixed(1)} % of all); blocks of ${o.block} bytes with ≥ ${o.min} % of them; ` +
        "column 1: samples at the instruction (a sample usually lands on the one after the instruction that stalled)");
      let last = -2;
      for (const line of dis.split("\n")) {
        const mm = /^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(.*)$/.exec(line);
        if (!mm) continue;
        const ip = parseInt(mm[1]!, 16);
        const b = Math.floor((ip - l.addr) / o.block);
        if (((100 * (blocks.get(b) ?? 0)) / n) < o.min) continue;
        if (b !== last && b !== last + 1) console.log("   …");
        last = b;
        const c = m.get(ip) ?? 0;
        console.log(`${(c === 0 ? "" : String(c)).padStart(6)} ${(ip - l.addr).toString(16).padStart(5)}: ${mm[2]}`);
      }
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await runAsProgram("bench/jit-profile", main);
