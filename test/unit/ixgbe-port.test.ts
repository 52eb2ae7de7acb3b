// The ixgbe driver (drivers/ixgbe/port.ts) against the 82599 register model (test/ixgbe/model.ts), with the
// descriptor engine (test/ixgbe/engine.ts) playing the NIC's DMA: the port's real init and start leave no
// datasheet violation and program the rings it built; frames go through the shared advanced-descriptor queues
// byte for byte both ways; offloads, filters, counters, link and interrupt routing read back; stop/start/close
// cycles leak nothing; a start out of the datasheet's order is refused by the model with its rule.
import { describe, expect, test } from "bun:test";
import type { AdvRxQueue } from "../../drivers/intel/adv-rxtx.ts";
import { IXGBE_82599, IxgbePort, type StartStep } from "../../drivers/ixgbe/port.ts";
import "../../drivers/ixgbe/index.ts";
import { findPciDriver } from "../../drivers/pci/registry.ts";
import * as R from "../../drivers/ixgbe/regs.ts";
import { DEFAULT_RSS_KEY } from "../../drivers/intel/rss.ts";
import {
  Burst, BUF_IP_CSUM_GOOD, BUF_L4_CSUM_BAD, BUF_L4_CSUM_GOOD, BUF_PTYPE, BUF_RSS_HASH, BUF_VLAN, BUF_VLAN_STRIPPED, Mempool, PTYPE_L3_IPV4,
  PTYPE_L4_UDP, RX_OFFLOAD_SCATTER, RX_OFFLOAD_VLAN_FILTER, RX_OFFLOAD_VLAN_STRIP, TX_IP_CKSUM, TX_IPV4, TX_OFFLOAD_IPV4_CKSUM,
  TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_TCP_TSO, TX_OFFLOAD_UDP_CKSUM, TX_OFFLOAD_VLAN_INSERT, TX_TCP_CKSUM, TX_TCP_SEG, TX_UDP_CKSUM, TX_VLAN,
} from "../../src/index.ts";
import { ipv4ChecksumOk } from "../../src/net/ipv4.ts";
import { tcpChecksumOkIpv4 } from "../../src/net/tcp.ts";
import { udpChecksumOkIpv4 } from "../../src/net/udp.ts";
import { toeplitz } from "../ixgbe/engine-offload.ts";
import type { TxFrame } from "../ixgbe/engine.ts";
import { bytesOf, fill, modelPort, offloadFrame, udpFrame, type ModelPort } from "../ixgbe/harness.ts";

/** Mixed sizes 60..1514, reproducibly. */
const sizeOf = (i: number): number => 60 + ((i * 7919 + 13) % 1455);

function drained(pool: Mempool): number {
  pool.flushCache();
  return pool.inUse();
}

describe("IxgbePort on the 82599 register model", () => {
  test("open and start run the datasheet sequence without a violation; the model shows the port's rings enabled", () => {
    const pool = Mempool.create({ count: 4096, name: "ix-start" });
    const { device, port } = modelPort();
    try {
      const m = device.model;
      expect(m.state).toMatchObject({ resets: 1, anRestarts: 1, statsCleared: true, interruptMask: 0 });
      port.configure({ pool, rxQueues: 2, txQueues: 2, rss: {}, rxRingSize: 256, txRingSize: 1024 });
      port.start();
      expect(m.violations).toEqual([]);
      const rings = (dir: "rx" | "tx"): number[] => [0, 1].map((q) => {
        const s = (dir === "rx" ? port.rxQueue(q) : port.txQueue(q)) as AdvRxQueue;
        return s.state.ring.iova + s.state.descOff;
      });
      const s = m.state;
      expect(s.rxQueues).toEqual(rings("rx").map((ringIova, q) => ({
        index: q, enabled: true, ringIova, descriptors: 256, bufferBytes: 2048, descType: 1, dropEnable: true, vlanStrip: false, head: 0, tail: 255,
      })));
      expect(s.txQueues).toEqual(rings("tx").map((ringIova, q) => ({ index: q, enabled: true, ringIova, descriptors: 1024, pthresh: 32, hthresh: 1, wthresh: 0, head: 0, tail: 0 })));
      expect(s).toMatchObject({ rxEnabled: true, txEnabled: true, crcStrip: true, broadcast: true, promiscuous: true, maxFrame: 1518, jumbo: false, txPad: true, mtqc: 0 });
      expect(s.rss).toMatchObject({ enabled: true, key: DEFAULT_RSS_KEY, reta: Array.from({ length: 128 }, (_, i) => i % 2), pcsd: true });
      expect(s.rss.mrqc & 0xffff0000).toBe((R.MRQC_IPV4 | R.MRQC_IPV4_TCP | R.MRQC_IPV4_UDP | R.MRQC_IPV6 | R.MRQC_IPV6_TCP | R.MRQC_IPV6_UDP) >>> 0);
      expect(m.read(R.CTRL_EXT) & R.CTRL_EXT_DRV_LOAD).toBe(R.CTRL_EXT_DRV_LOAD);
      expect(port.eventFd()).toBe(-1); // no MSI-X in this model: polled
      expect(port.rxQueue(0).eventFd()).toBe(-1);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("10 000 frames of 60..1514 bytes out through txQueue(0) reach the wire byte for byte, in order", () => {
    const pool = Mempool.create({ count: 4096, name: "ix-tx" });
    const { device, port, engine } = modelPort();
    try {
      port.configure({ pool, rxQueues: 2, txQueues: 2, rss: {} });
      port.start();
      const seen: { frame: Uint8Array; info: TxFrame }[] = [];
      engine.sink = (frame, info) => seen.push({ frame: frame.slice(), info });
      const txq = port.txQueue(0);
      const burst = new Burst(32);
      let sent = 0;
      let checked = 0;
      while (sent < 10_000) {
        burst.count = pool.allocBulk(burst.bufs, 0, Math.min(32, 10_000 - sent));
        for (let k = 0; k < burst.count; k++) fill(pool, burst.bufs[k]!, udpFrame(sent + k, sizeOf(sent + k)));
        const took = txq.burst(burst);
        burst.freeFrom(pool, took);
        sent += took;
        engine.step();
        for (; checked < seen.length; checked++) {
          const { frame, info } = seen[checked]!;
          expect(info).toMatchObject({ queue: 0, descriptors: 1, paylen: sizeOf(checked), context: undefined });
          if (!Bun.deepEquals(frame, udpFrame(checked, sizeOf(checked)))) throw new Error(`frame ${checked} differs`);
        }
      }
      expect(seen.length).toBe(10_000);
      expect(engine.faults).toEqual([]);
      expect(port.stats()).toMatchObject({ opackets: 10_000, obytes: Array.from({ length: 10_000 }, (_, i) => sizeOf(i)).reduce((a, b) => a + b) });
      const x = new Map(port.xstats().map((s) => [s.name, s.value]));
      expect(x.get("tx_good_packets_hw")).toBe(10_000);
      expect(device.model.state.txQueues[0]).toMatchObject({ head: 10_000 % 512, tail: 10_000 % 512 });
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("10 000 frames from the wire arrive through rxQueue(q) byte for byte, on the queue RSS picks, with the port's id", () => {
    const pool = Mempool.create({ count: 4096, name: "ix-rx" });
    const { port, engine } = modelPort();
    try {
      port.configure({ pool, rxQueues: 2, txQueues: 1, rss: {} });
      port.start();
      const burst = new Burst(64);
      const next = [0, 0];
      const expected: number[][] = [[], []];
      for (let i = 0; i < 10_000; i++) {
        const f = udpFrame(i, sizeOf(i));
        // The hash over addresses and ports (MRQC's UDP/IPv4 field), the queue its low 7 bits pick in RETA.
        const tuple = new Uint8Array([...f.subarray(26, 34), ...f.subarray(34, 38)]);
        expected[toeplitz(DEFAULT_RSS_KEY, tuple, 0, 12) & 1]!.push(i);
        expect(engine.receive(f)).toBe(true);
        if (i % 200 !== 199 && i !== 9_999) continue;
        for (let q = 0; q < 2; q++) {
          for (let n; (n = port.rxQueue(q).burst(burst)) > 0;) {
            for (let k = 0; k < n; k++) {
              const b = burst.bufs[k]!;
              const want = expected[q]![next[q]!++]!;
              if (!Bun.deepEquals(bytesOf(pool, b), udpFrame(want, sizeOf(want)))) throw new Error(`RX queue ${q}: frame ${want} differs`);
              expect(pool.port[b]).toBe(port.id & 0xffff);
              expect(pool.flags[b]! & (BUF_RSS_HASH | BUF_PTYPE | BUF_IP_CSUM_GOOD | BUF_L4_CSUM_GOOD)).toBe(BUF_RSS_HASH | BUF_PTYPE | BUF_IP_CSUM_GOOD | BUF_L4_CSUM_GOOD);
              expect(pool.packetType[b]! & (PTYPE_L3_IPV4 | PTYPE_L4_UDP)).toBe(PTYPE_L3_IPV4 | PTYPE_L4_UDP);
            }
            burst.freeFrom(pool, 0);
          }
        }
      }
      expect(next).toEqual([expected[0]!.length, expected[1]!.length]);
      expect(Math.min(...next)).toBeGreaterThan(3000); // spread, not all on one queue
      expect(port.stats()).toMatchObject({ ipackets: 10_000, imissed: 0, ierrors: 0 });
      expect(engine.faults).toEqual([]);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("RX checksum status: the 82599's IPE/L4E bits become the buffer's verdicts", () => {
    const pool = Mempool.create({ count: 1024, name: "ix-csum" });
    const { port, engine } = modelPort();
    try {
      port.configure({ pool, rxRingSize: 64, txRingSize: 64 });
      port.start();
      const bad = udpFrame(1, 100);
      bad[40] ^= 0x55; // UDP checksum broken, IPv4 header intact
      engine.receive(udpFrame(0, 100));
      engine.receive(bad);
      const burst = new Burst(8);
      expect(port.rxQueue(0).burst(burst)).toBe(2);
      expect(pool.flags[burst.bufs[0]!]! & (BUF_IP_CSUM_GOOD | BUF_L4_CSUM_GOOD | BUF_L4_CSUM_BAD)).toBe(BUF_IP_CSUM_GOOD | BUF_L4_CSUM_GOOD);
      expect(pool.flags[burst.bufs[1]!]! & (BUF_IP_CSUM_GOOD | BUF_L4_CSUM_GOOD | BUF_L4_CSUM_BAD)).toBe(BUF_IP_CSUM_GOOD | BUF_L4_CSUM_BAD);
      expect(pool.flags[burst.bufs[0]!]! & BUF_RSS_HASH).toBe(0); // one queue, no RSS: no hash
      burst.freeFrom(pool, 0);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("TX offloads: a context descriptor the engine reads (lengths, L4 type, VLAN, MSS), sums a receiver calls good, tags, TSO", () => {
    const pool = Mempool.create({ count: 1024, name: "ix-ctx", dataRoom: 9216 });
    const { port, engine } = modelPort();
    try {
      port.configure({ pool, txOffloads: TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_UDP_CKSUM | TX_OFFLOAD_TCP_CKSUM | TX_OFFLOAD_VLAN_INSERT | TX_OFFLOAD_TCP_TSO });
      port.start();
      const seen: { frame: Uint8Array; info: TxFrame }[] = [];
      engine.sink = (frame, info) => seen.push({ frame: frame.slice(), info });
      const send = (frame: Uint8Array, req: number, extra: { vlan?: number; mss?: number } = {}): void => {
        const burst = new Burst(1);
        burst.count = pool.allocBulk(burst.bufs, 0, 1);
        const b = burst.bufs[0]!;
        fill(pool, b, frame);
        pool.txOffload[b] = req;
        pool.l2Len[b] = 14;
        pool.l3Len[b] = 20;
        pool.l4Len[b] = frame[23] === 6 ? 20 : 8;
        pool.vlanTci[b] = extra.vlan ?? 0;
        pool.tsoSegsz[b] = extra.mss ?? 0;
        expect(port.txQueue(0).burst(burst)).toBe(1);
        engine.step();
      };
      send(offloadFrame("udp", 100), TX_IPV4 | TX_IP_CKSUM | TX_UDP_CKSUM);
      send(offloadFrame("udp", 300), TX_IPV4 | TX_IP_CKSUM | TX_UDP_CKSUM); // same context: not written again
      send(offloadFrame("tcp", 200), TX_IPV4 | TX_IP_CKSUM | TX_TCP_CKSUM);
      send(offloadFrame("udp", 50), TX_IPV4 | TX_IP_CKSUM | TX_UDP_CKSUM | TX_VLAN, { vlan: 0x2064 });
      send(offloadFrame("tcp", 4000, true), TX_IPV4 | TX_IP_CKSUM | TX_TCP_SEG, { mss: 1460 });
      expect(engine.faults).toEqual([]);
      expect(engine.contexts.map(({ maclen, iplen, ipv4, l4t, vlan, l4len, mss }) => ({ maclen, iplen, ipv4, l4t, vlan, l4len, mss }))).toEqual([
        { maclen: 14, iplen: 20, ipv4: true, l4t: 0, vlan: 0, l4len: 0, mss: 0 },
        { maclen: 14, iplen: 20, ipv4: true, l4t: 1, vlan: 0, l4len: 0, mss: 0 },
        { maclen: 14, iplen: 20, ipv4: true, l4t: 0, vlan: 0x2064, l4len: 0, mss: 0 },
        { maclen: 14, iplen: 20, ipv4: true, l4t: 1, vlan: 0, l4len: 20, mss: 1460 },
      ]);
      expect(seen.map((s) => [s.info.ixsm, s.info.txsm, s.info.vle, s.info.tse, s.info.context !== undefined])).toEqual([
        [true, true, false, false, true], [true, true, false, false, true], [true, true, false, false, true], [true, true, true, false, true],
        [true, true, false, true, true], [true, true, false, true, true], [true, true, false, true, true],
      ]);
      const [u1, u2, t, tagged, ...tso] = seen.map((s) => s.frame);
      for (const f of [u1!, u2!]) expect([ipv4ChecksumOk(f, 14), udpChecksumOkIpv4(f, 14, 34)]).toEqual([true, true]);
      expect([ipv4ChecksumOk(t!, 14), tcpChecksumOkIpv4(t!, 14, 34, t!.length - 34)]).toEqual([true, true]);
      expect([...tagged!.subarray(12, 16)]).toEqual([0x81, 0x00, 0x20, 0x64]);
      const untagged = new Uint8Array([...tagged!.subarray(0, 12), ...tagged!.subarray(16)]);
      expect([ipv4ChecksumOk(untagged, 14), udpChecksumOkIpv4(untagged, 14, 34)]).toEqual([true, true]);
      // TSO: 4000 bytes of payload in 1460-byte segments, each a whole TCP/IPv4 frame with good sums, FIN on the last only.
      expect(tso.map((f) => f.length - 54)).toEqual([1460, 1460, 1080]);
      tso.forEach((f, k) => {
        expect([ipv4ChecksumOk(f, 14), tcpChecksumOkIpv4(f, 14, 34, f.length - 34), f[47]! & 0x01]).toEqual([true, true, k === 2 ? 1 : 0]);
        expect((f[38]! << 24 | f[39]! << 16 | f[40]! << 8 | f[41]!) >>> 0).toBe(1000 + 1460 * k);
      });
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("receive filters: unicast address, multicast list and all-multicast, VLAN filter and strip, MTU and jumbo frames", () => {
    const pool = Mempool.create({ count: 2048, name: "ix-filters" });
    const { device, port, engine } = modelPort();
    const burst = new Burst(16);
    const take = (q = 0): number[] => {
      const n = port.rxQueue(q).burst(burst);
      const out = Array.from(burst.bufs.subarray(0, n));
      return out;
    };
    const release = (bufs: number[]): void => bufs.forEach((b) => pool.freeChain(b));
    try {
      port.configure({ pool, promiscuous: false, rxOffloads: RX_OFFLOAD_VLAN_FILTER | RX_OFFLOAD_VLAN_STRIP | RX_OFFLOAD_SCATTER });
      port.setVlanFilter(100, true); // before start: kept across initRx, which clears the VFTA
      port.start();
      const mine = port.macAddress();
      expect(engine.receive(udpFrame(1, 80, mine))).toBe(true);
      expect(engine.receive(udpFrame(2, 80, "02:aa:bb:cc:dd:ee"))).toBe(false); // another host's
      expect(engine.receive(udpFrame(3, 80))).toBe(true); // broadcast (FCTRL.BAM)
      expect(engine.receive(udpFrame(4, 80, "01:00:5e:00:00:fb"))).toBe(false);
      port.setMulticastAddresses(["01:00:5e:00:00:fb"]);
      expect(engine.receive(udpFrame(5, 80, "01:00:5e:00:00:fb"))).toBe(true);
      expect(engine.receive(udpFrame(6, 80, "01:00:5e:00:00:fc"))).toBe(false);
      port.setAllMulticast(true);
      expect(engine.receive(udpFrame(7, 80, "01:00:5e:00:00:fc"))).toBe(true);
      port.setMacAddress("02:00:00:c0:ff:ee");
      expect(engine.receive(udpFrame(8, 80, "02:00:00:c0:ff:ee"))).toBe(true);
      port.setPromiscuous(true);
      expect(engine.receive(udpFrame(9, 80, "02:aa:bb:cc:dd:ee"))).toBe(true);
      let got = take();
      expect(got.map((b) => bytesOf(pool, b)[42 + 3])).toEqual([1, 3, 5, 7, 8, 9]);
      release(got);
      // VLAN 100 passes the VFTA and is stripped into the metadata; VLAN 200 is filtered.
      const tag = (f: Uint8Array, vid: number): Uint8Array => new Uint8Array([...f.subarray(0, 12), 0x81, 0x00, vid >> 8, vid & 0xff, ...f.subarray(12)]);
      expect(engine.receive(tag(udpFrame(10, 80), 100))).toBe(true);
      expect(engine.receive(tag(udpFrame(11, 80), 200))).toBe(false);
      got = take();
      expect(got).toHaveLength(1);
      expect(bytesOf(pool, got[0]!)).toEqual(udpFrame(10, 80));
      expect([pool.flags[got[0]!]! & (BUF_VLAN | BUF_VLAN_STRIPPED), pool.vlanTci[got[0]!]]).toEqual([BUF_VLAN | BUF_VLAN_STRIPPED, 100]);
      release(got);
      // Jumbo frames: MAXFRS and HLREG0.JUMBOEN; 9014 bytes arrive as a chain of 2 KiB buffers; one byte more is oversize.
      port.setMtu(9000);
      expect(device.model.state).toMatchObject({ maxFrame: 9018, jumbo: true });
      expect(engine.receive(udpFrame(12, 9014))).toBe(true);
      expect(engine.receive(udpFrame(13, 9015))).toBe(false);
      got = take();
      expect(got).toHaveLength(1);
      expect([pool.nbSegs[got[0]!], pool.pktLen[got[0]!]]).toEqual([5, 9014]);
      const whole: number[] = [];
      for (let b = got[0]!; b >= 0 && whole.length < 9014; b = pool.next[b]!) whole.push(...bytesOf(pool, b));
      expect(new Uint8Array(whole)).toEqual(udpFrame(12, 9014));
      release(got);
      expect(port.stats().ierrors).toBe(1); // the oversize frame (ROC)
      port.setMtu(1500);
      expect(device.model.state).toMatchObject({ maxFrame: 1518, jumbo: false });
      // The filters survive a restart (initRx clears the tables; the port writes them back).
      port.stop();
      port.setPromiscuous(false);
      port.start();
      expect(engine.receive(tag(udpFrame(14, 80, "02:00:00:c0:ff:ee"), 100))).toBe(true);
      expect(engine.receive(udpFrame(15, 80, "01:00:5e:00:00:fb"))).toBe(true);
      release(take());
      expect(() => port.setVlanFilter(4096, true)).toThrow("out of range");
      expect(() => port.setMulticastAddresses(["02:00:00:00:00:01"])).toThrow("not a multicast");
      expect(device.model.violations).toEqual([]);
      expect(engine.faults).toEqual([]);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("a full RX ring: the queue drops (SRRCTL.DROP_EN, counted in QPRDC) and imissed counts each frame once", () => {
    const pool = Mempool.create({ count: 1024, name: "ix-full" });
    const { port, engine } = modelPort();
    try {
      port.configure({ pool, rxQueues: 2, rxRingSize: 64, rss: {} });
      port.start();
      let accepted = 0;
      for (let i = 0; i < 100; i++) if (engine.deliver(1, udpFrame(i, 64))) accepted++;
      expect(accepted).toBe(63); // RDT = size − 1: one descriptor always stays empty
      const s = port.stats();
      expect([s.imissed, s.ipackets]).toEqual([37, 0]);
      const x = new Map(port.xstats().map((v) => [v.name, v.value]));
      expect([x.get("rx_q1_no_dma_resources"), x.get("rx_total_missed_packets"), x.get("rx_missed_errors")]).toEqual([37, 0, 37]);
      const burst = new Burst(64);
      expect(port.rxQueue(1).burst(burst)).toBe(63);
      burst.freeFrom(pool, 0);
      expect(engine.deliver(1, udpFrame(0, 64))).toBe(true); // room again
      port.resetStats();
      expect(port.stats().imissed).toBe(0);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("link: LINKS once autonegotiation is done, one event per change of the model's cable", () => {
    const pool = Mempool.create({ count: 1024, name: "ix-link" });
    const { device, port } = modelPort();
    try {
      port.configure({ pool });
      const events: boolean[] = [];
      port.on("link", (e) => events.push(e.link.up));
      port.start();
      let tries = 0;
      while (!port.link().up && tries++ < 10);
      expect(port.link()).toEqual({ up: true, speedMbps: 10000, fullDuplex: true });
      port.pollEvents();
      device.model.linkDown();
      port.pollEvents();
      port.pollEvents();
      device.model.linkUp();
      for (let k = 0; k < 5; k++) port.pollEvents();
      expect(events).toEqual([true, false, true]);
      port.close();
      expect(port.link().up).toBe(false);
    } finally {
      port.close();
      pool.destroy();
    }
  });

  test("MSI-X: link on vector 0 (IVAR_MISC, EIMS.LSC), RX queue q on vector 1 + q (IVAR bytes 0 and 2), eventfds for RxWaiter and pollEvents", () => {
    const pool = Mempool.create({ count: 2048, name: "ix-msix" });
    const { device, port } = modelPort({ msix: 64 });
    try {
      const m = device.model;
      expect(device.irqs!.fds).toHaveLength(16); // link + 15 queue vectors at most: each has its EIMS/EIAC bit
      expect(m.read(R.GPIE)).toBe((R.GPIE_MSIX_MODE | R.GPIE_PBA_SUPPORT) >>> 0);
      expect(m.read(R.IVAR_MISC)).toBe(0x80 << 8);
      expect(m.read(R.EIMS)).toBe(R.EICR_LSC);
      port.configure({ pool, rxQueues: 3, txQueues: 1, rss: {}, rxRingSize: 64 });
      port.start();
      expect(m.violations).toEqual([]);
      expect(m.read(R.IVAR(0))).toBe(((0x80 | 1) | ((0x80 | 2) << 16)) >>> 0);
      expect(m.read(R.IVAR(1))).toBe(0x80 | 3);
      expect(m.read(R.EIAC)).toBe(0b1110);
      expect([1, 2, 3].map((v) => m.read(R.EITR(v)))).toEqual([0, 0, 0]);
      expect([0, 1, 2].map((q) => port.rxQueue(q).eventFd())).toEqual(device.irqs!.fds.slice(1, 4));
      expect(port.eventFd()).toBe(device.irqs!.fds[0]!);
      // A link change: EICR.LSC, the vector-0 message; pollEvents drains the eventfd and reads EICR (clear on read).
      let tries = 0;
      while (!port.link().up && tries++ < 10);
      const events: boolean[] = [];
      port.on("link", (e) => events.push(e.link.up));
      m.linkDown();
      device.signal(0);
      port.pollEvents();
      expect(events).toEqual([false]);
      expect(m.read(R.EICR) & R.EICR_LSC).toBe(0);
      expect(device.irqs!.take(0)).toBe(0);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("vectors=N from the spec: fewer vectors are shared round-robin, 0 polls, more than usable is refused", () => {
    const pool = Mempool.create({ count: 2048, name: "ix-vectors" });
    const three = modelPort({ msix: 64 }, (d) => new IxgbePort(d, d.address, IXGBE_82599, 3));
    try {
      three.port.configure({ pool, rxQueues: 4, txQueues: 1, rss: {}, rxRingSize: 64 });
      three.port.start();
      const fds = three.device.irqs!.fds;
      expect([0, 1, 2, 3].map((q) => three.port.rxQueue(q).eventFd())).toEqual([fds[1], fds[2], fds[1], fds[2]]);
      expect(three.device.model.read(R.IVAR(1))).toBe(((0x80 | 1) | ((0x80 | 2) << 16)) >>> 0);
    } finally {
      three.port.close();
    }
    const none = modelPort({ msix: 64 }, (d) => new IxgbePort(d, d.address, IXGBE_82599, 0));
    expect([none.device.irqs, none.port.eventFd()]).toEqual([undefined, -1]);
    none.port.close();
    expect(() => modelPort({ msix: 64 }, (d) => new IxgbePort(d, d.address, IXGBE_82599, 17))).toThrow("vectors=17 asked, but the device has 16 MSI-X vectors this driver can use");
    expect(() => modelPort({}, (d) => new IxgbePort(d, d.address, IXGBE_82599, 2))).toThrow("vectors=2 asked, but the device has 0 MSI-X vectors this driver can use");
    expect(drained(pool)).toBe(0);
    pool.destroy();
  });

  test("stop / start / reconfigure / close cycles: no violation, no buffer leaked", () => {
    const pool = Mempool.create({ count: 8192, name: "ix-cycles" });
    const { device, port, engine } = modelPort();
    engine.sink = (f) => void engine.receive(f); // the port's TX looped back to its own RX
    try {
      const burst = new Burst(32);
      for (let cycle = 0; cycle < 6; cycle++) {
        const queues = 1 + (cycle % 3);
        port.configure({ pool, rxQueues: queues, txQueues: queues, rxRingSize: 128 << (cycle % 2), rss: queues > 1 ? {} : undefined });
        for (let run = 0; run < 2; run++) {
          port.start();
          for (let k = 0; k < 10; k++) {
            burst.count = pool.allocBulk(burst.bufs, 0, 32);
            for (let i = 0; i < burst.count; i++) fill(pool, burst.bufs[i]!, udpFrame(k * 32 + i, sizeOf(i)));
            burst.freeFrom(pool, port.txQueue(k % queues).burst(burst));
            engine.step();
            for (let q = 0; q < queues; q++) burst.freeFrom(pool, port.rxQueue(q).burst(burst) * 0);
          }
          // Leave frames in flight on both sides: stop must reclaim them.
          burst.count = pool.allocBulk(burst.bufs, 0, 32);
          for (let i = 0; i < burst.count; i++) fill(pool, burst.bufs[i]!, udpFrame(i, 100));
          burst.freeFrom(pool, port.txQueue(0).burst(burst));
          port.stop();
          expect(device.model.state.rxEnabled).toBe(false);
          expect(device.model.state.txQueues.every((q) => !q.enabled)).toBe(true);
        }
      }
      expect(device.model.violations).toEqual([]);
      expect(engine.faults).toEqual([]);
      expect(port.stats().ipackets).toBeGreaterThan(0);
    } finally {
      port.close();
      expect(drained(pool)).toBe(0);
      pool.destroy();
    }
  });

  test("a start out of the datasheet's order is refused by the model, naming the rule; the port stays stopped and leaks nothing", () => {
    const pool = Mempool.create({ count: 2048, name: "ix-misorder" });
    /** An IxgbePort whose start runs step `late` after step `after`. */
    const misordered = (late: string, after: string): ModelPort => modelPort({}, (d) => new (class extends IxgbePort {
      protected override startSequence(): StartStep[] {
        const steps = super.startSequence();
        const moved = steps.splice(steps.findIndex((s) => s.step.startsWith(late)), 1)[0]!;
        steps.splice(steps.findIndex((s) => s.step.startsWith(after)) + 1, 0, moved);
        return steps;
      }
    })(d, d.address));
    const cases: [string, string, RegExp][] = [
      ["DMATXCTL.TE", "TXDCTL.ENABLE", /TXDCTL\[0\]\.ENABLE set while DMATXCTL\.TE is clear \(4\.6\.8: enable the transmit path before the first queue\)/],
      ["RXDCTL.ENABLE", "RXCTRL.RXEN", /RXCTRL\.RXEN set before any RX queue was enabled \(4\.6\.7/],
      ["RX queues", "RXDCTL.ENABLE", /RXDCTL\[0\]\.ENABLE set before the queue has a ring \(4\.6\.7/],
      // initRx after RXEN: the CRC strip it sets in RDRXCTL was not there yet when the receiver went on.
      ["initRx", "RXCTRL.RXEN", /RXCTRL\.RXEN set with HLREG0\.RXCRCSTRP = 1 but RDRXCTL\.CRCSTRIP = 0 \(4\.6\.7: they must be set to the same value\)/],
    ];
    try {
      for (const [late, after, rule] of cases) {
        const { device, port } = misordered(late, after);
        port.configure({ pool, rxQueues: 2, txQueues: 2 });
        expect(() => port.start()).toThrow(rule);
        expect(device.model.violations[0]).toMatch(rule);
        expect(port.started).toBe(false);
        port.close();
        expect(drained(pool)).toBe(0);
      }
    } finally {
      pool.destroy();
    }
  });

  test("capabilities and what configure refuses; registered for the 82599 ids", () => {
    const pool = Mempool.create({ count: 1024, name: "ix-caps" });
    const small = Mempool.create({ count: 64, name: "ix-small", dataRoom: 512 });
    const { port } = modelPort();
    try {
      expect(port.info()).toMatchObject({ driver: "ixgbe", maxRxQueues: 16, maxTxQueues: 64, minRingSize: 32, maxRingSize: 4096, maxFrameSize: 15868, rss: true, retaSize: 128, rssKeySize: 40 });
      expect(() => port.configure({ pool, rxRingSize: 16 })).toThrow("32..4096");
      expect(() => port.configure({ pool, txRingSize: 8192 })).toThrow("32..4096");
      expect(() => port.configure({ pool, rxQueues: 17 })).toThrow("rxQueues 17 is out of range");
      expect(() => port.configure({ pool, mtu: 15851, rxOffloads: RX_OFFLOAD_SCATTER })).toThrow("out of range");
      expect(() => port.configure({ pool: small })).toThrow("smaller than the 82599's smallest receive buffer");
      port.configure({ pool, mtu: 15850, rxOffloads: RX_OFFLOAD_SCATTER, rxRingSize: 32 });
      expect(() => port.setMtu(15851)).toThrow("out of range");
      port.configure({ pool, rxRingSize: 32 });
      expect(() => port.setMtu(2100)).toThrow("do not fit the 2048-byte receive buffers");
      expect(() => port.setVlanFilter(1, true)).toThrow("RX_OFFLOAD_VLAN_FILTER");
      expect(findPciDriver(0x8086, 0x10fb)?.name).toBe("ixgbe"); // 82599 SFP+
      expect(findPciDriver(0x8086, 0x154d)?.name).toBe("ixgbe"); // X520 (82599_SFP_SF2)
      expect(findPciDriver(0x8086, 0x1528)).toBeUndefined(); // X540: listed, not driven
    } finally {
      port.close();
      pool.destroy();
      small.destroy();
    }
  });

  test("the engine's Toeplitz hash matches Microsoft's RSS verification suite", () => {
    // "Verifying the RSS Hash Calculation" (Microsoft): 66.9.149.187:2794 → 161.142.100.80:1766.
    const tuple = new Uint8Array([66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6]); // source, destination, ports
    expect(toeplitz(DEFAULT_RSS_KEY, tuple, 0, 8).toString(16)).toBe("323e8fc2");
    expect(toeplitz(DEFAULT_RSS_KEY, tuple, 0, 12).toString(16)).toBe("51ccc178");
  });
});
