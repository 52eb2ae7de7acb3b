// pktgen on pinned workers (--cores) and several RX queues (--queues): worker w sends on TX queue w its share
// of the count and the rate as stream ID + w, and polls RX queues w, w + N …; the main thread merges what
// every thread counted in shared memory. Over ring links in this process (no root needed) and over a veth
// pair inside a network namespace this file makes and removes (root): exact totals, per-worker and per-queue
// counts, pinned threads, two processes, the refusals and the JSON's shape.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatStatsLine, parsePktgenArgs, runPktgen, type PktgenResult } from "../../apps/pktgen.ts";
import { FrameGenerator } from "../../apps/pktgen/generator.ts";
import { mergeRx, Receiver } from "../../apps/pktgen/receiver.ts";
import { resolveOptions } from "../../apps/pktgen/options.ts";
import { Burst, Mempool, monotonicNs } from "../../src/index.ts";
import { execIn, ip, leftovers, TestNet, uniqueName } from "../helpers/netns.ts";

const ROOT_DIR = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const quiet = { log: () => {} };
const dir = mkdtempSync(join(tmpdir(), "bdk-pktgen-workers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A child's stdout or stderr, read as it comes: the text so far, a wait for a pattern, and the whole text at the end. */
function reader(stream: ReadableStream<Uint8Array>): { text: () => string; waitFor: (re: RegExp, ms: number) => Promise<string>; done: Promise<string> } {
  let buf = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) buf += decoder.decode(chunk, { stream: true });
    return buf;
  })();
  let ended = false;
  void done.then(() => (ended = true));
  return {
    text: () => buf,
    done,
    async waitFor(re, ms) {
      const until = Date.now() + ms;
      while (!re.test(buf)) {
        if (ended || Date.now() > until) throw new Error(`never saw ${re} in:\n${buf}`);
        await Bun.sleep(10);
      }
      return buf;
    },
  };
}

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync([BUN, `${ROOT_DIR}apps/pktgen.ts`, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** Totals are the sums: per worker, per port queue, per RX queue of the receivers. */
function expectSums(r: PktgenResult): void {
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  if (r.workers.length > 0) {
    expect(sum(r.workers.map((w) => w.tx))).toBe(r.txPackets);
    if (r.rx) expect(sum(r.workers.map((w) => w.rx))).toBe(r.rx.received);
  }
  if (r.ports.tx) expect(sum(r.ports.tx.queues.map((q) => q.packets))).toBe(r.ports.tx.stats.opackets);
  if (r.ports.rx) expect(sum(r.ports.rx.queues.map((q) => q.packets))).toBe(r.ports.rx.stats.ipackets);
  if (r.rx) {
    expect(sum(r.rx.queues.map((q) => q.received))).toBe(r.rx.received);
    expect(sum(r.rx.queues.map((q) => q.reordered))).toBe(r.rx.reordered);
    expect(sum(r.rx.streams.map((s) => s.received))).toBe(r.rx.received);
  }
}

describe("building blocks", () => {
  test("N generators dealt round-robin build, together, the frames one generator builds (fields, sizes), each as its own stream", () => {
    const pool = Mempool.create({ count: 1024, hugepages: "never", name: "pgw-gen" });
    try {
      // Ranges of co-prime and non-co-prime lengths against 3 workers, and a size range.
      const o = resolveOptions({ tx: "null", size: "64-70", srcIp: "198.18.0.1-198.18.0.5", dstIp: "198.19.0.1-198.19.0.3", srcPort: "1000-1001", dstPort: "7-12", streamId: 65534 });
      const fields = (gen: FrameGenerator, n: number): { key: string; stream: number; seq: number }[] => {
        const bufs = new Uint32Array(n);
        expect(pool.allocBulk(bufs, 0, n)).toBe(n);
        gen.fill(pool, bufs, n, monotonicNs());
        const out = Array.from(bufs, (b) => {
          const f = pool.bytes.subarray(pool.offset(b), pool.offset(b) + pool.len[b]!);
          const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
          // Length, addresses, ports: what the ranges decide. Stream and sequence apart.
          return { key: `${f.length} ${v.getUint32(26)} ${v.getUint32(30)} ${v.getUint16(34)} ${v.getUint16(36)}`, stream: v.getUint16(44), seq: v.getUint32(46) };
        });
        pool.freeBulk(bufs, 0, n);
        return out;
      };
      const one = fields(new FrameGenerator(o, "02:00:00:00:00:09"), 300);
      const gens = [0, 1, 2].map((w) => new FrameGenerator(o, "02:00:00:00:00:09", w, 3));
      expect(gens.map((g) => g.streamId)).toEqual([65534, 65535, 0]); // ID + w, modulo 2^16
      const each = gens.map((g) => fields(g, 100));
      for (let j = 0; j < 300; j++) {
        const f = each[j % 3]![Math.floor(j / 3)]!;
        expect(f.key).toBe(one[j]!.key);
        expect(f.stream).toBe(gens[j % 3]!.streamId);
        expect(f.seq).toBe(Math.floor(j / 3)); // each stream counts from 0
      }
      // A thread's mean size is over its own share of the size cycle: 7 sizes, 2 workers → all of them each.
      expect(new FrameGenerator(o, "02:00:00:00:00:09", 1, 2).meanLen).toBeCloseTo((60 + 66) / 2);
    } finally {
      pool.flushCache();
      pool.destroy();
    }
  });

  test("merged receivers: one stream spread over two queues loses nothing; a gap is loss; duplicates and reordering stay per queue", () => {
    const pool = Mempool.create({ count: 4096, hugepages: "never", name: "pgw-merge" });
    try {
      const o = resolveOptions({ tx: "null", streamId: 7 });
      const gen = new FrameGenerator(o, "02:00:00:00:00:09");
      const q0 = new Receiver(7);
      const q1 = new Receiver(7);
      const burst = new Burst(64);
      const feed = (recv: Receiver, bufs: number[]): void => {
        const a = Uint32Array.from(bufs);
        recv.process(pool, a, a.length, monotonicNs());
      };
      // 1000 frames, even ones on queue 0, odd ones on queue 1; frame 999 never arrives; queue 1 gets frame 1 twice and 3 after 5.
      const all: number[] = [];
      for (let k = 0; k < 1000; k += 50) {
        expect(pool.allocBulk(burst.bufs, 0, 50)).toBe(50);
        gen.fill(pool, burst.bufs, 50, monotonicNs());
        all.push(...burst.bufs.subarray(0, 50));
      }
      const even = all.filter((_, i) => i % 2 === 0);
      const odd = all.filter((_, i) => i % 2 === 1 && i !== 999);
      feed(q0, even);
      const [one, three, five, ...rest] = odd;
      feed(q1, [one!, one!, five!, three!, ...rest]);
      const r = mergeRx([q0.tally(), q1.tally()], [{ id: 7, sent: 1000 }]);
      expect(r.received).toBe(1000);
      expect(r.lost).toBe(1);
      expect(r.duplicated).toBe(1);
      expect(r.reordered).toBe(1); // within queue 1; queue 0's frames are never compared with queue 1's
      expect(r.queues.map((q) => [q.received, q.reordered])).toEqual([[500, 0], [500, 1]]);
      expect(r.streams).toEqual([{ id: 7, received: 1000, lost: 1, duplicated: 1, reordered: 1, expected: 1000 }]);
      expect(r.latencyNs.count).toBe(1000);
      // Without the count sent: expected up to the highest seen (998 + 1), so the lost tail frame is not seen.
      expect(mergeRx([q0.tally(), q1.tally()]).lost).toBe(0);
      // A stream sent but never seen comes first; a sender that sent nothing is left out; queue 0 alone misses the odd half.
      expect(mergeRx([q0.tally()], [{ id: 9, sent: 10 }, { id: 10, sent: 0 }]).streams.map((s) => [s.id, s.lost])).toEqual([[9, 10], [7, 499]]);
      pool.freeBulk(Uint32Array.from(all), 0, all.length);
    } finally {
      pool.flushCache();
      pool.destroy();
    }
  });
});

describe("on ring links (in this process)", () => {
  test("--cores 0,1 --queues 2: exact totals, each worker half, both queues, pinned, sums everywhere; a live line per interval with both workers", async () => {
    const lines: string[] = [];
    const logs: string[] = [];
    const o = parsePktgenArgs(["--tx", "ring:pgw1", "--rx", "ring:pgw1", "--cores", "0,1", "--queues", "2", "--count", "20001", "--rate", "40kpps", "--interval", "0.1"]);
    const r = await runPktgen(o, { onStats: (s) => lines.push(formatStatsLine(s)), log: (l) => logs.push(l) });
    expect(r.stopReason).toBe("count");
    expect(r.txPackets).toBe(20001);
    expect(r.rx!.received).toBe(20001);
    expect(r.rx!.lost).toBe(0);
    expect(r.rx!.duplicated).toBe(0);
    expect(r.rx!.badChecksum).toBe(0);
    expect(r.rx!.latencyNs.count).toBe(20001);
    expect(r.workers.map((w) => [w.core, w.cpus, w.txQueue, w.streamId, w.rxQueues, w.tx])).toEqual([
      [0, [0], 0, r.streamId, [0], 10001],
      [1, [1], 1, (r.streamId + 1) & 0xffff, [1], 10000],
    ]);
    // A ring link carries TX queue q to RX queue q: each worker receives its own stream.
    expect(r.rx!.streams.map((s) => [s.id, s.received, s.expected])).toEqual([[r.streamId, 10001, 10001], [(r.streamId + 1) & 0xffff, 10000, 10000]]);
    expect(r.ports.tx!.queues.map((q) => q.packets)).toEqual([10001, 10000]);
    expect(r.ports.rx!.queues.map((q) => q.packets)).toEqual([10001, 10000]);
    expectSums(r);
    // The rate split is checked by the frames each worker was given (above), not by a timed figure: speed is measured in bench/, and this machine is shared.
    expect(logs.filter((l) => /^pktgen: worker \d on core \d \(tid \d+\): TX queue \d \(stream \d+\), RX queue \d$/.test(l)).length).toBe(2);
    // Live lines: one line each, totals first, then every worker.
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^pktgen: [\d.]+s {2}TX .* \(\d+\) {2}RX .* \(\d+\) {2}lost \d+ {2}\| w0@0 TX .* RX .* \| w1@1 TX .* RX .*$/);
  }, 20_000);

  test("--json: the shape (workers, per-queue port stats, per-queue receiver counts); without --cores the main thread polls every queue", () => {
    const withCores = cli(["--tx", "ring:j", "--rx", "ring:j", "--cores", "0,1", "--queues", "2", "--count", "1001", "--json", "--interval", "0"]);
    expect(withCores.code).toBe(0);
    const j = JSON.parse(withCores.stdout.trim()) as PktgenResult;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(["txPackets", "rx", "ports", "workers", "stopReason"]));
    expect(j.workers.length).toBe(2);
    for (const w of j.workers) expect(Object.keys(w).sort()).toEqual(["core", "cpus", "rx", "rxQueues", "streamId", "tid", "tx", "txQueue"]);
    expect(j.workers.map((w) => w.tid).every((t) => Number.isInteger(t) && t > 0)).toBe(true);
    expect(Object.keys(j.ports.tx!.queues[0]!).sort()).toEqual(["bytes", "errors", "missed", "noMbuf", "packets"]);
    expect([j.ports.tx!.queues.length, j.ports.rx!.queues.length]).toEqual([2, 2]);
    expect(j.rx!.queues.map((q) => q.queue)).toEqual([0, 1]);
    expect(j.txPackets).toBe(1001);
    expectSums(j);
    // The summary on stderr has a line per worker.
    expect(withCores.stderr).toMatch(/^worker 0 core 0 \(tid \d+\): TX queue 0 stream \d+: 501 sent, RX queue\(s\) 0: 501 received$/m);

    // Without --cores: no workers; --queues 2 on a ring needs 2 TX queues on the other end to feed both, so
    // one RX queue gets everything here (a ring has no RSS), and the main thread polls both.
    const main = cli(["--tx", "ring:k", "--rx", "ring:k", "--queues", "2", "--count", "500", "--json", "--interval", "0"]);
    expect(main.code).toBe(0);
    const m = JSON.parse(main.stdout.trim()) as PktgenResult;
    expect(m.workers).toEqual([]);
    expect(m.ports.tx!.queues.length).toBe(1);
    expect(m.ports.rx!.queues.map((q) => q.packets)).toEqual([500, 0]);
    expect(m.rx!.queues.map((q) => q.received)).toEqual([500, 0]);
    expect(m.rx!.lost).toBe(0);
    expectSums(m);
  }, 30_000);

  test("--rx-only with --cores and --queues: workers receive, the main thread stops them at --count", async () => {
    // Another thread of this process sends on the link's far end: ring:NAME links live in one process, so
    // the sender here is a second runPktgen on the same event loop (main thread, TX queues 0 and 1 in turn).
    const { openPort } = await import("../../src/index.ts");
    const pool = Mempool.create({ count: 8192, hugepages: "never", name: "pgw-rxonly" });
    const txEnd = openPort("ring:pgw-rx", { pool, rxQueues: 2, txQueues: 2 });
    const rxEnd = openPort("ring:pgw-rx", { pool, rxQueues: 2, txQueues: 2 });
    try {
      txEnd.start();
      const receiving = runPktgen({ rx: rxEnd, cores: [0, 1], queues: 2, count: 4000, duration: 20, interval: 0 }, quiet);
      await Bun.sleep(300);
      // Two senders, one per TX queue (ring: TX queue q → RX queue q), streams 100 and 200.
      const burst = new Burst(32);
      for (const [q, stream] of [[0, 100], [1, 200]] as const) {
        const gen = new FrameGenerator(resolveOptions({ tx: "null", streamId: stream }), txEnd.macAddress());
        const txq = txEnd.txQueue(q);
        for (let sent = 0; sent < 2000;) {
          const n = pool.allocBulk(burst.bufs, 0, Math.min(32, 2000 - sent));
          burst.count = n;
          gen.fill(pool, burst.bufs, n, monotonicNs());
          // What the ring does not take is offered again (dropping it would leave holes in the sequence).
          for (let at = txq.burst(burst); at < n; at += txq.burst(burst, at)) await Bun.sleep(1);
          burst.count = 0;
          sent += n;
          if (n === 0) await Bun.sleep(1); // the pool is empty: let the workers free some
        }
      }
      const r = await receiving;
      expect(r.stopReason).toBe("rx-count");
      expect(r.rx!.received).toBe(4000);
      expect(r.rx!.streams.map((s) => [s.id, s.received, s.lost])).toEqual([[100, 2000, 0], [200, 2000, 0]]);
      expect(r.workers.map((w) => [w.txQueue, w.streamId, w.rxQueues, w.rx])).toEqual([[null, null, [0], 2000], [null, null, [1], 2000]]);
      expect(r.ports.tx).toBeUndefined();
      expectSums(r);
    } finally {
      txEnd.close();
      rxEnd.close();
      pool.flushCache();
      expect(pool.inUse()).toBe(0);
      pool.destroy();
    }
  }, 30_000);
});

describe("refusals: one line naming the option and the fix", () => {
  const refused = async (argv: string[]): Promise<string> => {
    try {
      await runPktgen(parsePktgenArgs(argv), quiet);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${argv.join(" ")} was not refused`);
  };

  test("--queues above the RX port's maxRxQueues", async () => {
    expect(await refused(["--tx", "ring:r1", "--rx", "ring:r1", "--queues", "17"])).toBe("pktgen: --queues 17, but port ring:r1 has at most 16 RX queue(s); give --queues 16 or fewer");
  });

  test("more cores than the TX port's maxTxQueues", async () => {
    expect(await refused(["--tx", `pcap:out=${dir}/a.pcap`, "--cores", "0,1", "--count", "10"])).toBe(
      `pktgen: --cores 0,1 starts 2 sending workers, each on a TX queue of its own, but port pcap:out=${dir}/a.pcap has at most 1 TX queue(s); give at most 1 core(s) in --cores, or drop --cores`);
  });

  test("--cores with a port whose queues cannot leave the main thread (pcap)", async () => {
    expect(await refused(["--tx", `pcap:out=${dir}/b.pcap`, "--cores", "0", "--count", "10"])).toMatch(
      /^pktgen: --cores 0: pcap:out=.*b\.pcap: a pcap port's queues cannot be handed to a worker \(the file belongs to the thread that opened it\); drop --cores to send and receive in the main thread$/);
  });

  test("what the command line alone can tell", () => {
    const cases: [string[], RegExp][] = [
      [["--rx-only", "ring:x", "--cores", "0,1"], /^pktgen: --cores 0,1 starts 2 receiving workers for 1 RX queue\(s\); give --queues 2 \(one or more per worker\), or fewer cores$/],
      [["--tx", "null", "--queues", "2"], /^pktgen: --queues 2 without a port to receive on; --queues sets the RX port's queues: give --rx SPEC/],
      [["--tx", "null", "--pcap", "x.pcap", "--cores", "0"], /^pktgen: --pcap with --cores: a capture replays in order, in one thread; drop --cores/],
      [["--tx", "null", "--cores", "0,1023"], /^pktgen: core 1023 is not among the cores this process may run on/],
      [["--tx", "null", "--cores", "0-"], /^pktgen: core list "0-" is malformed/],
      [["--tx", "null", "--queues", "0"], /^pktgen: --queues 0 is out of range/],
    ];
    for (const [argv, re] of cases) expect(() => parsePktgenArgs(argv)).toThrow(re);
    // From code: the same checks on PktgenOptions.
    expect(() => resolveOptions({ tx: "null", cores: [0, -1] })).toThrow(/^pktgen: --cores \[0,-1\] is not a list of cores/);
    expect(resolveOptions({ tx: "null", cores: [] }).cores).toEqual([]);
    expect(resolveOptions({ tx: "null", rx: "null", cores: [1, 0], queues: 2 })).toMatchObject({ cores: [1, 0], coresText: "1,0", queues: 2 });
    // The CLI: exit code 1, one line.
    const r = cli(["--tx", "ring:c", "--rx", "ring:c", "--queues", "99", "--count", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("bdk: warning"))).toEqual(["pktgen: --queues 99, but port ring:c has at most 16 RX queue(s); give --queues 16 or fewer"]);
  });
});

// ---- af_packet over a veth pair inside a network namespace (root) ----------------------------------------

const ROOT = process.getuid?.() === 0;
describe.skipIf(!ROOT)("over a veth pair in a network namespace (af_packet)", () => {
  /** A namespace with both ends of a veth pair in it, up (IPv6 off: only our frames on the link). */
  function nsPair(net: TestNet): { ns: string; a: string; b: string } {
    const ns = net.addNetns();
    const a = uniqueName("a");
    const b = uniqueName("b");
    ip("-n", ns, "link", "add", a, "type", "veth", "peer", "name", b);
    net.links.push([a, ns]);
    for (const i of [a, b]) {
      execIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${i}.disable_ipv6=1`], { allowFail: true });
      ip("-n", ns, "link", "set", i, "up");
    }
    return { ns, a, b };
  }
  const spawnIn = (net: TestNet, ns: string, args: string[]) => {
    const p = Bun.spawn(["ip", "netns", "exec", ns, BUN, `${ROOT_DIR}apps/pktgen.ts`, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    net.procs.push(p);
    return p;
  };
  const cpusOf = (pid: number, tid: number): string => /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"))![1]!;

  test("--cores 0,1 --queues 2, 200 000 frames at 100 kpps: exact, 0 lost, each worker half, both RX queues busy, threads pinned", async () => {
    const net = new TestNet();
    try {
      const { ns, a, b } = nsPair(net);
      // Source ports vary so that the RX port's fanout hash spreads the flows over both queues.
      const p = spawnIn(net, ns, ["--tx", `af_packet:${a},queues=2`, "--rx", `af_packet:${b},queues=2,frames=4096`, "--cores", "0,1", "--queues", "2",
        "--count", "200000", "--rate", "100kpps", "--src-port", "1024-1087", "--drain-ms", "2000", "--json", "--interval", "0.5"]);
      const err = reader(p.stderr);
      const out = reader(p.stdout);
      // While it runs: the tids the workers report are threads of that process, each allowed on its core alone.
      const text = await err.waitFor(/worker 1 on core 1 \(tid \d+\)/, 15_000);
      const tids = [...text.matchAll(/pktgen: worker (\d) on core (\d) \(tid (\d+)\)/g)].map((m) => [Number(m[2]), Number(m[3])] as const);
      expect(tids.length).toBe(2);
      for (const [core, tid] of tids) expect(cpusOf(p.pid, tid)).toBe(String(core));
      const code = await p.exited;
      const stderr = await err.done;
      expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
      const r = JSON.parse((await out.done).trim()) as PktgenResult;
      expect(r.stopReason).toBe("count");
      expect(r.txPackets).toBe(200_000);
      expect(r.rx!.received).toBe(200_000);
      expect(r.rx!.lost).toBe(0);
      expect(r.rx!.duplicated).toBe(0);
      expect(r.rx!.badChecksum).toBe(0);
      expect(r.workers.map((w) => [w.core, w.cpus, w.tid, w.tx])).toEqual(tids.map(([core, tid]) => [core, [core], tid, 100_000]));
      expect(r.rx!.streams.map((s) => [s.id, s.received, s.lost])).toEqual([[r.streamId, 100_000, 0], [(r.streamId + 1) & 0xffff, 100_000, 0]]);
      expect(r.ports.tx!.queues.map((q) => q.packets)).toEqual([100_000, 100_000]);
      for (const q of r.ports.rx!.queues) expect(q.packets).toBeGreaterThan(10_000);
      for (const w of r.workers) expect(w.rx).toBeGreaterThan(10_000);
      expect(r.ports.rx!.stats.imissed).toBe(0);
      expectSums(r);
      expect(stderr).toMatch(/\| w0@0 TX .* \| w1@1 TX /); // the live lines name both workers
    } finally {
      net.cleanup();
    }
  }, 30_000);

  test("two processes: --rx-only --cores 0,1 --queues 2 receives what --tx --cores 0,1 sends: both streams whole, 0 lost", async () => {
    const net = new TestNet();
    try {
      const { ns, a, b } = nsPair(net);
      const rxp = spawnIn(net, ns, ["--rx-only", `af_packet:${b},frames=4096`, "--cores", "0,1", "--queues", "2", "--count", "40000", "--duration", "25", "--json", "--interval", "0.1"]);
      const rxErr = reader(rxp.stderr);
      const rxOut = reader(rxp.stdout);
      await rxErr.waitFor(/^pktgen: .*RX /m, 15_000); // its first stats line: the port is open and started
      const txp = spawnIn(net, ns, ["--tx", `af_packet:${a}`, "--cores", "0,1", "--count", "40000", "--rate", "20kpps", "--src-port", "1024-1087",
        "--stream", "4242", "--json", "--interval", "0"]);
      const [txOut, txErrText, txCode] = await Promise.all([new Response(txp.stdout).text(), new Response(txp.stderr).text(), txp.exited]);
      expect({ txCode, err: txCode === 0 ? "" : txErrText }).toEqual({ txCode: 0, err: "" });
      const t = JSON.parse(txOut.trim()) as PktgenResult;
      expect(t.workers.map((w) => [w.streamId, w.tx])).toEqual([[4242, 20_000], [4243, 20_000]]);
      expect(t.rx).toBeUndefined();
      const code = await rxp.exited;
      expect({ code, err: code === 0 ? "" : await rxErr.done }).toEqual({ code: 0, err: "" });
      const r = JSON.parse((await rxOut.done).trim()) as PktgenResult;
      expect(r.stopReason).toBe("rx-count");
      expect(r.rx!.received).toBe(40_000);
      expect(r.rx!.lost).toBe(0);
      expect(r.rx!.duplicated).toBe(0);
      // Each worker's stream checked on its own (in the order they first arrived: sorted here).
      expect(r.rx!.streams.map((s) => [s.id, s.received, s.lost, s.expected]).sort((x, y) => x[0]! - y[0]!)).toEqual([[4242, 20_000, 0, 20_000], [4243, 20_000, 0, 20_000]]);
      expect(r.rx!.latencyNs.p50).toBeGreaterThan(0);
      expect(r.rx!.latencyNs.p50).toBeLessThan(1e9); // one clock in both processes
      expect(r.workers.map((w) => [w.txQueue, w.rxQueues])).toEqual([[null, [0]], [null, [1]]]);
      for (const w of r.workers) expect(w.rx).toBeGreaterThan(2_000); // RSS (fanout hash) fed both
      expectSums(r);
    } finally {
      net.cleanup();
    }
  }, 40_000);

  test("nothing of ours is left: no namespace, no link", () => {
    expect(leftovers()).toEqual({ netns: [], links: [] });
  });
});
