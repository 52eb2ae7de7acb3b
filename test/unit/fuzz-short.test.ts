// The fuzz properties of test/fuzz/ (pcap reader, src/net views and parsers, port specs, CLI options), each
// with a short run inside `npm test`. `bun run fuzz` runs them with 100 000 cases each (README, Tests).
import { afterAll, beforeAll, describe, test } from "bun:test";
import { FAMILIES } from "../fuzz/families.ts";
import { runTarget, Tally } from "../fuzz/harness.ts";

/** Cases per target here (FUZZ_SHORT_RUNS overrides): enough to catch a regression, a few seconds in all. */
const RUNS = Number(process.env.FUZZ_SHORT_RUNS ?? 1000);
/** A fixed seed keeps `npm test` repeatable (FUZZ_SEED overrides); `bun run fuzz` draws a new one per run. */
const SEED = 20261125;

for (const fam of FAMILIES) {
  describe(`fuzz ${fam.name}`, () => {
    beforeAll(() => fam.setup?.());
    afterAll(() => fam.teardown?.());
    for (const target of fam.targets) {
      test(target.name, () => runTarget(target, RUNS, new Tally(), SEED));
    }
  });
}
