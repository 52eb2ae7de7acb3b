// Every user-reachable error is one line with exit code 1, never a stack trace (BDK_DEBUG=1 shows one):
// pcap inputs that are missing, empty, truncated, random or pcapng; outputs into a missing directory, a
// directory, a read-only file system, a full disk; a pcap:out= port that cannot open leaves no -w file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname;
const BDK = `${ROOT}bin/bdk`;
const isRoot = process.getuid?.() === 0;

function bdk(args: string[], env: Record<string, string> = {}): { code: number; err: string; out: string } {
  const r = Bun.spawnSync([BDK, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.exitCode ?? -1, err: r.stderr.toString(), out: r.stdout.toString() };
}

/** One line, no stack frame, exit 1, and it says `what`. */
function expectOneLine(r: { code: number; err: string }, what: RegExp): void {
  const lines = r.err.trim().split("\n");
  expect(lines.length, r.err).toBe(1);
  expect(r.err).not.toMatch(/^\s+at /m);
  expect(r.err).toMatch(what);
  expect(r.code).toBe(1);
}

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bdk-err-"));
  writeFileSync(join(dir, "empty.pcap"), "");
  writeFileSync(join(dir, "random.pcap"), new Uint8Array(200).map((_, i) => (i * 7919 + 13) & 0xff));
  writeFileSync(join(dir, "truncated.pcap"), new Uint8Array([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]));
  writeFileSync(join(dir, "ng.pcapng"), new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("pcap inputs: one line each, for every command that reads them", () => {
  const files: [string, RegExp][] = [
    ["missing.pcap", /cannot read pcap file .*missing\.pcap.*no such file/],
    ["empty.pcap", /truncated: 0 bytes/],
    ["truncated.pcap", /truncated/],
    ["random.pcap", /is not a pcap file: bad magic/],
    ["ng.pcapng", /pcapng/],
  ];
  for (const [file, what] of files) {
    test(file, () => {
      const spec = `pcap:in=${join(dir, file)}`;
      expectOneLine(bdk(["l2fwd", spec, "null", "--duration", "1"]), what);
      expectOneLine(bdk(["pktgen", "--tx", spec, "--count", "1"]), what);
      expectOneLine(bdk(["capture", spec, "-w", join(dir, "out.pcap"), "-c", "1"]), what);
      expect(existsSync(join(dir, "out.pcap"))).toBe(false);
    }, 60_000);
  }
});

describe("pcap outputs", () => {
  test("into a missing directory, into a directory", () => {
    expectOneLine(bdk(["capture", "null", "-w", join(dir, "nope/x.pcap"), "-c", "1"]), /cannot write pcap file .*ENOENT/);
    expectOneLine(bdk(["capture", "null", "-w", dir, "-c", "1"]), /cannot write pcap file .*EISDIR/);
  });

  test("a pcap:out= port that cannot open its file leaves no -w file behind", () => {
    const w = join(dir, "left.pcap");
    expectOneLine(bdk(["capture", `pcap:in=${join(dir, "random.pcap")},out=/missing/x.pcap`, "-w", w, "-c", "1"]), /pcap/);
    expectOneLine(bdk(["l2fwd", "null", "pcap:out=/missing/x.pcap", "--duration", "1"]), /cannot write pcap file "\/missing\/x\.pcap": ENOENT/);
    expect(existsSync(w)).toBe(false);
  });

  test.if(isRoot)("a read-only file system and a full disk (tmpfs mounts)", () => {
    const ro = join(dir, "ro");
    const full = join(dir, "full");
    mkdirSync(ro);
    mkdirSync(full);
    try {
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", ro]).exitCode).toBe(0);
      expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", full]).exitCode).toBe(0);
      expectOneLine(bdk(["capture", "null", "-w", join(ro, "x.pcap"), "-c", "1"]), /cannot write pcap file .*EROFS/);
      expectOneLine(bdk(["capture", "null", "-w", join(full, "x.pcap"), "-c", "100000"]), /cannot write pcap file .*ENOSPC.*free space/);
    } finally {
      Bun.spawnSync(["umount", ro]);
      Bun.spawnSync(["umount", full]);
    }
  }, 60_000);
});

describe("the error line itself", () => {
  test("a 100 000-character name is cut, once; control characters are escaped", () => {
    const long = "x".repeat(100_000);
    const r = bdk(["l2fwd", `af_packet:${long}`, "null"]);
    expect(r.err.length).toBeLessThan(2000);
    expect(r.err).toMatch(/…\(1000\d\d characters\)/);
    expectOneLine(r, /af_packet/);
    const esc = bdk(["l2fwd", "af_packet:ab\x1b[31mcd", "null"]);
    expect(esc.err).not.toContain("\x1b");
    expect(esc.err).toContain("\\x1b");
  });

  test("BDK_DEBUG=1 shows the stack of our own errors too", () => {
    const r = bdk(["l2fwd", `pcap:in=${join(dir, "missing.pcap")}`, "null"], { BDK_DEBUG: "1" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^\s+at /m);
  });
});
