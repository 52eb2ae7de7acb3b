/**
 * Micro-benchmarks of src/net on the per-packet path: parsing and building Ethernet/IPv4/UDP headers
 * inside one big Uint8Array (as in a mempool), and the checksums. Run: `bun bench/net.bench.ts`.
 * Each iteration handles one packet; the slot rotates through 4096 buffers of 2 KiB so that the
 * numbers include realistic cache behaviour rather than one hot line.
 */
import { bench, do_not_optimize, run, summary } from "mitata";
import { checksumSum, internetChecksum } from "../src/net/checksum.ts";
import { ETHERTYPE_IPV4, etherType, etherWrite, parseMac } from "../src/net/ether.ts";
import {
  IPPROTO_UDP,
  IPV4_FLAG_DF,
  ipv4Checksum,
  ipv4ChecksumOk,
  ipv4Dst,
  ipv4HdrLen,
  ipv4IsValid,
  ipv4Proto,
  ipv4Src,
  ipv4TotalLen,
  ipv4Write,
  parseIpv4,
} from "../src/net/ipv4.ts";
import { PcapWriter } from "../drivers/pcap/file.ts";
import { udpDstPort, udpLength, udpSrcPort, udpUpdateChecksumIpv4, udpWrite } from "../src/net/udp.ts";

const SLOTS = 4096;
const SLOT = 2048;
const HEADROOM = 128;
const FRAME_LEN = 64;
const pool = new Uint8Array(SLOTS * SLOT);
const MAC_A = parseMac("02:00:00:00:00:01");
const MAC_B = parseMac("02:00:00:00:00:02");
const IP_A = parseIpv4("10.0.0.1");
const IP_B = parseIpv4("10.0.0.2");

function build(buf: Uint8Array, off: number, seq: number): number {
  const ip = off + etherWrite(buf, off, MAC_B, 0, MAC_A, 0, ETHERTYPE_IPV4);
  const udp = ip + ipv4Write(buf, ip, 0, FRAME_LEN - 14, seq & 0xffff, IPV4_FLAG_DF, 64, IPPROTO_UDP, IP_A, (IP_B + (seq & 0xff)) >>> 0);
  udpWrite(buf, udp, 1234, 5678, FRAME_LEN - 34);
  return ip;
}

for (let i = 0; i < SLOTS; i++) {
  const off = i * SLOT + HEADROOM;
  for (let j = 42; j < FRAME_LEN; j++) pool[off + j] = (i + j) & 0xff;
  const ip = build(pool, off, i);
  udpUpdateChecksumIpv4(pool, ip, ip + 20);
}

let slot = 0;
function nextOff(): number {
  slot = (slot + 1) & (SLOTS - 1);
  return slot * SLOT + HEADROOM;
}

/** Parse: EtherType, IPv4 sanity, addresses, protocol, UDP ports and length. Returns a mix so nothing is dead. */
function parse(buf: Uint8Array, off: number, len: number): number {
  if (etherType(buf, off) !== ETHERTYPE_IPV4) return -1;
  const ip = off + 14;
  if (!ipv4IsValid(buf, ip, len - 14) || ipv4Proto(buf, ip) !== IPPROTO_UDP) return -2;
  const udp = ip + ipv4HdrLen(buf, ip);
  return (ipv4Src(buf, ip) ^ ipv4Dst(buf, ip) ^ ipv4TotalLen(buf, ip) ^ udpSrcPort(buf, udp) ^ (udpDstPort(buf, udp) << 16) ^ udpLength(buf, udp)) | 0;
}

const dv = new DataView(pool.buffer);
/** The same parse through a DataView: the baseline our hot-path rules avoid. */
function parseDataView(off: number, len: number): number {
  if (dv.getUint16(off + 12) !== ETHERTYPE_IPV4) return -1;
  const ip = off + 14;
  const vihl = dv.getUint8(ip);
  const total = dv.getUint16(ip + 2);
  if (vihl >>> 4 !== 4 || total > len - 14 || dv.getUint8(ip + 9) !== IPPROTO_UDP) return -2;
  const udp = ip + ((vihl & 15) << 2);
  return (dv.getUint32(ip + 12) ^ dv.getUint32(ip + 16) ^ total ^ dv.getUint16(udp) ^ (dv.getUint16(udp + 2) << 16) ^ dv.getUint16(udp + 4)) | 0;
}

summary(() => {
  bench("parse eth/ipv4/udp (shifts on Uint8Array)", () => {
    do_not_optimize(parse(pool, nextOff(), FRAME_LEN));
  });
  bench("parse eth/ipv4/udp + verify IPv4 checksum", () => {
    const off = nextOff();
    do_not_optimize(ipv4ChecksumOk(pool, off + 14) ? parse(pool, off, FRAME_LEN) : 0);
  });
  bench("parse eth/ipv4/udp via DataView (baseline)", () => {
    do_not_optimize(parseDataView(nextOff(), FRAME_LEN));
  });
});

let seq = 0;
summary(() => {
  bench("build eth/ipv4/udp headers (IPv4 checksum included)", () => {
    do_not_optimize(build(pool, nextOff(), seq++));
  });
  bench("build eth/ipv4/udp + UDP checksum (22 B payload)", () => {
    const ip = build(pool, nextOff(), seq++);
    do_not_optimize(udpUpdateChecksumIpv4(pool, ip, ip + 20));
  });
});

const mtu = new Uint8Array(1500).map((_, i) => (i * 31) & 0xff);
summary(() => {
  bench("ipv4Checksum (20 B header)", () => {
    do_not_optimize(ipv4Checksum(pool, nextOff() + 14));
  });
  bench("internetChecksum 64 B", () => {
    do_not_optimize(internetChecksum(pool, nextOff(), 64));
  });
  bench("internetChecksum 1500 B", () => {
    do_not_optimize(internetChecksum(mtu, 0, 1500));
  });
  bench("checksumSum 1500 B (unfolded)", () => {
    do_not_optimize(checksumSum(mtu, 0, 1500));
  });
});

const writer = new PcapWriter("/dev/null");
summary(() => {
  bench("PcapWriter.frame 64 B to /dev/null", () => {
    writer.frameAt(pool, nextOff(), FRAME_LEN, 1, 2);
  });
});

await run();
writer.close();
