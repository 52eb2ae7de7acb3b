import { describe, expect, test } from "bun:test";
import {
  IPV6_HDR_LEN,
  ipv6AddrEquals,
  ipv6AddrIsMulticast,
  ipv6FlowLabel,
  ipv6GetDst,
  ipv6GetSrc,
  ipv6HopLimit,
  ipv6IsValid,
  ipv6NextHeader,
  ipv6PayloadLen,
  ipv6PseudoSum,
  ipv6SetHopLimit,
  ipv6SetPayloadLen,
  ipv6ToString,
  ipv6TrafficClass,
  ipv6Version,
  ipv6Write,
  parseIpv6,
  parseIpv6Into,
} from "../../../src/net/ipv6.ts";
import { checksumFinish } from "../../../src/net/checksum.ts";
import { BdkError } from "../../../src/sys/errors.ts";
import { hex, refChecksum, toHex } from "./tools.ts";

const S = parseIpv6("fd00::1");
const D = parseIpv6("fd00::2");

describe("IPv6 header", () => {
  test("builder writes the fixed header byte for byte", () => {
    const buf = new Uint8Array(80).fill(0x33);
    expect(ipv6Write(buf, 3, 0, 0x12345, 17, 17, 64, S, 0, D, 0)).toBe(IPV6_HDR_LEN);
    expect(toHex(buf.subarray(3, 43))).toBe(
      "60012345" + "0011" + "11" + "40" + "fd000000000000000000000000000001" + "fd000000000000000000000000000002",
    );
    expect(buf[2]).toBe(0x33);
    expect(buf[43]).toBe(0x33);
  });

  test("traffic class and flow label straddle nibbles", () => {
    const b = new Uint8Array(40);
    ipv6Write(b, 0, 0xb8, 0xfffff, 1280, 58, 255, S, 0, D, 0);
    expect(toHex(b.subarray(0, 8))).toBe("6b8fffff" + "0500" + "3a" + "ff");
    expect(ipv6Version(b, 0)).toBe(6);
    expect(ipv6TrafficClass(b, 0)).toBe(0xb8);
    expect(ipv6FlowLabel(b, 0)).toBe(0xfffff);
    expect(ipv6PayloadLen(b, 0)).toBe(1280);
    expect(ipv6NextHeader(b, 0)).toBe(58);
    expect(ipv6HopLimit(b, 0)).toBe(255);
    ipv6SetPayloadLen(b, 0, 8);
    ipv6SetHopLimit(b, 0, 1);
    expect([ipv6PayloadLen(b, 0), ipv6HopLimit(b, 0)]).toEqual([8, 1]);
    const out = new Uint8Array(20);
    ipv6GetSrc(b, 0, out, 2);
    expect(ipv6AddrEquals(out, 2, S, 0)).toBe(true);
    ipv6GetDst(b, 0, out, 4);
    expect(ipv6AddrEquals(out, 4, D, 0)).toBe(true);
    expect(ipv6AddrEquals(out, 4, S, 0)).toBe(false);
  });

  test("ipv6IsValid and multicast test", () => {
    const b = new Uint8Array(48);
    ipv6Write(b, 0, 0, 0, 8, 17, 64, S, 0, parseIpv6("ff02::1"), 0);
    expect(ipv6IsValid(b, 0, 48)).toBe(true);
    expect(ipv6IsValid(b, 0, 47)).toBe(false);
    expect(ipv6AddrIsMulticast(b, 24)).toBe(true);
    expect(ipv6AddrIsMulticast(b, 8)).toBe(false);
    b[0] = 0x40;
    expect(ipv6IsValid(b, 0, 48)).toBe(false);
  });

  test("pseudo-header sum matches RFC 8200 §8.1 layout summed independently", () => {
    const b = new Uint8Array(40);
    ipv6Write(b, 0, 0, 0, 70000 & 0xffff, 17, 64, S, 0, D, 0);
    const l4Len = 70000; // jumbogram-sized length exercises the 32-bit length field
    const pseudo = [...S, ...D, 0, 1, 0x11, 0x70, 0, 0, 0, 17];
    expect(checksumFinish(ipv6PseudoSum(b, 0, 17, l4Len))).toBe(refChecksum(pseudo));
  });
});

describe("IPv6 text form", () => {
  test("RFC 5952 canonical output", () => {
    const cases: [string, string][] = [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not compressed
      ["2001:DB8::AAAA", "2001:db8::aaaa"],
      ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"], // the longer, later run
      ["0:0:0:0:0:0:0:0", "::"],
      ["::1", "::1"],
      ["fe80::", "fe80::"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longest run wins
      ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
      ["::ffff:c000:0201", "::ffff:192.0.2.1"],
      ["64:ff9b::10.0.0.1", "64:ff9b::a00:1"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1::", "1::"],
      ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ];
    for (const [input, canon] of cases) expect(ipv6ToString(parseIpv6(input))).toBe(canon);
    expect(toHex(parseIpv6("fd00::2"))).toBe("fd000000000000000000000000000002");
    expect(ipv6ToString(hex("00" + "20010db8000000000000000000000001"), 1)).toBe("2001:db8::1");
  });

  test("bad input names the input and the expected form", () => {
    for (const bad of ["", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "g::1", "1:2:3:4:5:6:7:8::", ":1::", "1.2.3.4::", "::1.2.3", "fe80::1%eth0", ":::"]) {
      expect(() => parseIpv6(bad)).toThrow(/^invalid IPv6 address .*expected eight groups of 1-4 hex digits/);
    }
  });

  test("bad address text is a BdkError, a user's error (fuzz: parseIpv6(\"G0:0:0:0:0:0:0:0\") threw a plain Error)", () => {
    for (const bad of ["G0:0:0:0:0:0:0:0", "", "::1.2.3.04"]) {
      expect(() => parseIpv6(bad)).toThrow(BdkError);
      expect(() => parseIpv6Into(bad, new Uint8Array(16))).toThrow(BdkError);
    }
  });
});
