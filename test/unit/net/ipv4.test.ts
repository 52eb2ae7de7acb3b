import { describe, expect, test } from "bun:test";
import {
  IPPROTO_UDP,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  ipv4Checksum,
  ipv4ChecksumOk,
  ipv4DecTtl,
  ipv4DontFragment,
  ipv4Dscp,
  ipv4Dst,
  ipv4Ecn,
  ipv4FragOffset,
  ipv4HdrChecksum,
  ipv4HdrLen,
  ipv4Id,
  ipv4Ihl,
  ipv4IsFragment,
  ipv4IsValid,
  ipv4MoreFragments,
  ipv4PayloadLen,
  ipv4PayloadOffset,
  ipv4Proto,
  ipv4RewriteDst,
  ipv4RewriteSrc,
  ipv4Src,
  ipv4ToString,
  ipv4TotalLen,
  ipv4Tos,
  ipv4Ttl,
  ipv4UpdateChecksum,
  ipv4Version,
  ipv4Write,
  parseIpv4,
} from "../../../src/net/ipv4.ts";
import { BdkError } from "../../../src/sys/errors.ts";
import { hex, prng, refChecksum, toHex } from "./tools.ts";

// Wikipedia, "Internet checksum" / "IPv4 header checksum" example: checksum b861.
const WIKI = "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7";

describe("IPv4 header", () => {
  test("builder reproduces Wikipedia's example header byte for byte, checksum b861", () => {
    const buf = new Uint8Array(64).fill(0x55);
    const n = ipv4Write(buf, 7, 0, 0x73, 0, IPV4_FLAG_DF, 64, IPPROTO_UDP, parseIpv4("192.168.0.1"), parseIpv4("192.168.0.199"));
    expect(n).toBe(20);
    expect(toHex(buf.subarray(7, 27))).toBe(toHex(hex(WIKI)));
    expect(ipv4HdrChecksum(buf, 7)).toBe(0xb861);
    expect(buf[6]).toBe(0x55);
    expect(buf[27]).toBe(0x55);
  });

  test("ipv4Checksum computes b861 for the example with the field ignored, and verifies", () => {
    const h = hex(WIKI);
    expect(ipv4Checksum(h, 0)).toBe(0xb861);
    expect(ipv4ChecksumOk(h, 0)).toBe(true);
    h[10] = 0;
    h[11] = 0;
    expect(ipv4Checksum(h, 0)).toBe(0xb861);
    expect(ipv4ChecksumOk(h, 0)).toBe(false);
    expect(ipv4UpdateChecksum(h, 0)).toBe(0xb861);
    expect(toHex(h)).toBe(toHex(hex(WIKI)));
    h[15] ^= 1; // corrupt the source address
    expect(ipv4ChecksumOk(h, 0)).toBe(false);
  });

  test("readers", () => {
    const h = hex(WIKI);
    expect(ipv4Version(h, 0)).toBe(4);
    expect(ipv4Ihl(h, 0)).toBe(5);
    expect(ipv4HdrLen(h, 0)).toBe(20);
    expect(ipv4Tos(h, 0)).toBe(0);
    expect(ipv4TotalLen(h, 0)).toBe(115);
    expect(ipv4Id(h, 0)).toBe(0);
    expect(ipv4DontFragment(h, 0)).toBe(true);
    expect(ipv4MoreFragments(h, 0)).toBe(false);
    expect(ipv4IsFragment(h, 0)).toBe(false);
    expect(ipv4Ttl(h, 0)).toBe(64);
    expect(ipv4Proto(h, 0)).toBe(17);
    expect(ipv4Src(h, 0)).toBe(0xc0a80001);
    expect(ipv4Dst(h, 0)).toBe(0xc0a800c7);
    const at3 = new Uint8Array(30);
    at3.set(h, 3);
    expect(ipv4PayloadOffset(at3, 3)).toBe(23);
    expect(ipv4PayloadLen(h, 0)).toBe(95);
  });

  test("TOS, fragments, high addresses stay unsigned", () => {
    const b = new Uint8Array(20);
    ipv4Write(b, 0, 0xb9, 1500, 0xbeef, IPV4_FLAG_MF | 185, 1, 6, 0xffffffff, parseIpv4("224.0.0.1"));
    expect(ipv4Dscp(b, 0)).toBe(46); // EF
    expect(ipv4Ecn(b, 0)).toBe(1);
    expect(ipv4Id(b, 0)).toBe(0xbeef);
    expect(ipv4MoreFragments(b, 0)).toBe(true);
    expect(ipv4FragOffset(b, 0)).toBe(185 * 8);
    expect(ipv4IsFragment(b, 0)).toBe(true);
    expect(ipv4Src(b, 0)).toBe(0xffffffff);
    expect(ipv4Dst(b, 0)).toBe(0xe0000001);
    expect(ipv4ChecksumOk(b, 0)).toBe(true);
    expect(ipv4HdrChecksum(b, 0)).toBe(refChecksum([...b.subarray(0, 10), 0, 0, ...b.subarray(12)]));
  });

  test("options are covered by the checksum (IHL 6)", () => {
    const b = new Uint8Array(24);
    ipv4Write(b, 0, 0, 24, 1, 0, 64, 17, 0x0a000001, 0x0a000002);
    b[0] = 0x46;
    b.set([0x94, 0x04, 0x00, 0x00], 20); // Router Alert
    expect(ipv4HdrLen(b, 0)).toBe(24);
    ipv4UpdateChecksum(b, 0);
    expect(ipv4ChecksumOk(b, 0)).toBe(true);
    expect(ipv4HdrChecksum(b, 0)).toBe(refChecksum([...b.subarray(0, 10), 0, 0, ...b.subarray(12)]));
  });

  test("TTL decrement and NAT rewrites patch the checksum exactly like a recompute", () => {
    const rnd = prng(9);
    const b = new Uint8Array(20);
    for (let n = 0; n < 500; n++) {
      ipv4Write(b, 0, rnd() & 0xff, 20 + (rnd() % 1480), rnd() & 0xffff, 0, (rnd() % 255) + 1, rnd() & 0xff, rnd() >>> 0, rnd() >>> 0);
      const ttl = ipv4Ttl(b, 0);
      expect(ipv4DecTtl(b, 0)).toBe(ttl - 1);
      expect(ipv4ChecksumOk(b, 0)).toBe(true);
      expect(ipv4HdrChecksum(b, 0)).toBe(ipv4Checksum(b, 0));
      ipv4RewriteSrc(b, 0, rnd() >>> 0);
      expect(ipv4HdrChecksum(b, 0)).toBe(ipv4Checksum(b, 0));
      ipv4RewriteDst(b, 0, rnd() >>> 0);
      expect(ipv4HdrChecksum(b, 0)).toBe(ipv4Checksum(b, 0));
    }
    b[8] = 0;
    ipv4UpdateChecksum(b, 0);
    expect(ipv4DecTtl(b, 0)).toBe(0);
    expect(ipv4Ttl(b, 0)).toBe(0);
  });

  test("ipv4IsValid", () => {
    const h = hex(WIKI);
    const full = new Uint8Array(115);
    full.set(h);
    expect(ipv4IsValid(full, 0, 115)).toBe(true);
    expect(ipv4IsValid(full, 0, 114)).toBe(false); // total length beyond what we have
    expect(ipv4IsValid(full, 0, 19)).toBe(false);
    full[0] = 0x44; // IHL 4
    expect(ipv4IsValid(full, 0, 115)).toBe(false);
    full[0] = 0x65; // version 6
    expect(ipv4IsValid(full, 0, 115)).toBe(false);
  });
});

describe("IPv4 text form", () => {
  test("parse and format round trip", () => {
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4(" 255.255.255.255 ")).toBe(0xffffffff);
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(ipv4ToString(0xc0a800c7)).toBe("192.168.0.199");
    expect(ipv4ToString(0xffffffff)).toBe("255.255.255.255");
    for (const s of ["1.2.3.4", "127.0.0.1", "224.0.0.251"]) expect(ipv4ToString(parseIpv4(s))).toBe(s);
  });

  test("bad input names the input and the expected form", () => {
    expect(() => parseIpv4("10.0.0.256")).toThrow(
      'invalid IPv4 address "10.0.0.256": expected four decimal numbers 0-255 like 10.0.0.1',
    );
    for (const bad of ["", "10.0.0", "10.0.0.1.2", "10.0.0.01", "0x0a.0.0.1", "10..0.1", "a.b.c.d", "-1.0.0.0"]) {
      expect(() => parseIpv4(bad)).toThrow(/invalid IPv4 address .*expected four decimal numbers/);
    }
  });

  test("bad address text is a BdkError, a user's error (fuzz: parseIpv4(\".0.0.0\") threw a plain Error)", () => {
    for (const bad of [".0.0.0", "", "256.0.0.0"]) expect(() => parseIpv4(bad)).toThrow(BdkError);
  });
});
