/**
 * The fuzz harness: property-based fuzzing of bdk's parsers with fast-check.
 *
 * Each family file (pcap.ts, net.ts, spec.ts, args.ts) exports a `FuzzFamily`: its targets (one fast-check
 * property each) and the setup/teardown they need (temp files). Two runners use them:
 * - `bun run fuzz` (test/fuzz/run.ts): every target with `FUZZ_RUNS` cases (default 100 000), one child
 *   process per family under a watchdog (a hang is reported, not waited for);
 * - `test/unit/fuzz-short.test.ts`: every target with ~1000 cases inside `npm test`.
 *
 * What every target checks, whatever else it checks: a call either returns or throws one of our errors
 * (`BdkError` and subclasses — PcapError, UsageError — or `SysError`); anything else (TypeError,
 * RangeError, a plain Error) fails the case, and so does a call that takes longer than `FUZZ_SLOW_MS`.
 *
 * Environment: FUZZ_RUNS (cases per target), FUZZ_SEED (fast-check seed), FUZZ_ONLY (substring of the
 * target names to run), FUZZ_SLOW_MS (per-call limit, default 2000 ms: far above any parser call, far below an
 * exponential blow-up), FUZZ_TRACE=1 (print every input before running it: to find the input of a hang).
 */
import fc from "fast-check";
import { SysError } from "../../src/sys/errno.ts";
import { BdkError } from "../../src/sys/errors.ts";

export { fc };

export const DEFAULT_RUNS = 100_000;

/** Cases per target: FUZZ_RUNS, else `dflt`. */
export function fuzzRuns(dflt: number = DEFAULT_RUNS): number {
  const env = process.env.FUZZ_RUNS;
  if (env === undefined || env === "") return dflt;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS="${env}" is not a whole number ≥ 1`);
  return n;
}

export function fuzzSeed(): number | undefined {
  const env = process.env.FUZZ_SEED;
  if (env === undefined || env === "") return undefined;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED="${env}" is not an integer`);
  return n;
}

const SLOW_MS = Number(process.env.FUZZ_SLOW_MS ?? 2000);
const TRACE = process.env.FUZZ_TRACE === "1";

/** How the calls of one target ended. */
export class Tally {
  /** Calls that returned. */
  accepted = 0;
  /** Calls that threw one of our errors. */
  refused = 0;
  /** The slowest call, in ms. */
  slowestMs = 0;
  /** How often named deep paths were reached ("valid header", "udp checksum"), to show what the inputs reach. */
  readonly hits = new Map<string, number>();
  hit(label: string): void {
    this.hits.set(label, (this.hits.get(label) ?? 0) + 1);
  }
  /** "valid header 812, udp checksum 240". */
  hitsText(): string {
    return [...this.hits].map(([k, n]) => `${k} ${n}`).join(", ");
  }
}

export interface FuzzTarget {
  /** "parsePcap(mutated files)". */
  name: string;
  /** Builds the property; predicates report each call's ending through `outcome(tally, …)`. */
  property(tally: Tally): fc.IProperty<any>;
  /** Share of the run count (default 1); below 1 only for targets whose one case costs a large file write. */
  share?: number;
}

export interface FuzzFamily {
  name: string;
  targets: FuzzTarget[];
  setup?(): void;
  teardown?(): void;
}

export function isOurError(e: unknown): boolean {
  return e instanceof BdkError || e instanceof SysError;
}

/** Result of one call under the harness: the value, or the error of ours it threw. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/** Describes a thrown value in one line with its stack's top: for failure reports. */
function describeThrown(e: unknown): string {
  if (e instanceof Error) {
    const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 4).join("\n");
    return `${e.name}: ${e.message}\n${frames}`;
  }
  return `a non-Error value: ${String(e)}`;
}

/**
 * Runs `f` once: returns what it returned or the error of ours it threw, and counts it in `tally`.
 * Any other exception, or a call slower than FUZZ_SLOW_MS, throws (the case fails, fast-check shrinks it).
 */
export function outcome<T>(tally: Tally, what: string, f: () => T): Outcome<T> {
  const t0 = performance.now();
  let result: Outcome<T>;
  try {
    result = { ok: true, value: f() };
  } catch (e) {
    if (e instanceof CheckFailed) throw e;
    if (!isOurError(e)) {
      const err = new Error(`${what}: threw ${describeThrown(e)}`);
      err.stack = err.message;
      throw err;
    }
    result = { ok: false, error: e as Error };
  }
  const ms = performance.now() - t0;
  if (ms > tally.slowestMs) tally.slowestMs = ms;
  if (ms > SLOW_MS) throw new Error(`${what}: took ${ms.toFixed(0)} ms (limit FUZZ_SLOW_MS=${SLOW_MS})`);
  if (result.ok) tally.accepted++;
  else tally.refused++;
  return result;
}

/** A property's own check that failed (not an exception of the code under test). */
export class CheckFailed extends Error {
  override name = "CheckFailed";
}

/** Fails the case with `message` unless `cond`. */
export function check(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) {
    const e = new CheckFailed(typeof message === "string" ? message : message());
    e.stack = `CheckFailed: ${e.message}`;
    throw e;
  }
}

/** Runs `f` with console.warn / console.error muted (notes and warnings the code under test prints). */
export function silence<T>(f: () => T): T {
  const err = console.error;
  const warn = console.warn;
  console.error = () => {};
  console.warn = () => {};
  try {
    return f();
  } finally {
    console.error = err;
    console.warn = warn;
  }
}

/** Prints the input of a case before it runs when FUZZ_TRACE=1. */
export function trace(input: unknown): void {
  if (TRACE) process.stderr.write(`fuzz input: ${fc.stringify(input)}\n`);
}

/** fc.property with tracing: `predicate` gets the generated values. */
export function prop<Ts extends [unknown, ...unknown[]]>(
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => void,
): fc.IProperty<Ts> {
  const property = fc.property as unknown as (...a: unknown[]) => fc.IProperty<Ts>;
  return property(...(arbs as unknown as unknown[]), (...args: unknown[]) => {
    trace(args);
    predicate(...(args as Ts));
  });
}

/** Runs one target with `runs` cases; throws fast-check's report (seed, counterexample, error) on failure. */
export function runTarget(target: FuzzTarget, runs: number, tally: Tally = new Tally(), defaultSeed?: number): void {
  const seed = fuzzSeed() ?? defaultSeed;
  fc.assert(target.property(tally), {
    numRuns: Math.max(1, Math.round(runs * (target.share ?? 1))),
    ...(seed !== undefined ? { seed } : {}),
    // Enough skipped cases (fc.pre) allowed for guarded generators such as port specs.
    maxSkipsPerRun: 1000,
    includeErrorInReport: true,
  });
}

// ---- hex ------------------------------------------------------------------------------------------

export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  const out = new Uint8Array(t.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---- byte mutations -------------------------------------------------------------------------------

/** Values that tend to sit on boundaries of length and type fields. */
const INTERESTING = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 23, 24, 28, 39, 40, 41, 59, 60, 63, 64, 127, 128, 255, 256,
  0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 1500, 1514, 9018, 9019, 0x7fff, 0x8000, 0xffff, 0x10000, 262144, 262145,
  0x7fffffff, 0x80000000, 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a, 0xffffffff,
];

export type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; value: number }
  | { op: "word"; at: number; value: number; width: 1 | 2 | 4; le: boolean }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "delete"; at: number; len: number }
  | { op: "truncate"; at: number }
  | { op: "copy"; from: number; to: number; len: number };

export function mutationArb(): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant("flip" as const), at, bit: fc.integer({ min: 0, max: 7 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("set" as const), at, value: fc.integer({ min: 0, max: 255 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("word" as const),
        at,
        value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 0xffffffff })),
        width: fc.constantFrom(1 as const, 2 as const, 4 as const),
        le: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("insert" as const), at, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 24 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), at, len: fc.integer({ min: 1, max: 24 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("truncate" as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("copy" as const), from: fc.nat(), to: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }) },
  );
}

/** Applies `ms` in order to a copy of `base` (positions wrap around the current length). */
export function applyMutations(base: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(base);
  for (const m of ms) {
    const n = b.length;
    switch (m.op) {
      case "flip":
        if (n > 0) b[m.at % n] ^= 1 << m.bit;
        break;
      case "set":
        if (n > 0) b[m.at % n] = m.value;
        break;
      case "word": {
        if (n < m.width) break;
        const p = m.at % (n - m.width + 1);
        for (let i = 0; i < m.width; i++) {
          const shift = 8 * (m.le ? i : m.width - 1 - i);
          b[p + i] = Math.floor(m.value / 2 ** shift) & 0xff;
        }
        break;
      }
      case "insert": {
        const p = m.at % (n + 1);
        const nb = new Uint8Array(n + m.bytes.length);
        nb.set(b.subarray(0, p), 0);
        nb.set(m.bytes, p);
        nb.set(b.subarray(p), p + m.bytes.length);
        b = nb;
        break;
      }
      case "delete": {
        if (n === 0) break;
        const p = m.at % n;
        const len = Math.min(m.len, n - p);
        const nb = new Uint8Array(n - len);
        nb.set(b.subarray(0, p), 0);
        nb.set(b.subarray(p + len), p);
        b = nb;
        break;
      }
      case "truncate":
        b = b.slice(0, m.at % (n + 1));
        break;
      case "copy": {
        if (n === 0) break;
        const from = m.from % n;
        const to = m.to % n;
        const len = Math.min(m.len, n - from, n - to);
        b.copyWithin(to, from, from + len);
        break;
      }
    }
  }
  return b;
}

/** Makes fast-check print `b` as hex in a counterexample (shorter than its default list of numbers). */
export function hexShown(b: Uint8Array): Uint8Array {
  Object.defineProperty(b, fc.toStringMethod, { value: () => `fromHex("${toHex(b)}")`, enumerable: false });
  return b;
}

/** Bytes from `seeds`, then up to `maxOps` mutations (fast-check shrinks toward fewer mutations). */
export function mutatedBytes(seeds: fc.Arbitrary<Uint8Array>, maxOps: number = 6): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(seeds, fc.array(mutationArb(), { maxLength: maxOps }))
    .map(([b, ms]) => hexShown(applyMutations(b, ms)));
}

// ---- string mutations -----------------------------------------------------------------------------

/** Characters and fragments that parsers split on, trim, or mis-handle. */
const STRING_BITS = [
  ":", "::", ".", "-", ",", "=", " ", "  ", "\t", "\n", "\u0000", "\u00a0", "\ufeff", "\u2028", "0", "00", "1", "9", "a", "f",
  "F", "g", "x", "0x", "ff", "ffff", "255", "256", "65535", "99999999999999999999", "1e3", "-1", "+1", "/", "..", "%",
  "__proto__", "constructor", "toString", "hasOwnProperty", "(", ")", "é", "😀", "--", "no-",
];

export type StrMutation =
  | { op: "insert"; at: number; text: string }
  | { op: "delete"; at: number; len: number }
  | { op: "replace"; at: number; text: string }
  | { op: "dup"; at: number; len: number }
  | { op: "case"; at: number };

export function strMutationArb(): fc.Arbitrary<StrMutation> {
  const text = fc.oneof(fc.constantFrom(...STRING_BITS), fc.string({ maxLength: 4 }), fc.string({ unit: "binary", maxLength: 2 }));
  return fc.oneof(
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text }),
    fc.record({ op: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ op: fc.constant("replace" as const), at: fc.nat(), text }),
    fc.record({ op: fc.constant("dup" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ op: fc.constant("case" as const), at: fc.nat() }),
  );
}

export function applyStrMutations(base: string, ms: readonly StrMutation[]): string {
  let s = base;
  for (const m of ms) {
    const n = s.length;
    const p = m.at % (n + 1);
    switch (m.op) {
      case "insert":
        s = s.slice(0, p) + m.text + s.slice(p);
        break;
      case "delete":
        s = s.slice(0, p) + s.slice(p + m.len);
        break;
      case "replace":
        s = s.slice(0, p) + m.text + s.slice(p + m.text.length);
        break;
      case "dup":
        s = s.slice(0, p) + s.slice(p, p + m.len) + s.slice(p);
        break;
      case "case": {
        const c = s.charAt(p);
        s = s.slice(0, p) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(p + 1);
        break;
      }
    }
  }
  return s;
}

/** Strings from `seeds`, then up to `maxOps` edits. */
export function mutatedString(seeds: fc.Arbitrary<string>, maxOps: number = 4): fc.Arbitrary<string> {
  return fc.tuple(seeds, fc.array(strMutationArb(), { maxLength: maxOps })).map(([s, ms]) => applyStrMutations(s, ms));
}

/** Valid-looking text, mutated text and plain random text, mixed. */
export function fuzzText(seeds: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: seeds },
    { weight: 5, arbitrary: mutatedString(seeds) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...STRING_BITS), { maxLength: 10 }).map((a) => a.join("")) },
  );
}
