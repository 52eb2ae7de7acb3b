/** Helpers for the net tests: external tools (tcpdump, tshark), hex, temp dirs. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Path of `name`, or an Error telling how to install it. */
export function requireTool(name: string): string {
  const p = Bun.which(name);
  if (!p) throw new Error(`${name} is not installed: run scripts/setup.sh (it installs tcpdump and tshark)`);
  return p;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Runs a command to completion (bounded by `timeoutMs`). */
export function run(cmd: string[], timeoutMs = 30_000): RunResult {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
}

/** Bytes from a hex string (whitespace ignored). */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  if (t.length % 2 !== 0 || /[^0-9a-fA-F]/.test(t)) throw new Error(`bad hex: ${s}`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

export interface DumpedPacket {
  /** The timestamp as tcpdump printed it with -tt ("1700000000.123456" or with 9 decimals). */
  ts: string;
  /** The first line of tcpdump's decode (after the timestamp). */
  summary: string;
  bytes: Uint8Array;
}

/** Reads a pcap with `tcpdump -r -n -tt -xx` and returns each packet's timestamp and bytes. */
export function tcpdumpRead(path: string, nano = false): DumpedPacket[] {
  const tcpdump = requireTool("tcpdump");
  const args = [tcpdump, "-r", path, "-n", "-tt", "-xx"];
  if (nano) args.push("--time-stamp-precision=nano");
  const r = run(args);
  if (r.exitCode !== 0) throw new Error(`tcpdump -r ${path} failed (${r.exitCode}): ${r.stderr}`);
  const out: DumpedPacket[] = [];
  let cur: { ts: string; summary: string; hex: string } | null = null;
  const flush = () => {
    if (cur) out.push({ ts: cur.ts, summary: cur.summary, bytes: hex(cur.hex) });
  };
  for (const line of r.stdout.split("\n")) {
    if (line.length === 0) continue;
    const m = /^\s+0x[0-9a-f]+:\s+(.*)$/.exec(line);
    if (m) {
      if (!cur) throw new Error(`tcpdump hex line before any packet: ${line}`);
      cur.hex += m[1]!.replace(/\s+/g, "");
    } else {
      flush();
      const sp = line.indexOf(" ");
      cur = { ts: line.slice(0, sp), summary: line.slice(sp + 1), hex: "" };
    }
  }
  flush();
  return out;
}

/** A fresh temporary directory and its remover. */
export function tempDir(): { dir: string; path: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "bdk-net-"));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Straightforward RFC 1071 reference: independent of src/net/checksum.ts. */
export function refChecksum(bytes: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += bytes[i]! * 256 + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}
