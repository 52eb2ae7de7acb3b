import { describe, expect, test } from "bun:test";
import {
  ETHER_HDR_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_QINQ,
  ETHERTYPE_VLAN,
  etherGetDst,
  etherGetSrc,
  etherIsBroadcast,
  etherIsMulticast,
  etherIsVlan,
  etherL3Offset,
  etherL3Type,
  etherSetDst,
  etherSetSrc,
  etherSetType,
  etherSwapMacs,
  etherType,
  etherWrite,
  macEquals,
  macIsBroadcast,
  macIsLocal,
  macIsMulticast,
  macIsUnicast,
  macIsZero,
  macToString,
  parseMac,
  vlanDei,
  vlanMakeTci,
  vlanPcp,
  vlanPop,
  vlanPush,
  vlanTci,
  vlanVid,
  MacRewrite,
} from "../../../src/net/ether.ts";
import { BdkError } from "../../../src/sys/errors.ts";
import { hex, toHex } from "./tools.ts";

const A = parseMac("02:00:00:00:00:01");
const B = parseMac("02:00:00:00:00:02");

describe("Ethernet header", () => {
  test("constants are the IEEE / IANA numbers", () => {
    expect([ETHERTYPE_IPV4, ETHERTYPE_ARP, ETHERTYPE_IPV6, ETHERTYPE_VLAN, ETHERTYPE_QINQ, ETHER_HDR_LEN]).toEqual([
      0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 14,
    ]);
  });

  test("etherWrite lays out dst, src, type big-endian at an offset without touching neighbours", () => {
    const buf = new Uint8Array(40).fill(0xee);
    expect(etherWrite(buf, 5, B, 0, A, 0, ETHERTYPE_IPV6)).toBe(14);
    expect(toHex(buf.subarray(5, 19))).toBe("02000000000202000000000186dd");
    expect(buf[4]).toBe(0xee);
    expect(buf[19]).toBe(0xee);
    expect(etherType(buf, 5)).toBe(ETHERTYPE_IPV6);
    etherSetType(buf, 5, ETHERTYPE_ARP);
    expect(toHex(buf.subarray(17, 19))).toBe("0806");
  });

  test("MACs are copied between buffers and set from 6-byte arrays at offsets", () => {
    const frame = hex("ffffffffffff 0a1b2c3d4e5f 0800");
    const out = new Uint8Array(10);
    etherGetDst(frame, 0, out, 2);
    expect(toHex(out)).toBe("0000ffffffffffff0000");
    etherGetSrc(frame, 0, out, 4);
    expect(toHex(out.subarray(4))).toBe("0a1b2c3d4e5f");
    // Copy straight from another frame's source MAC into this frame's destination.
    const other = hex("000000000000 112233445566 0800");
    etherSetDst(frame, 0, other, 6);
    etherSetSrc(frame, 0, A);
    expect(toHex(frame)).toBe("112233445566020000000001" + "0800");
    etherSwapMacs(frame, 0);
    expect(toHex(frame)).toBe("020000000001112233445566" + "0800");
    expect(macEquals(frame, 0, A, 0)).toBe(true);
    expect(macEquals(frame, 6, A, 0)).toBe(false);
  });

  test("broadcast / multicast / unicast / local / zero tests", () => {
    const bc = hex("ffffffffffff");
    const mc = hex("01005e000001"); // IPv4 multicast 224.0.0.1
    const mc6 = hex("333300000001");
    const uc = hex("001b21aabbcc");
    expect([macIsBroadcast(bc, 0), macIsMulticast(bc, 0), macIsUnicast(bc, 0)]).toEqual([true, true, false]);
    expect([macIsBroadcast(mc, 0), macIsMulticast(mc, 0), macIsUnicast(mc, 0)]).toEqual([false, true, false]);
    expect(macIsMulticast(mc6, 0)).toBe(true);
    expect([macIsBroadcast(uc, 0), macIsMulticast(uc, 0), macIsUnicast(uc, 0)]).toEqual([false, false, true]);
    expect([macIsLocal(A, 0), macIsLocal(uc, 0)]).toEqual([true, false]);
    expect([macIsZero(new Uint8Array(6), 0), macIsZero(A, 0)]).toEqual([true, false]);
    const frame = new Uint8Array(14);
    etherWrite(frame, 0, bc, 0, A, 0, ETHERTYPE_ARP);
    expect([etherIsBroadcast(frame, 0), etherIsMulticast(frame, 0)]).toEqual([true, true]);
    etherWrite(frame, 0, A, 0, bc, 0, ETHERTYPE_ARP); // broadcast source must not count
    expect([etherIsBroadcast(frame, 0), etherIsMulticast(frame, 0)]).toEqual([false, false]);
  });

  test("parseMac / macToString", () => {
    expect(toHex(parseMac("0A:1b:2C:3d:4E:5f"))).toBe("0a1b2c3d4e5f");
    expect(toHex(parseMac("0a-1b-2c-3d-4e-5f"))).toBe("0a1b2c3d4e5f");
    expect(toHex(parseMac("0a1b2c3d4e5f"))).toBe("0a1b2c3d4e5f");
    expect(toHex(parseMac("2:0:0:0:0:1"))).toBe("020000000001");
    expect(macToString(hex("000a1b2c3d4e5f"), 1)).toBe("0a:1b:2c:3d:4e:5f");
    expect(() => parseMac("zz:00:00:00:00:01")).toThrow(
      'invalid MAC address "zz:00:00:00:00:01": expected six hex bytes like 02:00:00:00:00:01',
    );
    for (const bad of ["", "02:00:00:00:00", "02:00:00:00:00:01:03", "020:00:00:00:00:01", "02::00:00:00:01"]) {
      expect(() => parseMac(bad)).toThrow(/invalid MAC address .*expected six hex bytes/);
    }
  });

  test("bad MAC text is a BdkError, a user's error (fuzz: parseMac(\"\") threw a plain Error)", () => {
    for (const bad of ["", "zz:00:00:00:00:01", "\u0000"]) expect(() => parseMac(bad)).toThrow(BdkError);
  });
});

describe("VLAN tags", () => {
  test("TCI fields: PCP, DEI, VID", () => {
    const tci = vlanMakeTci(5, 1, 100);
    expect(tci).toBe(0xb064);
    expect([vlanPcp(tci), vlanDei(tci), vlanVid(tci)]).toEqual([5, 1, 100]);
    expect(vlanMakeTci(7, 0, 4095)).toBe(0xefff);
  });

  test("push then pop round trip: MACs move into the headroom, the payload stays in place", () => {
    const buf = new Uint8Array(256).fill(0xaa);
    const off = 64;
    const len = 60;
    etherWrite(buf, off, B, 0, A, 0, ETHERTYPE_IPV4);
    for (let i = 14; i < len; i++) buf[off + i] = i;
    const original = buf.slice(off, off + len);

    const t = vlanPush(buf, off, vlanMakeTci(3, 0, 42));
    expect(t).toBe(off - 4);
    expect(toHex(buf.subarray(t, t + 18))).toBe("020000000002" + "020000000001" + "8100" + "602a" + "0800");
    expect(etherType(buf, t)).toBe(ETHERTYPE_VLAN);
    expect(etherIsVlan(buf, t)).toBe(true);
    expect(vlanVid(vlanTci(buf, t))).toBe(42);
    expect(vlanPcp(vlanTci(buf, t))).toBe(3);
    expect(etherL3Offset(buf, t, len + 4)).toBe(t + 18);
    expect(etherL3Type(buf, t, len + 4)).toBe(ETHERTYPE_IPV4);
    expect(toHex(buf.subarray(t + 16, t + len + 4))).toBe(toHex(original.subarray(12)));
    expect(buf[t - 1]).toBe(0xaa);

    // QinQ: an 802.1ad outer tag over the 802.1Q one.
    const q = vlanPush(buf, t, vlanMakeTci(0, 0, 7), ETHERTYPE_QINQ);
    expect(toHex(buf.subarray(q + 12, q + 20))).toBe("88a8" + "0007" + "8100" + "602a");
    expect(etherL3Offset(buf, q, len + 8)).toBe(q + 22);
    expect(etherL3Type(buf, q, len + 8)).toBe(ETHERTYPE_IPV4);

    expect(vlanPop(buf, q)).toBe(t);
    expect(vlanPop(buf, t)).toBe(off);
    expect(toHex(buf.subarray(off, off + len))).toBe(toHex(original));
    expect(vlanPop(buf, off)).toBe(-1);
    expect(toHex(buf.subarray(off, off + len))).toBe(toHex(original));
  });

  test("etherL3Offset bounds: untagged, too short", () => {
    const f = hex("020000000002020000000001 0800 45");
    expect(etherL3Offset(f, 0, f.length)).toBe(14);
    expect(etherL3Offset(f, 0, 13)).toBe(-1);
    const tagged = hex("020000000002020000000001 8100 0001");
    expect(etherL3Offset(tagged, 0, tagged.length)).toBe(-1);
    expect(etherL3Type(tagged, 0, tagged.length)).toBe(-1);
  });
});

describe("MacRewrite", () => {
  const dst = new Uint8Array([0x02, 0, 0, 0, 0, 0x07]);
  const src = new Uint8Array([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);

  test("writes the same 12 bytes as byte stores, at aligned and unaligned offsets, and nothing else", () => {
    const buf = new ArrayBuffer(64);
    const u8 = new Uint8Array(buf);
    const rewrite = new MacRewrite(dst, src);
    for (const off of [0, 4, 8, 1, 2, 3, 6, 50]) {
      u8.fill(0x5a);
      rewrite.apply(u8, new Uint16Array(buf), new Uint32Array(buf), off);
      expect([...u8.subarray(off, off + 12)]).toEqual([...dst, ...src]);
      expect(u8.subarray(0, off).every((b) => b === 0x5a)).toBe(true);
      expect(u8.subarray(off + 12).every((b) => b === 0x5a)).toBe(true);
    }
  });

  test("keeps its own copies of the addresses and refuses a wrong length", () => {
    const mine = Uint8Array.from(src);
    const rewrite = new MacRewrite(dst, mine);
    mine.fill(0);
    const buf = new ArrayBuffer(16);
    rewrite.apply(new Uint8Array(buf), new Uint16Array(buf), new Uint32Array(buf), 1);
    expect([...new Uint8Array(buf).subarray(7, 13)]).toEqual([...src]);
    expect(() => new MacRewrite(dst, new Uint8Array(5))).toThrow(/6 bytes, got 6 and 5/);
  });
});
