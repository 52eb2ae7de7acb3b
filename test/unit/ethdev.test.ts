// openPort: spec parsing, option checking, and the errors a user sees for bad input.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPort } from "../../src/index.ts";
import { Burst } from "../../src/ethdev/port.ts";
import { checkParams, normalizePciAddress, splitSpec } from "../../src/ethdev/spec.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { PcapWriter } from "../../drivers/pcap/file.ts";

const dir = mkdtempSync(join(tmpdir(), "bdk-ethdev-"));

describe("port specs", () => {
  test("PCI addresses are normalised", () => {
    expect(normalizePciAddress("00:02.0")).toBe("0000:00:02.0");
    expect(normalizePciAddress("0000:3B:00.1")).toBe("0000:3b:00.1");
    expect(normalizePciAddress("00:02.8")).toBeUndefined();
    expect(splitSpec("03:00.0")).toEqual({ kind: "pci", positional: "0000:03:00.0", pairs: {} });
    expect(splitSpec("0000:01:00.0,vectors=3")).toEqual({ kind: "pci", positional: "0000:01:00.0", pairs: { vectors: "3" } });
    expect(() => splitSpec("0000:01:00.0,3")).toThrow('"3" after the PCI address');
  });

  test("software specs split into kind, bare value and pairs", () => {
    expect(splitSpec("af_packet:veth0")).toEqual({ kind: "af_packet", positional: "veth0", pairs: {} });
    expect(splitSpec("pcap:in=a.pcap,out=b.pcap")).toEqual({ kind: "pcap", positional: undefined, pairs: { in: "a.pcap", out: "b.pcap" } });
    expect(() => splitSpec("pcap:in=a,in=b")).toThrow('"in" given twice');
    expect(() => splitSpec("")).toThrow("empty port spec");
  });

  test("keys named like Object.prototype's are keys like any other (found by the fuzzer)", () => {
    // Fuzz: splitSpec("af_packet:__proto__=") said '"__proto__" given twice' (the key was looked up on
    // Object.prototype), and "__proto__=x" was silently dropped.
    const p = splitSpec("af_packet:__proto__=");
    expect(Object.hasOwn(p.pairs, "__proto__")).toBe(true);
    expect(p.pairs["__proto__"]).toBe("");
    expect(Object.entries(splitSpec("null:constructor=1,toString=2").pairs)).toEqual([["constructor", "1"], ["toString", "2"]]);
    expect(() => splitSpec("null:__proto__=1,__proto__=2")).toThrow('"__proto__" given twice');
    expect(() => openPort("null:constructor=1")).toThrow(/unknown argument "constructor"; accepted: size=<int>/);
    expect(() => openPort("null:__proto__=1")).toThrow(/unknown argument "__proto__"/);
    expect(() => openPort("null:hasOwnProperty=1")).toThrow(/unknown argument "hasOwnProperty"/);
  });

  test("a whole number too large to be exact is refused (found by the fuzzer)", () => {
    // Fuzz: "pcap:loop=9007199254740993" gave loop 9007199254740992; 400 nines gave Infinity.
    const declared = { loop: { type: "int" as const, help: "" } };
    for (const text of ["9007199254740993", "99999999999999999999", "9".repeat(400)]) {
      const spec = `pcap:loop=${text}`;
      expect(() => checkParams(spec, splitSpec(spec), declared, undefined)).toThrow(BdkError);
      expect(() => checkParams(spec, splitSpec(spec), declared, undefined)).toThrow(`loop=${text} is too large`);
    }
    expect(checkParams("x:loop=9007199254740991", splitSpec("x:loop=9007199254740991"), declared, undefined)).toEqual({ loop: 9007199254740991 });
  });

  test("an unknown spec lists every accepted form", () => {
    expect(() => openPort("tap:x")).toThrow(/unknown port spec "tap:x"; accepted: .*af_packet:.*ring:.*null.*pcap:/);
  });

  test("an unknown spec argument lists the driver's arguments", () => {
    expect(() => openPort("pcap:in=x.pcap,speed=10")).toThrow(/unknown argument "speed"; accepted: in=<string>/);
    expect(() => openPort("pcap:in=x.pcap,loop=many")).toThrow(/loop="many" is not a whole number/);
  });

  test("options of the wrong type or unknown keys are refused", () => {
    const pool = Mempool.create({ count: 64, hugepages: "never", name: "opts" });
    try {
      // @ts-expect-error: a wrong type on purpose
      expect(() => openPort("null", { pool, rxQueues: "2" })).toThrow('option rxQueues must be a whole number, got "2"');
      // @ts-expect-error: an unknown key on purpose
      expect(() => openPort("null", { pool, queues: 2 })).toThrow('unknown option "queues"; accepted keys: pool, rxQueues');
      // @ts-expect-error: not a pool
      expect(() => openPort("null", { pool: {} })).toThrow("option pool must be a Mempool");
    } finally {
      pool.destroy();
    }
  });

  test("ring sizes that are zero or not a power of two are refused with the fix", () => {
    const pool = Mempool.create({ count: 64, hugepages: "never", name: "rings" });
    try {
      expect(() => openPort("null", { pool, rxRingSize: 0 })).toThrow(/rxRingSize 0 is not a power of two .*use 256, 512, 1024/);
      expect(() => openPort("null", { pool, txRingSize: 1000 })).toThrow(/txRingSize 1000 is not a power of two/);
      expect(() => openPort("null", { pool, rxQueues: 99 })).toThrow(/rxQueues 99 is out of range; this port supports 1\.\./);
    } finally {
      pool.destroy();
    }
  });
});

describe("pcap port", () => {
  test("replays a file's frames in order, looped, and writes TX to a file", () => {
    const input = join(dir, "in.pcap");
    const w = new PcapWriter(input);
    const frame = new Uint8Array(60);
    for (let i = 0; i < 5; i++) {
      frame.fill(i);
      w.frame(frame, 0, 60 + i);
    }
    w.close();
    const pool = Mempool.create({ count: 128, hugepages: "never", name: "pcap" });
    const out = join(dir, "out.pcap");
    const port = openPort(`pcap:in=${input},loop=3,out=${out}`, { pool });
    port.start();
    const burst = new Burst(4);
    const seen: number[] = [];
    for (let n; (n = port.rxBurst(0, burst)) > 0;) {
      for (let i = 0; i < n; i++) {
        const b = burst.bufs[i]!;
        expect(pool.bytes[pool.offset(b)]).toBe(pool.len[b]! - 60);
        seen.push(pool.len[b]!);
      }
      expect(port.txBurst(0, burst)).toBe(n);
    }
    expect(seen).toEqual([60, 61, 62, 63, 64, 60, 61, 62, 63, 64, 60, 61, 62, 63, 64]);
    expect(port.stats().ipackets).toBe(15);
    expect(port.stats().opackets).toBe(15);
    port.close();
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  });

  test("a malformed or truncated file is one clear error naming the file", () => {
    const bad = join(dir, "bad.pcap");
    writeFileSync(bad, "this is not a capture file at all");
    expect(() => openPort(`pcap:in=${bad}`)).toThrow(bad);
    const truncated = join(dir, "trunc.pcap");
    const w = new PcapWriter(truncated);
    w.frame(new Uint8Array(100), 0, 100);
    w.close();
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 24 + 16 + 50)); // the record's bytes cut short
    expect(statSync(truncated).size).toBe(90);
    expect(() => openPort(`pcap:in=${truncated}`)).toThrow(/truncated/i);
    expect(() => openPort(`pcap:in=${join(dir, "missing.pcap")}`)).toThrow(/missing\.pcap/);
    expect(() => openPort("pcap")).toThrow("needs in=FILE, out=FILE or both");
  });
});
