// Port specs: "0000:00:02.0" (a PCI function), or "KIND[:ARGS]" for software ports, where ARGS is a bare
// value ("af_packet:veth0") or key=value pairs ("pcap:in=a.pcap,out=b.pcap"). Parsing and checking of the
// arguments against what a driver declares, with errors that list what is accepted.
import { normalizePciAddress } from "../pci/address.ts";
import { BdkError } from "../sys/errors.ts";

export { normalizePciAddress };

export type ParamType = "string" | "int" | "bool";
export type ParamValue = string | number | boolean;
export type Params = Record<string, ParamValue>;

export interface ParamSpec {
  type: ParamType;
  help: string;
  required?: boolean;
}

export interface ParsedSpec {
  kind: string;
  /** The bare value, when ARGS had no "=". */
  positional: string | undefined;
  /** key=value pairs, in an object without a prototype: a key such as "__proto__" or "constructor" is just a key. */
  pairs: Record<string, string>;
}

/** An empty record without a prototype: keys are the spec's own, never Object.prototype's. */
function record<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function splitSpec(spec: string): ParsedSpec {
  if (typeof spec !== "string" || spec.trim() === "") {
    throw new BdkError(`empty port spec`, "give a PCI address (0000:00:02.0) or a software port such as af_packet:eth0, ring:a, null, pcap:in=FILE");
  }
  // A PCI address, alone or followed by ,key=value pairs ("0000:01:00.0,vectors=3").
  const comma = spec.indexOf(",");
  const pci = normalizePciAddress(comma < 0 ? spec : spec.slice(0, comma));
  if (pci) {
    const rest = comma < 0 ? { pairs: record<string>() } : splitSpec(`pci:${spec.slice(comma + 1)}`);
    if ("positional" in rest && rest.positional !== undefined) throw new BdkError(`port spec "${spec}": "${rest.positional}" after the PCI address`, "give key=value pairs after it, e.g. 0000:01:00.0,vectors=3");
    return { kind: "pci", positional: pci, pairs: rest.pairs };
  }
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const args = colon < 0 ? "" : spec.slice(colon + 1);
  const pairs = record<string>();
  let positional: string | undefined;
  for (const part of args.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const eq = part.indexOf("=");
    if (eq < 0) {
      if (positional !== undefined) throw new BdkError(`port spec "${spec}": two bare values ("${positional}", "${part}")`, "give one bare value and key=value for the rest");
      positional = part;
    } else {
      const key = part.slice(0, eq).trim();
      if (Object.hasOwn(pairs, key)) throw new BdkError(`port spec "${spec}": "${key}" given twice`, "give each key once");
      pairs[key] = part.slice(eq + 1).trim();
    }
  }
  return { kind, positional, pairs };
}

/** Checks and converts spec arguments against a driver's declared parameters. */
export function checkParams(spec: string, parsed: ParsedSpec, declared: Record<string, ParamSpec>, positionalName: string | undefined): Params {
  const list = (): string => Object.entries(declared).map(([k, p]) => `${k}=<${p.type}> (${p.help})`).join(", ") || "none";
  const out = record<ParamValue>();
  const raw = Object.assign(record<string>(), parsed.pairs);
  if (parsed.positional !== undefined) {
    if (!positionalName) throw new BdkError(`port spec "${spec}": "${parsed.positional}" is not key=value`, `accepted: ${list()}`);
    if (Object.hasOwn(raw, positionalName)) throw new BdkError(`port spec "${spec}": ${positionalName} given twice`, "give it once");
    raw[positionalName] = parsed.positional;
  }
  for (const [key, text] of Object.entries(raw)) {
    const p = Object.hasOwn(declared, key) ? declared[key] : undefined;
    if (!p) throw new BdkError(`port spec "${spec}": unknown argument "${key}"`, `accepted: ${list()}`);
    out[key] = convert(spec, key, text, p.type);
  }
  for (const [key, p] of Object.entries(declared)) {
    if (p.required && !Object.hasOwn(out, key)) throw new BdkError(`port spec "${spec}": missing ${key}`, `accepted: ${list()}`);
  }
  return out;
}

function convert(spec: string, key: string, text: string, type: ParamType): ParamValue {
  switch (type) {
    case "string":
      if (text === "") throw new BdkError(`port spec "${spec}": ${key} is empty`, `give ${key}=<value>`);
      return text;
    case "int": {
      if (!/^\d+$/.test(text)) throw new BdkError(`port spec "${spec}": ${key}="${text}" is not a whole number`, `give ${key}=<0,1,2…>`);
      const n = Number(text);
      // More digits than a double holds exactly ("99999999999999999999", or 400 nines: Infinity) is no count.
      if (!Number.isSafeInteger(n)) throw new BdkError(`port spec "${spec}": ${key}=${text} is too large`, `give ${key}=<0..${Number.MAX_SAFE_INTEGER}>`);
      return n;
    }
    case "bool":
      if (/^(1|true|yes|on)$/i.test(text)) return true;
      if (/^(0|false|no|off)$/i.test(text)) return false;
      throw new BdkError(`port spec "${spec}": ${key}="${text}" is not a boolean`, `give ${key}=1 or ${key}=0`);
  }
}
