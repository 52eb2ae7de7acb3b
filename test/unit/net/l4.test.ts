import { describe, expect, test } from "bun:test";
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  arpGetSha,
  arpGetTha,
  arpHlen,
  arpHtype,
  arpIsEtherIpv4,
  arpOp,
  arpPlen,
  arpPtype,
  arpRequestToReply,
  arpSpa,
  arpTpa,
  arpWriteReply,
  arpWriteRequest,
} from "../../../src/net/arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, etherWrite, macBroadcast, parseMac } from "../../../src/net/ether.ts";
import {
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  icmp6Checksum,
  icmp6ChecksumOk,
  icmp6UpdateChecksum,
  icmpChecksum,
  icmpChecksumField,
  icmpChecksumOk,
  icmpCode,
  icmpEchoId,
  icmpEchoRequestToReply,
  icmpEchoSeq,
  icmpType,
  icmpUpdateChecksum,
  icmpWriteEcho,
} from "../../../src/net/icmp.ts";
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPV4_FLAG_DF, ipv4Write } from "../../../src/net/ipv4.ts";
import { ipv6Write, parseIpv6 } from "../../../src/net/ipv6.ts";
import {
  TCP_ACK,
  TCP_SYN,
  tcpAck,
  tcpChecksumField,
  tcpChecksumIpv4,
  tcpChecksumIpv6,
  tcpChecksumOkIpv4,
  tcpChecksumOkIpv6,
  tcpDstPort,
  tcpFlags,
  tcpHdrLen,
  tcpSeq,
  tcpSrcPort,
  tcpUpdateChecksumIpv4,
  tcpUpdateChecksumIpv6,
  tcpUrgentPtr,
  tcpWindow,
  tcpWrite,
} from "../../../src/net/tcp.ts";
import {
  udpChecksumField,
  udpChecksumIpv4,
  udpChecksumOkIpv4,
  udpChecksumOkIpv6,
  udpDstPort,
  udpLength,
  udpSetChecksumField,
  udpSrcPort,
  udpUpdateChecksumIpv4,
  udpUpdateChecksumIpv6,
  udpWrite,
} from "../../../src/net/udp.ts";
import { write16 } from "../../../src/net/bytes.ts";
import { toHex } from "./tools.ts";
import { ARP_REQUEST, ICMP4, ICMP6, TCP4, UDP4, UDP6 } from "./vectors.ts";

const MAC_A = parseMac("02:00:00:00:00:01");
const MAC_B = parseMac("02:00:00:00:00:02");
const IP_A = 0x0a000001;
const IP_B = 0x0a000002;
const IP6_A = parseIpv6("fd00::1");
const IP6_B = parseIpv6("fd00::2");
const enc = new TextEncoder();

/** Builds UDP4 with our builders at `off` in a big buffer; returns the frame length. */
function buildUdp4(buf: Uint8Array, off: number): number {
  const payload = enc.encode("bdk says hi");
  let p = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const ip = p;
  p += ipv4Write(buf, p, 0, 20 + 8 + payload.length, 0x1234, IPV4_FLAG_DF, 64, IPPROTO_UDP, IP_A, IP_B);
  const udp = p;
  p += udpWrite(buf, p, 1234, 5678, 8 + payload.length);
  buf.set(payload, p);
  p += payload.length;
  udpUpdateChecksumIpv4(buf, ip, udp);
  return p - off;
}

describe("UDP", () => {
  test("IPv4 frame built with our builders equals the independent vector byte for byte", () => {
    const buf = new Uint8Array(2048).fill(0xcc);
    const n = buildUdp4(buf, 1000);
    expect(toHex(buf.subarray(1000, 1000 + n))).toBe(UDP4);
    expect(buf[999]).toBe(0xcc);
    expect(buf[1000 + n]).toBe(0xcc);
    expect(udpSrcPort(buf, 1034)).toBe(1234);
    expect(udpDstPort(buf, 1034)).toBe(5678);
    expect(udpLength(buf, 1034)).toBe(19);
    expect(udpChecksumField(buf, 1034)).toBe(0x8d03);
    expect(udpChecksumIpv4(buf, 1014, 1034)).toBe(0x8d03);
    expect(udpChecksumOkIpv4(buf, 1014, 1034)).toBe(true);
    buf[1042] ^= 0x20; // flip a payload bit
    expect(udpChecksumOkIpv4(buf, 1014, 1034)).toBe(false);
    udpSetChecksumField(buf, 1034, 0); // "no checksum" is acceptable over IPv4
    expect(udpChecksumOkIpv4(buf, 1014, 1034)).toBe(true);
  });

  test("IPv6 frame equals the independent vector; zero checksum is invalid over IPv6", () => {
    const buf = new Uint8Array(200);
    const payload = enc.encode("ipv6 udp!");
    let p = etherWrite(buf, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV6);
    p += ipv6Write(buf, p, 0, 0x12345, 8 + payload.length, IPPROTO_UDP, 64, IP6_A, 0, IP6_B, 0);
    p += udpWrite(buf, p, 1000, 2000, 8 + payload.length);
    buf.set(payload, p);
    p += payload.length;
    expect(udpUpdateChecksumIpv6(buf, 14, 54)).toBe(0x7483);
    expect(toHex(buf.subarray(0, p))).toBe(UDP6);
    expect(udpChecksumOkIpv6(buf, 14, 54)).toBe(true);
    udpSetChecksumField(buf, 54, 0);
    expect(udpChecksumOkIpv6(buf, 14, 54)).toBe(false);
  });

  test("a checksum that computes to 0 is sent as 0xffff (RFC 768) and still verifies", () => {
    for (const v6 of [false, true]) {
      const buf = new Uint8Array(100);
      const ipLen = v6 ? 40 : 20;
      if (v6) ipv6Write(buf, 0, 0, 0, 10, IPPROTO_UDP, 64, IP6_A, 0, IP6_B, 0);
      else ipv4Write(buf, 0, 0, 30, 0, 0, 64, IPPROTO_UDP, IP_A, IP_B);
      udpWrite(buf, ipLen, 7, 9, 10); // 2 payload bytes, zero for now
      const c = v6 ? udpUpdateChecksumIpv6(buf, 0, ipLen) : udpUpdateChecksumIpv4(buf, 0, ipLen);
      // Adding the complement of the sum as a payload word makes the sum 0xffff: checksum 0.
      write16(buf, ipLen + 8, c);
      const c2 = v6 ? udpUpdateChecksumIpv6(buf, 0, ipLen) : udpUpdateChecksumIpv4(buf, 0, ipLen);
      expect(c2).toBe(0xffff);
      expect(udpChecksumField(buf, ipLen)).toBe(0xffff);
      expect(v6 ? udpChecksumOkIpv6(buf, 0, ipLen) : udpChecksumOkIpv4(buf, 0, ipLen)).toBe(true);
    }
  });
});

describe("TCP", () => {
  test("SYN over IPv4 equals the independent vector; readers; verify", () => {
    const buf = new Uint8Array(100);
    let p = etherWrite(buf, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
    p += ipv4Write(buf, p, 0, 40, 1, IPV4_FLAG_DF, 64, IPPROTO_TCP, IP_A, IP_B);
    p += tcpWrite(buf, p, 40000, 80, 0x01020304, 0, TCP_SYN, 65535);
    expect(tcpUpdateChecksumIpv4(buf, 14, 34, 20)).toBe(0xfb49);
    expect(toHex(buf.subarray(0, p))).toBe(TCP4);
    expect([tcpSrcPort(buf, 34), tcpDstPort(buf, 34), tcpSeq(buf, 34), tcpAck(buf, 34)]).toEqual([40000, 80, 0x01020304, 0]);
    expect([tcpHdrLen(buf, 34), tcpFlags(buf, 34), tcpWindow(buf, 34), tcpUrgentPtr(buf, 34)]).toEqual([20, TCP_SYN, 65535, 0]);
    expect(tcpChecksumField(buf, 34)).toBe(0xfb49);
    expect(tcpChecksumOkIpv4(buf, 14, 34, 20)).toBe(true);
    buf[38] ^= 1;
    expect(tcpChecksumOkIpv4(buf, 14, 34, 20)).toBe(false);
    expect(tcpChecksumIpv4(buf, 14, 34, 20)).not.toBe(0xfb49);
  });

  test("over IPv6 with options, odd payload, high sequence numbers", () => {
    const buf = new Uint8Array(200);
    const tcpLen = 24 + 5;
    ipv6Write(buf, 0, 0, 0, tcpLen, IPPROTO_TCP, 64, IP6_A, 0, IP6_B, 0);
    expect(tcpWrite(buf, 40, 443, 51000, 0xfffffff0, 0x80000001, TCP_SYN | TCP_ACK, 1024, 24)).toBe(24);
    buf.set([2, 4, 0x05, 0xb4], 60); // MSS 1460
    buf.set(enc.encode("hello"), 64);
    expect(tcpHdrLen(buf, 40)).toBe(24);
    expect(tcpSeq(buf, 40)).toBe(0xfffffff0);
    expect(tcpAck(buf, 40)).toBe(0x80000001);
    tcpUpdateChecksumIpv6(buf, 0, 40, tcpLen);
    expect(tcpChecksumOkIpv6(buf, 0, 40, tcpLen)).toBe(true);
    expect(tcpChecksumIpv6(buf, 0, 40, tcpLen)).toBe(tcpChecksumField(buf, 40));
    buf[68] ^= 0x80;
    expect(tcpChecksumOkIpv6(buf, 0, 40, tcpLen)).toBe(false);
  });
});

describe("ICMP", () => {
  test("ICMPv4 echo request equals the independent vector; reply by incremental update", () => {
    const buf = new Uint8Array(100);
    let p = etherWrite(buf, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
    p += ipv4Write(buf, p, 0, 33, 2, 0, 64, IPPROTO_ICMP, IP_A, IP_B);
    p += icmpWriteEcho(buf, p, ICMP_ECHO_REQUEST, 0x4242, 1);
    buf.set(enc.encode("ping!"), p);
    p += 5;
    expect(icmpUpdateChecksum(buf, 34, 13)).toBe(0xb5eb);
    expect(toHex(buf.subarray(0, p))).toBe(ICMP4);
    expect([icmpType(buf, 34), icmpCode(buf, 34), icmpEchoId(buf, 34), icmpEchoSeq(buf, 34)]).toEqual([8, 0, 0x4242, 1]);
    expect(icmpChecksumOk(buf, 34, 13)).toBe(true);
    expect(icmpEchoRequestToReply(buf, 34)).toBe(ICMP_ECHO_REPLY);
    expect(icmpType(buf, 34)).toBe(0);
    expect(icmpChecksumOk(buf, 34, 13)).toBe(true);
    expect(icmpChecksumField(buf, 34)).toBe(icmpChecksum(buf, 34, 13));
  });

  test("ICMPv6 echo request equals the independent vector; reply by incremental update", () => {
    const buf = new Uint8Array(100);
    let p = etherWrite(buf, 0, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV6);
    p += ipv6Write(buf, p, 0, 0, 13, IPPROTO_ICMPV6, 64, IP6_A, 0, IP6_B, 0);
    p += icmpWriteEcho(buf, p, ICMPV6_ECHO_REQUEST, 0x4242, 1);
    buf.set(enc.encode("ping6"), p);
    p += 5;
    expect(icmp6UpdateChecksum(buf, 14, 54, 13)).toBe(0x2e9f);
    expect(toHex(buf.subarray(0, p))).toBe(ICMP6);
    expect(icmp6ChecksumOk(buf, 14, 54, 13)).toBe(true);
    expect(icmpEchoRequestToReply(buf, 54)).toBe(ICMPV6_ECHO_REPLY);
    expect(icmpType(buf, 54)).toBe(129);
    expect(icmp6ChecksumOk(buf, 14, 54, 13)).toBe(true);
    expect(icmpChecksumField(buf, 54)).toBe(icmp6Checksum(buf, 14, 54, 13));
    buf[60] ^= 4;
    expect(icmp6ChecksumOk(buf, 14, 54, 13)).toBe(false);
  });
});

describe("ARP", () => {
  test("request equals the independent vector; readers; in-place reply", () => {
    const buf = new Uint8Array(64);
    let p = etherWrite(buf, 0, macBroadcast(), 0, MAC_A, 0, ETHERTYPE_ARP);
    buf.fill(0x77, 14 + 18, 14 + 24); // stale target MAC must be cleared by the request builder
    p += arpWriteRequest(buf, p, MAC_A, 0, IP_A, IP_B);
    expect(p).toBe(42);
    expect(toHex(buf.subarray(0, p))).toBe(ARP_REQUEST);
    expect(arpIsEtherIpv4(buf, 14)).toBe(true);
    expect([arpHtype(buf, 14), arpPtype(buf, 14), arpHlen(buf, 14), arpPlen(buf, 14)]).toEqual([1, 0x0800, 6, 4]);
    expect(arpOp(buf, 14)).toBe(ARP_OP_REQUEST);
    expect([arpSpa(buf, 14), arpTpa(buf, 14)]).toEqual([IP_A, IP_B]);

    arpRequestToReply(buf, 14, MAC_B);
    expect(arpOp(buf, 14)).toBe(ARP_OP_REPLY);
    expect([arpSpa(buf, 14), arpTpa(buf, 14)]).toEqual([IP_B, IP_A]);
    const mac = new Uint8Array(6);
    arpGetSha(buf, 14, mac);
    expect(toHex(mac)).toBe("020000000002");
    arpGetTha(buf, 14, mac);
    expect(toHex(mac)).toBe("020000000001");

    const direct = new Uint8Array(28);
    arpWriteReply(direct, 0, MAC_B, 0, IP_B, MAC_A, 0, IP_A);
    expect(toHex(direct)).toBe(toHex(buf.subarray(14, 42)));
  });
});
