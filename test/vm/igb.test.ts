// The igb driver on QEMU's emulated 82576, inside the rig's guest, with the host as the far end: the suites
// of test/vm/nic-suites.ts on two igb (each behind its own PCIe root port), RSS over four queues, and TSO.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { readPcap } from "../../src/index.ts";
import { TSO_MSS, TSO_PAYLOAD, TSO_SEQ, tsoByte } from "./guest/nic-tso.ts";
import { results, TapNamespaces } from "./host.ts";
import { conformanceSuite, filtersSuite, hostKernelSuite, opsSuite, rssSuite, type Pair } from "./nic-suites.ts";
import { nicAddresses, rigReady, runInGuest, type RunResult } from "./rig.ts";

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

const PAIR: Pair = ["igb", "igb"];
conformanceSuite(PAIR);
hostKernelSuite(PAIR);
opsSuite(PAIR, { queuesB: 16, mtuA: 9710, mtuB: 9710, offload: /rxOffloads asks for keep_crc, which this port cannot do/, rss: "(has RSS)",
  vectors: /vectors=99 asked, but the device has 10 MSI-X vectors/ });
// QEMU's 82576 checks receive checksums (in software): BUF_IP_CSUM_GOOD 16, BUF_IP_CSUM_BAD 4, BUF_L4_CSUM_GOOD 32, BUF_L4_CSUM_BAD 8.
const IGB_FILTERS = { rxCsum: [[16, 32], [16, 32], [4, 32], [16, 8]] as [number, number][], insertWithoutStrip: "(accepted)" };
filtersSuite(PAIR, [IGB_FILTERS, IGB_FILTERS]);
rssSuite("igb", 4);

describe("igb: TCP segmentation offload to the host (TAP)", () => {
  const [A] = nicAddresses(["igb"]) as [string];
  const taps = new TapNamespaces("bdkt", 1);
  const capture = `${tmpdir()}/bdk-igb-tso-${process.pid}.pcap`;
  let tapRx = -1;
  let run: RunResult;
  let r: Map<string, any>;

  /** Frames in the capture file so far (0 while tcpdump has not written its header). */
  const captured = (): number => {
    try {
      return readPcap(capture).records.length;
    } catch {
      return 0;
    }
  };

  beforeAll(async () => {
    await taps.create();
    let tcpdump: Bun.Subprocess | undefined;
    try {
      run = await runInGuest({
        nics: [{ model: "igb", tap: taps.taps[0]! }],
        command: `bun test/vm/guest/nic-tso.ts ${A}`,
        timeoutSec: 240,
        onStart: () => taps.wire(),
        onLine: (line, rig) => {
          if (!line.startsWith("@@tso-ready")) return;
          tcpdump = Bun.spawn(taps.in(0, ["tcpdump", "-i", taps.taps[0]!, "-Q", "in", "-w", capture, "--immediate-mode", "-B", "65536", "-s", "0", "-U", "tcp"]),
            { stdout: "ignore", stderr: "pipe" });
          // The guest sends once tcpdump says it listens (a fixed delay lost the first segments on a busy host).
          void (async () => {
            let said = "";
            let signalled = false;
            for await (const chunk of tcpdump.stderr as ReadableStream<Uint8Array>) {
              said += new TextDecoder().decode(chunk);
              if (!signalled && said.includes("listening on")) {
                signalled = true;
                rig.signal("capturing");
              }
            }
            if (!signalled) rig.signal("capturing"); // tcpdump ended without listening: the test says what it captured
          })();
        },
      });
      r = results(run);
      tapRx = taps.counter(0, "rx_packets");
      // tcpdump on a busy host writes what the TAP took some time later: wait until it has them all (or 10 s).
      const until = Date.now() + 10_000;
      while (Date.now() < until && captured() < Math.ceil(TSO_PAYLOAD / TSO_MSS)) await Bun.sleep(100);
    } finally {
      await Bun.sleep(500);
      tcpdump?.kill("SIGINT");
      await tcpdump?.exited;
      await taps.remove();
    }
  }, 260_000);

  afterAll(() => rmSync(capture, { force: true }));

  test("one 65 495-byte TCP payload handed over as a chain leaves as 46 MSS-sized segments tshark calls valid, consecutive and complete", () => {
    expect(run.code).toBe(0);
    const x = r.get("tso");
    expect(x.sent).toBe(1);
    expect(x.segs).toBe(1 + Math.ceil(TSO_PAYLOAD / 2048));
    expect(r.get("tso-leak")).toBe(0);
    const t = Bun.spawnSync(["tshark", "-r", capture, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "tcp.relative_sequence_numbers:FALSE",
      "-T", "fields", "-e", "ip.len", "-e", "ip.checksum.status", "-e", "tcp.seq", "-e", "tcp.len", "-e", "tcp.checksum.status"], { stdout: "pipe", stderr: "pipe" });
    const rows = t.stdout.toString().trim().split("\n").map((l) => l.split("\t").map(Number));
    const segments = Math.ceil(TSO_PAYLOAD / TSO_MSS);
    if (rows.length !== segments) console.log(`TSO capture (the TAP counted ${tapRx} frames in): ${rows.map((row) => `${row[2]}+${row[3]}`).join(" ")}\n${t.stderr.toString()}`);
    expect(rows.length).toBe(segments);
    let seq = TSO_SEQ;
    for (const [i, [ipLen, ipOk, tcpSeq, tcpLen, tcpOk]] of rows.entries()) {
      const want = i < segments - 1 ? TSO_MSS : TSO_PAYLOAD - TSO_MSS * (segments - 1);
      expect([ipLen, ipOk, tcpSeq, tcpLen, tcpOk]).toEqual([40 + want, 1, seq, want, 1]); // 1: good checksum
      seq += want;
    }
    // The payload, reassembled from the frames, is the bytes the guest wrote.
    const payload = readPcap(capture).records.flatMap((rec) => [...rec.data.subarray(54)]);
    expect(payload.length).toBe(TSO_PAYLOAD);
    expect(payload.every((b, k) => b === tsoByte(k))).toBe(true);
  });
});
