/**
 * Whole frames built with our builders inside one big buffer (as in a mempool), compared byte for
 * byte to independently built vectors, then written with PcapWriter and checked by tshark with
 * checksum validation on.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { arpWriteRequest } from "../../../src/net/arp.ts";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, etherWrite, macBroadcast, parseMac, vlanMakeTci, vlanPush } from "../../../src/net/ether.ts";
import { ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST, icmp6UpdateChecksum, icmpUpdateChecksum, icmpWriteEcho } from "../../../src/net/icmp.ts";
import { IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, IPV4_FLAG_DF, ipv4Write, parseIpv4 } from "../../../src/net/ipv4.ts";
import { ipv6Write, parseIpv6 } from "../../../src/net/ipv6.ts";
import { PcapWriter } from "../../../drivers/pcap/file.ts";
import { TCP_SYN, tcpUpdateChecksumIpv4, tcpWrite } from "../../../src/net/tcp.ts";
import { udpUpdateChecksumIpv4, udpUpdateChecksumIpv6, udpWrite } from "../../../src/net/udp.ts";
import { requireTool, run, tempDir, toHex } from "./tools.ts";
import { ARP_REQUEST, ICMP4, ICMP6, TCP4, UDP4, UDP6 } from "./vectors.ts";

const MAC_A = parseMac("02:00:00:00:00:01");
const MAC_B = parseMac("02:00:00:00:00:02");
const IP_A = parseIpv4("10.0.0.1");
const IP_B = parseIpv4("10.0.0.2");
const IP6_A = parseIpv6("fd00::1");
const IP6_B = parseIpv6("fd00::2");
const enc = new TextEncoder();

type Builder = (buf: Uint8Array, off: number) => number;

function copyIn(buf: Uint8Array, at: number, s: string): number {
  const b = enc.encode(s);
  for (let i = 0; i < b.length; i++) buf[at + i] = b[i]!;
  return b.length;
}

const buildUdp4: Builder = (buf, off) => {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const udp = ip + ipv4Write(buf, ip, 0, 39, 0x1234, IPV4_FLAG_DF, 64, IPPROTO_UDP, IP_A, IP_B);
  const data = udp + udpWrite(buf, udp, 1234, 5678, 19);
  const end = data + copyIn(buf, data, "bdk says hi");
  udpUpdateChecksumIpv4(buf, ip, udp);
  return end - off;
};

const buildUdp6: Builder = (buf, off) => {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV6);
  const udp = ip + ipv6Write(buf, ip, 0, 0x12345, 17, IPPROTO_UDP, 64, IP6_A, 0, IP6_B, 0);
  const data = udp + udpWrite(buf, udp, 1000, 2000, 17);
  const end = data + copyIn(buf, data, "ipv6 udp!");
  udpUpdateChecksumIpv6(buf, ip, udp);
  return end - off;
};

const buildTcp4: Builder = (buf, off) => {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const tcp = ip + ipv4Write(buf, ip, 0, 40, 1, IPV4_FLAG_DF, 64, IPPROTO_TCP, IP_A, IP_B);
  const end = tcp + tcpWrite(buf, tcp, 40000, 80, 0x01020304, 0, TCP_SYN, 65535);
  tcpUpdateChecksumIpv4(buf, ip, tcp, end - tcp);
  return end - off;
};

const buildIcmp4: Builder = (buf, off) => {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const icmp = ip + ipv4Write(buf, ip, 0, 33, 2, 0, 64, IPPROTO_ICMP, IP_A, IP_B);
  const data = icmp + icmpWriteEcho(buf, icmp, ICMP_ECHO_REQUEST, 0x4242, 1);
  const end = data + copyIn(buf, data, "ping!");
  icmpUpdateChecksum(buf, icmp, end - icmp);
  return end - off;
};

const buildIcmp6: Builder = (buf, off) => {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV6);
  const icmp = ip + ipv6Write(buf, ip, 0, 0, 13, IPPROTO_ICMPV6, 64, IP6_A, 0, IP6_B, 0);
  const data = icmp + icmpWriteEcho(buf, icmp, ICMPV6_ECHO_REQUEST, 0x4242, 1);
  const end = data + copyIn(buf, data, "ping6");
  icmp6UpdateChecksum(buf, ip, icmp, end - icmp);
  return end - off;
};

const buildArp: Builder = (buf, off) => {
  const arp = off + etherWrite(buf, off, macBroadcast(), 0, MAC_A, 0, ETHERTYPE_ARP);
  return arp + arpWriteRequest(buf, arp, MAC_A, 0, IP_A, IP_B) - off;
};

/** Name, builder, independent vector, number of checksums tshark must call Good. */
const FRAMES: [string, Builder, string, number][] = [
  ["udp4", buildUdp4, UDP4, 2],
  ["udp6", buildUdp6, UDP6, 1],
  ["tcp4", buildTcp4, TCP4, 2],
  ["icmp4", buildIcmp4, ICMP4, 2],
  ["icmp6", buildIcmp6, ICMP6, 1],
  ["arp", buildArp, ARP_REQUEST, 0],
];

/** A 2 KiB slot per frame in one big buffer, like mempool buffers, with 128 bytes of headroom. */
const SLOT = 2048;
const HEADROOM = 128;
const pool = new Uint8Array(SLOT * 16).fill(0xa5);
const lens: number[] = [];
FRAMES.forEach(([, build], i) => lens.push(build(pool, i * SLOT + HEADROOM)));

const tmp = tempDir();
afterAll(() => tmp.remove());

const TSHARK_PREFS = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"];

/** tshark -V output split per frame. */
function tsharkFrames(path: string): string[] {
  const tshark = requireTool("tshark");
  const r = run([tshark, "-n", "-r", path, ...TSHARK_PREFS, "-V"], 60_000);
  if (r.exitCode !== 0) throw new Error(`tshark -r ${path} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.split(/^(?=Frame \d+: )/m).filter((s) => s.startsWith("Frame "));
}

function count(s: string, re: RegExp): number {
  return (s.match(re) ?? []).length;
}

describe("frames built in a big buffer", () => {
  test("equal the independent vectors byte for byte, without touching neighbouring bytes", () => {
    FRAMES.forEach(([name, , vector], i) => {
      const off = i * SLOT + HEADROOM;
      expect({ name, bytes: toHex(pool.subarray(off, off + lens[i]!)) }).toEqual({ name, bytes: vector });
      expect(pool[off - 1]).toBe(0xa5);
      expect(pool[off + lens[i]!]).toBe(0xa5);
    });
  });

  test("tshark with checksum validation finds every checksum Good and none Bad", () => {
    const path = tmp.path("frames.pcap");
    const w = new PcapWriter(path);
    FRAMES.forEach((_, i) => w.frame(pool, i * SLOT + HEADROOM, lens[i]!));
    // The UDP frame again with an 802.1Q tag pushed into its headroom.
    const base = 0 * SLOT + HEADROOM;
    const copyOff = 10 * SLOT + HEADROOM;
    pool.copyWithin(copyOff, base, base + lens[0]!);
    const tagged = vlanPush(pool, copyOff, vlanMakeTci(5, 0, 100));
    w.frame(pool, tagged, lens[0]! + 4);
    w.close();

    const frames = tsharkFrames(path);
    expect(frames.length).toBe(FRAMES.length + 1);
    FRAMES.forEach(([name, , , good], i) => {
      const f = frames[i]!;
      expect({ name, bad: count(f, /Bad|incorrect/g) }).toEqual({ name, bad: 0 });
      expect({ name, good: count(f, /status: Good\]/gi) }).toEqual({ name, good });
    });
    expect(frames[0]).toContain("User Datagram Protocol, Src Port: 1234, Dst Port: 5678");
    expect(frames[1]).toContain("Internet Protocol Version 6, Src: fd00::1, Dst: fd00::2");
    expect(frames[2]).toContain("Flags: 0x002 (SYN)");
    expect(frames[3]).toContain("Echo (ping) request");
    expect(frames[4]).toContain("Echo (ping) request");
    expect(frames[5]).toContain("Address Resolution Protocol (request)");
    expect(frames[5]).toContain("Sender IP address: 10.0.0.1");
    expect(frames[5]).toContain("Target IP address: 10.0.0.2");
    const vlan = frames[6]!;
    expect(vlan).toContain("802.1Q Virtual LAN, PRI: 5, DEI: 0, ID: 100");
    expect(count(vlan, /status: Good\]/gi)).toBe(2);
    expect(count(vlan, /Bad|incorrect/g)).toBe(0);
  });

  test("negative control: tshark does call our corrupted checksums Bad", () => {
    const path = tmp.path("bad.pcap");
    const w = new PcapWriter(path);
    const scratch = new Uint8Array(256);
    for (const [at, len] of [
      [24, lens[0]!], // IPv4 header checksum of udp4 (14 + 10)
      [40, lens[0]!], // UDP checksum of udp4 (34 + 6)
      [60, lens[1]!], // UDP checksum of udp6 (54 + 6)
    ] as const) {
      const src = at === 60 ? SLOT + HEADROOM : HEADROOM;
      scratch.set(pool.subarray(src, src + len));
      scratch[at] ^= 0x01;
      w.frame(scratch, 0, len);
    }
    w.close();
    const frames = tsharkFrames(path);
    expect(frames.length).toBe(3);
    for (const f of frames) expect(count(f, /status: Bad\]/gi)).toBeGreaterThanOrEqual(1);
  });
});
