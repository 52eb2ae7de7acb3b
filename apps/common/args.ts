// A small declarative command-line parser shared by the apps and the bdk commands: long options with
// `--key value` or `--key=value`, short aliases, `--no-key` for booleans, positionals, generated help,
// and one-line errors that name the option and what it accepts.
import { BdkError } from "../../src/index.ts";

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
}

export type OptionSpecs = Record<string, OptionSpec>;

export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]: S[K]["type"] extends "bool" ? boolean
    : S[K]["type"] extends "int" | "number" ? number
      : S[K]["type"] extends "list" ? string[]
        : string;
} & { _: string[]; help: boolean };

export class UsageError extends BdkError {}

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
    let spec = specs[key];
    if (!spec && key.startsWith("no-") && specs[key.slice(3)]?.type === "bool") {
      if (inline !== undefined) throw new UsageError(`${command}: ${arg} takes no value`, `write --${key}`);
      out[key.slice(3)] = false;
      continue;
    }
    if (!spec) throw unknown(command, arg, specs);
    if (spec.type === "bool") {
      if (inline === undefined) out[key] = true;
      else out[key] = parseBool(command, key, inline);
      continue;
    }
    const text = inline ?? argv[++i];
    if (text === undefined) throw new UsageError(`${command}: --${key} needs a value`, `write --${key} ${spec.value ?? "VALUE"}`);
    const v = convert(command, key, spec, text);
    if (spec.type === "list") (out[key] as string[]).push(...(v as string[]));
    else out[key] = v;
  }
  return out as ParsedOptions<S>;
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
      const n = Number(text);
      const ok = text.trim() !== "" && Number.isFinite(n) && (spec.type === "number" || Number.isInteger(n));
      if (!ok) throw new UsageError(`${command}: --${key} expects ${spec.type === "int" ? "a whole number" : "a number"}, got "${text}"`, `e.g. --${key} ${spec.default ?? 1}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${command}: --${key} ${text} is out of range`, `give ${spec.min ?? "…"}..${spec.max ?? "…"}`);
      }
      return n;
    }
    case "list":
      return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
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

/** "0-3,6" → [0,1,2,3,6]. */
export function parseCoreList(command: string, text: string): number[] {
  const cores: number[] = [];
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`${command}: core list "${text}" is malformed`, "write it like 0,1 or 0-3");
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new UsageError(`${command}: core range ${part} runs backwards`, `write ${hi}-${lo}`);
    for (let c = lo; c <= hi; c++) cores.push(c);
  }
  return cores;
}
