/**
 * Fuzzing port specs: splitSpec and checkParams (src/ethdev/spec.ts) and openPort's whole spec handling
 * through the package entry (src/index.ts), with every built-in driver registered.
 *
 * Safety: a random spec could name real things. Specs are generated from a grammar (kinds, the drivers' own
 * parameter names, junk keys, boundary values) and then mutated, and a spec is only opened when a guard
 * says it is harmless: an af_packet (or af_xdp) interface name must be one checked not to exist (or one the driver
 * refuses by its form), pcap files must lie inside this run's temp dir, and PCI addresses are looked up in
 * a recorded sysfs tree (test/fixtures/sysfs) instead of the machine's. Every port that opens is closed.
 *
 * Oracles: only our errors escape; splitSpec returns exactly the pairs of a spec built from a model (keys
 * such as "__proto__" included) and a parse that round-trips; checkParams returns only declared keys with
 * values of their declared types (whole numbers exact).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setPciHostPaths } from "../../drivers/pci/index.ts";
import { checkParams, splitSpec, type ParamSpec, type ParsedSpec } from "../../src/ethdev/spec.ts";
import { Mempool, openPort, type Port } from "../../src/index.ts";
import { treePaths } from "../../src/pci/paths.ts";
import { checkIfName } from "../../src/sys/netdev.ts";
import { driver as afPacketDriver } from "../../drivers/af_packet/index.ts";
import { driver as nullDriver } from "../../drivers/null/index.ts";
import { driver as pcapDriver } from "../../drivers/pcap/index.ts";
import { driver as pciDriver } from "../../drivers/pci/index.ts";
import { driver as ringDriver } from "../../drivers/ring/index.ts";
import { PcapWriter } from "../../drivers/pcap/file.ts";
import { check, fc, fuzzText, isOurError, outcome, prop, silence, type FuzzFamily, type FuzzTarget, type Tally } from "./harness.ts";

const DRIVERS = [afPacketDriver, nullDriver, pcapDriver, pciDriver, ringDriver];
const FIXTURES = join(import.meta.dir, "../fixtures/sysfs");

// ---- the temp dir and the names that are safe to use -------------------------------------------------

let dir = "";
let pool: Mempool | undefined;
/** Interface names checked not to exist on this machine. */
let ghostIfaces: string[] = [];

function setup(): void {
  dir = mkdtempSync(join(tmpdir(), "bdk-fuzz-spec-"));
  mkdirSync(join(dir, "sub"));
  const w = new PcapWriter(join(dir, "good.pcap"));
  w.frameAt(new Uint8Array(60).fill(7), 0, 60, 1, 2);
  w.close();
  const sll = new PcapWriter(join(dir, "sll.pcap"), { linkType: 113 });
  sll.frameAt(new Uint8Array(60), 0, 60, 1, 2);
  sll.close();
  const jumbo = new PcapWriter(join(dir, "jumbo.pcap"));
  jumbo.frameAt(new Uint8Array(9100), 0, 9100, 1, 2);
  jumbo.close();
  writeFileSync(join(dir, "garbage.pcap"), "this is not a pcap file at all");
  writeFileSync(join(dir, "empty.pcap"), "");
  const real = new Set(Object.keys(networkInterfaces()));
  ghostIfaces = ["bdkfz0", "bdkfz1", "nosuchif9", "ghost-eth", "x"].filter((n) => !real.has(n) && !existsSync(`/sys/class/net/${n}`));
  pool = Mempool.create({ count: 256, cacheSize: 0, hugepages: "never" });
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

function teardown(): void {
  setPciHostPaths(undefined);
  pool?.destroy();
  pool = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
}

const FILE_NAMES = ["good.pcap", "sll.pcap", "jumbo.pcap", "garbage.pcap", "empty.pcap", "missing.pcap", "sub", "sub/new.pcap", "nodir/x.pcap"];

/** True when opening `spec` can touch nothing real (see the file comment). */
function harmless(spec: string): boolean {
  let parsed: ParsedSpec;
  try {
    parsed = splitSpec(spec);
  } catch {
    return true; // refused before any driver runs
  }
  if (parsed.kind === "af_packet" || parsed.kind === "af_xdp") {
    const iface = parsed.positional ?? parsed.pairs.iface;
    if (iface === undefined) return true;
    try {
      checkIfName(String(iface));
    } catch {
      return true; // refused by its form
    }
    return ghostIfaces.includes(iface);
  }
  if (parsed.kind === "pcap") {
    for (const key of ["in", "out"]) {
      const v = Object.hasOwn(parsed.pairs, key) ? parsed.pairs[key] : undefined;
      if (v !== undefined && v !== "" && !resolve(v).startsWith(`${dir}/`)) return false;
    }
    if (parsed.positional !== undefined && parsed.positional !== "" && !resolve(parsed.positional).startsWith(`${dir}/`)) return false;
  }
  return true;
}

// ---- spec grammar --------------------------------------------------------------------------------------

const PROTO_KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];

function valueArb(key: string): fc.Arbitrary<string> {
  const ints = fc.oneof(
    fc.constantFrom("0", "1", "2", "4", "16", "64", "60", "9018", "9019", "256", "512", "1024", "2048", "4096", "65535", "65536", "4194304", "00064"),
    fc.nat().map(String),
    fc.constantFrom("-1", "1.5", "1e3", "0x10", "", " 7 ", "9007199254740991", "9007199254740993", "+4", "NaN", "Infinity"),
    fc.integer({ min: 15, max: 400 }).map((n) => "9".repeat(n)),
  );
  const bools = fc.constantFrom("1", "0", "true", "false", "yes", "no", "on", "off", "TRUE", "2", "", "maybe");
  const files = fc.constantFrom(...FILE_NAMES).map((f) => join(dir, f));
  const iface = fc.oneof(fc.constantFrom(...(ghostIfaces.length ? ghostIfaces : ["bdkfz0"])), fc.constantFrom("", "a/b", "x y", "toolongname_1234567", ".", "..", "a:b"));
  switch (key) {
    case "in":
    case "out":
      return files;
    case "iface":
      return iface;
    case "addr":
      return pciArb;
    case "qdisc_bypass":
    case "vnet_hdr":
    case "ns":
      return bools;
    case "mode":
      return fc.constantFrom("source", "sink", "both", "", "SOURCE", "x");
    case "name":
      return fc.oneof(fc.constantFrom("a", "b", "link", "x y", "é"), fc.string({ maxLength: 6 }));
    default:
      return fc.oneof(ints, bools, fc.string({ maxLength: 6 }));
  }
}

const pciArb = fc.oneof(
  fc.constantFrom("0000:00:02.0", "00:02.0", "0000:01:00.0", "0000:00:00.0", "0000:00:09.0", "0000:00:1f.7", "ffff:ff:ff.7", "00:02.8", "0:2.0"),
  fc.tuple(fc.nat({ max: 0xffff }), fc.nat({ max: 0xff }), fc.nat({ max: 0x1f }), fc.nat({ max: 7 })).map(
    ([d, b, s, f]) => `${d.toString(16).padStart(4, "0")}:${b.toString(16).padStart(2, "0")}:${s.toString(16).padStart(2, "0")}.${f}`,
  ),
);

interface SpecModel {
  kind: string;
  positional: string | undefined;
  pairs: [string, string][];
}

/** A spec from the drivers' own grammar: a kind, maybe a bare value, key=value pairs (declared, junk, proto). */
const specModelArb = (): fc.Arbitrary<SpecModel> =>
  fc.constantFrom(...DRIVERS.map((d) => d.kind), "nope", "").chain((kind) => {
    const d = DRIVERS.find((x) => x.kind === kind);
    const keys = [...Object.keys(d?.params ?? { size: 0 }), ...PROTO_KEYS, "junk", "IN"];
    const pair = fc.constantFrom(...keys).chain((k) => valueArb(k).map((v) => [k, v] as [string, string]));
    return fc.record({
      kind: fc.constant(kind),
      positional: fc.option(d?.positional ? valueArb(d.positional) : fc.constantFrom("x", "lo0"), { nil: undefined }),
      pairs: fc.uniqueArray(pair, { selector: ([k]) => k, maxLength: 4 }),
    });
  });

function specText(m: SpecModel, sep: string): string {
  const parts = [...(m.positional !== undefined ? [m.positional] : []), ...m.pairs.map(([k, v]) => `${k}=${v}`)];
  return parts.length ? `${m.kind}:${parts.join(sep)}` : m.kind;
}

/** Specs that a driver accepts, or nearly: declared keys only, values from the edges of their ranges. */
const goodSpecArb = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.tuple(fc.constantFrom("", "size=60", "size=64", "size=9018", "size=59", "size=9019"), fc.constantFrom("", "mode=source", "mode=sink", "mode=both")).map(([a, b]) =>
      `null${a || b ? `:${[a, b].filter(Boolean).join(",")}` : ""}`,
    ),
    fc.constantFrom("a", "b", "c", "name=a", "name=d").map((n) => `ring:${n}`),
    fc.tuple(fc.constantFrom("in=good.pcap", "in=sll.pcap", "in=jumbo.pcap", "in=garbage.pcap", "in=empty.pcap", "in=missing.pcap", "in=sub", ""), fc.constantFrom("", "out=sub/o.pcap", "out=nodir/o.pcap"), fc.constantFrom("", "loop=0", "loop=3", "ns=1"))
      .map(([i, o, l]) => `pcap:${[i && i.replace(/^in=/, `in=${dir}/`), o && o.replace(/^out=/, `out=${dir}/`), l].filter(Boolean).join(",")}`),
    fc.tuple(fc.constantFrom(...(ghostIfaces.length ? ghostIfaces : ["bdkfz0"])), fc.constantFrom("", ",queues=2", ",frames=512", ",frame_size=2048", ",block_size=4096", ",fanout=7", ",vnet_hdr=0")).map(([i, x]) => `af_packet:${i}${x}`),
    pciArb,
    pciArb.map((a) => `pci:${a}`),
  );

const specArb = (): fc.Arbitrary<string> => {
  const valid = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(specModelArb(), fc.constantFrom(",", ", ", " ,", ",,")).map(([m, sep]) => specText(m, sep)) },
    { weight: 3, arbitrary: goodSpecArb() },
  );
  return fuzzText(valid);
};

// ---- targets -------------------------------------------------------------------------------------------

const splitSpecModel: FuzzTarget = {
  name: "splitSpec(spec from a model) = the model",
  property: (t: Tally) =>
    prop([specModelArb(), fc.constantFrom(",", ", ", " , ")], (m, sep) => {
      const spec = specText(m, sep);
      const r = outcome(t, `splitSpec(${JSON.stringify(spec)})`, () => splitSpec(spec));
      const pci = spec.trim() !== "" && /^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(spec.trim());
      const empties = m.kind.trim() === "" && m.positional === undefined && m.pairs.length === 0;
      if (!r.ok) {
        // Refusals the grammar allows: an empty spec, a bare value that is empty or holds "=" or ",".
        const badBare = m.positional !== undefined && (m.positional.trim() === "" || /[=,]/.test(m.positional));
        const badPair = m.pairs.some(([, v]) => v.includes(","));
        check(empties || badBare || badPair, () => `splitSpec(${JSON.stringify(spec)}) refused a well-formed spec: ${r.error.message}`);
        return;
      }
      if (pci) return;
      const p = r.value;
      const clean = m.pairs.every(([, v]) => !v.includes(",")) && (m.positional === undefined || !/[=,]/.test(m.positional));
      if (!clean) return;
      check(p.kind === m.kind.trim(), `kind ${p.kind}`);
      const wantPos = m.positional === undefined || m.positional.trim() === "" ? undefined : m.positional.trim();
      check(p.positional === wantPos, () => `positional ${JSON.stringify(p.positional)}, expected ${JSON.stringify(wantPos)}`);
      const want = m.pairs.map(([k, v]) => [k.trim(), v.trim()]);
      const got = Object.entries(p.pairs);
      check(
        got.length === want.length && want.every(([k, v]) => Object.hasOwn(p.pairs, k!) && p.pairs[k!] === v),
        () => `splitSpec(${JSON.stringify(spec)}) pairs ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
      );
    }),
};

/** The parameter tables of the real drivers, and a made-up one with every type. */
const TABLES: { declared: Record<string, ParamSpec>; positional: string | undefined }[] = [
  ...DRIVERS.map((d) => ({ declared: d.params, positional: d.positional })),
  { declared: { n: { type: "int", help: "" }, b: { type: "bool", help: "" }, s: { type: "string", help: "", required: true } }, positional: "s" },
];

const checkParamsTarget: FuzzTarget = {
  name: "splitSpec + checkParams (mutated and random specs, every driver's table)",
  property: (t: Tally) =>
    prop([specArb(), fc.nat({ max: TABLES.length - 1 })], (spec, which) => {
      const parsed = outcome(t, `splitSpec(${JSON.stringify(spec)})`, () => splitSpec(spec));
      if (!parsed.ok) return;
      const p = parsed.value;
      // The table of the spec's own driver when there is one (as openPort does), else any.
      const own = DRIVERS.find((d) => d.kind === p.kind);
      const table = own && which > 0 ? { declared: own.params, positional: own.positional } : TABLES[which]!;
      check(typeof p.kind === "string" && p.kind === p.kind.trim(), "kind not trimmed");
      for (const [k, v] of Object.entries(p.pairs)) check(k === k.trim() && v === v.trim() && !k.includes(","), `pair ${k}=${v}`);
      // Re-serialising the parse gives the same parse.
      if (p.kind !== "pci" && !p.kind.includes(":") && Object.keys(p.pairs).every((k) => !k.includes("=") && k !== "")) {
        const again = specText({ kind: p.kind, positional: p.positional, pairs: Object.entries(p.pairs) }, ",");
        if (again.trim() !== "" && !/^(?:[0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(again.trim())) {
          const r2 = outcome(t, `splitSpec(${JSON.stringify(again)})`, () => splitSpec(again));
          check(r2.ok && Bun.deepEquals({ ...r2.value, pairs: { ...r2.value.pairs } }, { ...p, pairs: { ...p.pairs } }), () => `splitSpec(${JSON.stringify(again)}) does not give back the parse of ${JSON.stringify(spec)}`);
        }
      }
      const r = outcome(t, `checkParams(${JSON.stringify(spec)})`, () => checkParams(spec, p, table.declared, table.positional));
      if (!r.ok) return;
      t.hit(Object.keys(r.value).length > 0 ? "params accepted" : "no params");
      for (const [k, v] of Object.entries(r.value)) {
        check(Object.hasOwn(table.declared, k), `checkParams returned the undeclared key "${k}"`);
        const type = table.declared[k]!.type;
        if (type === "int") check(typeof v === "number" && Number.isSafeInteger(v) && v >= 0, () => `${k}=${v}: not an exact whole number`);
        if (type === "bool") check(typeof v === "boolean", `${k}: not a boolean`);
        if (type === "string") check(typeof v === "string" && v !== "", `${k}: not a non-empty string`);
      }
      for (const [k, s] of Object.entries(table.declared)) if (s.required) check(Object.hasOwn(r.value, k), `required ${k} missing`);
    }),
};

const OPTION_VALUES = fc.oneof(
  fc.constantFrom(0, 1, 2, 4, 16, 64, 68, 256, 512, 1500, 9000, 65536, -1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 53),
  fc.constantFrom("1", true, false, null, {}, [] as unknown),
);

const goodOptionsArb: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    rxQueues: fc.constantFrom(1, 2),
    txQueues: fc.constantFrom(1, 2),
    rxRingSize: fc.constantFrom(64, 256, 512),
    txRingSize: fc.constantFrom(64, 256, 512),
    promiscuous: fc.boolean(),
    mtu: fc.constantFrom(68, 1500, 2000, 9000),
    usePool: fc.boolean(),
  },
  { requiredKeys: [] },
);

const optionsArb = (): fc.Arbitrary<Record<string, unknown> | undefined> =>
  fc.oneof(fc.constant(undefined), goodOptionsArb, fc.option(
    fc.record(
      {
        rxQueues: OPTION_VALUES,
        txQueues: OPTION_VALUES,
        rxRingSize: OPTION_VALUES,
        txRingSize: OPTION_VALUES,
        promiscuous: fc.constantFrom(true, false, 1, "yes"),
        mtu: OPTION_VALUES,
        allowUnsafeNoIommu: fc.constantFrom(true, false, "no"),
        usePool: fc.constant(true),
        bogus: fc.constant(1),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ));

const openPortTarget: FuzzTarget = {
  name: "openPort(random spec, random options) through src/index.ts",
  property: (t: Tally) =>
    prop([fc.oneof(goodSpecArb(), specArb()), optionsArb(), fc.constantFrom("kernel-drivers", "no-iommu", "vfio-e1000")], (spec, rawOpts, tree) => {
      fc.pre(harmless(spec));
      setPciHostPaths(treePaths(join(FIXTURES, tree)));
      let opts: Record<string, unknown> | undefined;
      if (rawOpts) {
        const { usePool, ...rest } = rawOpts;
        opts = usePool ? { ...rest, pool } : rest;
      }
      const ports: Port[] = [];
      const fdsBefore = openFds();
      try {
        const r = outcome(t, `openPort(${JSON.stringify(spec)}, ${JSON.stringify(rawOpts)})`, () => {
          const p = silence(() => openPort(spec, opts as Parameters<typeof openPort>[1]));
          ports.push(p);
          return p;
        });
        const kind = (() => {
          try {
            return splitSpec(spec).kind;
          } catch {
            return "bad spec";
          }
        })();
        if (r.ok) {
          check(typeof r.value.close === "function", "openPort returned no port");
          t.hit(`opened ${kind}${opts?.pool ? " (configured)" : ""}`);
        } else {
          check(r.error.message.trim() !== "", "an error without a message");
          t.hit(`refused ${DRIVERS.some((d) => d.kind === kind) ? kind : "other"}${r.error.name === "SysError" ? " (SysError)" : ""}`);
        }
      } finally {
        for (const p of ports) {
          try {
            p.close();
          } catch (e) {
            if (!isOurError(e)) throw e;
          }
        }
      }
      // A refused or closed port leaves no file descriptor behind (sockets, pcap files, VFIO nodes).
      const fdsAfter = openFds();
      check(fdsAfter <= fdsBefore, () => `openPort(${JSON.stringify(spec)}) left ${fdsAfter - fdsBefore} file descriptor(s) open`);
    }),
};

export const family: FuzzFamily = {
  name: "spec",
  setup,
  teardown,
  targets: [splitSpecModel, checkParamsTarget, openPortTarget],
};
