// The rig's tests of a pair of chip ports, as functions a test file calls for its NICs (nics.test.ts:
// e1000 and e1000e; igb.test.ts: two igb). Each suite boots the guest once with its own wiring:
//   conformanceSuite  crossed UDP wire: the Port contract's conformance suite in both directions;
//   hostKernelSuite   TAPs in two host namespaces: TX byte for byte (tcpdump), checksums (tshark), ping and a
//                     100 000-frame pktgen stream through bdk l2fwd;
//   opsSuite          bad input, open/close cycles, link flaps through QMP, RX interrupts, SIGINT;
//   filtersSuite      crossed wire, each NIC as the receiver: promiscuous/multicast/VLAN filters, offloads;
//   rssSuite          two NICs of one kind on TAPs: RSS over Q queues, pinned workers, l2fwd.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { readPcap } from "../../src/index.ts";
import { exec } from "./exec.ts";
import { testFrame } from "./guest/frames.ts";
import { crossedWire, results, ROOT, sh, startReceiver, TapNamespaces } from "./host.ts";
import { nicAddresses, runInGuest, type NicModel, type RunResult } from "./rig.ts";

/** Two NICs, NIC 0 first. */
export type Pair = readonly [NicModel, NicModel];
const pairName = (p: Pair): string => (p[0] === p[1] ? `two ${p[0]}` : `${p[0]} and ${p[1]}`);

export function conformanceSuite(models: Pair): void {
describe(`${pairName(models)}: the conformance suite`, () => {
  let run: RunResult;
  const [A, B] = nicAddresses([...models]) as [string, string];

  beforeAll(async () => {
    const [pa, pb] = await crossedWire();
    run = await runInGuest({
      nics: [`${models[0]}:udp=${pa}:${pb}`, `${models[1]}:udp=${pb}:${pa}`],
      command: `bun src/cli/main.ts devbind --bind vfio-pci ${A} ${B} --force >/dev/null && ` +
        `BDK_CONFORMANCE="${A}>${B},${B}>${A}" NO_COLOR=1 bun test test/vm/guest/nic.conformance.test.ts`,
      timeoutSec: 400,
    });
  }, 420_000);

  test("every conformance test passes in both directions", () => {
    const passed = run.output.split("\n").filter((l) => l.startsWith("(pass) conformance:"));
    const failed = run.output.split("\n").filter((l) => l.startsWith("(fail)"));
    expect(failed).toEqual([]);
    expect(run.code).toBe(0);
    expect(passed.filter((l) => l.includes(`${models[0]} ${A} → ${models[1]} ${B}`)).length).toBe(10);
    expect(passed.filter((l) => l.includes(`${models[1]} ${B} → ${models[0]} ${A}`)).length).toBe(10);
  });
});
}

export function hostKernelSuite(models: Pair): void {
describe(`${pairName(models)} against the host kernel (TAPs in namespaces)`, () => {
  const tag = `${process.pid % 100000}`;
  const nsA = `bdknA${tag}`;
  const nsB = `bdknB${tag}`;
  const tapA = `bdkA${tag}`;
  const tapB = `bdkB${tag}`;
  const [A, B] = nicAddresses([...models]) as [string, string];
  const capture = `${tmpdir()}/bdk-${models[0]}-tx-${tag}.pcap`;
  let run: RunResult;
  let r: Map<string, any>;
  let ping = "";
  let pingJumbo = "";
  let tapRxAfterTx = -1;
  let rxResult: any;
  let txResult: any;
  let hostError: Error | undefined;

  beforeAll(async () => {
    for (const ns of [nsA, nsB]) await sh("ip", "netns", "add", ns);
    let tcpdump: Bun.Subprocess | undefined;
    const inA = (argv: string[]): string[] => ["ip", "netns", "exec", nsA, ...argv];
    const inB = (argv: string[]): string[] => ["ip", "netns", "exec", nsB, ...argv];
    try {
      run = await runInGuest({
        nics: [{ model: models[0], tap: tapA }, { model: models[1], tap: tapB }],
        command: `bun test/vm/guest/nic-host.ts ${A} ${B}`,
        timeoutSec: 400,
        onStart: async () => {
          for (const [tap, ns, addr] of [[tapA, nsA, "192.0.2.1/24"], [tapB, nsB, "192.0.2.2/24"]] as const) {
            await sh("ip", "link", "set", tap, "netns", ns);
            await sh("ip", "-n", ns, "link", "set", tap, "mtu", "9000");
            await sh("ip", "-n", ns, "addr", "add", addr, "dev", tap);
            await sh("ip", "-n", ns, "link", "set", tap, "up");
            await sh("ip", "-n", ns, "link", "set", "lo", "up");
          }
          tcpdump = Bun.spawn(inA(["tcpdump", "-i", tapA, "-Q", "in", "-w", capture, "--immediate-mode", "-B", "65536", "-s", "0", "-U",
            "ether proto 0x88b5 or (ip and src host 192.0.2.1)"]),
            { stdout: "ignore", stderr: "pipe" });
        },
        onLine: (line, rig) => {
          if (line.startsWith("@@tx ")) {
            tapRxAfterTx = Number(Bun.spawnSync(inA(["cat", `/sys/class/net/${tapA}/statistics/rx_packets`])).stdout.toString());
            setTimeout(() => tcpdump?.kill("SIGINT"), 1000);
          }
          if (!line.startsWith("@@fwd-ready")) return;
          void (async () => {
            try {
              const p = Bun.spawnSync(inA(["ping", "-c", "5", "-i", "0.3", "-W", "3", "192.0.2.2"]), { stdout: "pipe", stderr: "pipe" });
              ping = p.stdout.toString();
              // Jumbo frames through l2fwd --mtu 9000: 8972 bytes of ICMP payload, not fragmented.
              const counters = (): string => [[inA, tapA], [inB, tapB]].map(([inNs, tap]) => ["tx_packets", "rx_packets", "rx_dropped", "rx_length_errors"]
                .map((c) => `${tap as string}.${c}=${Bun.spawnSync((inNs as typeof inA)(["cat", `/sys/class/net/${tap as string}/statistics/${c}`])).stdout.toString().trim()}`).join(" ")).join(" ");
              const before = counters();
              const jumbo = Bun.spawnSync(inA(["ping", "-c", "3", "-i", "0.3", "-W", "3", "-s", "8972", "-M", "do", "192.0.2.2"]), { stdout: "pipe", stderr: "pipe" });
              // TAP counters around it: which hop lost a jumbo frame, should one be lost.
              pingJumbo = `${jumbo.stdout.toString()}${jumbo.stderr.toString()}\nbefore: ${before}\nafter:  ${counters()}`;
              const rx = await startReceiver(inB, `af_packet:${tapB},frames=4096`, 100_000);
              const tx = Bun.spawnSync(inA([process.execPath, `${ROOT}apps/pktgen.ts`, "--tx", `af_packet:${tapA}`, "--count", "100000", "--rate", "5kpps", "--json", "--interval", "0"]),
                { stdout: "pipe", stderr: "pipe" });
              txResult = JSON.parse(tx.stdout.toString().trim().split("\n").pop() ?? "null");
              rxResult = await rx.result();
            } catch (e) {
              hostError = e as Error;
            } finally {
              rig.signal("fwd-done");
            }
          })();
        },
      });
      r = results(run);
    } finally {
      tcpdump?.kill("SIGINT");
      await tcpdump?.exited;
      for (const ns of [nsA, nsB]) await exec(["ip", "netns", "del", ns]);
    }
  }, 420_000);

  afterAll(() => rmSync(capture, { force: true }));

  test("the guest ran to the end", () => {
    expect(hostError).toBeUndefined();
    expect(run.code).toBe(0);
    expect(r.get("done")).toBe(true);
  });

  test("TX: 10 000 frames of 60..1514 bytes and 100 jumbo frames arrive at the host byte for byte, in order", () => {
    const tx = r.get("tx");
    expect(tx.sent).toBe(10_000);
    expect(tx.jumbo).toBe(100);
    expect(r.get("tx-leak")).toBe(0);
    const records = readPcap(capture).records.filter((x) => x.data[12] === 0x88 && x.data[13] === 0xb5);
    expect(records.length).toBe(10_100);
    for (let i = 0; i < records.length; i++) {
      const want = i < 10_000 ? testFrame(i) : testFrame(i, 9000);
      const got = records[i]!.data;
      if (got.length !== want.length || !got.every((x, k) => x === want[k])) {
        throw new Error(`frame ${i}: ${got.length} bytes captured, ${want.length} expected, or different bytes`);
      }
    }
  });

  test("TX checksum offload: 40 UDP and TCP frames sent with zeroed sums arrive with sums tshark calls good", () => {
    expect(r.get("tx").offloaded).toBe(40);
    const t = Bun.spawnSync(["tshark", "-r", capture, "-Y", "ip", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
      "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status"],
    { stdout: "pipe", stderr: "pipe" });
    const rows = t.stdout.toString().trim().split("\n").map((l) => l.split("\t").filter(Boolean));
    expect(rows.length).toBe(40);
    // tshark's checksum status: 1 = good (as learned in test/unit/pktgen.test.ts).
    for (const row of rows) expect(row).toEqual(["1", "1"]);
  });

  test("stats: what the port says it sent is what the host's TAP received (software and hardware counters)", () => {
    const tx = r.get("tx");
    expect(tx.stats.opackets).toBe(10_140);
    expect(tapRxAfterTx).toBe(10_140);
    expect(tx.hwTxPackets).toBe(10_140);
  });

  test("forwarding: ping crosses l2fwd between the two NICs, also with 9000-byte frames (MTU 9000)", () => {
    expect(ping).toMatch(/5 packets transmitted, 5 received/);
    if (!/3 packets transmitted, 3 received/.test(pingJumbo)) {
      console.log(`jumbo ping: ${pingJumbo}\nl2fwd: ${JSON.stringify(r.get("fwd"))}\nconsole: ${run.console.split("\n").filter((l) => /DMAR|fault|vfio|error/i.test(l)).slice(-20).join("\n")}`);
    }
    expect(pingJumbo).toMatch(/3 packets transmitted, 3 received/);
  });

  test("forwarding: 100 000 sequence-numbered frames from the host arrive with 0 lost, 0 reordered; l2fwd's counts agree", () => {
    expect(txResult?.txPackets).toBe(100_000);
    expect(rxResult.rx.received).toBe(100_000);
    expect(rxResult.rx.lost).toBe(0);
    expect(rxResult.rx.reordered).toBe(0);
    const fwd = r.get("fwd");
    expect(fwd.code).toBe(0);
    expect(fwd.summary.ports[0].rx).toBeGreaterThanOrEqual(100_000);
    expect(fwd.summary.ports[1].tx).toBeGreaterThanOrEqual(100_000);
    expect(fwd.summary.totals.dropped).toBe(0);
  });
});
}

/** What the pair's bad-input refusals must say (the limits the chips state). */
export interface OpsLimits {
  /** NIC 1's RX queue count. */
  queuesB: number;
  /** The largest MTU of each NIC. */
  mtuA: number;
  mtuB: number;
  /** The refusal of an offload NIC 0 lacks. */
  offload: RegExp;
  /** The refusal of RSS on NIC 0, or "(has RSS)". */
  rss: RegExp | string;
  /** The refusal of `NIC0,vectors=99` (more MSI-X vectors than the device has, or none to have). */
  vectors: RegExp;
}

export function opsSuite(models: Pair, limits: OpsLimits): void {
describe(`${pairName(models)}: bad input, cycles, link flaps through QMP, RX interrupts, SIGINT`, () => {
  const [A, B] = nicAddresses([...models]) as [string, string];
  let run: RunResult;
  let r: Map<string, any>;
  let forwardedAfterFlap = 0;
  let firstFrameMs = -1;
  let hostError: Error | undefined;

  beforeAll(async () => {
    // What l2fwd forwards from NIC 0 leaves NIC 1 as a datagram to NIC 1's remote port: listen there.
    const received: number[] = [];
    let rxSocket: { close(): void } | undefined;
    const tx = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const frame = testFrame(1, 64);
    let nic0Port = 0;
    // A frame for NIC 0 is a datagram to its local port.
    const send = (n: number): void => {
      for (let i = 0; i < n; i++) tx.send(frame, nic0Port, "127.0.0.1");
    };
    const arrivals = async (from: number, want: number, ms: number): Promise<number> => {
      const until = Date.now() + ms;
      while (received.length - from < want && Date.now() < until) await Bun.sleep(10);
      return received.length - from;
    };
    try {
      run = await runInGuest({
        nics: [...models],
        command: `bun test/vm/guest/nic-ops.ts ${A} ${B}`,
        timeoutSec: 400,
        onStart: async (nics) => {
          nic0Port = nics[0]!.udp!.local;
          rxSocket = await Bun.udpSocket({
            hostname: "127.0.0.1", port: nics[1]!.udp!.remote,
            socket: {
              data() {
                received.push(Date.now());
              },
            },
          });
        },
        onLine: (line, rig) => {
          if (line.startsWith("@@fwd-ready")) {
            void (async () => {
              try {
                await rig.qmp("set_link", { name: "n0", up: false });
                await Bun.sleep(1500);
                await rig.qmp("set_link", { name: "n0", up: true });
                await Bun.sleep(2500); // autonegotiation, l2fwd's event poll, QEMU's receive hold
                const from = received.length;
                send(100);
                forwardedAfterFlap = await arrivals(from, 100, 20_000);
              } catch (e) {
                hostError = e as Error;
              } finally {
                rig.signal("flap-done");
              }
            })();
          }
          if (line.startsWith("@@idle")) {
            void (async () => {
              try {
                const from = received.length;
                const t0 = Date.now();
                send(1);
                if ((await arrivals(from, 1, 10_000)) === 1) firstFrameMs = received[from]! - t0;
              } catch (e) {
                hostError = e as Error;
              } finally {
                rig.signal("first-frame-done");
              }
            })();
          }
        },
      });
      r = results(run);
    } finally {
      rxSocket?.close();
      tx.close();
    }
  }, 420_000);

  test("the guest ran to the end", () => {
    expect(hostError).toBeUndefined();
    expect(run.code).toBe(0);
    expect(r.get("done")).toBe(true);
  });

  test("bad input: one clear error each, naming the limit", () => {
    const b = r.get("bad");
    expect(b.ringSmall).toMatch(/rxRingSize 4 is not a power of two in 8\.\.4096/);
    expect(b.ringBig).toMatch(/txRingSize 8192 is not a power of two in 8\.\.4096/);
    expect(b.queues).toContain(`rxQueues ${limits.queuesB + 1} is out of range; this port supports 1..${limits.queuesB}`);
    expect(b.mtuA).toContain(`MTU ${limits.mtuA + 1} is out of range; this port supports 68..${limits.mtuA}`);
    expect(b.mtuB).toContain(`MTU ${limits.mtuB + 1} is out of range; this port supports 68..${limits.mtuB}`);
    expect(b.mtuPool).toMatch(/MTU 9000 does not fit .*2048-byte buffers.*dataRoom ≥ 9018/);
    expect(b.offload).toMatch(limits.offload);
    if (typeof limits.rss === "string") expect(b.rss).toBe(limits.rss);
    else expect(b.rss).toMatch(limits.rss);
    expect(b.vectors).toMatch(limits.vectors);
  });

  test("flow control is left at the chip's default and reported in xstats", () => {
    expect(r.get("flow-control")).toEqual(["flow_control_rx_enabled", "flow_control_tx_enabled"]);
  });

  test("100 open/configure/start/stop/close cycles leave no fd, mapping or buffer behind", () => {
    const c = r.get("cycles");
    expect(c.fds[1]).toBe(c.fds[0]);
    // A mapping leaked per cycle would be 100 or more; the runtime's own heap may add one or two.
    expect(c.maps[1] - c.maps[0]).toBeLessThan(5);
    expect(c.inUse).toBe(0);
  });

  test("set_link off/on from QEMU's monitor: two events in l2fwd's log and summary; forwarding resumes by itself", () => {
    const f = r.get("fwd");
    expect(f.code).toBe(0);
    expect(f.summary.events.filter((e: any) => e.port === 0).map((e: any) => e.up)).toEqual([false, true]);
    expect(f.log.some((l: string) => l.includes(`port 0 (${A}) link DOWN`))).toBe(true);
    expect(forwardedAfterFlap).toBe(100);
  });

  test("RX interrupt mode: an idle l2fwd uses under 5 % of a vCPU over 10 s; the first frame after is forwarded", () => {
    console.log(`idle l2fwd: ${(r.get("idle").cpu * 100).toFixed(2)} % of a vCPU over 10 s; first frame after idle forwarded in ${firstFrameMs} ms`);
    expect(r.get("idle").cpu).toBeLessThan(0.05);
    expect(firstFrameMs).toBeGreaterThanOrEqual(0);
  });

  test("SIGINT releases both devices: the next open takes them at once", () => {
    const f = r.get("fwd");
    expect(f.reopen).toBe("ok");
    expect(f.summary.ports[0].rx).toBeGreaterThanOrEqual(100);
  });
});
}

/** What a NIC's receive path reports that differs by chip (as QEMU's models implement it). */
export interface FilterChip {
  /** [ip, l4] flags of the four RX checksum frames: good UDP, good TCP, bad IPv4 header, bad UDP. */
  rxCsum: [number, number][];
  /** TX VLAN insert asked without RX strip: the refusal, or "(accepted)". */
  insertWithoutStrip: RegExp | string;
}

export function filtersSuite(models: Pair, chips: readonly [FilterChip, FilterChip]): void {
describe(`${pairName(models)}: receive filters and VLAN offloads (crossed wire, each NIC as the receiver)`, () => {
  const [A, B] = nicAddresses([...models]) as [string, string];
  let run: RunResult;
  let r: Map<string, any>;

  beforeAll(async () => {
    const [pa, pb] = await crossedWire();
    run = await runInGuest({
      nics: [`${models[0]}:udp=${pa}:${pb}`, `${models[1]}:udp=${pb}:${pa}`],
      command: `bun test/vm/guest/nic-filters.ts ${B} ${A} nic0- && bun test/vm/guest/nic-filters.ts ${A} ${B} nic1-`,
      timeoutSec: 300,
    });
    r = results(run);
  }, 320_000);

  const ids = (x: { id: number }[]): number[] => x.map((f) => f.id).sort();

  for (const [i, chip] of chips.entries()) {
    const nic = `nic${i}`;
    const label = `NIC ${i} (${models[i]})`;
    test(`${label}: promiscuous, plain, all-multicast and a multicast list accept exactly what they should`, () => {
      expect(run.code).toBe(0);
      expect(r.get(`${nic}-done`)).toBe(true);
      expect(ids(r.get(`${nic}-promiscuous`))).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(ids(r.get(`${nic}-plain`))).toEqual([1, 3, 6, 7]);
      expect(ids(r.get(`${nic}-allmulti`))).toEqual([1, 3, 4, 5, 6, 7]);
      expect(ids(r.get(`${nic}-mclist`))).toEqual([1, 3, 4, 6, 7]);
    });

    test(`${label}: the VLAN filter passes VLAN 100 only, stripped into the metadata; without offloads tags stay in the frame`, () => {
      expect(r.get(`${nic}-vlan-filter-strip`)).toEqual([{ id: 1, len: 64 }, { id: 3, len: 64 }, { id: 6, len: 60, strippedVid: 100 }]);
      const keep = r.get(`${nic}-vlan-keep`);
      expect(keep.find((f: any) => f.id === 6)).toEqual({ id: 6, len: 64, tagInFrame: 100 });
      expect(keep.find((f: any) => f.id === 7)).toEqual({ id: 7, len: 64, tagInFrame: 200 });
    });

    test(`${label}: RX checksum status as the model reports it (good, good, bad IPv4 header, bad UDP)`, () => {
      const got = [...r.get(`${nic}-rx-csum`)].sort((a: any, b: any) => a.id - b.id);
      expect(got.map((f: any) => f.id)).toEqual([0, 1, 2, 3]);
      expect(got.map((f: any) => [f.ip, f.l4])).toEqual(chip.rxCsum);
    });

    test(`${label}: TX VLAN insert puts the buffer's tag on the wire; asked without strip: refused with the reason where the chip ties them`, () => {
      expect(r.get(`${nic}-vlan-insert`)).toEqual([{ id: 1, len: 68, tagInFrame: 300 }]);
      if (typeof chip.insertWithoutStrip === "string") expect(r.get(`${nic}-insert-without-strip`)).toBe(chip.insertWithoutStrip);
      else expect(r.get(`${nic}-insert-without-strip`)).toMatch(chip.insertWithoutStrip);
    });
  }
});
}

export function rssSuite(model: NicModel, queues: number): void {
describe(`${model}: ${queues} RX queues with RSS, each owned by a pinned worker; l2fwd on two workers (host TAPs)`, () => {
  const [R, B] = nicAddresses([model, model]) as [string, string];
  const taps = new TapNamespaces("bdkr", 2);
  const FLOWS = ["--src-ip", "10.0.0.1-10.0.0.64", "--dst-ip", "10.1.0.1", "--src-port", "1000", "--dst-port", "2000"];
  const FORWARDED = 64 * 200;
  let run: RunResult;
  let r: Map<string, any>;
  let rxResult: any;
  let hostError: Error | undefined;

  /** pktgen on the host, in namespace i; its JSON result. */
  function pktgen(i: number, args: string[]): any {
    const p = Bun.spawnSync(taps.in(i, [process.execPath, `${ROOT}apps/pktgen.ts`, ...args, "--json", "--interval", "0"]), { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`pktgen ${args.join(" ")}: ${p.stderr.toString()}`);
    return JSON.parse(p.stdout.toString().trim().split("\n").pop() ?? "null");
  }

  beforeAll(async () => {
    await taps.create();
    try {
      run = await runInGuest({
        nics: [{ model, tap: taps.taps[0]! }, { model, tap: taps.taps[1]! }],
        command: `bun test/vm/guest/nic-rss.ts ${R} ${B} ${queues}`,
        timeoutSec: 400,
        onStart: () => taps.wire(),
        onLine: (line, rig) => {
          const ready = /^@@rss-ready (.*)$/.exec(line.trim());
          if (ready) {
            try {
              pktgen(0, ["--tx", `af_packet:${taps.taps[0]}`, ...FLOWS, "--dst-mac", JSON.parse(ready[1]!).mac, "--count", "3200", "--rate", "2kpps"]);
            } catch (e) {
              hostError = e as Error;
            }
            rig.signal("rss-sent");
          }
          if (!line.startsWith("@@fwd-ready")) return;
          void (async () => {
            try {
              const rx = await startReceiver((argv) => taps.in(1, argv), `af_packet:${taps.taps[1]},frames=4096`, FORWARDED);
              pktgen(0, ["--tx", `af_packet:${taps.taps[0]}`, ...FLOWS, "--dst-mac", "52:54:00:12:34:01", "--count", String(FORWARDED), "--rate", "3kpps"]);
              rxResult = await rx.result();
            } catch (e) {
              hostError = e as Error;
            } finally {
              rig.signal("fwd-done");
            }
          })();
        },
      });
      r = results(run);
    } finally {
      await taps.remove();
    }
  }, 420_000);

  test(`64 UDP flows from the host spread over all ${queues} queues, each flow always on one queue with one hash, none lost`, () => {
    expect(hostError).toBeUndefined();
    expect(run.code).toBe(0);
    const x = r.get("rss");
    // Worker q owns RX queue q, pinned to core q mod 2 (the guest has two vCPUs).
    expect(x.cpus).toEqual(Array.from({ length: queues }, (_, q) => [q % 2]));
    const workers = x.workers as { queue: number; frames: number[]; hashes: number[][]; withoutHash: number }[];
    expect(workers.map((w) => w.queue)).toEqual(Array.from({ length: queues }, (_, q) => q));
    const flowsPerQueue = new Array<number>(queues).fill(0);
    let total = 0;
    for (let flow = 1; flow <= 64; flow++) {
      const seen = workers.filter((w) => w.frames[flow]! > 0);
      expect(seen.length).toBe(1); // one flow, one queue
      expect(seen[0]!.frames[flow]).toBe(50);
      expect(seen[0]!.hashes[flow]!.length).toBe(1); // one flow, one hash
      flowsPerQueue[seen[0]!.queue]! += 1;
      total += seen[0]!.frames[flow]!;
    }
    expect(total).toBe(3200);
    console.log(`${model}: flows per RX queue ${flowsPerQueue.join(" ")}`);
    for (const n of flowsPerQueue) expect(n).toBeGreaterThan(0);
    expect(workers.reduce((t, w) => t + w.withoutHash, 0)).toBe(0);
    expect(x.stats.reduce((t: number, q: { packets: number }) => t + q.packets, 0)).toBe(3200);
  });

  test(`bdk l2fwd --cores 0,1 --port-queues ${queues}: two pinned workers forward every flow to the host, 0 lost, per-queue counts sum up`, () => {
    const f = r.get("fwd");
    expect(f.code).toBe(0);
    expect(f.pinned).toEqual([{ core: 0, allowed: "0" }, { core: 1, allowed: "1" }]);
    expect(rxResult.rx.received).toBe(FORWARDED);
    expect(rxResult.rx.lost).toBe(0);
    const [w0, w1] = f.summary.workers;
    expect(w0.rx).toBeGreaterThan(0); // RSS gave each worker a share
    expect(w1.rx).toBeGreaterThan(0);
    expect(w0.rx + w1.rx).toBe(FORWARDED);
    const p0 = f.summary.ports[0];
    const rxq = p0.queues.rx.map((q: { packets: number }) => q.packets) as number[];
    expect(rxq.reduce((t, n) => t + n, 0)).toBe(FORWARDED);
    // Worker w owns RX queues w, w + 2 …: its count is theirs.
    expect(rxq.filter((_, q) => q % 2 === 0).reduce((t, n) => t + n, 0)).toBe(w0.rx);
    const p1 = f.summary.ports[1];
    expect(p1.queues.tx[0].packets + p1.queues.tx[1].packets).toBe(FORWARDED);
    expect(f.summary.totals.dropped).toBe(0);
  });
});
}
