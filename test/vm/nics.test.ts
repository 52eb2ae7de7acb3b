// The poll-mode drivers on QEMU's emulated NICs, inside the rig's guest, with the host as the far end.
// The e1000 driver on QEMU's e1000 (82540EM) and e1000e (82574L), inside the rig's guest, with the host as
// the far end: the suites of test/vm/nic-suites.ts on the pair, RSS on two e1000e, and scatter.
import { beforeAll, describe, expect, test } from "bun:test";
import { crossedWire, results } from "./host.ts";
import { conformanceSuite, filtersSuite, hostKernelSuite, opsSuite, rssSuite, type Pair } from "./nic-suites.ts";
import { nicAddresses, rigReady, runInGuest, type RunResult } from "./rig.ts";

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

const PAIR: Pair = ["e1000", "e1000e"];
conformanceSuite(PAIR);
hostKernelSuite(PAIR);
opsSuite(PAIR, {
  queuesB: 2, mtuA: 16110, mtuB: 9000, offload: /txOffloads asks for tcp_tso, which this port cannot do/,
  rss: /RSS asked of a port that has none/, vectors: /vectors=99, but the e1000 driver uses one INTx line, not MSI-X/,
});
filtersSuite(PAIR, [
  // QEMU's 82540EM does not implement receive checksum offload: every descriptor says "not checked" (IXSM).
  { rxCsum: [[0, 0], [0, 0], [0, 0], [0, 0]], insertWithoutStrip: /VLAN insert on TX needs VLAN strip on RX here \(CTRL\.VME enables both\)/ },
  // BUF_IP_CSUM_GOOD 16, BUF_IP_CSUM_BAD 4, BUF_L4_CSUM_GOOD 32, BUF_L4_CSUM_BAD 8
  { rxCsum: [[16, 32], [16, 32], [4, 32], [16, 8]], insertWithoutStrip: /VLAN insert on TX needs VLAN strip on RX here \(CTRL\.VME enables both\)/ },
]);
rssSuite("e1000e", 2);

describe("e1000: scattered RX and multi-segment TX (crossed wire)", () => {
  const [E1000, E1000E] = nicAddresses(["e1000", "e1000e"]) as [string, string];
  let run: RunResult;
  let r: Map<string, any>;

  beforeAll(async () => {
    const [pa, pb] = await crossedWire();
    run = await runInGuest({
      nics: [`e1000:udp=${pa}:${pb}`, `e1000e:udp=${pb}:${pa}`],
      command: `bun test/vm/guest/e1000-scatter.ts ${E1000E} ${E1000}`,
      timeoutSec: 180,
    });
    r = results(run);
  }, 200_000);

  test("9014-byte frames arrive in 2 KiB buffers as chains of 5, byte for byte, and go back out as whole frames", () => {
    expect(run.code).toBe(0);
    const x = r.get("scatter");
    expect(x.chains.length).toBe(20);
    for (const c of x.chains) expect(c).toEqual({ segs: 5, pktLen: 9014, ok: true });
    expect(x.back.length).toBe(20);
    for (const c of x.back) expect(c).toEqual({ len: 9014, ok: true });
    expect(x.leaked).toEqual([0, 0]);
  });
});
