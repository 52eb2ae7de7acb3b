import { describe, expect, test } from "bun:test";
import {
  checksumAdjust16,
  checksumAdjust32,
  checksumFinish,
  checksumFold,
  checksumSum,
  internetChecksum,
} from "../../../src/net/checksum.ts";
import { read16, read32, write16, write32 } from "../../../src/net/bytes.ts";
import { hex, prng, refChecksum } from "./tools.ts";

describe("RFC 1071 checksum", () => {
  test("RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 2ddf0, folds to ddf2, checksum 220d", () => {
    const b = hex("0001 f203 f4f5 f6f7");
    expect(checksumSum(b, 0, 8)).toBe(0x2ddf0);
    expect(checksumFold(0x2ddf0)).toBe(0xddf2);
    expect(internetChecksum(b, 0, 8)).toBe(0x220d);
    // Appending the checksum makes the whole sum fold to 0xffff (the receiver's test).
    const withSum = hex("0001 f203 f4f5 f6f7 220d");
    expect(checksumFold(checksumSum(withSum, 0, 10))).toBe(0xffff);
  });

  test("odd lengths pad the last byte as the high byte of a word", () => {
    expect(checksumSum(hex("01"), 0, 1)).toBe(0x0100);
    expect(checksumSum(hex("abcdef"), 0, 3)).toBe(0xabcd + 0xef00);
    expect(internetChecksum(hex("abcdef"), 0, 3)).toBe(~checksumFold(0xabcd + 0xef00) & 0xffff);
    expect(checksumSum(new Uint8Array(0), 0, 0)).toBe(0);
    expect(internetChecksum(new Uint8Array(0), 0, 0)).toBe(0xffff);
  });

  test("matches an independent reference at every length 0..200 and offset 0..9 in a big buffer", () => {
    const rnd = prng(7);
    const big = new Uint8Array(4096);
    for (let i = 0; i < big.length; i++) big[i] = rnd() & 0xff;
    for (let off = 0; off < 10; off++) {
      for (let len = 0; len <= 200; len++) {
        expect(internetChecksum(big, off, len)).toBe(refChecksum(big.subarray(off, off + len)));
      }
    }
  });

  test("the initial sum is added (pseudo-header style) and chaining even pieces equals one pass", () => {
    const rnd = prng(11);
    const b = new Uint8Array(300);
    for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
    const whole = internetChecksum(b, 0, 299);
    const chained = checksumFinish(checksumSum(b, 100, 199, checksumSum(b, 40, 60, checksumSum(b, 0, 40))));
    expect(chained).toBe(whole);
    expect(internetChecksum(b, 2, 10, 0x1234)).toBe(refChecksum([0x12, 0x34, ...b.subarray(2, 12)]));
  });

  test("64 KiB of 0xff and sums above 2^32 fold correctly", () => {
    const b = new Uint8Array(65536).fill(0xff);
    expect(checksumFold(checksumSum(b, 0, b.length))).toBe(0xffff);
    expect(internetChecksum(b, 0, b.length)).toBe(0);
    expect(checksumFold(0x1_0000_0000)).toBe(1);
    expect(checksumFold(0xffff_ffff_ffff)).toBe(0xffff);
    expect(checksumFold(0x0001_0002_0003)).toBe(6);
  });
});

describe("RFC 1624 incremental update", () => {
  test("RFC 1624 §4 example: m 5555 → 3285 with HC dd2f gives 0000 (not the -0 of eqn. 2)", () => {
    expect(checksumAdjust16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000);
  });

  test("16-bit updates equal a full recompute (1000 random headers)", () => {
    const rnd = prng(3);
    const b = new Uint8Array(40);
    for (let n = 0; n < 1000; n++) {
      for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
      const before = internetChecksum(b, 0, b.length);
      const at = (rnd() % 20) * 2;
      const oldWord = read16(b, at);
      const newWord = n % 50 === 0 ? 0xffff - oldWord : rnd() & 0xffff;
      write16(b, at, newWord);
      expect(checksumAdjust16(before, oldWord, newWord)).toBe(internetChecksum(b, 0, b.length));
    }
  });

  test("32-bit updates equal a full recompute (1000 random headers)", () => {
    const rnd = prng(5);
    const b = new Uint8Array(40);
    for (let n = 0; n < 1000; n++) {
      for (let i = 0; i < b.length; i++) b[i] = rnd() & 0xff;
      const before = internetChecksum(b, 0, b.length);
      const at = (rnd() % 19) * 2;
      const oldValue = read32(b, at);
      const newValue = rnd() >>> 0;
      write32(b, at, newValue);
      expect(checksumAdjust32(before, oldValue, newValue)).toBe(internetChecksum(b, 0, b.length));
    }
  });
});

describe("big-endian field access", () => {
  test("read/write 16 and 32 bits at odd offsets, unsigned results", () => {
    const b = new Uint8Array(9);
    write32(b, 1, 0xdeadbeef);
    write16(b, 5, 0xcafe);
    expect([...b]).toEqual([0, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0, 0]);
    expect(read32(b, 1)).toBe(0xdeadbeef);
    expect(read16(b, 5)).toBe(0xcafe);
    write32(b, 1, -1);
    expect(read32(b, 1)).toBe(0xffffffff);
  });
});
