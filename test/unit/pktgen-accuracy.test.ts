// pktgen reports how close it came to the rate it was asked for (loose bounds: a shared machine; the
// pacing itself is tested with a fake clock in pktgen.test.ts).
import { expect, test } from "bun:test";
import { formatSummary, parsePktgenArgs, runPktgen } from "../../apps/pktgen.ts";

test("the summary carries the rate error: asked 10 kpps for 2 s on a null port, within 20 % (a loaded machine)", async () => {
  const r = await runPktgen(parsePktgenArgs(["--tx", "null", "--rate", "10kpps", "--duration", "2", "--interval", "0"]), { log: () => {} });
  expect(r.tx!.rateError).toBeDefined();
  expect(Math.abs(r.tx!.rateError!)).toBeLessThan(0.2);
  expect(formatSummary(r)[0]).toMatch(/rate 10kpps [+−]\d+\.\d\d %/);
}, 20_000);

test("no rate error without --rate, or for a run too short to say", async () => {
  const r = await runPktgen(parsePktgenArgs(["--tx", "null", "--count", "1000", "--interval", "0"]), { log: () => {} });
  expect(r.tx!.rateError).toBeUndefined();
  const short = await runPktgen(parsePktgenArgs(["--tx", "null", "--rate", "1pps", "--count", "2", "--interval", "0"]), { log: () => {} });
  expect(short.tx!.rateError).toBeUndefined();
}, 20_000);
