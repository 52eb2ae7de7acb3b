// An embedding packet processor outside the tree (test/consumer: its own package.json, bdk as a path
// dependency): installed into a temporary directory, type-checked with tsc, and run: two pinned workers
// forward 1 M frames between ring ports, each owning one RX queue through a queue handle, counts exact.
import { expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const BUN = process.execPath;

test("an external consumer type-checks against the package entry and forwards 1 M frames with two workers", () => {
  const dir = mkdtempSync(join(tmpdir(), "bdk-consumer-"));
  try {
    cpSync(join(ROOT, "test/consumer"), dir, { recursive: true });
    // The same path dependency, made absolute for the copy.
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    pkg.dependencies.bdk = `file:${ROOT}`;
    writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    const install = Bun.spawnSync([BUN, "install"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(install.exitCode, install.stderr.toString()).toBe(0);
    const tsc = Bun.spawnSync([BUN, join(dir, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(tsc.exitCode, tsc.stdout.toString()).toBe(0);
    const run = Bun.spawnSync([BUN, "forward.ts", "1000000"], { cwd: dir, stdout: "pipe", stderr: "pipe", timeout: 120_000 });
    const out = run.stdout.toString().trim().split("\n").pop() ?? "";
    expect(run.exitCode, `${out}\n${run.stderr.toString()}`).toBe(0);
    const r = JSON.parse(out);
    expect(r.received).toBe(1_000_000);
    expect(r.forwarded).toBe(1_000_000);
    expect(r.workers.map((w: { rxQueue: number }) => w.rxQueue).sort()).toEqual([0, 1]);
    for (const w of r.workers) {
      expect(w.forwarded).toBeGreaterThan(0);
      expect(w.portId).toBe(r.fwdInId);
    }
    expect(r.leaked).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
