// The af_packet port's queues used from worker threads (src/ethdev/queue.ts): the main thread opens, configures
// and starts the port; queues attached from their handles burst on the same sockets and rings and count in the
// port's counters. Over a veth pair whose end B lives in a namespace this file makes and removes (root only;
// tcpdump).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { AfPacketPort, AfPacketQueueState } from "../../drivers/af_packet/index.ts";
import type { QueueHandle } from "../../src/ethdev/queue.ts";
import { attachRxQueue, attachTxQueue, openPort } from "../../src/index.ts";
import { Burst } from "../../src/ethdev/port.ts";
import { startWorkers } from "../../src/lcore/worker.ts";
import { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { Capture, leftovers, linkStat, run, sendRawFrames, withVethPair, type VethPair } from "../helpers/netns.ts";
import type { AfPacketWorkerInit, AfPacketWorkerResult } from "./workers/af_packet-worker.ts";
import { errorOf } from "../helpers/errors.ts";

const ROOT = process.getuid?.() === 0;
const HAVE_TOOLS = run(["sh", "-c", "command -v tcpdump"], { allowFail: true }).code === 0;
const it = ROOT && HAVE_TOOLS ? test : test.skip;
if (!ROOT || !HAVE_TOOLS) console.warn("af_packet worker tests skipped: they need root and tcpdump (scripts/setup.sh installs it)");

let pool: Mempool;
beforeAll(() => {
  pool = Mempool.create({ count: 8192, hugepages: "never", name: "af_packet-workers" });
});
afterAll(() => {
  pool?.destroy();
});

const mac = (s: string): number[] => s.split(":").map((x) => parseInt(x, 16));
/** Open fds as "fd -> what" (/proc/self/fd; the directory's own fd, closed by the time we look, left out). */
function fds(): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [`${fd} -> ${readlinkSync(`/proc/self/fd/${fd}`)}`];
    } catch {
      return [];
    }
  });
}
/**
 * The fds open now that were not open at `before`. Compared as sets, not counts: Bun closes the stdio of
 * finished child processes (the `ip` and `tcpdump` the helpers run) when it gets to it, so the count may drop.
 */
function newFds(before: string[]): string[] {
  Bun.gc(true);
  return fds().filter((f) => !before.includes(f));
}
/** Our fds that are AF_PACKET sockets (their inodes are in /proc/net/packet). */
function packetFds(): number {
  const inodes = new Set(readFileSync("/proc/net/packet", "utf8").split("\n").slice(1).map((l) => l.trim().split(/\s+/)[8]).filter((x) => x));
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m && inodes.has(m[1]!)) n++;
    } catch { /* closed meanwhile */ }
  }
  return n;
}
/** The error attaching a handle gives (the attach is async). */
async function attachError(h: QueueHandle): Promise<Error> {
  try {
    await (h.dir === "rx" ? attachRxQueue(h, { pool }) : attachTxQueue(h, { pool }));
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the attach to fail");
}
const ringMaps = (): number => readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes("socket:[")).length;

/** Ethernet/IPv4/UDP, 198.51.100.(1 + id % 200):sport → 198.51.100.2:9, a 32-bit id at byte 42. */
function udpFrame(dst: string, src: string, sport: number, id: number): Uint8Array {
  const f = new Uint8Array(64);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  f.set([0x08, 0x00], 12);
  const ipLen = 64 - 14;
  f.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 1 + (id % 200), 198, 51, 100, 2], 14);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (f[14 + i]! << 8) | f[15 + i]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  f[24] = (~sum >> 8) & 0xff;
  f[25] = ~sum & 0xff;
  f.set([sport >> 8, sport & 0xff, 0, 9, 0, ipLen - 20, 0, 0], 34);
  new DataView(f.buffer).setUint32(42, id);
  return f;
}

describe("af_packet queue handles", () => {
  it("a handle of a stopped port is refused; an attached queue shares the socket, ring and counters; after the owner's stop it returns 0", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const fd0 = fds();
      const packet0 = packetFds();
      const port = openPort(`af_packet:${a},queues=2`, { pool }) as AfPacketPort;
      try {
        // Configured, not started: the queues exist but have no socket yet, so there is nothing to hand out.
        const notStarted = errorOf(() => port.rxQueue(0).handle());
        expect(notStarted).toBeInstanceOf(BdkError);
        expect(notStarted.message).toMatch(/handle\(\) of RX queue 0 of a port that is not started/);
        expect((notStarted as BdkError).fix).toMatch(/call start\(\) first/);
        port.start();
        const h = structuredClone(port.rxQueue(0).handle()); // what a worker gets: plain data, SharedArrayBuffers shared
        expect(h).toMatchObject({ driver: "af_packet", dir: "rx", queueId: 0, portId: port.id });
        expect((h.state as AfPacketQueueState).socket.fd).toBe(port.queueFd(0));
        const rxq0 = await attachRxQueue(h, { pool });
        expect(rxq0).not.toBe(port.rxQueue(0));
        expect(rxq0.portId).toBe(port.id);
        expect(rxq0.eventFd()).toBe(port.queueFd(0));
        await expect(attachTxQueue(h, { pool })).rejects.toThrow(/use attachRxQueue/);
        // Frames to the port come out of whichever object bursts; both count in one set of counters.
        const n = 64;
        expect(sendRawFrames(b, Array.from({ length: n }, (_, i) => udpFrame(macA, macB, 2000 + i, i)), nsB)).toBe(n);
        const burst = new Burst(32);
        let got = 0;
        const until = Date.now() + 3000;
        while (got < n && Date.now() < until) {
          // Queue 0 through the attached object, queue 1 through the owner's (one user per queue).
          for (const rxq of [rxq0, port.rxQueue(1)]) {
            const k = rxq.burst(burst);
            for (let i = 0; i < k; i++) expect(pool.port[burst.bufs[i]!]).toBe(port.id);
            got += k;
            burst.freeFrom(pool, 0);
          }
          await Bun.sleep(1);
        }
        expect(got).toBe(n);
        expect(port.stats().ipackets).toBe(n);
        expect(rxq0.stats()).toEqual(port.queueStats(0, "rx"));
        expect(rxq0.stats().packets + port.queueStats(1, "rx").packets).toBe(n);
        // An attached TX queue sends on the owner's socket; its kick is counted where the owner reads it.
        const txq1 = await attachTxQueue(port.txQueue(1).handle(), { pool });
        burst.count = 0;
        const b0 = pool.take();
        pool.bytes.set(udpFrame(macB, macA, 7, 7), pool.offset(b0));
        pool.len[b0] = 64;
        burst.push(b0);
        expect(txq1.burst(burst)).toBe(1);
        expect(port.queueStats(1, "tx")).toMatchObject({ packets: 1, bytes: 64, errors: 0 });
        expect(port.txKicks(1)).toBe(1);
        expect(port.txKickErrors()).toBe(0);
        // Attached queues own no fd: the port's control socket and its two queue sockets are all there is.
        expect(packetFds()).toBe(packet0 + 2 + 1);

        // The owner stops: the attached queues see the port stopped instead of touching closed rings.
        const stale = port.rxQueue(0).handle();
        port.stop();
        expect(rxq0.burst(burst)).toBe(0);
        expect(rxq0.ready()).toBe(false);
        expect(rxq0.eventFd()).toBe(-1);
        burst.count = 0;
        burst.push(pool.take());
        pool.len[burst.bufs[0]!] = 60;
        expect(txq1.burst(burst)).toBe(0); // not taken: still the caller's
        burst.freeFrom(pool, 0);
        expect(port.queueFd(0)).toBe(-1);
        expect(errorOf(() => port.rxQueue(0).handle()).message).toMatch(/not started/);
        expect((await attachError(stale)).message).toMatch(/the port was stopped since this handle was made/);
        // A new start needs new handles: the old objects stay stopped, new ones work.
        port.start();
        expect(rxq0.burst(burst)).toBe(0);
        expect(rxq0.eventFd()).toBe(-1);
        const fresh = await attachRxQueue(port.rxQueue(0).handle(), { pool });
        expect(fresh.eventFd()).toBe(port.queueFd(0));
      } finally {
        port.close();
      }
      expect(packetFds()).toBe(packet0);
      expect(newFds(fd0)).toEqual([]);
    }, { nsB: true });
  }, 20000);
});

describe("af_packet port across two pinned workers", () => {
  it("each worker owns an RX and a TX queue: every frame arrives once, the peer sees what both sent, the owner counts it all", async () => {
    await withVethPair(async ({ a, b, nsB, macA, macB }: VethPair) => {
      const N = 4000; // frames the peer sends (many flows)
      const M = 1000; // frames each worker sends
      const fd0 = fds();
      const packet0 = packetFds();
      const maps0 = ringMaps();
      const inUse0 = pool.inUse();
      // RX rings deep enough for all N frames: nothing is lost even if a worker is slow to get going.
      const port = openPort(`af_packet:${a},queues=2`, { pool, rxRingSize: 4096, txRingSize: 256, promiscuous: false }) as AfPacketPort;
      let results: AfPacketWorkerResult[] = [];
      try {
        port.start();
        // -B 32 MiB, -s 128: small frames and many buffer blocks, so that tcpdump (starved while both workers
        // send at full speed on the two cores) drops nothing.
        const cap = await Capture.start(b, nsB, ["-B", "32768", "-s", "128", "ether", "src", macA]);
        const rx0 = linkStat(b, "rx_packets", nsB);
        const group = await startWorkers<AfPacketWorkerInit, AfPacketWorkerResult>(new URL("./workers/af_packet-worker.ts", import.meta.url), {
          cores: [0, 1],
          name: "af_packet-queues",
          init: (_core, i) => ({
            rx: port.rxQueue(i).handle(), tx: port.txQueue(i).handle(), queue: i, txFrames: M, dst: mac("02:00:00:00:00:02"), src: mac(macA),
          }),
        });
        try {
          expect(group.workers.map((w) => w.cpus)).toEqual([[0], [1]]);
          const frames = Array.from({ length: N }, (_, i) => udpFrame(macA, macB, 1024 + (i % 3000), i));
          expect(sendRawFrames(b, frames, nsB)).toBe(N);
          // The owner watches the workers' progress through its own stats (the counters are shared).
          const deadline = Date.now() + 8000;
          while ((port.stats().ipackets < N || port.stats().opackets < 2 * M) && Date.now() < deadline) await Bun.sleep(10);
        } finally {
          results = await group.stop(5000);
        }
        const peer = (await cap.stop(1000)).filter((f) => f[12] === 0x88 && f[13] === 0xb5);
        const rxPeer = linkStat(b, "rx_packets", nsB) - rx0;

        // RX: every id exactly once, spread over both queues.
        const seen = new Map<number, number>();
        for (const r of results) for (const id of r.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
        expect(seen.size).toBe(N);
        expect([...seen.values()].every((c) => c === 1)).toBe(true);
        expect([...seen.keys()].every((id) => id >= 0 && id < N)).toBe(true);
        const perQueue = results.map((r) => r.ids.length);
        expect(perQueue[0]! + perQueue[1]!).toBe(N);
        expect(perQueue[0]).toBeGreaterThan(N / 10);
        expect(perQueue[1]).toBeGreaterThan(N / 10);

        // TX: the peer saw exactly 2·M frames, M from each queue, each sequence number once.
        expect(results.map((r) => r.sent)).toEqual([M, M]);
        expect(peer.length).toBe(2 * M);
        expect(rxPeer).toBe(2 * M);
        for (const q of [0, 1]) {
          const seqs = new Set(peer.filter((f) => f[14] === q).map((f) => new DataView(f.buffer, f.byteOffset).getUint32(15)));
          expect(seqs.size).toBe(M);
        }

        // The workers' queues wrote the owner's port id into every frame, and slept in their waiters when idle.
        for (const r of results) {
          expect(r.portId).toBe(port.id);
          expect(r.wrongPort).toBe(0);
          expect(r.waits).toBeGreaterThan(0);
        }

        // The owner's stats include what the workers did; per queue too.
        const s = port.stats();
        expect(s).toMatchObject({ ipackets: N, opackets: 2 * M, imissed: 0, ierrors: 0, oerrors: 0, rxNoMbuf: 0 });
        expect(s.ibytes).toBe(N * 64);
        expect(s.obytes).toBe(2 * M * 60);
        for (const q of [0, 1]) {
          expect(port.queueStats(q, "rx").packets).toBe(perQueue[q]!);
          expect(port.queueStats(q, "tx").packets).toBe(M);
          expect(results[q]!.rxQueuePackets).toBe(perQueue[q]!);
          expect(results[q]!.txQueuePackets).toBe(M);
        }
        expect(port.txKicks()).toBeGreaterThanOrEqual(2 * Math.ceil(M / 32));
        // The workers' queues left the sockets and rings to the owner (and closed their waiters' epoll fds).
        expect(packetFds()).toBe(packet0 + 3);
        expect(ringMaps()).toBe(maps0 + 2);
      } finally {
        port.close();
      }
      expect(packetFds()).toBe(packet0);
      expect(newFds(fd0)).toEqual([]);
      expect(ringMaps()).toBe(maps0);
      pool.flushCache();
      expect(pool.inUse()).toBe(inUse0);
    }, { nsB: true });
  }, 20000);

  it("nothing of ours is left: no namespace, no link", () => {
    expect(leftovers()).toEqual({ netns: [], links: [] });
  });
});
