// The Port contract's conformance suite (test/conformance/suite.ts) against the rig's NICs, inside the
// guest: BDK_CONFORMANCE names the pairs, "TX_BDF>RX_BDF" separated by commas, wired to each other by the
// host test (test/vm/nics.test.ts: crossed UDP netdevs). On the host (no BDK_GUEST) it skips.
import { test } from "bun:test";
import { Mempool, openPort } from "../../../src/index.ts";
import { conformance } from "../../conformance/suite.ts";

const pairs = process.env.BDK_GUEST === "1" ? (process.env.BDK_CONFORMANCE ?? "").split(",").filter(Boolean) : [];

for (const pair of pairs) {
  const [txAddr, rxAddr] = pair.split(">") as [string, string];
  // A throwaway open tells which driver takes each end (for the suite's title).
  const probe = Mempool.create({ count: 64, name: "probe" });
  const names = [txAddr, rxAddr].map((a) => {
    const p = openPort(a);
    const d = p.driver;
    p.close();
    return d;
  });
  probe.destroy();
  conformance({
    name: `${names[0]} ${txAddr} → ${names[1]} ${rxAddr}`,
    open: () => {
      const tx = openPort(txAddr);
      try {
        return { tx, rx: openPort(rxAddr) };
      } catch (e) {
        tx.close();
        throw e;
      }
    },
    loopback: true,
    attachable: true,
    frames: 10_000,
    settleMs: 1200,
    window: 64,
  });
}

if (pairs.length === 0) test.skip("NIC conformance runs in the VM rig's guest (test/vm/nics.test.ts)", () => {});
