// The af_packet port over veth pairs in namespaces this file makes and always removes (root only; tcpdump and
// ping from iputils). What goes out of end A is checked byte for byte by tcpdump on end B; what B's kernel
// sends (ARP, ICMP) and raw frames written on B come back out of the RX queues; fanout spreads flows over
// queues; an RxWaiter over the queues sleeps until a frame comes; promiscuous mode follows the port; one TX
// burst is one sendto; link changes (down, up, deleted) come out of pollEvents and wake the port's eventFd();
// errors are one clear line each; open/close leaks no fd and no mapping.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AfPacketPort } from "../../drivers/af_packet/index.ts";
import type { OpenOptions } from "../../src/ethdev/driver.ts";
import type { PortEvent } from "../../src/ethdev/events.ts";
import { Burst } from "../../src/ethdev/port.ts";
import { openPort, RxWaiter } from "../../src/index.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { IFF_PROMISC, netdevSysfsFlags } from "../../src/sys/netdev.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { monotonicNs, POLLIN, raw } from "../../src/sys/libc.ts";
import {
  Capture, leftovers, linkStat, run, sendRawFrames, uniqueName, withVethPair, type VethPair,
} from "../helpers/netns.ts";
import { errorOf } from "../helpers/errors.ts";

const ROOT = process.getuid?.() === 0;
const HAVE_TOOLS = run(["sh", "-c", "command -v tcpdump && command -v ping && command -v setpriv"], { allowFail: true }).code === 0;
const it = ROOT && HAVE_TOOLS ? test : test.skip;
if (!ROOT || !HAVE_TOOLS) console.warn("af_packet tests skipped: they need root, tcpdump, ping and setpriv (scripts/setup.sh installs them)");

function open(spec: string, options: OpenOptions = {}): AfPacketPort {
  return openPort(spec, options) as AfPacketPort;
}

let pool: Mempool;
beforeAll(() => {
  pool = Mempool.create({ count: 8192, hugepages: "never", name: "af_packet-test" });
});
afterAll(() => {
  pool?.destroy();
});

const mac = (s: string): number[] => s.split(":").map((x) => parseInt(x, 16));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A frame to `dst` from `src`, EtherType 0x88b5 (local experimental), `len` bytes of a pattern seeded by `seed`. */
function rawFrame(dst: string, src: string, len: number, seed: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < len; i++) f[i] = (i * 7 + seed * 13) & 0xff;
  return f;
}

/** Ethernet/IPv4/UDP, 198.51.100.1:sport → 198.51.100.2:9, payload starts with a 32-bit id. */
function udpFrame(dst: string, src: string, sport: number, id: number): Uint8Array {
  const f = new Uint8Array(64);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  f.set([0x08, 0x00], 12);
  const ipLen = 64 - 14;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 1, 198, 51, 100, 2], 14);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (f[14 + i]! << 8) | f[15 + i]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f[24] = (~sum >> 8) & 0xff;
  f[25] = ~sum & 0xff;
  f.set([sport >> 8, sport & 0xff, 0, 9, 0, ipLen - 20, 0, 0], 34);
  new DataView(f.buffer).setUint32(42, id);
  return f;
}

/** Puts frames into pool buffers of a burst. */
function fill(burst: Burst, frames: Uint8Array[]): void {
  burst.count = 0;
  for (const f of frames) {
    const b = pool.take();
    pool.bytes.set(f, pool.offset(b));
    pool.len[b] = f.length;
    burst.push(b);
  }
}

/** Copies a received buffer out and frees it. */
function takeOut(b: number): Uint8Array {
  const o = pool.offset(b);
  const f = pool.bytes.slice(o, o + pool.len[b]!);
  pool.free(b);
  return f;
}

/** Receives on `queue` until `want` frames (matching `keep`) arrived or `ms` passed. */
async function receive(port: AfPacketPort, queue: number, want: number, ms = 3000, keep: (f: Uint8Array) => boolean = () => true): Promise<Uint8Array[]> {
  const burst = new Burst(32);
  const out: Uint8Array[] = [];
  const until = Date.now() + ms;
  while (out.length < want && Date.now() < until) {
    const n = port.rxBurst(queue, burst);
    for (let i = 0; i < n; i++) {
      const f = takeOut(burst.bufs[i]!);
      if (keep(f)) out.push(f);
    }
    if (n === 0) await Bun.sleep(5);
  }
  return out;
}

/** True when `fd` is readable within `ms` (poll(2); struct pollfd = int fd, short events, short revents). */
function readable(fd: number, ms: number): boolean {
  const pfd = new Int32Array([fd, POLLIN]);
  return raw.poll(pfd, 1, ms) > 0 && ((pfd[1]! >>> 16) & POLLIN) !== 0;
}

/** Calls pollEvents until `want` events came or `ms` passed. */
async function eventsUntil(port: AfPacketPort, want: number, ms = 5000): Promise<PortEvent[]> {
  const out: PortEvent[] = [];
  const until = Date.now() + ms;
  while (out.length < want && Date.now() < until) {
    out.push(...port.pollEvents());
    if (out.length < want) await Bun.sleep(10);
  }
  return out;
}

function expectOneLine(e: Error, ...parts: (string | RegExp)[]): void {
  expect(e).toBeInstanceOf(BdkError);
  expect(e.message).not.toContain("\n");
  for (const p of parts) expect(e.message).toMatch(p);
}

describe("af_packet TX", () => {
  it("frames sent on A reach tcpdump on B byte for byte, in order", async () => {
    await withVethPair(async ({ a, b, nsB, macA }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool, promiscuous: false });
      try {
        port.start();
        const cap = await Capture.start(b, nsB);
        const sizes = [60, 61, 64, 127, 128, 129, 333, 1000, 1514];
        const frames = sizes.map((n, i) => rawFrame("02:00:00:00:00:02", macA, n, i));
        const burst = new Burst(32);
        fill(burst, frames);
        expect(port.txBurst(0, burst)).toBe(frames.length);
        const got = await cap.stop();
        expect(got.map((f) => f.length)).toEqual(sizes);
        for (let i = 0; i < frames.length; i++) expect(hex(got[i]!)).toBe(hex(frames[i]!));
        const s = port.stats();
        expect(s.opackets).toBe(frames.length);
        expect(s.obytes).toBe(sizes.reduce((x, y) => x + y, 0));
        expect(s.oerrors).toBe(0);
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("a burst of 32 is one sendto; stats count packets and bytes; the peer's kernel counts them too", async () => {
    await withVethPair(async ({ a, b, nsB, macA }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool, promiscuous: false });
      try {
        port.start();
        const burst = new Burst(32);
        const rx0 = linkStat(b, "rx_packets", nsB);
        const kicks0 = port.txKicks();
        fill(burst, Array.from({ length: 32 }, (_, i) => rawFrame("02:00:00:00:00:02", macA, 64 + i, i)));
        expect(port.txBurst(0, burst)).toBe(32);
        expect(port.txKicks() - kicks0).toBe(1);
        expect(port.txKicks(0) - kicks0).toBe(1);
        // A second burst, given from index 10 on: 22 frames, one more kick.
        fill(burst, Array.from({ length: 32 }, (_, i) => rawFrame("02:00:00:00:00:02", macA, 100, i)));
        expect(port.txBurst(0, burst, 10)).toBe(22);
        burst.count = 10;
        burst.freeFrom(pool, 0);
        expect(port.txKicks() - kicks0).toBe(2);
        // An empty offer makes no system call.
        burst.count = 0;
        expect(port.txBurst(0, burst)).toBe(0);
        expect(port.txKicks() - kicks0).toBe(2);
        const s = port.stats();
        expect(s.opackets).toBe(54);
        expect(s.obytes).toBe(32 * 64 + (31 * 32) / 2 + 22 * 100);
        expect(port.queueStats(0, "tx")).toMatchObject({ packets: 54, errors: 0 });
        await Bun.sleep(50);
        expect(linkStat(b, "rx_packets", nsB) - rx0).toBe(54);
        expect(port.txRingState(0).pending).toBe(0);
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("frames the kernel would refuse (shorter than a header, longer than the MTU) are dropped and counted as oerrors", async () => {
    await withVethPair(async ({ a, macA }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool, promiscuous: false });
      try {
        port.start();
        const burst = new Burst(8);
        fill(burst, [rawFrame("02:00:00:00:00:02", macA, 60, 1), rawFrame("02:00:00:00:00:02", macA, 1600, 2), rawFrame("02:00:00:00:00:02", macA, 60, 3)]);
        pool.len[burst.bufs[0]!] = 10;
        expect(port.txBurst(0, burst)).toBe(3); // all taken: one sent, two dropped
        const s = port.stats();
        expect(s.opackets).toBe(1);
        expect(s.oerrors).toBe(2);
      } finally {
        port.close();
      }
    });
  }, 20000);
  it("a full TX ring takes nothing more; what waited while the link was down goes out once it is up", async () => {
    await withVethPair(async ({ a, b, nsB, macA }: VethPair) => {
      const port = open(`af_packet:${a},frames=64`, { pool, promiscuous: false });
      try {
        port.start();
        const rx0 = linkStat(b, "rx_packets", nsB);
        run(["ip", "link", "set", a, "down"]);
        const burst = new Burst(100);
        fill(burst, Array.from({ length: 100 }, (_, i) => rawFrame("02:00:00:00:00:02", macA, 60, i)));
        expect(port.txBurst(0, burst)).toBe(64); // the ring holds 64; the kick is refused (ENETDOWN)
        expect(port.txKickErrors()).toBe(1);
        expect(port.txRingState(0).pending).toBe(64);
        expect(port.txBurst(0, burst, 64)).toBe(0); // full: nothing taken, nothing lost
        burst.count = 100;
        burst.freeFrom(pool, 64);
        run(["ip", "link", "set", a, "up"]);
        expect(port.txFlush(0)).toBe(true);
        await Bun.sleep(100);
        expect(port.txRingState(0).pending).toBe(0);
        expect(linkStat(b, "rx_packets", nsB) - rx0).toBe(64);
        fill(burst, [rawFrame("02:00:00:00:00:02", macA, 60, 1)]);
        expect(port.txBurst(0, burst)).toBe(1);
        expect(port.stats()).toMatchObject({ opackets: 65, oerrors: 0 });
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("stop() sends what still waits in the TX ring; kicks are counted per queue and survive stop/start", async () => {
    await withVethPair(async ({ a, b, nsB, macA }: VethPair) => {
      const port = open(`af_packet:${a},frames=64`, { pool, promiscuous: false });
      try {
        port.start();
        const rx0 = linkStat(b, "rx_packets", nsB);
        run(["ip", "link", "set", a, "down"]);
        const burst = new Burst(32);
        fill(burst, Array.from({ length: 32 }, (_, i) => rawFrame("02:00:00:00:00:02", macA, 60, i)));
        expect(port.txBurst(0, burst)).toBe(32); // queued; the kick is refused
        expect(port.txRingState(0).pending).toBe(32);
        run(["ip", "link", "set", a, "up"]);
        port.stop(); // drains: kicks until the ring is empty
        await Bun.sleep(100);
        expect(linkStat(b, "rx_packets", nsB) - rx0).toBe(32);
        const kicks = port.txKicks(0);
        expect(kicks).toBeGreaterThanOrEqual(2); // the refused one, and stop()'s
        expect(port.txKickErrors()).toBeGreaterThanOrEqual(1);
        port.start();
        expect(port.txKicks(0)).toBe(kicks);
        const x = Object.fromEntries(port.xstats().map((s) => [s.name, s.value]));
        expect(x).toMatchObject({ tx_q0_kicks: kicks, tx_kicks: kicks, tx_kick_errors: port.txKickErrors(), tx_good_packets: 32 });
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);
});

describe("af_packet RX", () => {
  it("ARP and ICMP from the peer's kernel arrive with B's MAC as sender", async () => {
    await withVethPair(async ({ a, b, macA, macB, execB }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool });
      try {
        port.start();
        // ARP: nobody has 192.0.2.9, so B asks (broadcast, right away).
        execB(["ping", "-c", "1", "-W", "0.3", "-I", b, "192.0.2.9"], { allowFail: true });
        const arp = await receive(port, 0, 1, 3000, (f) => f[12] === 0x08 && f[13] === 0x06);
        expect(arp.length).toBe(1);
        const f = arp[0]!;
        expect(hex(f.subarray(0, 6))).toBe("ffffffffffff");
        expect(hex(f.subarray(6, 12))).toBe(hex(new Uint8Array(mac(macB))));
        expect(hex(f.subarray(14, 22))).toBe("0001080006040001"); // Ethernet/IPv4, request
        expect(hex(f.subarray(22, 28))).toBe(hex(new Uint8Array(mac(macB)))); // sender MAC
        expect([...f.subarray(28, 32)]).toEqual([192, 0, 2, 2]);
        expect([...f.subarray(38, 42)]).toEqual([192, 0, 2, 9]);
        // ICMP echo to A's MAC (a static neighbour: no ARP needed).
        execB(["ip", "neigh", "replace", "192.0.2.1", "lladdr", macA, "dev", b, "nud", "permanent"]);
        execB(["ping", "-c", "3", "-i", "0.05", "-W", "0.2", "-I", b, "192.0.2.1"], { allowFail: true });
        const echo = await receive(port, 0, 3, 3000, (x) => x[12] === 0x08 && x[13] === 0x00 && x[23] === 1);
        expect(echo.length).toBe(3);
        for (const e of echo) {
          expect(hex(e.subarray(0, 6))).toBe(hex(new Uint8Array(mac(macA))));
          expect(hex(e.subarray(6, 12))).toBe(hex(new Uint8Array(mac(macB))));
          expect([...e.subarray(26, 34)]).toEqual([192, 0, 2, 2, 192, 0, 2, 1]);
          expect(e[34]).toBe(8); // echo request
        }
        const s = port.stats();
        expect(s.ipackets).toBeGreaterThanOrEqual(4);
        expect(s.ibytes).toBeGreaterThanOrEqual(42 + 3 * 98);
      } finally {
        port.close();
      }
    }, { nsB: true, addrB: "192.0.2.2/24" });
  }, 20000);

  it("raw frames written on B come out of rxBurst byte for byte, a VLAN tag put back where it was", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool });
      try {
        port.start();
        const frames = [60, 64, 100, 128, 129, 600, 1514].map((n, i) => rawFrame(macA, macB, n, i));
        const tagged = rawFrame(macA, macB, 100, 9);
        tagged.set([0x81, 0x00, 0x20, 0x64, 0x88, 0xb5], 12); // PCP 1, VID 100
        frames.push(tagged);
        expect(sendRawFrames(b, frames, nsB)).toBe(frames.length);
        const got = await receive(port, 0, frames.length);
        expect(got.map(hex)).toEqual(frames.map(hex));
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("an RxWaiter over the RX queue sleeps until a frame arrives, and times out without one", async () => {
    await withVethPair(async ({ a, b, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool });
      try {
        port.start();
        const rxq = port.rxQueue(0);
        expect(rxq.eventFd()).toBe(port.queueFd(0)); // the socket: the kernel signals a frame in the ring
        const waiter = new RxWaiter([rxq]);
        try {
          const t0 = performance.now();
          expect(waiter.wait(100)).toBe(false);
          expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
          expect(rxq.ready()).toBe(false);
          sendRawFrames(b, [rawFrame(macA, macB, 60, 1)]);
          expect(waiter.wait(2000)).toBe(true);
          expect(rxq.ready()).toBe(true); // the head slot is ours: no system call needed to know
          expect((await receive(port, 0, 1)).length).toBe(1);
          expect(rxq.ready()).toBe(false);
        } finally {
          waiter.close();
        }
        port.stop();
        expect(rxq.eventFd()).toBe(-1); // no socket while stopped
        expect(rxq.ready()).toBe(false);
      } finally {
        port.close();
      }
    });
  }, 20000);

  it("an RxWaiter over two RX queues wakes within a few ms when a frame arrives on either (sent from the peer's namespace), and sleeps when idle", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a},queues=2`, { pool });
      const dir = mkdtempSync(join(tmpdir(), "bdk-wake-"));
      try {
        port.start();
        // Which queue each of 16 flows lands on (the fanout hash is fixed for a flow): one flow per queue.
        const flows = Array.from({ length: 16 }, (_, i) => udpFrame(macA, macB, 3000 + i, i));
        expect(sendRawFrames(b, flows, nsB)).toBe(flows.length);
        const flowOf: (Uint8Array | undefined)[] = [undefined, undefined];
        const burst = new Burst(32);
        const until = Date.now() + 3000;
        let got = 0;
        while (got < flows.length && Date.now() < until) {
          for (const q of [0, 1]) {
            const n = port.rxBurst(q, burst);
            for (let i = 0; i < n; i++) {
              const f = takeOut(burst.bufs[i]!);
              flowOf[q] ??= f;
              got++;
            }
          }
          await Bun.sleep(2);
        }
        expect(got).toBe(flows.length);
        expect(flowOf.every((f) => f !== undefined)).toBe(true);

        const waiter = new RxWaiter([port.rxQueue(0), port.rxQueue(1)]);
        try {
          // Idle: it sleeps the whole timeout and says so.
          const t0 = performance.now();
          expect(waiter.wait(150)).toBe(false);
          expect(performance.now() - t0).toBeGreaterThanOrEqual(140);

          // A child in B's namespace sends queue 0's flow, then queue 1's, 250 ms apart, noting when (CLOCK_MONOTONIC,
          // the same clock in every process); this thread sleeps in the waiter meanwhile.
          const script = join(dir, "send.ts");
          writeFileSync(script, `
            import { sendRawFrames } from ${JSON.stringify(join(import.meta.dir, "../helpers/netns.ts"))};
            import { monotonicNs } from ${JSON.stringify(join(import.meta.dir, "../../src/sys/libc.ts"))};
            const [iface, ...hex] = process.argv.slice(2);
            for (const h of hex) {
              await Bun.sleep(250);
              const before = monotonicNs();
              const n = sendRawFrames(iface, [Buffer.from(h, "hex")]);
              console.log(JSON.stringify({ n, before, after: monotonicNs() }));
            }
          `);
          const child = Bun.spawn(["ip", "netns", "exec", nsB!, process.execPath, script, b, hex(flowOf[0]!), hex(flowOf[1]!)],
            { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
          const wakes: { at: number; queue: number }[] = [];
          for (let k = 0; k < 2; k++) {
            const woke = waiter.wait(5000);
            const at = monotonicNs();
            expect(woke).toBe(true);
            let queue = -1;
            for (const q of [0, 1]) {
              const n = port.rxBurst(q, burst);
              if (n > 0) queue = q;
              burst.freeFrom(pool, 0);
            }
            wakes.push({ at, queue });
          }
          await child.exited;
          const sends = (await new Response(child.stdout).text()).trim().split("\n").map((l) => JSON.parse(l) as { n: number; before: number; after: number });
          expect(sends.map((x) => x.n)).toEqual([1, 1]);
          expect(wakes.map((w) => w.queue)).toEqual([0, 1]);
          for (let k = 0; k < 2; k++) {
            expect(wakes[k]!.at).toBeGreaterThanOrEqual(sends[k]!.before); // it slept until the frame was sent …
            expect((wakes[k]!.at - sends[k]!.before) / 1e6).toBeLessThan(10); // … and woke right after
          }
          expect(waiter.wait(50)).toBe(false); // idle again
        } finally {
          waiter.close();
        }
      } finally {
        port.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, { nsB: true });
  }, 20000);

  it("does not receive its own TX (PACKET_IGNORE_OUTGOING), also through the qdisc layer", async () => {
    await withVethPair(async ({ a, macA }: VethPair) => {
      const port = open(`af_packet:${a},qdisc_bypass=0`, { pool });
      try {
        port.start();
        const burst = new Burst(8);
        fill(burst, Array.from({ length: 8 }, (_, i) => rawFrame("02:00:00:00:00:02", macA, 60, i)));
        expect(port.txBurst(0, burst)).toBe(8);
        await Bun.sleep(50);
        expect((await receive(port, 0, 1, 200)).length).toBe(0);
        expect(port.stats().opackets).toBe(8);
      } finally {
        port.close();
      }
    });
  }, 20000);

  it("a ring left unpolled overflows: PACKET_STATISTICS drops show as imissed", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a},frames=64`, { pool });
      try {
        port.start();
        const n = 1000;
        const frames = Array.from({ length: n }, (_, i) => udpFrame(macA, macB, 1000 + (i % 50), i));
        expect(sendRawFrames(b, frames, nsB)).toBe(n);
        await Bun.sleep(50);
        const s1 = port.stats();
        expect(s1.imissed).toBeGreaterThan(0);
        const got = await receive(port, 0, n, 300);
        expect(got.length).toBeLessThanOrEqual(64);
        const s2 = port.stats();
        expect(s2.imissed).toBe(s1.imissed); // counted once, kept (the kernel resets its counter when read)
        expect(s2.ipackets).toBe(got.length);
        expect(s2.ipackets + s2.imissed).toBe(n);
        port.resetStats();
        expect(port.stats()).toMatchObject({ ipackets: 0, imissed: 0 });
        // Drops not yet read when the port stops are read by stop(): the ring keeps 64, the rest was dropped.
        expect(sendRawFrames(b, frames, nsB)).toBe(n);
        await Bun.sleep(50);
        port.stop();
        expect(port.stats()).toMatchObject({ ipackets: 0, imissed: n - 64 });
        expect(port.queueStats(0, "rx")).toMatchObject({ packets: 0, missed: n - 64 });
        expect(port.xstats()).toContainEqual({ name: "rx_missed_errors", value: n - 64 });
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);
});

describe("af_packet queues", () => {
  it("two RX queues in a fanout group share the flows, each frame on exactly one queue", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a},queues=2`, { pool });
      try {
        expect(port.config?.rxQueues).toBe(2);
        expect(port.config?.txQueues).toBe(2);
        port.start();
        expect(port.fanoutGroup).toBeGreaterThan(0);
        const n = 400;
        const frames = Array.from({ length: n }, (_, i) => udpFrame(macA, macB, 1024 + i, i));
        expect(sendRawFrames(b, frames, nsB)).toBe(n);
        const seen = new Map<number, number>();
        const perQueue = [0, 0];
        const burst = new Burst(32);
        const until = Date.now() + 3000;
        while (perQueue[0]! + perQueue[1]! < n && Date.now() < until) {
          for (const q of [0, 1]) {
            const k = port.rxBurst(q, burst);
            for (let i = 0; i < k; i++) {
              const f = takeOut(burst.bufs[i]!);
              const id = new DataView(f.buffer).getUint32(42);
              seen.set(id, (seen.get(id) ?? 0) + 1);
              perQueue[q]!++;
            }
          }
          await Bun.sleep(2);
        }
        expect(perQueue[0]! + perQueue[1]!).toBe(n);
        expect(seen.size).toBe(n);
        expect([...seen.values()].every((c) => c === 1)).toBe(true);
        expect(perQueue[0]).toBeGreaterThan(n / 10);
        expect(perQueue[1]).toBeGreaterThan(n / 10);
        expect(port.queueStats(0, "rx").packets).toBe(perQueue[0]!);
        expect(port.queueStats(1, "rx").packets).toBe(perQueue[1]!);
        // TX queue 1 is socket 1's ring.
        const kicks0 = port.txKicks(1);
        fill(burst, [rawFrame("02:00:00:00:00:02", macA, 60, 1)]);
        expect(port.txBurst(1, burst)).toBe(1);
        expect(port.txKicks(1) - kicks0).toBe(1);
        expect(port.queueStats(1, "tx").packets).toBe(1);
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("a frame of one flow always lands on the same queue (hash fanout)", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool, rxQueues: 3, txQueues: 1 });
      try {
        port.start();
        const frames = Array.from({ length: 60 }, (_, i) => udpFrame(macA, macB, 5000 + (i % 6), i));
        sendRawFrames(b, frames, nsB);
        await Bun.sleep(50);
        const queueOfFlow = new Map<number, Set<number>>();
        let total = 0;
        const burst = new Burst(64);
        for (const q of [0, 1, 2]) {
          const k = port.rxBurst(q, burst);
          total += k;
          for (let i = 0; i < k; i++) {
            const f = takeOut(burst.bufs[i]!);
            const sport = (f[34]! << 8) | f[35]!;
            if (!queueOfFlow.has(sport)) queueOfFlow.set(sport, new Set());
            queueOfFlow.get(sport)!.add(q);
          }
        }
        expect(total).toBe(60);
        expect(queueOfFlow.size).toBe(6);
        for (const qs of queueOfFlow.values()) expect(qs.size).toBe(1);
        expect(() => port.txBurst(1, burst)).toThrow(/tx queue 1 does not exist/);
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);
});

describe("af_packet per-queue configuration", () => {
  it("RX queue q copies into its own pool; each queue's ring has its own size", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const pool1 = Mempool.create({ count: 1024, hugepages: "never", name: "af_packet-q1" });
      const port = open(`af_packet:${a}`);
      try {
        port.configure({
          pool, rxQueues: 2, txQueues: 2,
          rxQueueConfig: [undefined, { pool: pool1, ringSize: 128 }],
          txQueueConfig: [{ ringSize: 64 }, { ringSize: 256 }],
        });
        expect(port.config).toMatchObject({ rxRingSizes: [512, 128], txRingSizes: [64, 256] });
        port.start();
        expect(port.txRingState(0)).toEqual({ available: 64, pending: 0, wrongFormat: 0 });
        expect(port.txRingState(1)).toEqual({ available: 256, pending: 0, wrongFormat: 0 });
        const n = 100;
        expect(sendRawFrames(b, Array.from({ length: n }, (_, i) => udpFrame(macA, macB, 1024 + i, i)), nsB)).toBe(n);
        const pools = [pool, pool1];
        const ids = new Set<number>();
        const perQueue = [0, 0];
        const burst = new Burst(32);
        const until = Date.now() + 3000;
        while (ids.size < n && Date.now() < until) {
          for (const q of [0, 1]) {
            const p = pools[q]!;
            const k = port.rxQueue(q).burst(burst);
            for (let i = 0; i < k; i++) {
              const buf = burst.bufs[i]!;
              expect(p.isAllocated(buf)).toBe(true);
              expect(p.len[buf]).toBe(64);
              ids.add(new DataView(p.bytes.buffer, p.bytes.byteOffset + p.offset(buf) + 42, 4).getUint32(0));
              p.free(buf);
            }
            perQueue[q]! += k;
          }
          await Bun.sleep(2);
        }
        expect(ids.size).toBe(n);
        expect(perQueue[0]).toBeGreaterThan(0);
        expect(perQueue[1]).toBeGreaterThan(0);
        expect(port.rxQueue(1).handle().pool.name).toBe("af_packet-q1");
      } finally {
        port.close();
        pool1.destroy();
      }
    }, { nsB: true });
  }, 20000);
});

describe("af_packet interface state", () => {
  it("promiscuous on/off shows in /sys/class/net/A/flags while open; close restores it", async () => {
    await withVethPair(async ({ a }: VethPair) => {
      const promisc = (): boolean => (netdevSysfsFlags(a) & IFF_PROMISC) !== 0;
      expect(promisc()).toBe(false);
      const port = open(`af_packet:${a}`, { pool, promiscuous: true });
      try {
        expect(port.promiscuous()).toBe(true);
        expect(promisc()).toBe(true);
        port.setPromiscuous(false);
        expect(port.promiscuous()).toBe(false);
        expect(promisc()).toBe(false);
        port.setPromiscuous(true);
        port.start();
        expect(promisc()).toBe(true);
        port.stop();
        expect(promisc()).toBe(true); // held from open to close, not from start to stop
      } finally {
        port.close();
      }
      expect(promisc()).toBe(false);
      expect(readFileSync(`/sys/class/net/${a}/flags`, "utf8").trim()).toMatch(/^0x/);
    });
  }, 20000);

  it("link, MAC and MTU come from the kernel; setMtu and setMacAddress change the interface", async () => {
    await withVethPair(async ({ a, b, macA, execB }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool });
      try {
        expect(port.macAddress()).toBe(macA);
        expect(port.mtu()).toBe(1500);
        expect(port.link()).toEqual({ up: true, speedMbps: 10000, fullDuplex: true });
        execB(["ip", "link", "set", b, "down"]);
        expect(port.link().up).toBe(false);
        execB(["ip", "link", "set", b, "up"]);
        port.setMtu(1400);
        expect(readFileSync(`/sys/class/net/${a}/mtu`, "utf8").trim()).toBe("1400");
        expect(port.mtu()).toBe(1400);
        port.setMacAddress("02:00:00:00:bd:01");
        expect(port.macAddress()).toBe("02:00:00:00:bd:01");
        expectOneLine(errorOf(() => port.setMtu(9000)), /MTU 9000 is out of range/, /frame_size=16384/);
        expectOneLine(errorOf(() => port.setMacAddress("01:00:5e:00:00:01")), /multicast/);
        expectOneLine(errorOf(() => port.setMacAddress("nope")), /not a MAC address/);
      } finally {
        port.close();
      }
    }, { nsB: true });
  }, 20000);

  it("the spec's frames= and queues= are the defaults; configure may override them", async () => {
    await withVethPair(async ({ a }: VethPair) => {
      const port = open(`af_packet:${a},frames=128,queues=2,frame_size=4096`);
      try {
        expect(port.info()).toMatchObject({ driver: "af_packet", name: a, maxRxQueues: 16, maxTxQueues: 16, minRingSize: 64, maxRingSize: 65536, maxFrameSize: 4096 - 76 });
        port.configure({ pool });
        expect(port.config).toMatchObject({ rxQueues: 2, txQueues: 2, rxRingSize: 128, txRingSize: 128 });
        port.configure({ pool, rxQueues: 1, txRingSize: 256 });
        expect(port.config).toMatchObject({ rxQueues: 1, txQueues: 2, rxRingSize: 128, txRingSize: 256 });
        port.start();
        port.stop();
        port.start();
      } finally {
        port.close();
      }
    });
  }, 20000);
});

describe("af_packet link events", () => {
  it("ip link set down, then up: two link events from pollEvents (and to a listener), and eventFd() becomes readable on each change", async () => {
    await withVethPair(async ({ a }: VethPair) => {
      const port = open(`af_packet:${a}`, { pool });
      try {
        port.start();
        const heard: PortEvent[] = [];
        const off = port.on("link", (e) => heard.push(e));
        expect(port.pollEvents()).toEqual([]); // no change yet (and whatever the setup left pending is drained)
        const fd = port.eventFd();
        expect(fd).toBeGreaterThanOrEqual(0);
        expect(readable(fd, 0)).toBe(false);

        run(["ip", "link", "set", a, "down"]);
        expect(readable(fd, 2000)).toBe(true);
        const down = await eventsUntil(port, 1);
        expect(down.length).toBe(1);
        expect(down[0]).toMatchObject({ type: "link", portId: port.id, link: { up: false } });
        expect(port.link().up).toBe(false);

        run(["ip", "link", "set", a, "up"]);
        expect(readable(fd, 2000)).toBe(true);
        const up = await eventsUntil(port, 1);
        expect(up.length).toBe(1);
        expect(up[0]).toMatchObject({ type: "link", portId: port.id, link: { up: true, speedMbps: 10000, fullDuplex: true } });
        expect(up[0]!.at).toBeGreaterThanOrEqual(down[0]!.at);
        expect(heard).toEqual([...down, ...up]);
        expect(port.pollEvents()).toEqual([]); // each change once
        off();
        // The link-down left an error on the queue's socket (EPOLLERR): a waiter may wake once for it, then
        // sleeps again instead of spinning.
        const waiter = new RxWaiter([port.rxQueue(0)]);
        try {
          waiter.wait(50);
          const t0 = performance.now();
          expect(waiter.wait(50)).toBe(false);
          expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
        } finally {
          waiter.close();
        }
      } finally {
        port.close();
      }
      expect(port.eventFd()).toBe(-1);
    });
  }, 20000);

  it("ip link del of the interface: a down event with the reason; link() says down without throwing; close() works", async () => {
    await withVethPair(async ({ a, macA }: VethPair) => {
      const port = open(`af_packet:${a},queues=2`, { pool });
      try {
        port.start();
        const burst = new Burst(4);
        fill(burst, [rawFrame("02:00:00:00:00:02", macA, 60, 1)]);
        expect(port.txBurst(0, burst)).toBe(1);
        expect(port.pollEvents()).toEqual([]);
        run(["ip", "link", "del", a]);
        expect(readable(port.eventFd(), 2000)).toBe(true);
        const ev = await eventsUntil(port, 1);
        expect(ev.length).toBe(1);
        expect(ev[0]).toMatchObject({ type: "link", portId: port.id, link: { up: false, speedMbps: 0 } });
        expect(ev[0]!.reason).toMatch(new RegExp(`interface ${a} \\(ifindex ${port.ifindex}\\) no longer exists`));
        expect(port.link()).toMatchObject({ up: false, speedMbps: 0, fullDuplex: false, reason: expect.stringContaining("no longer exists") });
        expect(port.pollEvents()).toEqual([]);
        expect(port.rxBurst(0, burst)).toBe(0);
        port.close(); // stop (drain, drops, sockets), membership, control sockets: nothing throws
        expect(port.isClosed).toBe(true);
        expect(port.eventFd()).toBe(-1);
        expect(port.pollEvents()).toEqual([]);
      } finally {
        port.close();
      }
    });
  }, 20000);
});

describe("af_packet errors: one clear line each", () => {
  it("a missing interface is named, with `ip link`", () => {
    const name = uniqueName("z");
    expectOneLine(errorOf(() => open(`af_packet:${name}`)), `af_packet:${name}`, `no network interface named "${name}"`, "`ip link`");
  });

  it("an interface that is down says how to bring it up", async () => {
    await withVethPair(async ({ a }: VethPair) => {
      expectOneLine(errorOf(() => open(`af_packet:${a}`)), `interface ${a} is down`, `\`ip link set ${a} up\``);
    }, { up: false });
  });

  it("bad spec arguments list what is accepted", () => {
    expectOneLine(errorOf(() => open("af_packet:lo,bogus=1")), /unknown argument "bogus"/, /accepted: iface=/);
    expectOneLine(errorOf(() => open("af_packet:lo,frames=many")), /frames="many" is not a whole number/);
    expectOneLine(errorOf(() => open("af_packet:lo,frame_size=1000")), /frame_size=1000 is not a multiple of 16/);
    expectOneLine(errorOf(() => open("af_packet:lo,queues=0")), /queues=0 is out of range/);
    expectOneLine(errorOf(() => open("af_packet:lo,queues=17")), /queues=17 is out of range/);
    expectOneLine(errorOf(() => open("af_packet:lo,fanout=70000")), /fanout=70000 is out of range/);
    expectOneLine(errorOf(() => open("af_packet:lo,block_size=5000")), /block_size=5000 is not a power of two/);
    expectOneLine(errorOf(() => open("af_packet:lo,qdisc_bypass=maybe")), /qdisc_bypass="maybe" is not a boolean/);
    expectOneLine(errorOf(() => open("af_packet:bad/name")), /not a network interface name/);
    expectOneLine(errorOf(() => open("af_packet:")), /missing iface/);
  });

  it("a ring size that is not a power of two is refused, in the spec and in configure", async () => {
    expectOneLine(errorOf(() => open("af_packet:lo,frames=500")), /frames=500 is not a power of two in 64..65536/);
    await withVethPair(async ({ a }: VethPair) => {
      expectOneLine(errorOf(() => open(`af_packet:${a}`, { pool, rxRingSize: 500 })), /rxRingSize 500 is not a power of two in 64..65536/);
      expectOneLine(errorOf(() => open(`af_packet:${a}`, { pool, txRingSize: 32 })), /txRingSize 32 is not a power of two in 64..65536/);
      expectOneLine(errorOf(() => open(`af_packet:${a},block_size=262144`, { pool, rxRingSize: 64 })), /not a multiple of the 128 frames/);
    });
  });

  it("without root or CAP_NET_RAW: says so", () => {
    const dir = mkdtempSync(join(tmpdir(), "bdk-nonroot-"));
    try {
      const script = join(dir, "open.ts");
      writeFileSync(script, `
        import { driver } from ${JSON.stringify(join(import.meta.dir, "../../drivers/af_packet/index.ts"))};
        import { checkParams, splitSpec } from ${JSON.stringify(join(import.meta.dir, "../../src/ethdev/spec.ts"))};
        const spec = "af_packet:lo";
        try { driver.open(checkParams(spec, splitSpec(spec), driver.params, driver.positional), spec, {}); console.log("opened"); }
        catch (e) { console.error((e as Error).message); process.exit(3); }
      `);
      chmodSync(dir, 0o755);
      chmodSync(script, 0o644);
      const r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, script],
        { allowFail: true, env: { PATH: "/usr/bin:/bin", HOME: dir, TMPDIR: dir } });
      expect(r.code).toBe(3);
      expect(r.stdout).not.toContain("opened");
      const line = r.stderr.trim();
      expect(line.split("\n").length).toBe(1);
      expect(line).toContain("af_packet:lo: AF_PACKET needs root or CAP_NET_RAW");
      expect(line).toContain("setcap cap_net_raw");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20000);

  it("bursts on queues that do not exist, or before configure, are refused", async () => {
    await withVethPair(async ({ a }: VethPair) => {
      const port = open(`af_packet:${a}`);
      try {
        const burst = new Burst(4);
        expectOneLine(errorOf(() => port.rxBurst(0, burst)), /not configured/);
        port.configure({ pool });
        expect(port.rxBurst(0, burst)).toBe(0); // configured, not started: nothing
        expectOneLine(errorOf(() => port.rxBurst(1, burst)), /rx queue 1 does not exist/);
        // A queue's socket exists only while started: no handle for a worker, no ring to look at.
        expectOneLine(errorOf(() => port.rxQueue(0).handle()), /handle\(\) of RX queue 0 of a port that is not started/, /call start\(\) first/);
        expectOneLine(errorOf(() => port.txQueue(0).handle()), /TX queue 0 of a port that is not started/);
        expectOneLine(errorOf(() => port.txRingState(0)), /not started/);
        expect(port.rxQueue(0).eventFd()).toBe(-1);
      } finally {
        port.close();
      }
      expectOneLine(errorOf(() => port.setPromiscuous(true)), /port is closed/);
    });
  });
});

describe("af_packet resources", () => {
  it("open/start/close 50 times leaves no fd, no ring mapping, no promiscuous mode and no buffer behind", async () => {
    await withVethPair(async ({ a, macA }: VethPair) => {
      const fds = (): number => readdirSync("/proc/self/fd").length;
      const ringMaps = (): number => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("socket:[")).length;
      const burst = new Burst(4);
      const cycle = (): void => {
        const port = open(`af_packet:${a},queues=2,frames=64`, { pool });
        port.start();
        fill(burst, [rawFrame("02:00:00:00:00:02", macA, 60, 1)]);
        port.txBurst(0, burst);
        port.rxBurst(1, burst);
        burst.freeFrom(pool, 0);
        port.close();
        port.close(); // idempotent
      };
      cycle(); // warm-up: lazy module state, JIT
      const fd0 = fds();
      const maps0 = ringMaps();
      const inUse0 = pool.inUse();
      for (let i = 0; i < 50; i++) cycle();
      expect(fds()).toBe(fd0);
      expect(ringMaps()).toBe(maps0);
      expect(pool.inUse()).toBe(inUse0);
      expect(netdevSysfsFlags(a) & IFF_PROMISC).toBe(0);
    });
  }, 60000);

  it("nothing of ours is left: no namespace, no link, every pool buffer back", () => {
    expect(leftovers()).toEqual({ netns: [], links: [] });
    pool.flushCache();
    expect(pool.inUse()).toBe(0);
  });
});
