// The line-rate bench keeps working (bench/nic-model.ts): every descriptor format and mode runs the drivers'
// own burst code against the descriptor-level NIC model, and a cell fails unless every queue counted exactly
// the frames the model moved. No figure is checked here: speed is for `bun bench/line-rate.ts`.
import { expect, test } from "bun:test";

test("bench/nic-model.ts: every format and mode moves and counts its frames exactly (a short run)", () => {
  const p = Bun.spawnSync([process.execPath, new URL("../../bench/nic-model.ts", import.meta.url).pathname, "--json", "--seconds", "0.05", "--warmup", "0", "--bursts", "1,32"],
    { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(p.stderr.toString().replace(/@@bdk-timed-(start|end)\n/g, "")).toBe("");
  expect(p.exitCode).toBe(0);
  const cells = p.stdout.toString().trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  // Three formats (adv, legacy, extended) × rx, tx, l2fwd × two burst sizes.
  expect(cells.length).toBe(18);
  // Figures printed for the CI log (a 0.05 s run on a shared machine: for eyes, never asserted).
  console.log(cells.map((c) => `nic-model ${c.format} ${c.mode} burst ${c.burst}: ${c.ns.toFixed(1)} ns/packet`).join("\n"));
  for (const c of cells) {
    expect(c.impl).toBe("bdk");
    expect(c.packets).toBeGreaterThan(0);
    expect(c.packets % c.burst).toBe(0); // whole bursts only: every burst was full
  }
});

test("bench/steady-state.ts: a short run reports the heap at both ends, the GCs and the burst gaps", () => {
  const p = Bun.spawnSync([process.execPath, new URL("../../bench/steady-state.ts", import.meta.url).pathname, "--json", "--seconds", "0.5", "--warmup", "0.1", "--format", "legacy"],
    { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(p.stderr.toString()).toBe("");
  expect(p.exitCode).toBe(0);
  const r = JSON.parse(p.stdout.toString());
  expect(r.format).toBe("legacy");
  expect(r.packets).toBe(r.bursts * 32); // every burst full
  for (const h of [r.heapStart, r.heapEnd]) expect(h.heapSize).toBeGreaterThan(0);
  expect(typeof r.gcs).toBe("number");
  expect(r.maxGapUs).toBeGreaterThan(0);
  expect(r.gapsOver1ms).toBeLessThanOrEqual(r.gapsOver100us);
});
