// Packet metadata of the mempool: the flag, packet-type and TX-offload constants, what alloc resets, what
// another handle of the pool sees, and multi-segment chains (chainAppend, freeChain, packetLength, errors).
import { afterEach, describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import * as mbuf from "../../src/mem/mbuf.ts";
import {
  BUF_IP_CSUM_BAD, BUF_IP_CSUM_GOOD, BUF_IP_CSUM_MASK, BUF_L4_CSUM_BAD, BUF_L4_CSUM_GOOD, BUF_L4_CSUM_MASK, BUF_RSS_HASH, BUF_VLAN,
  BUF_PTYPE, BUF_VLAN_STRIPPED, Mempool, PTYPE_L2_ETHER, PTYPE_L2_ETHER_VLAN, PTYPE_L2_MASK, PTYPE_L3_IPV4, PTYPE_L3_IPV6, PTYPE_L3_MASK,
  PTYPE_L4_FRAG, PTYPE_L4_ICMP, PTYPE_L4_MASK, PTYPE_L4_TCP, PTYPE_L4_UDP, PTYPE_UNKNOWN, TX_IP_CKSUM, TX_IPV4, TX_TCP_SEG, TX_VLAN,
  type MempoolOptions,
} from "../../src/mem/mempool.ts";

const pools: Mempool[] = [];
function pool(opts: Partial<MempoolOptions> & { count: number }): Mempool {
  const p = Mempool.create({ hugepages: "never", name: "mbuf", ...opts });
  pools.push(p);
  return p;
}
afterEach(() => {
  for (const p of pools.splice(0)) p.destroy();
});

/** The segments of a chain, by walking `next` from its head. */
function walk(p: Mempool, head: number): number[] {
  const out: number[] = [];
  for (let i = head; i >= 0; i = p.next[i]!) out.push(i);
  return out;
}

/** A chain of buffers with the given lengths, built with chainAppend. */
function chain(p: Mempool, lens: number[]): number {
  const head = p.take();
  p.len[head] = lens[0]!;
  for (const l of lens.slice(1)) {
    const s = p.take();
    p.len[s] = l;
    p.chainAppend(head, s);
  }
  return head;
}

describe("constants", () => {
  test("flags and TX requests are distinct single bits; masks cover their pairs", () => {
    const names = Object.keys(mbuf);
    const bits = (prefix: string) => names.filter((n) => n.startsWith(prefix) && !n.endsWith("_MASK")).map((n) => (mbuf as Record<string, number>)[n]!);
    for (const prefix of ["BUF_", "TX_"]) {
      const v = bits(prefix);
      expect(v.length).toBeGreaterThan(5);
      for (const b of v) expect(b > 0 && (b & (b - 1)) === 0).toBe(true);
      expect(new Set(v).size).toBe(v.length);
    }
    expect([BUF_RSS_HASH, BUF_VLAN_STRIPPED, BUF_IP_CSUM_BAD, BUF_L4_CSUM_BAD, BUF_IP_CSUM_GOOD, BUF_L4_CSUM_GOOD]).toEqual([1, 2, 4, 8, 16, 32]); // unchanged
    expect(BUF_IP_CSUM_MASK).toBe(BUF_IP_CSUM_BAD | BUF_IP_CSUM_GOOD);
    expect(BUF_L4_CSUM_MASK).toBe(BUF_L4_CSUM_BAD | BUF_L4_CSUM_GOOD);
  });

  test("packet types are DPDK's RTE_PTYPE values, one field per layer", () => {
    expect([PTYPE_L2_ETHER, PTYPE_L2_ETHER_VLAN, PTYPE_L2_MASK]).toEqual([0x1, 0x6, 0xf]);
    expect([PTYPE_L3_IPV4, PTYPE_L3_IPV6, PTYPE_L3_MASK]).toEqual([0x10, 0x40, 0xf0]);
    expect([PTYPE_L4_TCP, PTYPE_L4_UDP, PTYPE_L4_FRAG, PTYPE_L4_ICMP, PTYPE_L4_MASK]).toEqual([0x100, 0x200, 0x300, 0x500, 0xf00]);
    for (const [v, mask] of [[PTYPE_L2_ETHER_VLAN, PTYPE_L2_MASK], [PTYPE_L3_IPV6, PTYPE_L3_MASK], [PTYPE_L4_ICMP, PTYPE_L4_MASK]] as const) {
      expect(v & mask).toBe(v);
    }
    const t = PTYPE_L2_ETHER | PTYPE_L3_IPV4 | PTYPE_L4_UDP;
    expect([t & PTYPE_L2_MASK, t & PTYPE_L3_MASK, t & PTYPE_L4_MASK]).toEqual([PTYPE_L2_ETHER, PTYPE_L3_IPV4, PTYPE_L4_UDP]);
  });
});

describe("metadata arrays", () => {
  test("alloc resets len, dataOff, flags, txOffload, next, nbSegs; the flag-guarded fields are left alone", () => {
    const p = pool({ count: 8, cacheSize: 4, headroom: 96 });
    const b = p.take();
    expect([p.len[b], p.dataOff[b], p.flags[b], p.txOffload[b], p.next[b], p.nbSegs[b]]).toEqual([0, 96, 0, 0, -1, 1]);
    expect(p.packetTypeOf(b)).toBe(PTYPE_UNKNOWN);
    expect(p.packetLength(b)).toBe(0);
    // Dirty everything, free, allocate the same buffer again (the cache is LIFO).
    p.len[b] = 1514;
    p.dataOff[b] = 10;
    p.flags[b] = BUF_VLAN | BUF_VLAN_STRIPPED | BUF_RSS_HASH | BUF_PTYPE;
    p.vlanTci[b] = 0x2064;
    p.rssHash[b] = 0xdeadbeef;
    p.packetType[b] = PTYPE_L2_ETHER | PTYPE_L3_IPV4 | PTYPE_L4_TCP;
    p.txOffload[b] = TX_IPV4 | TX_IP_CKSUM | TX_TCP_SEG | TX_VLAN;
    p.l2Len[b] = 14;
    p.l3Len[b] = 20;
    p.l4Len[b] = 32;
    p.tsoSegsz[b] = 1448;
    expect(p.packetTypeOf(b)).toBe(PTYPE_L2_ETHER | PTYPE_L3_IPV4 | PTYPE_L4_TCP);
    p.free(b);
    expect(p.take()).toBe(b);
    expect([p.len[b], p.dataOff[b], p.flags[b], p.txOffload[b], p.next[b], p.nbSegs[b]]).toEqual([0, 96, 0, 0, -1, 1]);
    expect(p.packetTypeOf(b)).toBe(PTYPE_UNKNOWN); // BUF_PTYPE went with the flags
    expect(p.packetLength(b)).toBe(0); // nbSegs 1: len, whatever pktLen says
    p.len[b] = 60;
    expect(p.packetLength(b)).toBe(60);
    // Read only under a flag or request that alloc cleared: not reset (one store less per packet each).
    expect([p.vlanTci[b], p.rssHash[b], p.l2Len[b], p.l3Len[b], p.l4Len[b], p.tsoSegsz[b]]).toEqual([0x2064, 0xdeadbeef, 14, 20, 32, 1448]);
    expect(p.packetType[b]).toBe(PTYPE_L2_ETHER | PTYPE_L3_IPV4 | PTYPE_L4_TCP);
  });

  test("buffers that were heads or segments of a chain come back lone (next -1, nbSegs 1), however they were freed", () => {
    const p = pool({ count: 8, cacheSize: 0 });
    const check = (): void => {
      const all = new Uint32Array(p.count);
      expect(p.allocBulk(all, 0, p.count)).toBe(p.count);
      for (const b of all) expect([p.next[b], p.nbSegs[b], p.packetLength(b)]).toEqual([-1, 1, 0]);
      p.freeBulk(all, 0, p.count);
    };
    check();
    const a = chain(p, [1, 2, 3]);
    p.freeChain(a);
    check();
    const b = chain(p, [1, 2, 3]);
    for (const s of walk(p, b)) p.free(s); // the head first, as a TX driver's completion does
    check();
    const c = chain(p, [1, 2]);
    const d = chain(p, [3, 4, 5]);
    p.chainAppend(c, d);
    for (const s of walk(p, c).reverse()) p.free(s);
    check();
  });

  test("every array has count elements, its own memory, and is seen by Mempool.attach(pool.handle())", () => {
    const p = pool({ count: 50 });
    const other = Mempool.attach(p.handle());
    const arrays = ["len", "dataOff", "port", "flags", "rssHash", "vlanTci", "packetType", "txOffload", "l2Len", "l3Len", "l4Len", "tsoSegsz", "next", "nbSegs", "pktLen", "dmaLo", "dmaHi"] as const;
    const spans: [number, number][] = [];
    for (const name of arrays) {
      const a = p[name];
      expect(a.length).toBe(50);
      expect(a.buffer).toBe(p.arena.buffer); // in the DMA arena, not in a private heap
      spans.push([a.byteOffset, a.byteOffset + a.byteLength]);
      // A write through one handle is read through the other, at both ends of the array (then put back:
      // next and nbSegs of a free buffer are the pool's).
      for (const i of [0, 49]) {
        const was = a[i]!;
        const v = name === "next" ? -7 : name === "l2Len" || name === "l4Len" ? 200 : 40000 + i;
        a[i] = v;
        expect(other[name][i]).toBe(v);
        a[i] = was;
      }
    }
    // No two arrays overlap, and none reaches the buffers.
    spans.sort((x, y) => x[0] - y[0]);
    for (let k = 1; k < spans.length; k++) expect(spans[k]![0]).toBeGreaterThanOrEqual(spans[k - 1]![1]);
    expect(spans[spans.length - 1]![1]).toBeLessThanOrEqual(p.bufBase);
    // Chains built in one handle are seen, and freed, in the other.
    const h = chain(p, [100, 200, 300]);
    expect(other.packetLength(h)).toBe(600);
    expect(walk(other, h)).toEqual(walk(p, h));
    other.freeChain(h);
    other.flushCache();
    expect(p.inUse()).toBe(0);
  });
});

describe("chains", () => {
  test("chainAppend links after the last segment and keeps nbSegs and pktLen in the head", () => {
    const p = pool({ count: 16 });
    const head = p.take();
    p.len[head] = 2048;
    expect([p.nbSegs[head], p.packetLength(head)]).toEqual([1, 2048]);
    const segs = [p.take(), p.take(), p.take()];
    const lens = [2048, 2048, 904];
    segs.forEach((s, k) => {
      p.len[s] = lens[k]!;
      p.chainAppend(head, s);
      expect(p.nbSegs[head]).toBe(k + 2);
      expect(p.pktLen[head]).toBe(2048 + lens.slice(0, k + 1).reduce((x, y) => x + y, 0));
    });
    expect(walk(p, head)).toEqual([head, ...segs]);
    expect(p.packetLength(head)).toBe(7048);
    expect(p.lastSegment(head)).toBe(segs[2]);
    expect(p.lastSegment(segs[2]!)).toBe(segs[2]);
    expect(p.next[segs[2]!]).toBe(-1);
    for (const s of segs) expect(p.isAllocated(s)).toBe(true);
    expect(p.inUse()).toBe(4);
  });

  test("appending a chain to a chain adds all its segments and bytes", () => {
    const p = pool({ count: 16 });
    const a = chain(p, [10, 20]);
    const b = chain(p, [30, 40, 50]);
    const aSegs = walk(p, a);
    const bSegs = walk(p, b);
    p.chainAppend(a, b);
    expect(walk(p, a)).toEqual([...aSegs, ...bSegs]);
    expect(p.nbSegs[a]).toBe(5);
    expect(p.packetLength(a)).toBe(150);
    expect(p.nbSegs[b]).toBe(1); // b is a segment now: its own count is no longer a packet's
    expect(() => p.freeChain(b)).toThrow(/not its head/);
  });

  test("freeChain frees every segment; a lone buffer too; free() frees one segment alone", () => {
    const p = pool({ count: 32, cacheSize: 4 });
    const h = chain(p, [100, 100, 100, 100]);
    const segs = walk(p, h);
    p.freeChain(h);
    for (const s of segs) expect(p.isAllocated(s)).toBe(false);
    expect(p.inUse()).toBe(0);
    const lone = p.take();
    p.freeChain(lone);
    expect(p.inUse()).toBe(0);
    // A TX driver frees each segment as its descriptor completes: free() takes heads and segments alike.
    const t = chain(p, [1, 2, 3]);
    for (const s of walk(p, t)) p.free(s);
    expect(p.inUse()).toBe(0);
    p.flushCache();
    expect(p.available()).toBe(p.count);
    // A freed segment comes back as a lone one-segment buffer.
    const all = new Uint32Array(p.count);
    expect(p.allocBulk(all, 0, p.count)).toBe(p.count);
    for (const b of all) {
      expect(p.next[b]).toBe(-1);
      expect(p.nbSegs[b]).toBe(1);
    }
  });

  test("errors: not a head, self, free buffers, non-indices, double free; each names the pool and says what to do", () => {
    const p = pool({ count: 16, name: "rxq" });
    const h = chain(p, [64, 64, 64]);
    const [, mid, tail] = walk(p, h);
    const other = p.take();
    expect(() => p.chainAppend(mid!, other)).toThrow(`mempool "rxq": chainAppend of buffer ${mid}, which is a segment inside a chain, not its head; pass the chain's first buffer`);
    expect(() => p.chainAppend(other, tail!)).toThrow(`chainAppend of buffer ${tail}, which is a segment inside a chain, not its head`);
    expect(() => p.chainAppend(h, h)).toThrow(`mempool "rxq": chainAppend of buffer ${h} to itself; append a different buffer (a chain cannot loop)`);
    expect(() => p.freeChain(mid!)).toThrow(`mempool "rxq": freeChain of buffer ${mid}, which is a segment inside a chain, not its head`);
    const gone = p.take();
    p.free(gone);
    expect(() => p.chainAppend(h, gone)).toThrow(`mempool "rxq": chainAppend of buffer ${gone}, which is free; allocate a buffer before linking it`);
    expect(() => p.chainAppend(gone, other)).toThrow(/which is free/);
    for (const bad of [-1, 16, 1.5, NaN]) {
      expect(() => p.chainAppend(h, bad)).toThrow(/mempool "rxq": chainAppend of .*, which is not a buffer index \(0\.\.15\)/);
      expect(() => p.freeChain(bad)).toThrow(/mempool "rxq": free of .*, which is not a buffer index \(0\.\.15\)/);
    }
    expect(() => p.freeChain(gone)).toThrow(`mempool "rxq": double free of buffer ${gone}`);
    // Nothing above changed the chain.
    expect(walk(p, h)).toEqual([h, mid, tail]);
    expect([p.nbSegs[h], p.packetLength(h)]).toEqual([3, 192]);
    p.freeChain(h);
    expect(() => p.freeChain(h)).toThrow(`mempool "rxq": double free of buffer ${h}`);
    p.free(other);
    expect(p.inUse()).toBe(0);
  });

  test("more than 65535 segments is refused (nbSegs is 16 bits)", () => {
    const p = pool({ count: 65536, dataRoom: 64, headroom: 0, name: "big" });
    // Pairs, then pairs of pairs …: two chains of 32768 (each append walks only its head's chain).
    let heads = Array.from({ length: 65536 }, () => p.take());
    while (heads.length > 2) {
      const joined: number[] = [];
      for (let k = 0; k < heads.length; k += 2) {
        p.chainAppend(heads[k]!, heads[k + 1]!);
        joined.push(heads[k]!);
      }
      heads = joined;
    }
    const [a, b] = heads as [number, number];
    expect([p.nbSegs[a], p.nbSegs[b]]).toEqual([32768, 32768]);
    expect(() => p.chainAppend(a, b)).toThrow(`mempool "big": chainAppend to buffer ${a} would make 65536 segments; a packet has at most 65535`);
    expect(walk(p, a).length).toBe(32768); // the refused append left both chains as they were
    expect(walk(p, b).length).toBe(32768);
    // One segment less fits: a chain of 32767 (built by prepending, so that each append walks one segment).
    p.freeChain(b);
    let c = p.take();
    for (let k = 1; k < 32767; k++) {
      const s = p.take();
      p.chainAppend(s, c);
      c = s;
    }
    expect(p.nbSegs[c]).toBe(32767);
    p.chainAppend(a, c);
    expect(p.nbSegs[a]).toBe(65535);
    p.freeChain(a);
    expect(p.inUse()).toBe(0);
  });

  test("building and freeing chains allocates nothing per packet", () => {
    const p = pool({ count: 1024, dataRoom: 2048 });
    const cycle = (n: number): void => {
      for (let k = 0; k < n; k++) {
        const h = p.alloc();
        p.len[h] = 2048;
        for (let s = 0; s < 4; s++) {
          const seg = p.alloc();
          p.len[seg] = 2048;
          p.chainAppend(h, seg);
        }
        p.freeChain(h);
        p.freeChain(p.alloc()); // the single-segment path
      }
    };
    cycle(20_000);
    Bun.gc(true);
    const before = heapStats().objectCount;
    cycle(100_000);
    Bun.gc(true);
    expect(heapStats().objectCount - before).toBeLessThan(100);
    expect(p.inUse()).toBe(0);
  });
});
