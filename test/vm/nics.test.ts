// The poll-mode drivers on QEMU's emulated NICs, inside the rig's guest, with the host as the far end.
//   1. e1000 ⇄ e1000e on a crossed wire (each NIC's UDP netdev sends to the other's): the Port contract's
//      conformance suite (test/conformance/suite.ts) in both directions.
import { beforeAll, describe, expect, test } from "bun:test";
import { nicAddresses, rigReady, runInGuest, type RunResult } from "./rig.ts";

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

describe("e1000 and e1000e: the conformance suite", () => {
  let run: RunResult;
  const [E1000, E1000E] = nicAddresses(["e1000", "e1000e"]) as [string, string];

  beforeAll(async () => {
    const [a, b] = await Promise.all([Bun.udpSocket({ hostname: "127.0.0.1", port: 0 }), Bun.udpSocket({ hostname: "127.0.0.1", port: 0 })]);
    const [pa, pb] = [a.port, b.port];
    a.close();
    b.close();
    run = await runInGuest({
      nics: [`e1000:udp=${pa}:${pb}`, `e1000e:udp=${pb}:${pa}`],
      command: `bun src/cli/main.ts devbind --bind vfio-pci ${E1000} ${E1000E} --force >/dev/null && ` +
        `BDK_CONFORMANCE="${E1000}>${E1000E},${E1000E}>${E1000}" NO_COLOR=1 bun test test/vm/guest/nic.conformance.test.ts`,
      timeoutSec: 400,
    });
  }, 420_000);

  test("every conformance test passes in both directions", () => {
    const passed = run.output.split("\n").filter((l) => l.startsWith("(pass) conformance:"));
    const failed = run.output.split("\n").filter((l) => l.startsWith("(fail)"));
    expect(failed).toEqual([]);
    expect(run.code).toBe(0);
    expect(passed.filter((l) => l.includes(`e1000 ${E1000} → e1000e ${E1000E}`)).length).toBe(10);
    expect(passed.filter((l) => l.includes(`e1000e ${E1000E} → e1000 ${E1000}`)).length).toBe(10);
  });
});
