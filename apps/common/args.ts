// A small declarative command-line parser shared by the apps and the bdk commands: long options with
// `--key value` or `--key=value`, short aliases, `--no-key` for booleans, positionals, generated help,
// and one-line errors that name the option and what it accepts.
//
// One number grammar for every number typed on a command line (options here, and the numbers inside
// values the commands parse themselves: core lists, sizes, ranges, hugepage counts): whole numbers are
// decimal digits with an optional leading "-" (which only an option whose range goes below 0 accepts);
// numbers are plain decimals (1, 1.5, 0.25). No exponents, hex, "+", blanks or empty text.
// A value is never empty, a list has no empty items, and an option that is not a list is given once.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BdkError, normalizePciAddress } from "../../src/index.ts";

export type OptionType = "bool" | "int" | "number" | "string" | "list";

export interface OptionSpec {
  type: OptionType;
  help: string;
  alias?: string;
  default?: boolean | number | string | string[];
  /** Placeholder for the value in help ("N", "FILE"). */
  value?: string;
  /** Accepted values, for strings. */
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** For ints: the value must also be a power of two (checked after the range). */
  powerOfTwo?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K]["type"] extends "bool" ? boolean
    : S[K]["type"] extends "int" | "number" ? number
      : S[K]["type"] extends "list" ? string[]
        : string;
} & { _: string[]; help: boolean };

export class UsageError extends BdkError {}

/** Whole numbers: decimal digits, an optional leading "-". */
export const INT_GRAMMAR = /^-?[0-9]+$/;
/** Numbers: plain decimals (1, 1.5, 0.25, -2.5). */
export const NUMBER_GRAMMAR = /^-?[0-9]+(?:\.[0-9]+)?$/;

/** A whole number in the strict grammar, or undefined (also for ones too large to be exact). */
export function strictInt(text: string): number | undefined {
  if (!INT_GRAMMAR.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A plain decimal in the strict grammar, or undefined. */
export function strictNumber(text: string): number | undefined {
  if (!NUMBER_GRAMMAR.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The accepted range as the hint of a range error: "give 64..16777216". */
export function rangeHint(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `give ${min}..${max}`;
  if (min !== undefined) return `give ${min} or more`;
  if (max !== undefined) return `give at most ${max}`;
  return "give a smaller number";
}

export function parseArgs<S extends OptionSpecs>(command: string, specs: S, argv: readonly string[]): ParsedOptions<S> {
  const out: Record<string, unknown> = { _: [], help: false };
  for (const [k, s] of Object.entries(specs)) {
    if (s.default !== undefined) out[k] = Array.isArray(s.default) ? [...s.default] : s.default;
    else if (s.type === "bool") out[k] = false;
    else if (s.type === "list") out[k] = [];
  }
  const byAlias = new Map<string, string>();
  for (const [k, s] of Object.entries(specs)) if (s.alias) byAlias.set(s.alias, k);
  const positionals = out._ as string[];
  /** How each option that takes one value was first given ("-b 32"), to name both when it comes again. */
  const given = new Map<string, string>();
  const once = (key: string, written: string): void => {
    const first = given.get(key);
    if (first !== undefined) {
      throw new UsageError(`${command}: --${key} given twice ("${first}" and "${written}")`, "give it once");
    }
    given.set(key, written);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    let key: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      const k = byAlias.get(arg.slice(1));
      if (!k) throw unknown(command, arg, specs);
      key = k;
    }
    // Own keys only: "--constructor" or "--__proto__" must be unknown options, not Object.prototype's members.
    let spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
    if (!spec && key.startsWith("no-") && Object.hasOwn(specs, key.slice(3)) && specs[key.slice(3)]?.type === "bool") {
      if (inline !== undefined) throw new UsageError(`${command}: ${arg} takes no value`, `write --${key}`);
      once(key.slice(3), arg);
      out[key.slice(3)] = false;
      continue;
    }
    if (!spec) throw unknown(command, arg, specs);
    if (spec.type === "bool") {
      once(key, arg);
      if (inline === undefined) out[key] = true;
      else out[key] = parseBool(command, key, inline);
      continue;
    }
    const text = inline ?? argv[++i];
    if (text === undefined) throw new UsageError(`${command}: --${key} needs a value`, `write --${key} ${spec.value ?? "VALUE"}`);
    if (text === "") throw new UsageError(`${command}: --${key} needs a value, got an empty one`, `write --${key} ${spec.value ?? "VALUE"}${spec.default !== undefined && spec.default !== "" ? ` (or leave it out: ${Array.isArray(spec.default) ? spec.default.join(",") : spec.default})` : ""}`);
    if (spec.type !== "list") once(key, inline === undefined ? `${arg} ${text}` : arg);
    const v = convert(command, key, spec, text);
    if (spec.type === "list") (out[key] as string[]).push(...(v as string[]));
    else out[key] = v;
  }
  return out as ParsedOptions<S>;
}

/** The largest power of two ≤ n (at least 1). */
function powerBelow(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

function unknown(command: string, arg: string, specs: OptionSpecs): UsageError {
  const names = Object.keys(specs).map((k) => `--${k}`).join(" ");
  return new UsageError(`${command}: unknown option ${arg}`, `options: ${names} (--help explains them)`);
}

function parseBool(command: string, key: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new UsageError(`${command}: --${key}=${text} is not a boolean`, `write --${key} or --no-${key}`);
}

function convert(command: string, key: string, spec: OptionSpec, text: string): unknown {
  switch (spec.type) {
    case "int":
    case "number": {
      const int = spec.type === "int";
      if (!(int ? INT_GRAMMAR : NUMBER_GRAMMAR).test(text)) {
        throw new UsageError(`${command}: --${key} expects ${int ? "a whole number" : "a number"}, got "${text}"`,
          `write ${int ? "decimal digits" : "a plain decimal (1, 1.5, 0.25)"}, e.g. --${key} ${spec.default ?? spec.min ?? 1}`);
      }
      const n = Number(text);
      // A sign where the range has no negatives, or a number too large to be exact: out of range, with the range.
      const exact = int ? Number.isSafeInteger(n) : Number.isFinite(n);
      const negative = text.startsWith("-") && spec.min !== undefined && spec.min >= 0;
      if (!exact || negative || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${command}: --${key} ${text} is out of range`, rangeHint(spec.min, spec.max ?? (int && spec.min !== undefined ? Number.MAX_SAFE_INTEGER : undefined)));
      }
      if (spec.powerOfTwo && powerBelow(n) !== n) {
        throw new UsageError(`${command}: --${key} ${text} is not a power of two`, `give a power of two in ${spec.min ?? 1}..${spec.max ?? "…"}, e.g. ${powerBelow(n)} or ${powerBelow(n) * 2}`);
      }
      return n;
    }
    case "list": {
      const items = text.split(",");
      if (items.some((s) => s === "")) {
        throw new UsageError(`${command}: --${key} "${text}" has an empty item`, `write --${key} ${spec.value ?? "A,B"} with no empty items between the commas`);
      }
      return items;
    }
    case "string":
      if (spec.choices && !spec.choices.includes(text)) {
        throw new UsageError(`${command}: --${key} "${text}" is not one of ${spec.choices.join(", ")}`, `e.g. --${key} ${spec.choices[0]}`);
      }
      return text;
    case "bool":
      return parseBool(command, key, text);
  }
}

export function helpText(command: string, synopsis: string, specs: OptionSpecs, footer = ""): string {
  const rows = Object.entries(specs).map(([k, s]) => {
    const flag = `${s.alias ? `-${s.alias}, ` : "    "}--${s.type === "bool" ? `[no-]${k}` : `${k} ${s.value ?? s.type.toUpperCase()}`}`;
    const def = s.default !== undefined && s.default !== false && s.default !== "" ? ` (default ${Array.isArray(s.default) ? s.default.join(",") : s.default})` : "";
    return [flag, `${s.help}${def}`] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return [`usage: ${command} ${synopsis}`, "", ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`), footer].join("\n").trimEnd();
}

/** The highest core number a worker can be pinned to, plus one (cpu_set_t holds 1024). */
export const MAX_CORES = 1024;

/** "0-3,6" → [0,1,2,3,6], in the order given (a core may come twice: two workers on it). */
export function parseCoreList(command: string, text: string): number[] {
  const fix = "write it like 0,1 or 0-3 (decimal core numbers, no blanks, no empty items)";
  if (text === "") throw new UsageError(`${command}: the core list is empty`, fix);
  const cores: number[] = [];
  for (const part of text.split(",")) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) throw new UsageError(`${command}: core list "${text}" is malformed${part === "" ? " (an empty item)" : ` at "${part}"`}`, fix);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi >= MAX_CORES) throw new UsageError(`${command}: core ${hi} is out of range`, `give cores 0..${MAX_CORES - 1}`);
    if (hi < lo) throw new UsageError(`${command}: core range ${part} runs backwards`, `write ${hi}-${lo}`);
    for (let c = lo; c <= hi; c++) cores.push(c);
  }
  return cores;
}

/** "0-2,5" for [0,1,2,5]. */
export function formatCoreList(cores: readonly number[]): string {
  const sorted = [...new Set(cores)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return parts.join(",");
}

/**
 * The cores this process may run on: its affinity mask (what sched_getaffinity returns for the main thread),
 * as the kernel reports it in /proc/self/status; undefined when that cannot be read.
 */
export function allowedCores(statusPath = "/proc/self/status"): number[] | undefined {
  let text: string;
  try {
    text = readFileSync(statusPath, "utf8");
  } catch {
    return undefined;
  }
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(text);
  if (!m) return undefined;
  const cores: number[] = [];
  for (const part of m[1]!.split(",")) {
    const r = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!r) return undefined;
    for (let c = Number(r[1]); c <= Number(r[2] ?? r[1]); c++) cores.push(c);
  }
  return cores;
}

/**
 * Checks worker cores before anything starts: every core must be one this process may run on (`allowed`,
 * by default its affinity mask). Returns one warning line per core given to more than one worker: allowed
 * (workers that sleep when idle can share a core) but worth a word, since busy ones halve each other.
 */
export function checkCores(command: string, cores: readonly number[], allowed: readonly number[] | undefined = allowedCores()): string[] {
  if (allowed !== undefined) {
    const ok = new Set(allowed);
    const bad = [...new Set(cores.filter((c) => !ok.has(c)))];
    if (bad.length > 0) {
      throw new UsageError(`${command}: core${bad.length === 1 ? "" : "s"} ${bad.join(",")} ${bad.length === 1 ? "is" : "are"} not among the cores this process may run on (${formatCoreList(allowed)})`,
        `pick cores from ${formatCoreList(allowed)} (the affinity mask: taskset, cgroup cpusets and offline CPUs limit it)`);
    }
  }
  const counts = new Map<number, number>();
  for (const c of cores) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([c, n]) =>
    `${command}: warning: core ${c} runs ${n} workers: they share it (fine while they sleep; when busy each gets 1/${n} of the core)`);
}

/**
 * What a port spec opens, when two specs can name the same thing: the kernel interface (af_packet), the
 * PCI function, the ring link (two opens of one ring name are its two ends), the pcap file written. Ports
 * that share nothing (null, pcap input) have none.
 */
export interface PortResource {
  kind: "af_packet" | "pci" | "ring" | "pcap-out";
  /** The same key: the same resource. */
  key: string;
  /** "interface veth0", "PCI device 0000:03:00.0", "ring link a", "pcap file out.pcap". */
  what: string;
}

export function portResource(spec: string): PortResource | undefined {
  const pci = normalizePciAddress(spec);
  if (pci) return { kind: "pci", key: `pci:${pci}`, what: `PCI device ${pci}` };
  const colon = spec.indexOf(":");
  if (colon < 0) return undefined;
  const kind = spec.slice(0, colon).trim();
  const parts = spec.slice(colon + 1).split(",").map((p) => p.trim());
  const param = (name: string): string | undefined =>
    parts.find((p) => p.startsWith(`${name}=`))?.slice(name.length + 1) ?? parts.find((p) => p !== "" && !p.includes("="));
  const value = (name: string): string | undefined => {
    const v = param(name);
    return v === undefined || v === "" ? undefined : v;
  };
  switch (kind) {
    case "af_packet": {
      const iface = value("iface");
      return iface === undefined ? undefined : { kind: "af_packet", key: `af_packet:${iface}`, what: `interface ${iface}` };
    }
    case "ring": {
      const name = value("name");
      return name === undefined ? undefined : { kind: "ring", key: `ring:${name}`, what: `ring link ${name}` };
    }
    case "pci": {
      const addr = normalizePciAddress(value("addr") ?? "");
      return addr === undefined ? undefined : { kind: "pci", key: `pci:${addr}`, what: `PCI device ${addr}` };
    }
    case "pcap": {
      const out = parts.find((p) => p.startsWith("out="))?.slice(4);
      return out ? { kind: "pcap-out", key: `pcap-out:${resolve(out)}`, what: `pcap output file ${out}` } : undefined;
    }
    default:
      return undefined;
  }
}
