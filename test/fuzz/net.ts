/**
 * Fuzzing src/net: the header views and validators, checksums, byte helpers and the address text parsers.
 *
 * Out-of-bounds reads: a view that takes a length (`ipv4IsValid`, `ipv6IsValid`, `etherL3Offset`,
 * `etherL3Type`) promises to stay inside it, and every view promises to stay inside a header that its
 * validator accepted. Each input is therefore run several times: alone in a buffer of exactly its size, and
 * inside larger buffers whose bytes around it are canaries (0x00, 0xff, 0x5a); every result must be the same
 * each time (a result that changes with the canary was computed from bytes outside the input, and one past
 * the end of the array shows as NaN / a different value). Inputs are the project's own builders' output and
 * known-good vectors (test/unit/net/vectors.ts), mutated, and random bytes.
 */
import * as N from "../../src/net/index.ts";
import { ARP_REQUEST, ICMP4, ICMP6, TCP4, UDP4, UDP6 } from "../unit/net/vectors.ts";
import {
  check,
  fc,
  fromHex,
  fuzzText,
  mutatedBytes,
  outcome,
  prop,
  toHex,
  type FuzzFamily,
  type FuzzTarget,
  type Tally,
} from "./harness.ts";

// ---- placement in canary buffers --------------------------------------------------------------------

const PLACEMENTS = [
  { pre: 0, post: 0, canary: 0 },
  { pre: 7, post: 80, canary: 0x00 },
  { pre: 7, post: 80, canary: 0xff },
  { pre: 3, post: 80, canary: 0x5a },
] as const;

function place(data: Uint8Array, pre: number, post: number, canary: number): Uint8Array {
  const buf = new Uint8Array(pre + data.length + post).fill(canary);
  buf.set(data, pre);
  return buf;
}

function same(a: unknown, b: unknown): boolean {
  return Bun.deepEquals(a, b, true);
}

function hasNaN(v: unknown): boolean {
  if (typeof v === "number") return Number.isNaN(v);
  if (v && typeof v === "object") return Object.values(v).some(hasNaN);
  return false;
}

/**
 * Runs `f(buf, off, len)` with `data` at `off` of each placement; the results (made relative to `off` by
 * `f`) must all be equal and free of NaN. Returns the result. `f` must not modify the buffer.
 */
function inBounds<T>(what: string, data: Uint8Array, f: (buf: Uint8Array, off: number, len: number) => T): T {
  let first: T | undefined;
  for (let i = 0; i < PLACEMENTS.length; i++) {
    const p = PLACEMENTS[i]!;
    const r = f(place(data, p.pre, p.post, p.canary), p.pre, data.length);
    check(!hasNaN(r), () => `${what}: NaN in ${JSON.stringify(r)} (a read past the end of the array) for ${toHex(data)}`);
    if (i === 0) first = r;
    else check(same(first, r), () => `${what}: result depends on the bytes around the input (canary ${p.canary.toString(16)}): ${JSON.stringify(first)} vs ${JSON.stringify(r)} for ${toHex(data)}`);
  }
  return first as T;
}

// ---- seeds ------------------------------------------------------------------------------------------

const VECTORS = [UDP4, UDP6, TCP4, ICMP4, ICMP6, ARP_REQUEST].map(fromHex);
const MAC_A = N.parseMac("02:00:00:00:00:01");
const MAC_B = N.parseMac("02:00:00:00:00:02");

const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });

interface FrameSpec {
  v6: boolean;
  l4: "udp" | "tcp" | "icmp" | "raw";
  payload: Uint8Array;
  vlan: number; // 0, 1 or 2 tags
  ttl: number;
  tos: number;
  id: number;
  flagsFrag: number;
  src4: number;
  dst4: number;
  src6: Uint8Array;
  dst6: Uint8Array;
  flow: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  options: number; // IPv4 options words (0..10)
  tcpOptions: number; // TCP options words (0..10)
}

const frameSpecArb: fc.Arbitrary<FrameSpec> = fc.record({
  v6: fc.boolean(),
  l4: fc.constantFrom("udp" as const, "tcp" as const, "icmp" as const, "raw" as const),
  payload: fc.uint8Array({ maxLength: 80 }),
  vlan: fc.constantFrom(0, 0, 1, 2),
  ttl: fc.integer({ min: 0, max: 255 }),
  tos: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  flagsFrag: fc.integer({ min: 0, max: 0xffff }),
  src4: fc.nat({ max: 0xffffffff }),
  dst4: fc.nat({ max: 0xffffffff }),
  src6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  dst6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  flow: fc.integer({ min: 0, max: 0xfffff }),
  sport: fc.integer({ min: 0, max: 0xffff }),
  dport: fc.integer({ min: 0, max: 0xffff }),
  seq: fc.nat({ max: 0xffffffff }),
  ack: fc.nat({ max: 0xffffffff }),
  options: fc.constantFrom(0, 0, 0, 1, 3, 10),
  tcpOptions: fc.constantFrom(0, 0, 1, 10),
});

/** A whole Ethernet frame built with the project's builders (checksums filled in). */
function buildFrame(s: FrameSpec): Uint8Array {
  const l3hdr = s.v6 ? 40 : 20 + 4 * s.options;
  const l4hdr = s.l4 === "udp" ? 8 : s.l4 === "tcp" ? 20 + 4 * s.tcpOptions : s.l4 === "icmp" ? 8 : 0;
  const len = 14 + 4 * s.vlan + l3hdr + l4hdr + s.payload.length;
  const buf = new Uint8Array(len + 8);
  const off = 8; // headroom for vlanPush
  N.etherWrite(buf, off, MAC_B, 0, MAC_A, 0, s.v6 ? N.ETHERTYPE_IPV6 : N.ETHERTYPE_IPV4);
  // Tags are pushed after the L3 is written (vlanPush moves only the MACs toward the front).
  const ip = off + 14;
  const l4 = ip + l3hdr;
  const l4len = l4hdr + s.payload.length;
  const proto = s.l4 === "udp" ? N.IPPROTO_UDP : s.l4 === "tcp" ? N.IPPROTO_TCP : s.l4 === "icmp" ? (s.v6 ? N.IPPROTO_ICMPV6 : N.IPPROTO_ICMP) : 253;
  if (s.v6) {
    N.ipv6Write(buf, ip, s.tos, s.flow, l4len, proto, s.ttl, s.src6, 0, s.dst6, 0);
  } else {
    N.ipv4Write(buf, ip, s.tos, l3hdr + l4len, s.id, s.flagsFrag, s.ttl, proto, s.src4, s.dst4);
    if (s.options > 0) {
      buf[ip] = 0x40 | (5 + s.options);
      for (let i = 20; i < l3hdr; i++) buf[ip + i] = 1; // NOP options
      N.ipv4UpdateChecksum(buf, ip);
    }
  }
  buf.set(s.payload, l4 + l4hdr);
  if (s.l4 === "udp") {
    N.udpWrite(buf, l4, s.sport, s.dport, l4len);
    if (s.v6) N.udpUpdateChecksumIpv6(buf, ip, l4);
    else N.udpUpdateChecksumIpv4(buf, ip, l4);
  } else if (s.l4 === "tcp") {
    N.tcpWrite(buf, l4, s.sport, s.dport, s.seq, s.ack, N.TCP_SYN | N.TCP_ACK, 65535, l4hdr);
    for (let i = 20; i < l4hdr; i++) buf[l4 + i] = 1;
    if (s.v6) N.tcpUpdateChecksumIpv6(buf, ip, l4, l4len);
    else N.tcpUpdateChecksumIpv4(buf, ip, l4, l4len);
  } else if (s.l4 === "icmp") {
    N.icmpWriteEcho(buf, l4, s.v6 ? N.ICMPV6_ECHO_REQUEST : N.ICMP_ECHO_REQUEST, s.sport, s.dport);
    if (s.v6) N.icmp6UpdateChecksum(buf, ip, l4, l4len);
    else N.icmpUpdateChecksum(buf, l4, l4len);
  }
  let start = off;
  for (let t = 0; t < s.vlan; t++) start = N.vlanPush(buf, start, N.vlanMakeTci(t, 0, 100 + t), t === s.vlan - 1 ? N.ETHERTYPE_QINQ : N.ETHERTYPE_VLAN);
  return buf.slice(start, off + len);
}

const frameSeeds: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...VECTORS) },
  { weight: 4, arbitrary: frameSpecArb.map(buildFrame) },
);

/** Frames: built or known-good ones, mutated; or random bytes. */
const frameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: frameSeeds },
  { weight: 6, arbitrary: mutatedBytes(frameSeeds) },
  { weight: 1, arbitrary: bytesArb(120) },
);

/** The L3 part of a frame (what follows the Ethernet header and its tags), for the L3 views. */
function l3Of(frame: Uint8Array): Uint8Array {
  const l3 = N.etherL3Offset(frame, 0, frame.length);
  return l3 < 0 ? frame : frame.subarray(l3);
}

/** IPv4/IPv6 packets: the L3 part of built frames, mutated; or random bytes. */
const packetArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: frameSeeds.map(l3Of) },
  { weight: 6, arbitrary: mutatedBytes(frameSeeds.map(l3Of)) },
  { weight: 1, arbitrary: bytesArb(100) },
);

// ---- targets ----------------------------------------------------------------------------------------

const bytesTarget: FuzzTarget = {
  name: "bytes: read16/read32/write16/write32/copyBytes/bytesEqual",
  property: (t: Tally) =>
    prop(
      [fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 64 }), fc.nat({ max: 0xffffffff }), fc.boolean()],
      (data, a, b, len, value, sameArray) => {
        const n = data.length;
        const o1 = a % n;
        const o2 = b % n;
        const l = Math.min(len, n - o1, n - o2);
        outcome(t, "bytes", () => {
          if (o1 + 4 <= n) {
            const w = Uint8Array.from(data);
            N.write32(w, o1, value);
            check(N.read32(w, o1) === value, `read32(write32(${value})) = ${N.read32(w, o1)}`);
            check(N.read32(w, o1) === new DataView(w.buffer).getUint32(o1), "read32 disagrees with DataView");
            N.write16(w, o1, value);
            check(N.read16(w, o1) === (value & 0xffff), "read16(write16(v)) !== v & 0xffff");
          }
          const src = Uint8Array.from(data);
          const dst = sameArray ? src : Uint8Array.from(data);
          const ref = Uint8Array.from(data);
          ref.copyWithin(o2, o1, o1 + l); // the reference copy: memmove semantics
          N.copyBytes(dst, o2, src, o1, l);
          if (sameArray) check(toHex(dst) === toHex(ref), `copyBytes(same array, ${o2}, ${o1}, ${l}) is not a memmove`);
          else check(toHex(dst.subarray(o2, o2 + l)) === toHex(data.subarray(o1, o1 + l)), "copyBytes copied wrong bytes");
          const eq = N.bytesEqual(data, o1, data, o2, l);
          check(eq === (toHex(data.subarray(o1, o1 + l)) === toHex(data.subarray(o2, o2 + l))), "bytesEqual disagrees with a comparison");
        });
      },
    ),
};

/** RFC 1071, straightforwardly (independent of src/net/checksum.ts). */
function refSum(bytes: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += bytes[off + i]! * 256 + (i + 1 < len ? bytes[off + i + 1]! : 0);
  return s;
}
function refFold(s: number): number {
  while (s > 0xffff) s = (s % 65536) + Math.floor(s / 65536);
  return s;
}

/** Two checksums that verify alike: equal, or 0x0000 and 0xffff (one's complement's two zeros). */
function sameChecksum(a: number, b: number): boolean {
  return (a ^ 0xffff) % 0xffff === (b ^ 0xffff) % 0xffff;
}

const checksumTarget: FuzzTarget = {
  name: "checksum: sum/fold/finish/adjust vs RFC 1071",
  property: (t: Tally) =>
    prop(
      [fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff }), fc.nat({ max: 2 ** 48 }), fc.maxSafeNat()), fc.nat({ max: 0xffff }), fc.nat({ max: 0xffffffff })],
      (data, a, b, initial, word, word32) => {
        const n = data.length;
        const off = n === 0 ? 0 : a % n;
        const len = n === 0 ? 0 : b % (n - off + 1);
        outcome(t, "checksum", () => {
          const sum = inBounds("checksumSum", data.subarray(off, off + len), (buf, o, l) => N.checksumSum(buf, o, l, 0));
          check(sum === refSum(data, off, len), `checksumSum = ${sum}, RFC 1071 says ${refSum(data, off, len)}`);
          if (initial <= 2 ** 48) check(N.checksumSum(data, off, len, initial) === sum + initial, "checksumSum does not add `initial`");
          const f = N.checksumFold(initial);
          check(f >= 0 && f <= 0xffff && f === refFold(initial), `checksumFold(${initial}) = ${f}, expected ${refFold(initial)}`);
          check(N.checksumFinish(sum) === (~refFold(sum) & 0xffff), "checksumFinish");
          check(N.internetChecksum(data, off, len) === (~refFold(refSum(data, off, len)) & 0xffff), "internetChecksum");
          // Incremental updates agree with recomputing, for a 16-bit word and a 32-bit field on an even offset.
          if (len >= 4 && (len & 1) === 0) {
            const w = Uint8Array.from(data.subarray(off, off + len));
            const c0 = N.internetChecksum(w, 0, len);
            const at = 2 * ((a >>> 3) % (len >> 1));
            const old16 = N.read16(w, at);
            N.write16(w, at, word);
            const c1 = N.internetChecksum(w, 0, len);
            const adj = N.checksumAdjust16(c0, old16, word);
            check(sameChecksum(adj, c1), `checksumAdjust16: ${adj} vs recomputed ${c1}`);
            const at32 = 2 * ((a >>> 5) % ((len >> 1) - 1));
            const old32 = N.read32(w, at32);
            N.write32(w, at32, word32);
            const c2 = N.internetChecksum(w, 0, len);
            const adj32 = N.checksumAdjust32(c1, old32, word32);
            check(sameChecksum(adj32, c2), `checksumAdjust32: ${adj32} vs recomputed ${c2}`);
          }
        });
      },
    ),
};

const etherTarget: FuzzTarget = {
  name: "ether: etherL3Offset/etherL3Type within len, VLAN push/pop, MAC tests",
  property: (t: Tally) =>
    prop([frameArb, fc.integer({ min: 0, max: 0xffff })], (frame, tci) => {
      outcome(t, "ether", () => {
        const r = inBounds("etherL3Offset/etherL3Type", frame, (buf, off, len) => {
          const l3 = N.etherL3Offset(buf, off, len);
          return { l3: l3 < 0 ? -1 : l3 - off, type: N.etherL3Type(buf, off, len) };
        });
        if (r.l3 >= 0) t.hit(r.l3 === 14 ? "untagged" : "tagged");
        check(r.l3 === -1 || (r.l3 <= frame.length && [14, 18, 22].includes(r.l3)), `etherL3Offset = ${r.l3} for a ${frame.length}-byte frame`);
        check((r.l3 === -1) === (r.type === -1), "etherL3Type and etherL3Offset disagree on -1");
        if (r.l3 >= 0) check(r.type === N.read16(frame, r.l3 - 2), "etherL3Type is not the word before the L3 offset");
        if (frame.length >= 14) {
          // Push then pop restores the frame; swapping MACs twice is the identity.
          const buf = place(frame, 4, 0, 0);
          const pushed = N.vlanPush(buf, 4, tci);
          check(pushed === 0 && N.etherIsVlan(buf, 0) && N.vlanTci(buf, 0) === tci, "vlanPush did not tag the frame");
          check(N.vlanPop(buf, 0) === 4, "vlanPop did not return off + 4");
          check(toHex(buf.subarray(4)) === toHex(frame), "vlanPush + vlanPop changed the frame");
          N.etherSwapMacs(buf, 4);
          N.etherSwapMacs(buf, 4);
          check(toHex(buf.subarray(4)) === toHex(frame), "etherSwapMacs twice changed the frame");
          const bc = frame.subarray(0, 6).every((x) => x === 0xff);
          check(N.macIsBroadcast(frame, 0) === bc && N.etherIsBroadcast(frame, 0) === bc, "macIsBroadcast");
          check(N.macIsMulticast(frame, 0) === ((frame[0]! & 1) === 1) && N.macIsUnicast(frame, 0) !== N.macIsMulticast(frame, 0), "macIsMulticast/macIsUnicast");
          check(N.macIsZero(frame, 0) === frame.subarray(0, 6).every((x) => x === 0), "macIsZero");
          const s = N.macToString(frame, 0);
          check(toHex(N.parseMac(s)) === toHex(frame.subarray(0, 6)), `parseMac(macToString) is not the MAC: ${s}`);
        }
      });
    }),
};

const ipv4Target: FuzzTarget = {
  name: "ipv4: ipv4IsValid within len; views, checksum, TTL and NAT rewrites on valid headers",
  property: (t: Tally) =>
    prop([packetArb, fc.nat({ max: 0xffffffff })], (pkt, addr) => {
      outcome(t, "ipv4", () => {
        const valid = inBounds("ipv4IsValid", pkt, (buf, off, len) => N.ipv4IsValid(buf, off, len));
        if (!valid) return;
        t.hit("valid header");
        const v = inBounds("ipv4 views of a valid header", pkt, (buf, off, len) => ({
          version: N.ipv4Version(buf, off),
          ihl: N.ipv4Ihl(buf, off),
          hl: N.ipv4HdrLen(buf, off),
          tos: N.ipv4Tos(buf, off),
          dscp: N.ipv4Dscp(buf, off),
          ecn: N.ipv4Ecn(buf, off),
          total: N.ipv4TotalLen(buf, off),
          id: N.ipv4Id(buf, off),
          ff: N.ipv4FlagsFrag(buf, off),
          df: N.ipv4DontFragment(buf, off),
          mf: N.ipv4MoreFragments(buf, off),
          fragOff: N.ipv4FragOffset(buf, off),
          frag: N.ipv4IsFragment(buf, off),
          ttl: N.ipv4Ttl(buf, off),
          proto: N.ipv4Proto(buf, off),
          csumField: N.ipv4HdrChecksum(buf, off),
          src: N.ipv4Src(buf, off),
          dst: N.ipv4Dst(buf, off),
          payloadOff: N.ipv4PayloadOffset(buf, off) - off,
          payloadLen: N.ipv4PayloadLen(buf, off),
          csum: N.ipv4Checksum(buf, off),
          ok: N.ipv4ChecksumOk(buf, off),
          pseudo: N.ipv4PseudoSum(buf, off, N.IPPROTO_UDP, Math.max(0, N.ipv4PayloadLen(buf, off))),
          len,
        }));
        check(v.version === 4 && v.hl >= 20 && v.hl <= 60 && v.hl === v.ihl * 4, `header length ${v.hl}`);
        check(v.payloadOff === v.hl && v.payloadLen >= 0 && v.payloadOff + v.payloadLen <= pkt.length, `payload ${v.payloadOff}+${v.payloadLen} outside the ${pkt.length} bytes`);
        check(v.mf === ((v.ff & N.IPV4_FLAG_MF) !== 0) && v.df === ((v.ff & N.IPV4_FLAG_DF) !== 0), "flag views disagree with the flags word");
        check(v.frag === (v.mf || v.fragOff !== 0), "ipv4IsFragment");
        const ref = ~refFold(refSum(pkt, 0, v.hl) - v.csumField) & 0xffff;
        check(v.csum === ref, `ipv4Checksum ${v.csum}, RFC 1071 says ${ref}`);
        check(v.ok === (refFold(refSum(pkt, 0, v.hl)) === 0xffff), "ipv4ChecksumOk disagrees with the reference");
        // Mutators keep a correct checksum correct.
        const w = Uint8Array.from(pkt);
        N.ipv4UpdateChecksum(w, 0);
        check(N.ipv4ChecksumOk(w, 0), "ipv4UpdateChecksum did not make the checksum right");
        const ttl = N.ipv4DecTtl(w, 0);
        check(ttl === Math.max(0, v.ttl - 1) && N.ipv4Ttl(w, 0) === ttl && N.ipv4ChecksumOk(w, 0), `ipv4DecTtl (TTL ${v.ttl}) broke the checksum`);
        N.ipv4RewriteSrc(w, 0, addr);
        check(N.ipv4Src(w, 0) === addr && N.ipv4ChecksumOk(w, 0), `ipv4RewriteSrc(${addr}) broke the checksum`);
        N.ipv4RewriteDst(w, 0, addr ^ 0x5a5a5a5a);
        check(N.ipv4Dst(w, 0) === (addr ^ 0x5a5a5a5a) >>> 0 && N.ipv4ChecksumOk(w, 0), "ipv4RewriteDst broke the checksum");
      });
    }),
};

const ipv6Target: FuzzTarget = {
  name: "ipv6: ipv6IsValid within len; views and pseudo-header on valid headers",
  property: (t: Tally) =>
    prop([packetArb], (pkt) => {
      outcome(t, "ipv6", () => {
        const valid = inBounds("ipv6IsValid", pkt, (buf, off, len) => N.ipv6IsValid(buf, off, len));
        if (!valid) return;
        t.hit("valid header");
        const v = inBounds("ipv6 views of a valid header", pkt, (buf, off) => {
          const src = new Uint8Array(16);
          const dst = new Uint8Array(16);
          N.ipv6GetSrc(buf, off, src);
          N.ipv6GetDst(buf, off, dst);
          return {
            version: N.ipv6Version(buf, off),
            tc: N.ipv6TrafficClass(buf, off),
            flow: N.ipv6FlowLabel(buf, off),
            plen: N.ipv6PayloadLen(buf, off),
            next: N.ipv6NextHeader(buf, off),
            hop: N.ipv6HopLimit(buf, off),
            src: toHex(src),
            dst: toHex(dst),
            mc: N.ipv6AddrIsMulticast(buf, off + N.IPV6_DST_OFF),
            pseudo: N.ipv6PseudoSum(buf, off, N.IPPROTO_UDP, N.ipv6PayloadLen(buf, off)),
          };
        });
        check(v.version === 6 && v.plen + 40 <= pkt.length, `payload length ${v.plen} outside the ${pkt.length} bytes`);
        check(v.tc >= 0 && v.tc <= 255 && v.flow >= 0 && v.flow <= 0xfffff, "traffic class / flow label out of range");
        // Writing the views back reproduces the header.
        const w = new Uint8Array(40);
        N.ipv6Write(w, 0, v.tc, v.flow, v.plen, v.next, v.hop, fromHex(v.src), 0, fromHex(v.dst), 0);
        check(toHex(w) === toHex(pkt.subarray(0, 40)), "ipv6Write(views) is not the header");
        const text = N.ipv6ToString(pkt, 8);
        check(toHex(N.parseIpv6(text)) === v.src, `parseIpv6(ipv6ToString) is not the address: ${text}`);
      });
    }),
};

/**
 * A receiver's validation before L4 checksums (what apps/pktgen/receiver.ts does): the IP header valid in the
 * frame, the L4 length fields inside the IP payload. Returns what the checksum functions need, or undefined.
 */
function l4View(frame: Uint8Array): { v6: boolean; ip: number; l4: number; proto: number; l4len: number } | undefined {
  const ip = N.etherL3Offset(frame, 0, frame.length);
  if (ip < 0) return undefined;
  const type = N.read16(frame, ip - 2);
  const avail = frame.length - ip;
  if (type === N.ETHERTYPE_IPV4) {
    if (!N.ipv4IsValid(frame, ip, avail)) return undefined;
    return { v6: false, ip, l4: N.ipv4PayloadOffset(frame, ip), proto: N.ipv4Proto(frame, ip), l4len: N.ipv4PayloadLen(frame, ip) };
  }
  if (type === N.ETHERTYPE_IPV6) {
    if (!N.ipv6IsValid(frame, ip, avail)) return undefined;
    return { v6: true, ip, l4: ip + 40, proto: N.ipv6NextHeader(frame, ip), l4len: N.ipv6PayloadLen(frame, ip) };
  }
  return undefined;
}

const l4Target: FuzzTarget = {
  name: "udp/tcp/icmp: checksums of validated frames stay inside them; update → ok; echo reply",
  property: (t: Tally) =>
    prop([frameArb], (frame) => {
      outcome(t, "l4", () => {
        const v = l4View(frame);
        if (!v) return;
        const { v6, ip, l4, proto, l4len } = v;
        const rel = (_buf: Uint8Array, off: number) => ({ ip: ip + off, l4: l4 + off });
        if (proto === N.IPPROTO_UDP && l4len >= 8) {
          const ulen = N.udpLength(frame, l4);
          if (ulen < 8 || ulen > l4len) return; // the UDP length field must fit the IP payload
          t.hit(v6 ? "udp6" : "udp4");
          const r = inBounds("udp checksum", frame, (buf, off) => {
            const p = rel(buf, off);
            return v6
              ? { c: N.udpChecksumIpv6(buf, p.ip, p.l4), ok: N.udpChecksumOkIpv6(buf, p.ip, p.l4) }
              : { c: N.udpChecksumIpv4(buf, p.ip, p.l4), ok: N.udpChecksumOkIpv4(buf, p.ip, p.l4) };
          });
          check(r.c >= 1 && r.c <= 0xffff, `udp checksum ${r.c}`);
          const w = Uint8Array.from(frame);
          if (v6) N.udpUpdateChecksumIpv6(w, ip, l4);
          else N.udpUpdateChecksumIpv4(w, ip, l4);
          check(v6 ? N.udpChecksumOkIpv6(w, ip, l4) : N.udpChecksumOkIpv4(w, ip, l4), "udpUpdateChecksum did not make the checksum right");
          check(N.udpChecksumField(w, l4) === r.c, "udpUpdateChecksum stored another value than udpChecksum computed");
        } else if (proto === N.IPPROTO_TCP && l4len >= 20) {
          t.hit(v6 ? "tcp6" : "tcp4");
          const r = inBounds("tcp checksum", frame, (buf, off) => {
            const p = rel(buf, off);
            return v6
              ? { c: N.tcpChecksumIpv6(buf, p.ip, p.l4, l4len), ok: N.tcpChecksumOkIpv6(buf, p.ip, p.l4, l4len), hl: N.tcpHdrLen(buf, p.l4) }
              : { c: N.tcpChecksumIpv4(buf, p.ip, p.l4, l4len), ok: N.tcpChecksumOkIpv4(buf, p.ip, p.l4, l4len), hl: N.tcpHdrLen(buf, p.l4) };
          });
          check(r.c >= 0 && r.c <= 0xffff && r.hl % 4 === 0 && r.hl <= 60, `tcp checksum ${r.c}, header length ${r.hl}`);
          const w = Uint8Array.from(frame);
          if (v6) N.tcpUpdateChecksumIpv6(w, ip, l4, l4len);
          else N.tcpUpdateChecksumIpv4(w, ip, l4, l4len);
          check(v6 ? N.tcpChecksumOkIpv6(w, ip, l4, l4len) : N.tcpChecksumOkIpv4(w, ip, l4, l4len), "tcpUpdateChecksum did not make the checksum right");
        } else if ((proto === N.IPPROTO_ICMP && !v6) || (proto === N.IPPROTO_ICMPV6 && v6)) {
          if (l4len < 8) return;
          t.hit(v6 ? "icmp6" : "icmp4");
          inBounds("icmp checksum", frame, (buf, off) => {
            const p = rel(buf, off);
            return v6
              ? { c: N.icmp6Checksum(buf, p.ip, p.l4, l4len), ok: N.icmp6ChecksumOk(buf, p.ip, p.l4, l4len) }
              : { c: N.icmpChecksum(buf, p.l4, l4len), ok: N.icmpChecksumOk(buf, p.l4, l4len) };
          });
          const w = Uint8Array.from(frame);
          if (v6) N.icmp6UpdateChecksum(w, ip, l4, l4len);
          else N.icmpUpdateChecksum(w, l4, l4len);
          const ok = () => (v6 ? N.icmp6ChecksumOk(w, ip, l4, l4len) : N.icmpChecksumOk(w, l4, l4len));
          check(ok(), "icmpUpdateChecksum did not make the checksum right");
          const type = N.icmpType(w, l4);
          if (type === N.ICMP_ECHO_REQUEST || type === N.ICMPV6_ECHO_REQUEST) {
            t.hit("echo reply");
            const reply = N.icmpEchoRequestToReply(w, l4);
            check(N.icmpType(w, l4) === reply && ok(), `icmpEchoRequestToReply (type ${type}) broke the checksum`);
          }
        }
      });
    }),
};

const arpSeeds = fc.oneof(
  fc.constant(fromHex(ARP_REQUEST).subarray(14)),
  fc.tuple(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })).map(([mac, spa, tpa]) => {
    const b = new Uint8Array(28);
    N.arpWriteRequest(b, 0, mac, 0, spa, tpa);
    return b;
  }),
);

const arpTarget: FuzzTarget = {
  name: "arp: views and request → reply on built and mutated packets",
  property: (t: Tally) =>
    prop([fc.oneof(arpSeeds, mutatedBytes(arpSeeds, 3)), fc.uint8Array({ minLength: 6, maxLength: 6 })], (pkt, mine) => {
      outcome(t, "arp", () => {
        if (pkt.length < N.ARP_HDR_LEN) return; // the views read a fixed 28-byte header: the caller checks the length
        const v = inBounds("arp views", pkt.subarray(0, 28), (buf, off) => {
          const sha = new Uint8Array(6);
          const tha = new Uint8Array(6);
          N.arpGetSha(buf, off, sha);
          N.arpGetTha(buf, off, tha);
          return {
            htype: N.arpHtype(buf, off), ptype: N.arpPtype(buf, off), hlen: N.arpHlen(buf, off), plen: N.arpPlen(buf, off),
            op: N.arpOp(buf, off), spa: N.arpSpa(buf, off), tpa: N.arpTpa(buf, off), sha: toHex(sha), tha: toHex(tha),
            ether: N.arpIsEtherIpv4(buf, off),
          };
        });
        if (v.ether) t.hit("ether/ipv4 arp");
        check(v.ether === (v.htype === 1 && v.ptype === 0x0800 && v.hlen === 6 && v.plen === 4), "arpIsEtherIpv4");
        const w = Uint8Array.from(pkt);
        N.arpRequestToReply(w, 0, mine);
        check(N.arpOp(w, 0) === N.ARP_OP_REPLY && N.arpSpa(w, 0) === v.tpa && N.arpTpa(w, 0) === v.spa, "arpRequestToReply: addresses");
        const sha = new Uint8Array(6);
        const tha = new Uint8Array(6);
        N.arpGetSha(w, 0, sha);
        N.arpGetTha(w, 0, tha);
        check(toHex(sha) === toHex(mine) && toHex(tha) === v.sha, "arpRequestToReply: MACs");
      });
    }),
};

// ---- text parsers -------------------------------------------------------------------------------------

const hexByte = fc.integer({ min: 0, max: 255 });
const macTexts = fc.oneof(
  fc.tuple(fc.array(hexByte, { minLength: 6, maxLength: 6 }), fc.constantFrom(":", "-", ""), fc.boolean(), fc.boolean()).map(([b, sep, upper, pad]) => {
    const parts = b.map((x) => (pad || sep === "" ? x.toString(16).padStart(2, "0") : x.toString(16)));
    const s = parts.join(sep);
    return upper ? s.toUpperCase() : s;
  }),
  fc.constantFrom("02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "0a-1b-2c-3d-4e-5f", "0a1b2c3d4e5f", "2:0:0:0:0:1"),
);

/** The documented MAC grammar, written independently: 12 hex digits, or six 1-2 digit groups split by ":" or "-". */
function modelMac(text: string): string | undefined {
  const s = text.trim();
  let parts: string[];
  if (/^[0-9a-f]{12}$/i.test(s)) parts = s.match(/../g)!;
  else {
    parts = s.split(/[:-]/);
    if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/i.test(p))) return undefined;
  }
  return parts.map((p) => p.toLowerCase().padStart(2, "0")).join("");
}

const parseMacTarget: FuzzTarget = {
  name: "parseMac (valid, mutated, random text)",
  property: (t: Tally) =>
    prop([fuzzText(macTexts)], (text) => {
      const r = outcome(t, `parseMac(${JSON.stringify(text)})`, () => N.parseMac(text));
      const want = modelMac(text);
      if (r.ok) {
        check(want !== undefined && toHex(r.value) === want, () => `parseMac(${JSON.stringify(text)}) accepted it as ${toHex(r.value)}; the grammar says ${want ?? "invalid"}`);
        check(toHex(N.parseMac(N.macToString(r.value))) === toHex(r.value), "macToString round trip");
      } else {
        check(want === undefined, () => `parseMac(${JSON.stringify(text)}) refused a valid MAC (${want}): ${r.error.message}`);
        check(r.error.message.includes("invalid MAC address"), `unhelpful message: ${r.error.message}`);
      }
    }),
};

const ipv4Texts = fc.oneof(
  fc.tuple(hexByte, hexByte, hexByte, hexByte).map((a) => a.join(".")),
  fc.constantFrom("10.0.0.1", "0.0.0.0", "255.255.255.255", "198.18.0.1", "192.168.1.254"),
);

/** Dotted quad, written independently: four decimal numbers 0-255 without leading zeros. */
function modelIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  let v = 0;
  for (const p of m.slice(1)) {
    if ((p.length > 1 && p[0] === "0") || Number(p) > 255) return undefined;
    v = v * 256 + Number(p);
  }
  return v;
}

const parseIpv4Target: FuzzTarget = {
  name: "parseIpv4 (valid, mutated, random text)",
  property: (t: Tally) =>
    prop([fuzzText(ipv4Texts)], (text) => {
      const r = outcome(t, `parseIpv4(${JSON.stringify(text)})`, () => N.parseIpv4(text));
      const want = modelIpv4(text);
      if (r.ok) {
        check(r.value === want, () => `parseIpv4(${JSON.stringify(text)}) = ${r.value}; the grammar says ${want ?? "invalid"}`);
        check(N.parseIpv4(N.ipv4ToString(r.value)) === r.value, "ipv4ToString round trip");
      } else {
        check(want === undefined, () => `parseIpv4(${JSON.stringify(text)}) refused a valid address (${want}): ${r.error.message}`);
      }
    }),
};

/** An IPv6 address and one of its valid text forms (compression, case, leading zeros, dotted tail). */
const ipv6Forms: fc.Arbitrary<{ bytes: Uint8Array; text: string }> = fc
  .record({
    words: fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }),
    compress: fc.option(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 8 }))),
    upper: fc.boolean(),
    pad: fc.boolean(),
    dotted: fc.boolean(),
  })
  .map(({ words, compress, upper, pad, dotted }) => {
    let from = -1;
    let len = 0;
    if (compress) {
      // Zero a run and compress it.
      from = compress[0];
      len = Math.min(compress[1], 8 - from);
      for (let i = from; i < from + len; i++) words[i] = 0;
    }
    const bytes = new Uint8Array(16);
    words.forEach((w, i) => N.write16(bytes, 2 * i, w));
    const g = (w: number) => (pad ? w.toString(16).padStart(4, "0") : w.toString(16));
    const tailDotted = dotted && (from < 0 || from + len <= 6);
    const groups: string[] = words.map(g);
    if (tailDotted) groups.splice(6, 2, `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`);
    let text: string;
    if (from < 0) text = groups.join(":");
    else {
      const head = groups.slice(0, from);
      const tail = groups.slice(from + len);
      text = `${head.join(":")}::${tail.join(":")}`;
    }
    return { bytes, text: upper ? text.toUpperCase() : text };
  });

const parseIpv6Target: FuzzTarget = {
  name: "parseIpv6/ipv6ToString (valid forms, mutated, random text; WHATWG URL cross-check)",
  property: (t: Tally) =>
    prop([fc.oneof(ipv6Forms.map((f) => ({ ...f, valid: true })), fuzzText(ipv6Forms.map((f) => f.text)).map((text) => ({ text, bytes: undefined, valid: false })))], ({ text, bytes }) => {
      const r = outcome(t, `parseIpv6(${JSON.stringify(text)})`, () => N.parseIpv6(text));
      if (bytes) check(r.ok && toHex(r.value) === toHex(bytes), () => `parseIpv6(${JSON.stringify(text)}) = ${r.ok ? toHex(r.value) : r.error.message}, expected ${toHex(bytes)}`);
      if (!r.ok) {
        check(/invalid IPv6 address/.test(r.error.message), `unhelpful message: ${r.error.message}`);
        return;
      }
      // What we accept, the WHATWG URL parser accepts as the same address. (Not for a dotted IPv4 tail: Bun's
      // URL parser wrongly refuses some, e.g. "::0:0:0:0:1.2.3.4", that Node's accepts; the forms generated
      // above check those against their bytes.)
      if (!text.includes(".")) {
        let host: string | undefined;
        try {
          host = new URL(`http://[${text.trim()}]/`).hostname;
        } catch {
          check(false, `parseIpv6 accepted ${JSON.stringify(text)}, which the WHATWG URL parser refuses`);
        }
        const c = N.ipv6ToString(r.value);
        const mapped = c.startsWith("::ffff:") && c.includes(".");
        const viaUrl = new URL(`http://[${c}]/`).hostname;
        check(viaUrl === host, `parseIpv6(${JSON.stringify(text)}) is ${c}, the URL parser reads ${host}`);
        if (!mapped) check(host === `[${c}]`, `ipv6ToString gives ${c}, the URL parser's RFC 5952 form is ${host}`);
      }
      const canon = N.ipv6ToString(r.value);
      check(toHex(N.parseIpv6(canon)) === toHex(r.value), `ipv6ToString round trip: ${canon}`);
      const into = new Uint8Array(20).fill(0xee);
      N.parseIpv6Into(text, into, 3);
      check(toHex(into.subarray(3, 19)) === toHex(r.value) && into[2] === 0xee && into[19] === 0xee, "parseIpv6Into wrote outside its 16 bytes");
    }),
};

export const family: FuzzFamily = {
  name: "net",
  targets: [bytesTarget, checksumTarget, etherTarget, ipv4Target, ipv6Target, l4Target, arpTarget, parseMacTarget, parseIpv4Target, parseIpv6Target],
};
