// The igb driver on QEMU's emulated 82576, inside the rig's guest, with the host as the far end: the suites
// of test/vm/nic-suites.ts on two igb (each behind its own PCIe root port), RSS over four queues, and TSO.
import { beforeAll } from "bun:test";
import { conformanceSuite, filtersSuite, hostKernelSuite, opsSuite, rssSuite, type Pair } from "./nic-suites.ts";
import { rigReady } from "./rig.ts";

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

const PAIR: Pair = ["igb", "igb"];
conformanceSuite(PAIR);
hostKernelSuite(PAIR);
opsSuite(PAIR, { queuesB: 16, mtuA: 9710, mtuB: 9710, offload: /rxOffloads asks for keep_crc, which this port cannot do/, rss: "(has RSS)" });
// QEMU's 82576 checks receive checksums (in software): BUF_IP_CSUM_GOOD 16, BUF_IP_CSUM_BAD 4, BUF_L4_CSUM_GOOD 32, BUF_L4_CSUM_BAD 8.
const IGB_FILTERS = { rxCsum: [[16, 32], [16, 32], [4, 32], [16, 8]] as [number, number][], insertWithoutStrip: "(accepted)" };
filtersSuite(PAIR, [IGB_FILTERS, IGB_FILTERS]);
rssSuite("igb", 4);
