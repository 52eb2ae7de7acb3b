// pktgen over real ports: ring links in this process, a capture port that keeps what TX sends, tshark as
// the independent judge of checksums, pcap replay byte for byte, the rate limiter (loose bounds only), the
// CLI's one-line errors, and (as root, when af_packet exists) a veth pair.
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { spawnSync } from "bun";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePktgenArgs, runPktgen, PAYLOAD_OFF_V4, PAYLOAD_OFF_V6, PKTGEN_MAGIC, type PktgenResult } from "../../apps/pktgen.ts";
import { bucketBounds, bucketOf, LatencyHistogram } from "../../apps/pktgen/histogram.ts";
import { StreamState, SEQ_WINDOW } from "../../apps/pktgen/receiver.ts";
import { BURST_SPAN_NS, CATCH_UP, MAX_DEBT_NS, Pacer, pacingFor } from "../../apps/pktgen/pacing.ts";
import {
  Burst, C_BYTES, C_PACKETS, Mempool, openPort, PcapWriter, PortBase, readPcap, RxQueueBase, TxQueueBase,
  type LinkStatus, type PortCapabilities, type QueueIdentity, type ResolvedPortConfig,
} from "../../src/index.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;
const dir = mkdtempSync(join(tmpdir(), "bdk-pktgen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The capture port's RX queue: never anything. */
class NoRxQueue extends RxQueueBase {
  burst(b: Burst): number {
    b.count = 0;
    return 0;
  }
  ready(): boolean {
    return false;
  }
  protected handleState(): unknown {
    return {};
  }
}

/** The capture port's TX queue: keeps a copy of every frame it is given (and frees the buffer). */
class KeepTxQueue extends TxQueueBase {
  constructor(ident: QueueIdentity, private readonly frames: Uint8Array[]) {
    super(ident);
  }
  burst(b: Burst, start = 0): number {
    const pool = this.pool;
    let bytes = 0;
    for (let i = start; i < b.count; i++) {
      const buf = b.bufs[i]!;
      const off = pool.offset(buf);
      bytes += pool.len[buf]!;
      this.frames.push(pool.bytes.slice(off, off + pool.len[buf]!));
      pool.free(buf);
    }
    this.cnt[C_PACKETS]! += b.count - start;
    this.cnt[C_BYTES]! += bytes;
    return b.count - start;
  }
  protected handleState(): unknown {
    return {};
  }
}

/** A TX-only port that keeps a copy of every frame it is given (and frees the buffer). */
class CapturePort extends PortBase {
  readonly frames: Uint8Array[] = [];
  constructor(private readonly speedMbps = 0) {
    super("capture", "capture", "capture");
  }
  capabilities(): PortCapabilities {
    return { maxRxQueues: 1, maxTxQueues: 1, minRingSize: 1, maxRingSize: 65536, rss: false, maxFrameSize: 9018 };
  }
  protected setup(config: ResolvedPortConfig): void {
    for (let q = 0; q < config.rxQueues; q++) this.rxqs.push(new NoRxQueue(this.queueIdentity(import.meta.url, "rx", q)));
    for (let q = 0; q < config.txQueues; q++) this.txqs.push(new KeepTxQueue(this.queueIdentity(import.meta.url, "tx", q), this.frames));
  }
  protected teardown(): void {}
  protected onStart(): void {}
  protected onStop(): void {}
  protected release(): void {}
  link(): LinkStatus {
    return { up: true, speedMbps: this.speedMbps, fullDuplex: true };
  }
  macAddress(): string {
    return "02:00:00:00:00:aa";
  }
  setMacAddress(): void {}
  promiscuous(): boolean {
    return true;
  }
  setPromiscuous(): void {}
  mtu(): number {
    return 9000;
  }
  setMtu(): void {}
}

function savePcap(path: string, frames: Uint8Array[]): void {
  const w = new PcapWriter(path);
  for (const f of frames) w.frame(f, 0, f.length);
  w.close();
}

async function capture(opts: Parameters<typeof runPktgen>[0]): Promise<{ frames: Uint8Array[]; result: PktgenResult }> {
  const port = new CapturePort();
  try {
    const result = await runPktgen({ interval: 0, ...opts, tx: port });
    return { frames: port.frames, result };
  } finally {
    const pool = port.config?.pool;
    port.close();
    pool?.destroy();
  }
}

const quiet = { log: () => {} };

describe("over ring ports in one process", () => {
  test("100 k frames TX → RX: all received, none lost, duplicated or reordered", async () => {
    const r = await runPktgen({ tx: "ring:pg100k", rx: "ring:pg100k", count: 100_000, interval: 0 }, quiet);
    expect(r.txPackets).toBe(100_000);
    expect(r.stopReason).toBe("count");
    const rx = r.rx!;
    expect(rx.received).toBe(100_000);
    expect(rx.lost).toBe(0);
    expect(rx.duplicated).toBe(0);
    expect(rx.reordered).toBe(0);
    expect(rx.badChecksum).toBe(0);
    expect(rx.other).toBe(0);
    expect(rx.latencyNs.count).toBe(100_000);
    expect(rx.latencyNs.p50).toBeGreaterThan(0);
    expect(rx.latencyNs.p50).toBeLessThanOrEqual(rx.latencyNs.p99);
    expect(rx.latencyNs.p99).toBeLessThanOrEqual(rx.latencyNs.p999);
    expect(rx.latencyNs.p999).toBeLessThanOrEqual(rx.latencyNs.max);
    expect(r.ports.tx!.stats.opackets).toBe(100_000);
    expect(r.ports.rx!.stats.ipackets).toBe(100_000);
  });

  test("a forwarder that drops every 1000th frame, duplicates one and swaps a pair: counted exactly", async () => {
    // pktgen TX → ring:fwdA → [forwarder in this test] → ring:fwdB → pktgen RX, all on one pool.
    const pool = Mempool.create({ count: 16384, name: "pktgen-fwd-test" });
    const o = { pool, rxQueues: 1, txQueues: 1, rxRingSize: 4096, txRingSize: 4096 };
    const genTx = openPort("ring:fwdA", o);
    const fwdIn = openPort("ring:fwdA", o);
    const fwdOut = openPort("ring:fwdB", o);
    const genRx = openPort("ring:fwdB", o);
    for (const p of [genTx, fwdIn, fwdOut, genRx]) p.start();
    const inQ = fwdIn.rxQueue(0);
    const outQ = fwdOut.txQueue(0);
    let running = true;
    const inB = new Burst(64);
    const outB = new Burst(256);
    let k = 0;
    let held = -1;
    const queue: number[] = [];
    const step = (): void => {
      for (let n = inQ.burst(inB); n > 0; n = inQ.burst(inB)) {
        for (let i = 0; i < n; i++) {
          const b = inB.bufs[i]!;
          const seq = k++;
          if (seq % 1000 === 999) {
            pool.free(b); // drop
          } else if (seq === 5000) {
            const d = pool.take(); // duplicate: a copy right behind the original
            pool.bytes.copyWithin(pool.offset(d), pool.offset(b), pool.offset(b) + pool.len[b]!);
            pool.len[d] = pool.len[b]!;
            queue.push(b, d);
          } else if (seq === 7000) {
            held = b; // swap 7000 and 7001
          } else {
            queue.push(b);
            if (held >= 0) {
              queue.push(held);
              held = -1;
            }
          }
        }
        inB.count = 0;
      }
      while (queue.length > 0) {
        const m = Math.min(queue.length, outB.capacity);
        for (let i = 0; i < m; i++) outB.bufs[i] = queue[i]!;
        outB.count = m;
        const sent = outQ.burst(outB, 0);
        outB.count = 0;
        queue.splice(0, sent);
        if (sent < m) break;
      }
    };
    const forwarder = (async () => {
      while (running) {
        step();
        await Bun.sleep(0);
      }
    })();
    try {
      const r = await runPktgen({ tx: genTx, rx: genRx, count: 100_000, interval: 0, drainMs: 1000 }, quiet);
      expect(r.txPackets).toBe(100_000);
      const rx = r.rx!;
      expect(rx.lost).toBe(100);
      expect(rx.duplicated).toBe(1);
      expect(rx.reordered).toBe(1);
      expect(rx.received).toBe(100_000 - 100 + 1);
      expect(rx.badChecksum).toBe(0);
      expect(rx.other).toBe(0);
    } finally {
      running = false;
      await forwarder;
      for (const p of [genTx, fwdIn, fwdOut, genRx]) p.close();
      pool.destroy();
    }
  });

  test("frames of another stream and non-pktgen frames count as other; a corrupted frame as bad checksum", async () => {
    const pool = Mempool.create({ count: 4096, name: "pktgen-other-test" });
    const o = { pool, rxQueues: 1, txQueues: 1 };
    const a = openPort("ring:pgother", o);
    const b = openPort("ring:pgother", o);
    const inject = openPort("ring:pginj", o);
    const rxEnd = openPort("ring:pginj", o);
    for (const p of [a, b, inject, rxEnd]) p.start();
    // Frames of another run (stream 7), one broken, and an ARP-ish frame, queued on the RX link before pktgen starts.
    const { frames } = await capture({ count: 3, streamId: 7 });
    const broken = new Uint8Array(frames[1]!);
    broken[PAYLOAD_OFF_V4 + 5] ^= 0x40; // sequence number changed, UDP checksum now wrong
    const arp = new Uint8Array(60);
    arp.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    const send = (f: Uint8Array): void => {
      const buf = pool.take();
      pool.bytes.set(f, pool.offset(buf));
      pool.len[buf] = f.length;
      const burst = new Burst(1);
      burst.push(buf);
      expect(inject.txQueue(0).burst(burst)).toBe(1);
    };
    try {
      for (const f of [frames[0]!, arp]) send(f);
      // pktgen sends stream 9 on a→b (b is never read: nothing comes back) and receives on rxEnd.
      const r = await runPktgen({ tx: a, rx: rxEnd, count: 10, streamId: 9, interval: 0, drainMs: 50 }, quiet);
      expect(r.rx!.other).toBe(2); // stream 7 and the ARP frame
      expect(r.rx!.received).toBe(0);
      expect(r.rx!.lost).toBe(10); // nothing of stream 9 came back: b never forwarded
      // Now a receiver that accepts every stream (--rx-only) sees stream 7 and the broken frame.
      send(frames[2]!);
      send(broken);
      const ro = await runPktgen({ rx: rxEnd, count: 1, interval: 0 }, quiet);
      expect(ro.rx!.received).toBe(1);
      expect(ro.rx!.badChecksum).toBe(1);
      expect(ro.rx!.streams.map((s) => s.id)).toEqual([7]);
      expect(ro.stopReason).toBe("rx-count");
    } finally {
      for (const p of [a, b, inject, rxEnd]) p.close();
      pool.destroy();
    }
  });
});

describe("frames pass tshark's checksum validation", () => {
  const hasTshark = spawnSync(["which", "tshark"]).exitCode === 0;

  function tsharkFields(file: string, fields: string[]): string[][] {
    const p = spawnSync(["tshark", "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", ...fields.flatMap((f) => ["-e", f])], { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    return p.stdout.toString().trim().split("\n").map((l) => l.split("\t"));
  }

  // What number tshark prints for a good and a bad checksum, learned from tshark itself (-V names the status).
  let learned: { good: string; bad: string } | undefined;
  async function statusCodes(): Promise<{ good: string; bad: string }> {
    if (learned) return learned;
    const { frames } = await capture({ count: 1 });
    const bad = new Uint8Array(frames[0]!);
    bad[14 + 10] ^= 0x01; // IPv4 header checksum
    bad[40] ^= 0x01; // UDP checksum
    const file = join(dir, "status.pcap");
    savePcap(file, [frames[0]!, bad]);
    const v = spawnSync(["tshark", "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-V"], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
    const names = [...v.matchAll(/\[(?:Header checksum status|Checksum Status): (\w+)\]/g)].map((m) => m[1]);
    expect(names).toEqual(["Good", "Good", "Bad", "Bad"]);
    const rows = tsharkFields(file, ["ip.checksum.status", "udp.checksum.status"]);
    const good = rows[0]![0]!;
    const badCode = rows[1]![0]!;
    expect(rows).toEqual([[good, good], [badCode, badCode]]);
    expect(good).not.toBe(badCode);
    learned = { good, bad: badCode };
    return learned;
  }

  test.skipIf(!hasTshark)("tshark's encoding of checksum status (learned from a good and a corrupted frame)", async () => {
    const { good, bad } = await statusCodes();
    // Wireshark's proto.h: PROTO_CHECKSUM_E_BAD = 0, _GOOD = 1, _UNVERIFIED = 2.
    expect([good, bad]).toEqual(["1", "0"]);
  });

  const cases: { name: string; opts: Parameters<typeof runPktgen>[0]; count: number; lens?: number[] }[] = [
    { name: "IPv4 64", opts: { size: 64 }, count: 100, lens: [60] },
    { name: "IPv4 range 64-1518 with flows", opts: { size: "64-1518", srcIp: "198.18.0.1-198.18.0.254", dstIp: "198.19.255.250-198.19.255.255", srcPort: "1024-1087", dstPort: "65530-65535", srcMac: "02:00:00:00:00:10-02:00:00:00:01:10" }, count: 1455 * 2 },
    { name: "IPv4 imix", opts: { imix: true }, count: 120 },
    { name: "IPv4 jumbo 9018", opts: { size: 9018 }, count: 5, lens: [9014] },
    { name: "IPv6 82 (the smallest that holds the payload)", opts: { ipv6: true, size: 82 }, count: 100, lens: [78] },
    { name: "IPv6 range 82-1518 with flows", opts: { ipv6: true, size: "82-1518", srcIp: "2001:2::1-2001:2::ffff", dstIp: "2001:2:0:1::fff0-2001:2:0:1::1:10", srcPort: "1-100" }, count: 1437 * 2 },
    { name: "IPv6 imix", opts: { ipv6: true, imix: true }, count: 120 },
  ];
  for (const c of cases) {
    test.skipIf(!hasTshark)(c.name, async () => {
      const GOOD = (await statusCodes()).good;
      const { frames, result } = await capture({ ...c.opts, count: c.count });
      expect(result.txPackets).toBe(c.count);
      expect(frames.length).toBe(c.count);
      const v6 = c.opts.ipv6 === true;
      // The payload: magic, stream, sequence 0, 1, 2 …
      const p = v6 ? PAYLOAD_OFF_V6 : PAYLOAD_OFF_V4;
      frames.forEach((f, i) => {
        expect((f[p]! << 8) | f[p + 1]!).toBe(PKTGEN_MAGIC);
        expect((f[p + 2]! << 8) | f[p + 3]!).toBe(result.streamId);
        expect(((f[p + 4]! << 24) | (f[p + 5]! << 16) | (f[p + 6]! << 8) | f[p + 7]!) >>> 0).toBe(i);
      });
      if (c.lens) expect([...new Set(frames.map((f) => f.length))]).toEqual(c.lens);
      const file = join(dir, `${c.name.replace(/\W+/g, "_")}.pcap`);
      savePcap(file, frames);
      const rows = tsharkFields(file, v6 ? ["frame.len", "udp.checksum.status"] : ["frame.len", "ip.checksum.status", "udp.checksum.status"]);
      expect(rows.length).toBe(c.count);
      for (const row of rows) {
        if (v6) expect(row.slice(1)).toEqual([GOOD]);
        else expect(row.slice(1)).toEqual([GOOD, GOOD]);
      }
      // Sizes: what was asked for, without the 4-byte CRC.
      const lens = rows.map((r) => Number(r[0]));
      if (c.opts.imix) {
        const small = v6 ? 78 : 60;
        const n = (len: number): number => lens.filter((l) => l === len).length;
        expect([n(small), n(590), n(1514)]).toEqual([70, 40, 10]);
      } else if (typeof c.opts.size === "string") {
        const [lo, hi] = c.opts.size.split("-").map(Number) as [number, number];
        expect(lens[0]).toBe(lo - 4);
        expect(lens[hi - lo]).toBe(hi - 4);
        expect(lens[hi - lo + 1]).toBe(lo - 4);
      }
    });
  }

  test.skipIf(!hasTshark)("through the pcap:out= port: IPv4 range and IPv6 imix, all good", async () => {
    const GOOD = (await statusCodes()).good;
    for (const [name, opts, fields] of [
      ["v4", { size: "64-200" }, ["ip.checksum.status", "udp.checksum.status"]],
      ["v6", { ipv6: true, imix: true }, ["udp.checksum.status"]],
    ] as const) {
      const file = join(dir, `out-${name}.pcap`);
      const r = await runPktgen({ tx: `pcap:out=${file}`, count: 500, interval: 0, ...opts }, quiet);
      expect(r.txPackets).toBe(500);
      const rows = tsharkFields(file, [...fields]);
      expect(rows.length).toBe(500);
      expect(rows.every((row) => row.every((v) => v === GOOD))).toBe(true);
    }
  });

  test("flow ranges cycle each on its own", async () => {
    const { frames } = await capture({ count: 6, srcIp: "198.18.0.1-198.18.0.3", dstPort: "9-10", dstMac: "02:00:00:00:00:fe-02:00:00:00:01:01" });
    const src = frames.map((f) => f[29]);
    const dport = frames.map((f) => (f[36]! << 8) | f[37]!);
    const dmac = frames.map((f) => `${f[4]}:${f[5]}`);
    expect(src).toEqual([1, 2, 3, 1, 2, 3]);
    expect(dport).toEqual([9, 10, 9, 10, 9, 10]);
    expect(dmac).toEqual(["0:254", "0:255", "1:0", "1:1", "0:254", "0:255"]);
    // The source MAC defaults to the TX port's.
    expect([...frames[0]!.subarray(6, 12)]).toEqual([2, 0, 0, 0, 0, 0xaa]);
  });
});

describe("pcap replay", () => {
  function sampleFile(): { file: string; frames: Uint8Array[] } {
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 37; i++) {
      const f = new Uint8Array(60 + ((i * 97) % 1455));
      for (let j = 0; j < f.length; j++) f[j] = (i * 31 + j * 7) & 0xff;
      frames.push(f);
    }
    const file = join(dir, "replay.pcap");
    savePcap(file, frames);
    return { file, frames };
  }

  test("sends exactly the file's frames, in order; --loop 3 sends them three times", async () => {
    const { file, frames } = sampleFile();
    const once = await capture({ pcap: file, burst: 8 });
    expect(once.frames).toEqual(frames);
    expect(once.result.stopReason).toBe("pcap-end");
    const thrice = await capture({ pcap: file, loop: 3 });
    expect(thrice.frames.length).toBe(3 * frames.length);
    expect(thrice.frames).toEqual([...frames, ...frames, ...frames]);
  });

  test("replay through a ring link arrives byte for byte", async () => {
    const { file, frames } = sampleFile();
    const pool = Mempool.create({ count: 2048, name: "pktgen-replay-test" });
    const a = openPort("ring:pgreplay", { pool });
    const b = openPort("ring:pgreplay", { pool });
    a.start();
    b.start();
    try {
      const r = await runPktgen({ tx: a, pcap: file, loop: 2, interval: 0 }, quiet);
      expect(r.txPackets).toBe(2 * frames.length);
      const got: Uint8Array[] = [];
      const burst = new Burst(32);
      const rxq = b.rxQueue(0);
      for (let n = rxq.burst(burst); n > 0; n = rxq.burst(burst)) {
        for (let i = 0; i < n; i++) {
          const buf = burst.bufs[i]!;
          const off = pool.offset(buf);
          got.push(pool.bytes.slice(off, off + pool.len[buf]!));
        }
        burst.freeFrom(pool, 0);
      }
      expect(got).toEqual([...frames, ...frames]);
    } finally {
      a.close();
      b.close();
      pool.destroy();
    }
  });

  test("replay into a pcap:out= port writes the same frames", async () => {
    const { file, frames } = sampleFile();
    const out = join(dir, "replayed.pcap");
    const r = await runPktgen({ tx: `pcap:out=${out}`, pcap: file, loop: 3, interval: 0 }, quiet);
    expect(r.txPackets).toBe(3 * frames.length);
    expect(readPcap(out).records.map((x): Uint8Array => new Uint8Array(x.data))).toEqual([...frames, ...frames, ...frames]);
  });

  test("--loop 0 replays until --count", async () => {
    const { file, frames } = sampleFile();
    const r = await capture({ pcap: file, loop: 0, count: 100 });
    expect(r.frames.length).toBe(100);
    expect(r.frames[frames.length]).toEqual(frames[0]!);
  });

  test("an unreadable or malformed pcap is one clear error", async () => {
    await expect(runPktgen({ tx: "null", pcap: join(dir, "missing.pcap") }, quiet)).rejects.toThrow(/^--pcap: cannot read pcap file ".*missing\.pcap": no such file/);
    const junk = join(dir, "junk.pcap");
    writeFileSync(junk, "this is not a capture, just text\n");
    await expect(runPktgen({ tx: "null", pcap: junk }, quiet)).rejects.toThrow(/^--pcap: ".*junk\.pcap" is not a pcap file: bad magic/);
    const cut = join(dir, "cut.pcap");
    const { file } = sampleFile();
    writeFileSync(cut, (await Bun.file(file).bytes()).subarray(0, 24 + 16 + 60 + 16 + 20)); // the second record cut short
    await expect(runPktgen({ tx: "null", pcap: cut }, quiet)).rejects.toThrow(/truncated/);
    const empty = join(dir, "empty.pcap");
    savePcap(empty, []);
    await expect(runPktgen({ tx: "null", pcap: empty }, quiet)).rejects.toThrow(/holds no frames/);
    for (const f of [junk, cut, empty]) {
      const msg = await runPktgen({ tx: "null", pcap: f }, quiet).then(() => "", (e: Error) => e.message);
      expect(msg.split("\n").length).toBe(1);
    }
  });
});

describe("rate and duration", () => {
  test("--rate 1000 --count 500 takes about half a second (loose lower bound only)", async () => {
    const t = performance.now();
    const r = await runPktgen({ tx: "null", rate: 1000, count: 500, interval: 0 }, quiet);
    const secs = (performance.now() - t) / 1000;
    expect(r.txPackets).toBe(500);
    expect(secs).toBeGreaterThanOrEqual(0.3);
    expect(r.tx!.rate).toBe("1000");
  });

  test("--rate in Mbit/s counts frame bytes with CRC (loose lower bound only)", async () => {
    // 1250-byte frames = 10 000 bits: 10 Mbit/s is 1000 frames/s, 300 frames ≈ 0.3 s.
    const t = performance.now();
    const r = await runPktgen({ tx: "null", rate: "10Mbps", size: 1250, count: 300, interval: 0 }, quiet);
    expect(r.txPackets).toBe(300);
    expect((performance.now() - t) / 1000).toBeGreaterThanOrEqual(0.2);
  });

  test("--rate as a share of the link speed uses wire bits, when the port reports a speed", async () => {
    // A 1 Mbit/s link: 64-byte frames are (64 + 20) × 8 = 672 bits on the wire; 50 % is ≈ 744 frames/s.
    const port = new CapturePort(1);
    const t = performance.now();
    try {
      const r = await runPktgen({ tx: port, rate: "50%", count: 300, interval: 0 }, quiet);
      expect(r.txPackets).toBe(300);
      expect((performance.now() - t) / 1000).toBeGreaterThanOrEqual(0.2);
    } finally {
      const pool = port.config?.pool;
      port.close();
      pool?.destroy();
    }
  });

  test("--rate 50% on a port that reports no link speed is a clear error", async () => {
    await expect(runPktgen({ tx: "null", rate: "50%" }, quiet)).rejects.toThrow(
      "--rate 50%: port null reports no link speed (emulated/virtual); give --rate in pps or Mbit/s",
    );
  });

  test("--duration stops the run", async () => {
    const r = await runPktgen({ tx: "null", duration: 0.3, rate: "20kpps", interval: 0 }, quiet);
    expect(r.stopReason).toBe("duration");
    expect(r.txPackets).toBeGreaterThan(0);
  });

  test("a stop request ends an unlimited run, and onStats reports while it runs", async () => {
    const stats: number[] = [];
    let stop = false;
    setTimeout(() => (stop = true), 400);
    const r = await runPktgen({ tx: "ring:pgstop", rx: "ring:pgstop", interval: 0.1 }, { shouldStop: () => stop, onStats: (s) => stats.push(s.txPackets), log: () => {} });
    expect(r.stopReason).toBe("stopped");
    expect(r.txPackets).toBeGreaterThan(0);
    expect(stats.length).toBeGreaterThan(0);
    expect(r.rx!.duplicated).toBe(0);
    expect(r.rx!.reordered).toBe(0);
  });
});

describe("pacing (a fake clock: no timing)", () => {
  /** A release: when, how many frames, the index of its first frame. */
  interface Release {
    t: number;
    n: number;
    first: number;
  }

  /**
   * Drives a pacer as the engine does, with a fake clock that a poll loop advances by `stepNs` per pass
   * (plus the stalls given: at time `at`, the clock jumps by `ns`); frames cost 1 (pps).
   */
  function simulate(p: Pacer, untilNs: number, stepNs: number, stalls: { at: number; ns: number }[] = []): Release[] {
    const out: Release[] = [];
    let sent = 0;
    let stall = 0;
    p.start(0);
    for (let t = 0; t < untilNs; t += stepNs) {
      if (stall < stalls.length && t >= stalls[stall]!.at) t += stalls[stall++]!.ns;
      const n = p.allowance(t);
      if (n > 0) {
        out.push({ t, n, first: sent });
        p.consume(t, n);
        sent += n;
      }
    }
    return out;
  }

  const total = (rs: Release[]): number => rs.reduce((a, r) => a + r.n, 0);

  test("at 100 kpps: no release larger than the burst, none more than one burst ahead, the average exact over 10 s", () => {
    const p = new Pacer(100e3, 1, 32);
    expect(p.burst).toBeLessThanOrEqual(32);
    expect(p.burst).toBe(Math.floor(BURST_SPAN_NS / 10e3)); // 20 frames: 200 µs of the rate
    const rs = simulate(p, 10e9, 1e3);
    expect(Math.max(...rs.map((r) => r.n))).toBeLessThanOrEqual(p.burst);
    // Frame k is due at k × 10 µs: a release never sends its first frame early, nor its last one more
    // than a burst's span early; and it is not late by more than a poll step.
    for (const r of rs) {
      expect(r.t).toBeGreaterThanOrEqual(r.first * 10e3);
      expect(r.t).toBeLessThanOrEqual(r.first * 10e3 + 1e3);
      expect(r.t).toBeGreaterThanOrEqual((r.first + r.n - 1) * 10e3 - BURST_SPAN_NS);
    }
    const n = total(rs);
    expect(Math.abs(n - 1_000_000)).toBeLessThanOrEqual(p.burst);
  });

  test("a slow poll loop (one pass every 300 µs) still gets the average rate, in bursts no larger than the burst", () => {
    const p = new Pacer(100e3, 1, 32);
    const rs = simulate(p, 10e9, 300e3);
    expect(Math.max(...rs.map((r) => r.n))).toBeLessThanOrEqual(32);
    for (const r of rs) expect(r.t).toBeGreaterThanOrEqual((r.first + r.n - 1) * 10e3 - BURST_SPAN_NS);
    expect(Math.abs(total(rs) - 1_000_000)).toBeLessThanOrEqual(p.burst);
  });

  test("at 1 pps: one frame a second, the first at once", () => {
    const p = new Pacer(1, 1, 32);
    expect(p.burst).toBe(1);
    const rs = simulate(p, 10e9, 1e6);
    expect(rs.map((r) => r.n)).toEqual(new Array(10).fill(1));
    expect(rs.map((r) => r.t)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => s * 1e9));
    // A loop that sleeps for waitNs() wakes exactly when the next frame is due.
    const q = new Pacer(1, 1, 32);
    q.start(0);
    const times: number[] = [];
    for (let t = 0; t < 3.5e9; ) {
      if (q.allowance(t) > 0) {
        times.push(t);
        q.consume(t, 1);
      } else t += q.waitNs(t);
    }
    expect(times).toEqual([0, 1e9, 2e9, 3e9]);
  });

  test("after a 100 ms stall the catch-up is capped and spread out", () => {
    const rate = 100e3 / 1e9; // frames per ns
    const p = new Pacer(100e3, 1, 32);
    expect(p.maxDebtNs).toBe(MAX_DEBT_NS);
    const stallAt = 1e9;
    const rs = simulate(p, 1.2e9, 1e3, [{ at: stallAt, ns: 100e6 }]);
    const before = rs.filter((r) => r.t < stallAt);
    const after = rs.filter((r) => r.t >= stallAt);
    expect(after[0]!.t).toBeGreaterThanOrEqual(stallAt + 100e6);
    expect(Math.max(...rs.map((r) => r.n))).toBeLessThanOrEqual(32);
    // What the 100 ms owed is forgiven beyond maxDebtNs: 500 frames at most are made up, not 10 000.
    const resumed = after[0]!.t;
    const owed = (resumed - before.at(-1)!.t) * rate;
    const inWindow = (from: number, ns: number): number => total(after.filter((r) => r.t >= from && r.t < from + ns));
    const first20ms = inWindow(resumed, 20e6);
    expect(first20ms).toBeLessThanOrEqual(20e6 * rate + p.maxDebtNs * rate + 32);
    expect(first20ms - 20e6 * rate).toBeLessThan(owed / 10);
    // … and made up at most CATCH_UP × the rate: no millisecond after the stall sends more than that.
    for (let t = resumed; t < resumed + 10e6; t += 0.5e6) {
      expect(inWindow(t, 1e6)).toBeLessThanOrEqual(CATCH_UP * 1e6 * rate + 32);
    }
    // The debt is paid: 10 ms later the schedule is kept again, one burst per 200 µs.
    const late = after.filter((r) => r.t >= resumed + 10e6);
    for (let i = 1; i < late.length; i++) expect(late[i]!.t - late[i - 1]!.t).toBeGreaterThanOrEqual(p.burst * 10e3 - 1e3);
  });

  test("a bit rate with frames of different sizes: the average bit rate is exact over 10 s", () => {
    // 10 Mbit/s of frames with CRC, IMIX-like lengths (without CRC) in a fixed cycle.
    const pacing = pacingFor({ unit: "bps", value: 10e6 }, () => 0)!;
    const lens = [60, 590, 60, 60, 590, 60, 1514, 60, 590, 60, 60, 590];
    const mean = lens.reduce((a, l) => a + l, 0) / lens.length;
    const p = new Pacer(pacing.perSec, pacing.costA + pacing.costB * mean, 32);
    p.start(0);
    let bits = 0;
    let k = 0;
    let biggest = 0;
    for (let t = 0; t < 10e9; t += 5e3) {
      const n = p.allowance(t);
      if (n === 0) continue;
      biggest = Math.max(biggest, n);
      let cost = 0;
      for (let i = 0; i < n; i++) cost += pacing.costA + pacing.costB * lens[k++ % lens.length]!;
      p.consume(t, cost);
      bits += cost;
    }
    expect(biggest).toBeLessThanOrEqual(32);
    expect(Math.abs(bits - 100e6)).toBeLessThanOrEqual(32 * 1518 * 8);
  });

  test("rates in cost units: frames, frame bits with CRC, wire bits of the link speed", () => {
    expect(pacingFor({ unit: "pps", value: 1e6 }, () => 0)).toEqual({ perSec: 1e6, costA: 1, costB: 0 });
    expect(pacingFor({ unit: "bps", value: 1e9 }, () => 0)).toEqual({ perSec: 1e9, costA: 32, costB: 8 });
    expect(pacingFor({ unit: "percent", value: 50 }, () => 10_000)).toEqual({ perSec: 5e9, costA: 192, costB: 8 });
    expect(pacingFor({ unit: "percent", value: 50 }, () => 0)).toBeUndefined();
  });
});

describe("pacing in real time (loose lower bounds only)", () => {
  const txTimes = (frames: Uint8Array[]): number[] =>
    frames.map((f) => new DataView(f.buffer, f.byteOffset).getUint32(PAYLOAD_OFF_V4 + 8) * 4294967296 + new DataView(f.buffer, f.byteOffset).getUint32(PAYLOAD_OFF_V4 + 12));

  test("--rate 1pps --count 3: three frames, one a second, the first at once", async () => {
    const t = performance.now();
    const { frames, result } = await capture({ rate: "1pps", count: 3 });
    const secs = (performance.now() - t) / 1000;
    expect(result.txPackets).toBe(3);
    expect(frames.length).toBe(3);
    expect(secs).toBeGreaterThanOrEqual(1.9);
    const ts = txTimes(frames);
    for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(0.95e9);
  }, 20000);

  test("--rate 1pps --duration 3: three frames (±1)", async () => {
    const { frames, result } = await capture({ rate: "1pps", duration: 3 });
    expect(result.stopReason).toBe("duration");
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.length).toBeLessThanOrEqual(4);
  }, 20000);
});

describe("command line", () => {
  const cases: [string[], RegExp][] = [
    [[], /^pktgen: missing --tx; give the port to send on/],
    [["--rx", "ring:x"], /^pktgen: --rx without --tx/],
    [["--tx", "null", "--bogus"], /^pktgen: unknown option --bogus; options: /],
    [["--tx", "null", "--size", "63"], /^pktgen: --size 63 is too small \(Ethernet's minimum is 64 bytes with CRC\); give 64\.\.9018$/],
    [["--tx", "null", "--size", "9019"], /^pktgen: --size 9019 is too large .*; give 64\.\.9018$/],
    [["--tx", "null", "--size", "64-9100"], /^pktgen: --size 9100 is too large/],
    [["--tx", "null", "--size", "100-64"], /^pktgen: --size range 100-64 runs backwards/],
    [["--tx", "null", "--size", "big"], /^pktgen: --size "big" is malformed/],
    [["--tx", "null", "--ipv6", "--size", "64"], /^pktgen: --size 64 is too small \(IPv6\/UDP with the 16-byte pktgen payload needs 82 bytes with CRC\); give 82\.\.9018$/],
    [["--tx", "null", "--size", "64", "--imix"], /^pktgen: --size and --imix both given/],
    [["--tx", "null", "--rate", "12xyz"], /^pktgen: --rate "12xyz" is malformed; write frames per second \(1000000, 500kpps, 1Mpps\)/],
    [["--tx", "null", "--rate", "0"], /^pktgen: --rate 0 is out of range/],
    [["--tx", "null", "--rate", "150%"], /^pktgen: --rate 150% is out of range; give a share of the link speed in \(0, 100\]%/],
    [["--tx", "null", "--rate", "2Gpps"], /^pktgen: --rate 2Gpps is out of range/],
    [["--tx", "null", "--src-ip", "198.18.0.300"], /^pktgen: --src-ip "198\.18\.0\.300" is not an IPv4 address or range/],
    [["--tx", "null", "--dst-ip", "198.18.0.9-198.18.0.1"], /^pktgen: --dst-ip range .* runs backwards/],
    [["--tx", "null", "--ipv6", "--src-ip", "2001:2::1-2001:3::1"], /spans more than the last 32 bits/],
    [["--tx", "null", "--src-port", "70000"], /^pktgen: --src-port 70000 is out of range/],
    [["--tx", "null", "--src-mac", "01:00:5e:00:00:01"], /is a multicast address/],
    [["--tx", "null", "--dst-mac", "zz"], /^pktgen: --dst-mac "zz" is not a MAC address/],
    [["--tx", "null", "--count", "-5"], /^pktgen: --count -5 is out of range/],
    [["--tx", "null", "--pcap", "x.pcap", "--imix"], /^pktgen: --pcap replays the file's frames as they are/],
    [["--rx-only", "null", "--tx", "null"], /^pktgen: --rx-only cannot be combined/],
    [["null", "null"], /^pktgen: unexpected arguments/],
    // One number grammar: no exponents, hex, blanks or leading dots, anywhere a number is typed.
    [["--tx", "null", "--count", "1e3"], /^pktgen: --count expects a whole number, got "1e3"/],
    [["--tx", "null", "--burst", "0x20"], /^pktgen: --burst expects a whole number, got "0x20"/],
    [["--tx", "null", "--interval", "1e-1"], /^pktgen: --interval expects a number, got "1e-1"/],
    [["--tx", "null", "--size", " 64"], /^pktgen: --size " 64" is malformed/],
    [["--tx", "null", "--size", "64 - 128"], /^pktgen: --size "64 - 128" is malformed/],
    [["--tx", "null", "--rate", ".5Mpps"], /^pktgen: --rate "\.5Mpps" is malformed/],
    [["--tx", "null", "--rate", "1e6"], /^pktgen: --rate "1e6" is malformed/],
    [["--tx", "null", "--rate", "1 Mpps"], /^pktgen: --rate "1 Mpps" is malformed/],
    [["--tx", "null", "--src-port", " 80"], /^pktgen: --src-port " 80" is not a UDP port or range/],
    // Options given twice, empty values, --loop without --pcap, one port twice.
    [["--tx", "ring:a", "--tx", "ring:b"], /^pktgen: --tx given twice \("--tx ring:a" and "--tx ring:b"\); give it once$/],
    [["--tx", "null", "--rate", "1Mpps", "--rate=2Mpps"], /^pktgen: --rate given twice/],
    [["--tx", ""], /^pktgen: --tx needs a value, got an empty one/],
    [["--tx", "null", "--loop", "3"], /^pktgen: --loop without --pcap; --loop N replays a --pcap file N times/],
    [["--tx", "null", "--rx", "null"], /^pktgen: --tx and --rx are both "null": two separate ports/],
    [["--tx", "0000:03:00.0", "--rx", "03:00.0"], /^pktgen: --tx and --rx are the same PCI device 0000:03:00\.0/],
  ];
  for (const [argv, re] of cases) {
    test(`${JSON.stringify(argv)} → ${re.source.slice(1, 50)}`, () => {
      expect(() => parsePktgenArgs(argv)).toThrow(re);
    });
  }

  test("--tx and --rx on one af_packet interface: allowed, with one note line; a ring name twice is a link, without one", () => {
    const notes: string[] = [];
    const err = spyOn(console, "error").mockImplementation((...a: unknown[]) => void notes.push(a.join(" ")));
    try {
      const o = parsePktgenArgs(["--tx", "af_packet:veth0", "--rx", "af_packet:veth0,frames=4096"]);
      expect([o.tx, o.rx]).toEqual(["af_packet:veth0", "af_packet:veth0,frames=4096"]);
      expect(notes).toEqual(["pktgen: note: --tx and --rx are one interface veth0: it sends and receives there; this process does not see its own frames, " +
        "only what comes back from the link (a forwarder or reflector on the far side)"]);
      notes.length = 0;
      parsePktgenArgs(["--tx", "ring:a", "--rx", "ring:a"]);
      parsePktgenArgs(["--tx", "af_packet:veth0", "--rx", "af_packet:veth1"]);
      expect(notes).toEqual([]);
    } finally {
      err.mockRestore();
    }
  });

  test("--loop goes with --pcap; plain decimals are numbers", () => {
    expect(parsePktgenArgs(["--tx", "null", "--pcap", "x.pcap", "--loop", "0"]).loop).toBe(0);
    expect(parsePktgenArgs(["--tx", "null"]).loop).toBeUndefined();
    expect(parsePktgenArgs(["--tx", "null", "--interval", "0.25", "--duration", "1.5"])).toMatchObject({ interval: 0.25, duration: 1.5 });
  });

  test("the help says what 0 means for every duration and count", () => {
    const help = cli(["--help"]).stdout;
    expect(help).toMatch(/--duration S +stop after S seconds \(0: no limit; the default\)/);
    expect(help).toMatch(/--count N +stop after N frames .*\(default: no limit\)/);
    expect(help).toMatch(/--loop N +with --pcap only: times to replay the file \(0: no limit/);
  });

  test("the positional TX port and the defaults", () => {
    const o = parsePktgenArgs(["null", "--rate", "1.5Mpps", "--size", "64-128", "--count", "10"]);
    expect(o.tx).toBe("null");
    expect(o.rate).toBe("1.5Mpps");
    expect(o.count).toBe(10);
  });

  function cli(args: string[]): { code: number; stdout: string; stderr: string } {
    const p = spawnSync([BUN, `${ROOT}apps/pktgen.ts`, ...args], { stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  }

  test("errors on the command line are one line, exit code 1", () => {
    for (const args of [["--tx", "null", "--rate", "12xyz"], ["--tx", "null", "--pcap", join(dir, "nope.pcap")], ["--tx", "null", "--rate", "50%"], []]) {
      const r = cli(args);
      expect(r.code).toBe(1);
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("bdk: warning"));
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/^pktgen: /);
    }
  });

  test("--json prints one object with the counts; bdk pktgen runs the same main", () => {
    const r = cli(["--tx", "ring:cli", "--rx", "ring:cli", "--count", "1000", "--json", "--interval", "0"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout.trim());
    expect(j.txPackets).toBe(1000);
    expect(j.rx.received).toBe(1000);
    expect(j.rx.lost).toBe(0);
    expect(Object.keys(j.rx.latencyNs)).toEqual(expect.arrayContaining(["p50", "p99", "p999", "max", "mean"]));
    expect(j.ports.tx.stats.opackets).toBe(1000);
    const viaBdk = spawnSync([BUN, `${ROOT}src/cli/main.ts`, "pktgen", "null", "--count", "100", "--json"], { stdout: "pipe", stderr: "pipe" });
    expect(viaBdk.exitCode).toBe(0);
    expect(JSON.parse(viaBdk.stdout.toString().trim()).txPackets).toBe(100);
    const help = cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--rate RATE");
  });

  test("SIGINT stops an unlimited run cleanly: the summary is still printed", async () => {
    const p = Bun.spawn([BUN, `${ROOT}apps/pktgen.ts`, "--tx", "ring:sig", "--rx", "ring:sig", "--json", "--interval", "0.2"], { stdout: "pipe", stderr: "pipe" });
    const reader = p.stderr.getReader();
    let seen = "";
    while (!seen.includes("TX ")) {
      const c = await reader.read();
      if (c.done) break;
      seen += new TextDecoder().decode(c.value);
    }
    p.kill("SIGINT");
    reader.releaseLock();
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    const j = JSON.parse(out.trim());
    expect(j.stopReason).toBe("stopped");
    expect(j.txPackets).toBeGreaterThan(0);
    expect(j.rx.duplicated).toBe(0);
  });
});

describe("building blocks", () => {
  test("the latency histogram's buckets are within 1 % of the value", () => {
    for (let v = 0; v < 5e9; v = v < 1000 ? v + 1 : Math.floor(v * 1.013) + 7) {
      const x = Math.min(v, 4294967295);
      const [lo, hi] = bucketBounds(bucketOf(x));
      expect(x).toBeGreaterThanOrEqual(lo);
      expect(x).toBeLessThan(hi);
      if (lo < 256) expect(hi - lo).toBe(1); // exact below 256 ns
      else expect((hi - lo) / lo).toBeLessThanOrEqual(0.01);
    }
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100_000; i++) h.record(i * 100);
    const s = h.summary();
    expect(Math.abs(s.p50 - 5_000_000) / 5_000_000).toBeLessThan(0.01);
    expect(Math.abs(s.p99 - 9_900_000) / 9_900_000).toBeLessThan(0.01);
    expect(Math.abs(s.p999 - 9_990_000) / 9_990_000).toBeLessThan(0.01);
    expect(s.max).toBe(10_000_000);
    expect(s.mean).toBe(5_000_050);
  });

  test("sequence tracking: duplicates inside the window, reordering, wrap past 2^32", () => {
    const s = new StreamState(1);
    for (const q of [0, 1, 2, 4, 3, 3, 5]) s.track(q);
    expect([s.received, s.unique, s.duplicated, s.reordered, s.lost()]).toEqual([7, 6, 1, 1, 0]);
    // A duplicate just inside the window is still seen; the window moves on with the highest.
    s.track(SEQ_WINDOW + 3);
    s.track(5);
    expect(s.duplicated).toBe(2);
    s.track(SEQ_WINDOW + 100);
    expect(s.lost()).toBe(SEQ_WINDOW + 101 - s.unique);
    const w = new StreamState(2);
    for (let q = 4294967290; q < 4294967296 + 5; q++) w.track(q >>> 0);
    w.track(4294967295);
    expect([w.unique, w.duplicated, w.reordered, w.highest]).toEqual([11, 1, 0, 4294967296 + 4]);
  });
});

// ---- af_packet over a veth pair (root, when the driver exists) --------------------------------------

const afPacket = existsSync(`${ROOT}drivers/af_packet/index.ts`) && process.getuid?.() === 0;
describe.skipIf(!afPacket)("over a veth pair (af_packet)", () => {
  test("10 k frames TX on one end, RX on the other: none lost", async () => {
    const { withVethPair } = await import("../helpers/netns.ts");
    await withVethPair(async ({ a, b }) => {
      const r = await runPktgen({ tx: `af_packet:${a}`, rx: `af_packet:${b}`, count: 10_000, rate: "50kpps", interval: 0, drainMs: 2000 }, quiet);
      expect(r.txPackets).toBe(10_000);
      expect(r.rx!.received).toBe(10_000);
      expect(r.rx!.lost).toBe(0);
      expect(r.rx!.duplicated).toBe(0);
      expect(r.rx!.badChecksum).toBe(0);
      expect(r.rx!.latencyNs.p50).toBeGreaterThan(0);
    });
  });

  test("sender and --rx-only receiver in two processes: the same stream, none lost", async () => {
    const { withVethPair } = await import("../helpers/netns.ts");
    await withVethPair(async ({ a, b }) => {
      const rx = Bun.spawn([BUN, `${ROOT}apps/pktgen.ts`, "--rx-only", `af_packet:${b}`, "--count", "5000", "--duration", "30", "--json", "--interval", "0.1"], { stdout: "pipe", stderr: "pipe" });
      // Its first stats line says the receiver's loop runs (the socket is bound): then send.
      const reader = rx.stderr.getReader();
      let seen = "";
      while (!seen.includes("RX ")) {
        const c = await reader.read();
        if (c.done) break;
        seen += new TextDecoder().decode(c.value);
      }
      reader.releaseLock();
      const tx = spawnSync([BUN, `${ROOT}apps/pktgen.ts`, "--tx", `af_packet:${a}`, "--count", "5000", "--rate", "20kpps", "--stream", "4242", "--json", "--interval", "0"], { stdout: "pipe", stderr: "pipe" });
      expect(tx.exitCode).toBe(0);
      const [out, code] = await Promise.all([new Response(rx.stdout).text(), rx.exited]);
      expect(code).toBe(0);
      const j = JSON.parse(out.trim());
      expect(j.stopReason).toBe("rx-count");
      expect(j.rx.streams.map((s: { id: number }) => s.id)).toEqual([4242]);
      expect(j.rx.received).toBe(5000);
      expect(j.rx.lost).toBe(0);
      expect(j.rx.latencyNs.p50).toBeGreaterThan(0);
      expect(j.rx.latencyNs.p50).toBeLessThan(1e9); // one clock in both processes
    });
  });
});
