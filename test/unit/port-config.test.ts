// resolveConfig: offloads, RSS and per-queue settings checked against what a port declares, each refusal
// naming what was asked, what the port offers and the fix.
import { describe, expect, test } from "bun:test";
import { resolveConfig, type PortCapabilities } from "../../src/ethdev/port.ts";
import {
  Mempool, RSS_IPV4, RSS_IPV4_TCP, RSS_IPV6_UDP, RX_OFFLOAD_RSS_HASH, RX_OFFLOAD_SCATTER, RX_OFFLOAD_VLAN_STRIP,
  TX_OFFLOAD_IPV4_CKSUM, TX_OFFLOAD_TCP_TSO, flagNames, RX_OFFLOAD_NAMES,
} from "../../src/index.ts";

const NIC: PortCapabilities = {
  maxRxQueues: 4, maxTxQueues: 4, minRingSize: 64, maxRingSize: 4096, rss: true, maxFrameSize: 9018,
  rxOffloads: RX_OFFLOAD_VLAN_STRIP | RX_OFFLOAD_RSS_HASH, txOffloads: TX_OFFLOAD_IPV4_CKSUM,
  rssHashTypes: RSS_IPV4 | RSS_IPV4_TCP, rssKeySize: 40, retaSize: 8,
};
const SOFT: PortCapabilities = { maxRxQueues: 1, maxTxQueues: 1, minRingSize: 1, maxRingSize: 65536, rss: false, maxFrameSize: 9018 };

describe("resolveConfig", () => {
  const pool = Mempool.create({ count: 64, name: "cfg" });
  const big = Mempool.create({ count: 64, dataRoom: 9216, name: "big" });

  test("defaults: no offloads, no RSS, every queue the port's ring size and pool", () => {
    const c = resolveConfig("p", NIC, { pool, rxQueues: 2, txQueues: 3 });
    expect(c.rxOffloads).toBe(0);
    expect(c.txOffloads).toBe(0);
    expect(c.rss).toBeUndefined();
    expect(c.rxRingSizes).toEqual([512, 512]);
    expect(c.txRingSizes).toEqual([512, 512, 512]);
    expect(c.rxPools).toEqual([pool, pool]);
  });

  test("offloads the port has are kept; others are refused by name with what it offers", () => {
    expect(resolveConfig("p", NIC, { pool, rxOffloads: RX_OFFLOAD_VLAN_STRIP }).rxOffloads).toBe(RX_OFFLOAD_VLAN_STRIP);
    expect(() => resolveConfig("p", NIC, { pool, rxOffloads: RX_OFFLOAD_SCATTER | RX_OFFLOAD_VLAN_STRIP }))
      .toThrow("p: rxOffloads asks for scatter, which this port cannot do; it offers: vlan_strip, rss_hash");
    expect(() => resolveConfig("p", SOFT, { pool, txOffloads: TX_OFFLOAD_TCP_TSO })).toThrow("txOffloads asks for tcp_tso, which this port cannot do; it offers: none");
    expect(() => resolveConfig("p", NIC, { pool, rxOffloads: -1 })).toThrow("is not a bit mask");
    expect(flagNames(RX_OFFLOAD_SCATTER | (1 << 20), RX_OFFLOAD_NAMES)).toBe("scatter, 0x100000");
  });

  test("RSS: round-robin table and all hash types by default; key, table and types checked", () => {
    const c = resolveConfig("p", NIC, { pool, rxQueues: 3, rss: {} });
    expect(c.rss).toEqual({ key: undefined, reta: [0, 1, 2, 0, 1, 2, 0, 1], hashTypes: RSS_IPV4 | RSS_IPV4_TCP });
    const key = new Uint8Array(40).fill(0x6d);
    expect(resolveConfig("p", NIC, { pool, rxQueues: 2, rss: { key, reta: [1, 1, 1, 1, 0, 0, 0, 0], hashTypes: RSS_IPV4 } }).rss)
      .toEqual({ key, reta: [1, 1, 1, 1, 0, 0, 0, 0], hashTypes: RSS_IPV4 });
    expect(() => resolveConfig("p", SOFT, { pool, rss: {} })).toThrow("p: RSS asked of a port that has none");
    expect(() => resolveConfig("p", NIC, { pool, rss: { hashTypes: RSS_IPV6_UDP } })).toThrow("RSS on ipv6_udp is not offered; this port hashes ipv4, ipv4_tcp");
    expect(() => resolveConfig("p", NIC, { pool, rss: { key: new Uint8Array(16) } })).toThrow("the RSS key must be a Uint8Array of 40 bytes");
    expect(() => resolveConfig("p", NIC, { pool, rss: { reta: [0, 0] } })).toThrow("the RSS redirection table must have 8 entries");
    expect(() => resolveConfig("p", NIC, { pool, rxQueues: 2, rss: { reta: [0, 1, 2, 0, 0, 0, 0, 0] } })).toThrow("the RSS redirection table names RX queue 2; the port has RX queues 0..1");
  });

  test("per-queue ring sizes and pools; an MTU checked against each RX queue's pool unless scatter is on", () => {
    const c = resolveConfig("p", NIC, {
      pool, rxQueues: 2, rxQueueConfig: [{ ringSize: 1024 }, { pool: big }], txQueueConfig: [{ ringSize: 128 }],
    });
    expect(c.rxRingSizes).toEqual([1024, 512]);
    expect(c.rxPools).toEqual([pool, big]);
    expect(c.txRingSizes).toEqual([128]);
    expect(() => resolveConfig("p", NIC, { pool, rxQueueConfig: [{ ringSize: 100 }] })).toThrow("RX queue 0 ring size 100 is not a power of two in 64..4096");
    expect(() => resolveConfig("p", NIC, { pool, rxQueues: 1, rxQueueConfig: [{}, {}] })).toThrow("rxQueueConfig must be an array of at most 1 entries");
    expect(() => resolveConfig("p", NIC, { pool: big, rxQueues: 2, mtu: 9000, rxQueueConfig: [undefined, { pool }] }))
      .toThrow('MTU 9000 does not fit RX queue 1\'s pool "cfg" (2048-byte buffers); create the pool with dataRoom ≥ 9018');
    const scatterCaps = { ...NIC, rxOffloads: RX_OFFLOAD_SCATTER };
    expect(resolveConfig("p", scatterCaps, { pool, mtu: 9000, rxOffloads: RX_OFFLOAD_SCATTER }).mtu).toBe(9000);
  });
});
