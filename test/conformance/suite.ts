// The Port contract written down as tests: every driver passes this suite, software ports in `npm test`,
// NIC drivers inside the VM rig's guest (see README, "Writing a driver"). A target says how to open a port
// pair for one test; the suite says what every port must do.
//
//   conformance({ name: "ring", open: (pool) => …, loopback: true, attachable: true });
//
// What it checks (each a test below): the lifecycle; queues as objects and their bounds; buffer ownership
// over a million frames (none lost, none freed twice); TX before start and after stop; counter definitions
// (ipackets = what the app got, opackets = what TX took, imissed counted once) and reset; xstats; MAC,
// promiscuous and MTU; metadata written on RX (port id, length, data offset); queues attached from a worker.
import { describe, expect, test } from "bun:test";
import {
  BdkError, Burst, Mempool, startWorkers, type Port, type PortConfig,
} from "../../src/index.ts";
import type { ConformanceWorkerInit, ConformanceWorkerResult } from "./worker.ts";

export interface PortPair {
  /** Frames sent here … */
  tx: Port;
  /** … are received here (with loopback; otherwise RX makes frames and TX swallows them). May be tx itself. */
  rx: Port;
  /** Releases what the target made beyond the ports (interfaces, files). */
  cleanup?: () => void;
}

export interface ConformanceTarget {
  name: string;
  /** Opens a fresh pair, not yet configured. */
  open(): PortPair;
  /** True when what tx sends arrives on rx; false for a source/sink port (null, pcap replay). */
  loopback: boolean;
  /** Whether queue handles can move to a worker. */
  attachable: boolean;
  /** Extra configuration (ring sizes the port needs). */
  config?: Partial<PortConfig>;
  /** Frames for the ownership run (default 1 M). */
  frames?: number;
  /** Whether setMacAddress / setMtu really change the port (a kernel interface's do). */
  mutableMac?: boolean;
  /** Wait this long after start before sending (QEMU's e1000 holds receive for a second after RCTL is written). */
  settleMs?: number;
  /** Frames in flight at most in the ownership run (a wire with shallow buffers, such as QEMU's UDP netdev, wants few). */
  window?: number;
}

const same = (a: Port, b: Port): boolean => a === b;

function configureBoth(pair: PortPair, pool: Mempool, extra: Partial<PortConfig> = {}, queues = 1): void {
  for (const p of same(pair.tx, pair.rx) ? [pair.tx] : [pair.tx, pair.rx]) {
    p.configure({ pool, rxQueues: queues, txQueues: queues, ...extra });
  }
}

function startBoth(pair: PortPair): void {
  pair.tx.start();
  if (!same(pair.tx, pair.rx)) pair.rx.start();
}

function closeAll(pair: PortPair): void {
  pair.tx.close();
  pair.rx.close();
  pair.cleanup?.();
}

async function waitLink(p: Port, up: boolean, ms = 3000, settleMs = 0): Promise<void> {
  const until = Date.now() + ms;
  while (p.link().up !== up && Date.now() < until) await Bun.sleep(10);
  if (settleMs > 0) await Bun.sleep(settleMs);
}

/** Fills a burst with `n` fresh 60-byte broadcast frames; returns how many it got. */
function freshFrames(pool: Mempool, burst: Burst, n: number): number {
  burst.count = pool.allocBulk(burst.bufs, 0, n);
  for (let i = 0; i < burst.count; i++) {
    const b = burst.bufs[i]!;
    pool.len[b] = 60;
    const off = pool.offset(b);
    pool.bytes.fill(0xff, off, off + 6);
    pool.bytes.fill(0x02, off + 6, off + 12);
    pool.bytes[off + 12] = 0x88; // a local experimental EtherType: no kernel answers it
    pool.bytes[off + 13] = 0xb5;
  }
  return burst.count;
}

/**
 * Moves frames until `want` arrived (or `ms` passed): with loopback, sends fresh frames on tx and frees what
 * rx returns; otherwise takes frames from rx and hands them to tx. Returns the counts.
 */
async function move(pair: PortPair, pool: Mempool, loopback: boolean, want: number, ms = 30000, window = 256): Promise<{ sent: number; received: number; refused: number }> {
  const rxq = pair.rx.rxQueue(0);
  const txq = pair.tx.txQueue(0);
  const burst = new Burst(32);
  let sent = 0;
  let received = 0;
  let refused = 0;
  const until = Date.now() + ms;
  let rounds = 0;
  while (received < want && Date.now() < until) {
    if (loopback && sent < want && sent - received < window) {
      freshFrames(pool, burst, Math.min(32, want - sent));
      const took = txq.burst(burst);
      sent += took;
      refused += burst.count - took;
      burst.freeFrom(pool, took);
    }
    const n = rxq.burst(burst);
    received += n;
    if (loopback) burst.freeFrom(pool, 0);
    else {
      const took = txq.burst(burst);
      sent += took;
      refused += n - took;
      burst.freeFrom(pool, took);
    }
    if ((++rounds & 1023) === 0) await Bun.sleep(0); // let a kernel peer breathe
  }
  return { sent, received, refused };
}

export function conformance(t: ConformanceTarget): void {
  const frames = t.frames ?? 1_000_000;

  describe(`conformance: ${t.name}`, () => {
    test("lifecycle: configure only when stopped; start, stop, restart; close is idempotent", () => {
      const pool = Mempool.create({ count: 2048, name: "conf-life" });
      const pair = t.open();
      try {
        const p = pair.tx;
        expect(() => p.start()).toThrow("cannot start an unconfigured port");
        expect(() => p.rxQueue(0)).toThrow("not configured");
        configureBoth(pair, pool, t.config);
        expect(p.config?.rxQueues).toBe(1);
        p.start();
        expect(p.started).toBe(true);
        expect(() => p.configure({ pool, ...t.config })).toThrow("cannot configure a started port");
        p.start(); // a second start is a no-op
        p.stop();
        expect(p.started).toBe(false);
        p.stop();
        p.configure({ pool, ...t.config }); // allowed again once stopped
        p.start();
        p.close();
        p.close();
        expect(() => p.start()).toThrow("port is closed");
      } finally {
        closeAll(pair);
        pool.destroy();
      }
    });

    test("queues are objects: the same object per configuration, bounds named in the error", () => {
      const pool = Mempool.create({ count: 2048, name: "conf-queues" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        const p = pair.rx;
        expect(p.rxQueue(0)).toBe(p.rxQueue(0));
        expect(p.rxQueue(0).queueId).toBe(0);
        expect(p.rxQueue(0).portId).toBe(p.id);
        expect(p.txQueue(0).portId).toBe(p.id);
        expect(() => p.rxQueue(1)).toThrow("rx queue 1 does not exist");
        expect(() => p.txQueue(-1)).toThrow("tx queue -1 does not exist");
        expect(() => p.rxBurst(7, new Burst(4))).toThrow("rx queue 7 does not exist");
        const max = p.info().maxRxQueues;
        expect(() => p.configure({ pool, ...t.config, rxQueues: max + 1 })).toThrow(`rxQueues ${max + 1} is out of range`);
      } finally {
        closeAll(pair);
        pool.destroy();
      }
    });

    test("TX before start and after stop takes nothing: the caller still owns the buffers", () => {
      const pool = Mempool.create({ count: 2048, name: "conf-txstop" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        const burst = new Burst(8);
        freshFrames(pool, burst, 8);
        expect(pair.tx.txQueue(0).burst(burst)).toBe(0);
        expect(burst.count).toBe(8);
        expect(pair.rx.rxQueue(0).burst(new Burst(8))).toBe(0);
        startBoth(pair);
        pair.tx.stop();
        if (!same(pair.tx, pair.rx)) pair.rx.stop();
        expect(pair.tx.txQueue(0).burst(burst)).toBe(0);
        burst.freeFrom(pool, 0); // no double free: the port took none
        expect(pair.tx.stats().opackets).toBe(0);
      } finally {
        closeAll(pair);
        pool.destroy();
      }
    });

    test(`ownership: ${frames.toLocaleString("en")} frames, every buffer back in the pool, none freed twice; counters agree`, async () => {
      const pool = Mempool.create({ count: 8192, name: "conf-own" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        const r = await move(pair, pool, t.loopback, frames, 120000, t.window);
        expect(r.received).toBe(frames);
        const tx = pair.tx.stats();
        const rx = pair.rx.stats();
        // ipackets: frames handed to the app; opackets: frames TX took (not those it refused).
        expect(rx.ipackets).toBe(r.received);
        expect(tx.opackets).toBe(r.sent);
        if (t.loopback) expect(rx.ipackets + rx.imissed).toBeLessThanOrEqual(tx.opackets + (same(pair.tx, pair.rx) ? 0 : 1e9));
        // Queue counters sum to the port's.
        expect(pair.rx.queueStats(0, "rx").packets).toBe(rx.ipackets);
        expect(pair.tx.queueStats(0, "tx").packets).toBe(tx.opackets);
        const names = new Map(pair.rx.xstats().map((x) => [x.name, x.value]));
        expect(names.get("rx_good_packets")).toBe(rx.ipackets);
        expect(names.get("rx_q0_packets")).toBe(rx.ipackets);
        expect(names.has("rx_missed_errors")).toBe(true);
      } finally {
        closeAll(pair);
        pool.flushCache();
        // Closing gave back every buffer a ring or socket held.
        expect(pool.inUse()).toBe(0);
        pool.destroy();
      }
    }, 120000);

    test("a full receiver: frames refused are the caller's, imissed counts each lost frame once", async () => {
      const pool = Mempool.create({ count: 4096, name: "conf-full" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, { ...t.config, rxRingSize: Math.max(64, pair.rx.info().minRingSize) });
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        if (!t.loopback) return; // a source never fills up
        // Offer more than the RX ring holds without receiving, twice over (the retry of refused frames).
        const burst = new Burst(32);
        let sent = 0;
        for (let round = 0; round < 2; round++) {
          for (let k = 0; k < 16; k++) {
            freshFrames(pool, burst, 32);
            const took = pair.tx.txQueue(0).burst(burst);
            sent += took;
            burst.freeFrom(pool, took);
          }
          await Bun.sleep(50);
        }
        let received = 0;
        for (let k = 0; k < 100; k++) {
          const n = pair.rx.rxQueue(0).burst(burst);
          received += n;
          burst.freeFrom(pool, 0);
          if (n === 0) await Bun.sleep(5);
        }
        const s = pair.rx.stats();
        expect(s.ipackets).toBe(received);
        // Every frame TX took was either received or counted missed, never both, never twice.
        expect(received + s.imissed).toBeLessThanOrEqual(sent);
        expect(received).toBeGreaterThan(0);
      } finally {
        closeAll(pair);
        pool.flushCache();
        expect(pool.inUse()).toBe(0);
        pool.destroy();
      }
    }, 30000);

    test("stats reset to zero; a new configuration counts from zero", async () => {
      const pool = Mempool.create({ count: 4096, name: "conf-reset" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        await move(pair, pool, t.loopback, 100, 10000, t.window);
        expect(pair.rx.stats().ipackets).toBeGreaterThan(0);
        pair.rx.resetStats();
        pair.tx.resetStats();
        for (const v of Object.values(pair.rx.stats())) expect(v).toBe(0);
        for (const v of Object.values(pair.tx.stats())) expect(v).toBe(0);
        expect(pair.rx.queueStats(0, "rx").packets).toBe(0);
      } finally {
        closeAll(pair);
        pool.flushCache();
        pool.destroy();
      }
    }, 30000);

    test("RX writes the metadata: the port id, the length, the data offset", async () => {
      const pool = Mempool.create({ count: 4096, name: "conf-meta" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        const burst = new Burst(32);
        const until = Date.now() + 5000;
        let n = 0;
        while (n === 0 && Date.now() < until) {
          if (t.loopback) {
            freshFrames(pool, burst, 4);
            pool.port.fill(0xffff);
            burst.freeFrom(pool, pair.tx.txQueue(0).burst(burst));
          }
          n = pair.rx.rxQueue(0).burst(burst);
          if (n === 0) await Bun.sleep(5);
        }
        expect(n).toBeGreaterThan(0);
        for (let i = 0; i < n; i++) {
          const b = burst.bufs[i]!;
          expect(pool.port[b]).toBe(pair.rx.id & 0xffff);
          expect(pool.len[b]).toBeGreaterThanOrEqual(14);
          expect(pool.offset(b)).toBe(pool.bufBase + b * pool.stride + pool.dataOff[b]!);
          expect(pool.dataOff[b]).toBeLessThan(pool.stride);
        }
        burst.freeFrom(pool, 0);
      } finally {
        closeAll(pair);
        pool.flushCache();
        pool.destroy();
      }
    }, 30000);

    test("MAC, promiscuous mode and MTU: read back what was set; bad values refused with the range", () => {
      const pool = Mempool.create({ count: 2048, name: "conf-ctl" });
      const pair = t.open();
      try {
        const p = pair.rx;
        configureBoth(pair, pool, t.config);
        expect(p.macAddress()).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(parseInt(p.macAddress().slice(0, 2), 16) & 1).toBe(0);
        expect(() => p.setMacAddress("not-a-mac")).toThrow(BdkError);
        expect(() => p.setMacAddress("01:00:5e:00:00:01")).toThrow("multicast");
        if (t.mutableMac !== false) {
          p.setMacAddress("02:00:00:c0:ff:ee");
          expect(p.macAddress()).toBe("02:00:00:c0:ff:ee");
        }
        p.setPromiscuous(false);
        expect(p.promiscuous()).toBe(false);
        p.setPromiscuous(true);
        expect(p.promiscuous()).toBe(true);
        const mtu = p.mtu();
        expect(mtu).toBeGreaterThanOrEqual(68);
        p.setMtu(1280);
        expect(p.mtu()).toBe(1280);
        p.setMtu(mtu);
        expect(() => p.setMtu(10)).toThrow("out of range");
        expect(() => p.setMtu(p.info().maxFrameSize)).toThrow("out of range");
      } finally {
        closeAll(pair);
        pool.destroy();
      }
    });

    test("link: up while started, each change one event with its time; stopped ports report down", async () => {
      const pool = Mempool.create({ count: 2048, name: "conf-link" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        const events: { up: boolean; at: number }[] = [];
        const before = pair.rx.link().up;
        const off = pair.rx.on("link", (e) => events.push({ up: e.link.up, at: e.at }));
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        expect(pair.rx.link().up).toBe(true);
        const t0 = Date.now();
        pair.rx.pollEvents();
        pair.rx.pollEvents(); // nothing changed since: no second event
        expect(events.map((e) => e.up)).toEqual(before ? [] : [true]);
        for (const e of events) expect(Math.abs(e.at - t0)).toBeLessThan(5000);
        off();
        pair.rx.pollEvents();
        expect(typeof pair.rx.eventFd()).toBe("number");
      } finally {
        closeAll(pair);
        pool.destroy();
      }
    });

    test(t.attachable ? "queues attached from a pinned worker: its bursts count in the owner's stats, under the owner's port id" : "queue handles are refused with the reason", async () => {
      const pool = Mempool.create({ count: 4096, name: "conf-attach" });
      const pair = t.open();
      try {
        configureBoth(pair, pool, t.config);
        startBoth(pair);
        await waitLink(pair.rx, true, 3000, t.settleMs);
        if (!t.attachable) {
          expect(() => pair.rx.rxQueue(0).handle()).toThrow(BdkError);
          return;
        }
        const want = Math.min(20000, frames);
        const init: ConformanceWorkerInit = { rx: pair.rx.rxQueue(0).handle(), tx: pair.tx.txQueue(0).handle(), loopback: t.loopback, frames: want, window: t.window ?? 256 };
        const group = await startWorkers<ConformanceWorkerInit, ConformanceWorkerResult>(new URL("./worker.ts", import.meta.url), { cores: [0], init, name: "conformance" });
        const [r] = await group.join(30000);
        expect(r!.received).toBeGreaterThanOrEqual(want);
        expect(r!.wrongPort).toBe(0);
        expect(r!.portId).toBe(pair.rx.id);
        expect(pair.rx.stats().ipackets).toBe(r!.received);
        expect(pair.tx.stats().opackets).toBe(r!.sent);
      } finally {
        closeAll(pair);
        pool.flushCache();
        expect(pool.inUse()).toBe(0);
        pool.destroy();
      }
    }, 60000);
  });
}
