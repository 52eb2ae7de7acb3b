// The igb poll-mode driver on QEMU's emulated 82576, inside the rig's guest, with the host as the far end.
//   1. igb ⇄ igb on a crossed wire: the Port contract's conformance suite in both directions.
import { beforeAll, describe, expect, test } from "bun:test";
import { crossedWire } from "./host.ts";
import { nicAddresses, rigReady, runInGuest, type RunResult } from "./rig.ts";

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

describe("igb: the conformance suite", () => {
  let run: RunResult;
  const [A, B] = nicAddresses(["igb", "igb"]) as [string, string];

  beforeAll(async () => {
    const [pa, pb] = await crossedWire();
    run = await runInGuest({
      nics: [`igb:udp=${pa}:${pb}`, `igb:udp=${pb}:${pa}`],
      command: `bun src/cli/main.ts devbind --bind vfio-pci ${A} ${B} --force >/dev/null && ` +
        `BDK_CONFORMANCE="${A}>${B},${B}>${A}" NO_COLOR=1 bun test test/vm/guest/nic.conformance.test.ts`,
      timeoutSec: 400,
    });
  }, 420_000);

  test("every conformance test passes in both directions", () => {
    const passed = run.output.split("\n").filter((l) => l.startsWith("(pass) conformance:"));
    const failed = run.output.split("\n").filter((l) => l.startsWith("(fail)"));
    if (failed.length > 0) console.log(run.output.slice(-6000));
    expect(failed).toEqual([]);
    expect(run.code).toBe(0);
    expect(passed.filter((l) => l.includes(`igb ${A} → igb ${B}`)).length).toBe(10);
    expect(passed.filter((l) => l.includes(`igb ${B} → igb ${A}`)).length).toBe(10);
  });
});
