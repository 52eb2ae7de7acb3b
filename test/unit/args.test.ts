// The shared command-line parser (apps/common/args.ts): one strict number grammar, ranges named with
// min and max, no empty values, options given once, core lists checked against the affinity mask, and
// the resource a port spec opens (for "the same port twice").
import { describe, expect, test } from "bun:test";
import {
  allowedCores, checkCores, formatCoreList, parseArgs, parseCoreList, portResource, strictInt, strictNumber, type OptionSpecs,
} from "../../apps/common/args.ts";

const SPECS = {
  burst: { type: "int", alias: "b", default: 32, min: 1, max: 1024, value: "N", help: "frames per burst" },
  offset: { type: "int", min: -10, max: 10, value: "N", help: "a signed one" },
  period: { type: "number", default: 10, min: 0, max: 86400, value: "S", help: "seconds" },
  pool: { type: "int", default: 8192, min: 64, max: 16777216, value: "N", help: "buffers" },
  ring: { type: "int", default: 512, min: 64, max: 65536, powerOfTwo: true, value: "N", help: "descriptors" },
  tx: { type: "string", value: "SPEC", help: "a port" },
  mode: { type: "string", choices: ["a", "b"], value: "M", help: "a choice" },
  json: { type: "bool", help: "JSON" },
  reserve: { type: "list", value: "SIZE:COUNT", help: "repeatable" },
} satisfies OptionSpecs;
const parse = (...argv: string[]) => parseArgs("t", SPECS, argv);

describe("one number grammar", () => {
  test("whole numbers: decimal digits only; no exponent, hex, blanks, '+', fraction or empty text", () => {
    expect(parse("-b", "64").burst).toBe(64);
    expect(parse("--burst=007").burst).toBe(7);
    for (const bad of ["1e3", "0x20", " 32", "32 ", "+5", "3.5", "1_000", "٣", "Infinity", "32k"]) {
      expect(() => parse("-b", bad)).toThrow(`t: --burst expects a whole number, got "${bad}"; write decimal digits, e.g. --burst 32`);
    }
    expect(() => parse("-b", "")).toThrow("t: --burst needs a value, got an empty one; write --burst N (or leave it out: 32)");
    expect(strictInt("12")).toBe(12);
    expect(strictInt("-12")).toBe(-12);
    for (const bad of ["", " 1", "1e3", "0x1", "+1", "1.0", "99999999999999999999"]) expect(strictInt(bad)).toBeUndefined();
  });

  test("numbers: plain decimals (1, 1.5, 0.25), the same refusals", () => {
    expect(parse("--period", "3.5").period).toBe(3.5);
    expect(parse("--period", "0.25").period).toBe(0.25);
    expect(parse("--period", "1").period).toBe(1);
    for (const bad of ["1e1", ".5", "5.", "0x10", " 1", "1,5", "NaN"]) {
      expect(() => parse("--period", bad)).toThrow(`t: --period expects a number, got "${bad}"`);
    }
    expect(strictNumber("1.5")).toBe(1.5);
    expect(strictNumber("1e3")).toBeUndefined();
  });

  test("a sign only where the range goes below zero; elsewhere a negative is out of range, with the range", () => {
    expect(parse("--offset", "-3").offset).toBe(-3);
    expect(() => parse("-b", "-5")).toThrow("t: --burst -5 is out of range; give 1..1024");
    expect(() => parse("--period", "-0")).toThrow("t: --period -0 is out of range; give 0..86400");
  });

  test("too small and too large name the same range, from min and max", () => {
    expect(() => parse("--pool", "0")).toThrow("t: --pool 0 is out of range; give 64..16777216");
    expect(() => parse("--pool", "99999999999")).toThrow("t: --pool 99999999999 is out of range; give 64..16777216");
    expect(() => parse("--pool", "9".repeat(30))).toThrow("is out of range; give 64..16777216");
  });

  test("a power of two out of range is out of range; in range but not a power of two says so", () => {
    expect(() => parse("--ring", "1048576")).toThrow("t: --ring 1048576 is out of range; give 64..65536");
    expect(() => parse("--ring", "1000")).toThrow("t: --ring 1000 is not a power of two; give a power of two in 64..65536, e.g. 512 or 1024");
    expect(parse("--ring", "4096").ring).toBe(4096);
  });
});

describe("values and repetition", () => {
  test("no empty values, no empty list items", () => {
    expect(() => parse("--tx", "")).toThrow("t: --tx needs a value, got an empty one; write --tx SPEC");
    expect(() => parse("--reserve=")).toThrow("t: --reserve needs a value, got an empty one");
    expect(() => parse("--reserve", "2M:1,,1G:1")).toThrow('t: --reserve "2M:1,,1G:1" has an empty item');
    expect(() => parse("--reserve", "2M:1,")).toThrow("has an empty item");
  });

  test("an option that is not a list is given once, in whatever form", () => {
    expect(() => parse("--tx", "ring:a", "--tx", "ring:b")).toThrow('t: --tx given twice ("--tx ring:a" and "--tx ring:b"); give it once');
    expect(() => parse("-b", "32", "--burst=64")).toThrow('t: --burst given twice ("-b 32" and "--burst=64")');
    expect(() => parse("--json", "--no-json")).toThrow('t: --json given twice ("--json" and "--no-json")');
    expect(() => parse("--mode", "a", "--mode", "a")).toThrow("--mode given twice");
    // Lists add up.
    expect(parse("--reserve", "2M:1", "--reserve", "1G:1,1G:2").reserve).toEqual(["2M:1", "1G:1", "1G:2"]);
  });
});

describe("core lists", () => {
  test("strict: no empty list, no empty items, decimal core numbers below 1024", () => {
    expect(parseCoreList("l2fwd", "0-3,6")).toEqual([0, 1, 2, 3, 6]);
    expect(parseCoreList("l2fwd", "0,1,0")).toEqual([0, 1, 0]);
    expect(() => parseCoreList("l2fwd", "")).toThrow("l2fwd: the core list is empty");
    expect(() => parseCoreList("l2fwd", "0,,1")).toThrow('l2fwd: core list "0,,1" is malformed (an empty item)');
    expect(() => parseCoreList("l2fwd", " 0")).toThrow('core list " 0" is malformed at " 0"');
    expect(() => parseCoreList("l2fwd", "0x1")).toThrow("is malformed");
    expect(() => parseCoreList("l2fwd", "3-1")).toThrow("core range 3-1 runs backwards");
    expect(() => parseCoreList("l2fwd", "0-99999999")).toThrow("l2fwd: core 99999999 is out of range; give cores 0..1023");
  });

  test("a core the process may not run on is refused, naming the allowed ones", () => {
    expect(() => checkCores("l2fwd", [0, 2, 5], [0, 1, 3, 4])).toThrow("l2fwd: cores 2,5 are not among the cores this process may run on (0-1,3-4); pick cores from 0-1,3-4");
    expect(() => checkCores("l2fwd", [7], [0, 1])).toThrow("core 7 is not among");
    expect(checkCores("l2fwd", [1, 0], [0, 1])).toEqual([]);
  });

  test("a core given to several workers: allowed, one warning line per core with the worker count", () => {
    expect(checkCores("l2fwd", [0, 0], [0, 1])).toEqual(["l2fwd: warning: core 0 runs 2 workers: they share it (fine while they sleep; when busy each gets 1/2 of the core)"]);
    expect(checkCores("l2fwd", [0, 1, 0, 1, 1], [0, 1]).map((l) => l.slice(0, 37))).toEqual(["l2fwd: warning: core 0 runs 2 workers", "l2fwd: warning: core 1 runs 3 workers"]);
  });

  test("the allowed cores are the process's affinity mask", () => {
    const mine = allowedCores();
    expect(mine).toBeDefined();
    const status = Bun.spawnSync(["grep", "Cpus_allowed_list", `/proc/${process.pid}/status`]).stdout.toString();
    expect(status).toContain(formatCoreList(mine!));
    expect(formatCoreList([3, 0, 1, 2, 6, 8, 9])).toBe("0-3,6,8-9");
  });
});

describe("what a port spec opens", () => {
  test("interfaces, PCI functions, ring links and output files; null and pcap input share nothing", () => {
    expect(portResource("af_packet:veth0")?.key).toBe("af_packet:veth0");
    expect(portResource("af_packet:veth0,frames=4096")?.key).toBe("af_packet:veth0");
    expect(portResource("af_packet:iface=veth0")?.key).toBe("af_packet:veth0");
    expect(portResource("03:00.0")?.key).toBe("pci:0000:03:00.0");
    expect(portResource("0000:03:00.0")?.key).toBe("pci:0000:03:00.0");
    expect(portResource("ring:a")).toEqual({ kind: "ring", key: "ring:a", what: "ring link a" });
    expect(portResource("pcap:in=a.pcap,out=b.pcap")?.kind).toBe("pcap-out");
    expect(portResource("pcap:in=a.pcap")).toBeUndefined();
    expect(portResource("null")).toBeUndefined();
    expect(portResource("null:size=64")).toBeUndefined();
  });
});

describe("found by the fuzzer", () => {
  test("Object.prototype's names are unknown options, not members", async () => {
    const { parsePktgenArgs } = await import("../../apps/pktgen/options.ts");
    for (const name of ["--constructor", "--__proto__", "--toString", "--hasOwnProperty", "--__defineGetter__"]) {
      expect(() => parsePktgenArgs(["--tx", "ring:a", name, "1"])).toThrow("unknown option");
    }
  });

  test("a long malformed --portmap is refused at once (no exponential backtracking)", async () => {
    const { parsePortmap } = await import("../../apps/l2fwd.ts");
    const text = `${"(0,0)   ".repeat(30)}(1,0))x`;
    expect(() => parsePortmap(text, 8)).toThrow("is malformed");
    expect(parsePortmap("(0,1), (2,3) (4,5),(6,7)", 8)).toEqual([[0, 1], [2, 3], [4, 5], [6, 7]]);
  });
});
