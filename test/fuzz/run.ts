#!/usr/bin/env bun
/**
 * `bun run fuzz`: every fuzz target with FUZZ_RUNS cases (default 100 000), printing per target the cases
 * run, how the calls ended (returned / refused with our error), the slowest call and the time.
 *
 * Each family runs in a child process under a watchdog (FUZZ_TIMEOUT_S, default 1800 s per family): a case
 * that never returns cannot be interrupted in-process, so the parent kills the child and reports which target
 * was running and with which seed (rerun it with FUZZ_ONLY=<target> FUZZ_SEED=<seed> FUZZ_TRACE=1 to see
 * the input). Exit status 1 when anything failed.
 *
 *   bun run fuzz                         every family, 100 000 cases per target
 *   FUZZ_RUNS=2000 bun run fuzz          a quick pass
 *   bun test/fuzz/run.ts pcap net        some families
 *   FUZZ_ONLY=parseIpv6 bun run fuzz     targets whose name contains the text
 */
import { FAMILIES } from "./families.ts";
import { DEFAULT_RUNS, fuzzRuns, fuzzSeed, runTarget, Tally } from "./harness.ts";

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

/** Child: runs one family in this process; one line per target. */
async function runFamily(name: string): Promise<boolean> {
  const fam = FAMILIES.find((f) => f.name === name);
  if (!fam) throw new Error(`no fuzz family "${name}" (have: ${FAMILIES.map((f) => f.name).join(", ")})`);
  const runs = fuzzRuns(DEFAULT_RUNS);
  const only = process.env.FUZZ_ONLY;
  let ok = true;
  fam.setup?.();
  try {
    for (const target of fam.targets) {
      if (only && !target.name.includes(only)) continue;
      const seed = fuzzSeed() ?? (Date.now() ^ (Math.random() * 0x100000000)) | 0;
      const cases = Math.max(1, Math.round(runs * (target.share ?? 1)));
      process.stdout.write(`  ${fam.name}: ${target.name} … (seed ${seed})\n`);
      const tally = new Tally();
      const t0 = performance.now();
      try {
        runTarget(target, runs, tally, seed);
        const ms = performance.now() - t0;
        process.stdout.write(
          `  ok    ${fam.name}: ${target.name}: ${cases} cases in ${fmtMs(ms)}; calls returned ${tally.accepted}, refused ${tally.refused}` +
            `${tally.hits.size ? ` (reached: ${tally.hitsText()})` : ""}; slowest call ${tally.slowestMs.toFixed(1)} ms\n`,
        );
      } catch (e) {
        ok = false;
        const ms = performance.now() - t0;
        // Lines are cut at 2000 characters (a counterexample can be a whole file): the seed reproduces it.
        const report = String((e as Error).message ?? e)
          .split("\n")
          .map((l) => (l.length > 2000 ? `${l.slice(0, 2000)}…(${l.length} characters)` : l))
          .join("\n");
        process.stdout.write(`  FAIL  ${fam.name}: ${target.name} after ${fmtMs(ms)} (seed ${seed})\n${report.replace(/^/gm, "        ")}\n`);
      }
    }
    if (fam.name === "args") {
      const { knownSkips, KNOWN_ISSUES } = await import("./args.ts");
      for (const k of KNOWN_ISSUES) {
        const n = knownSkips.get(k.name) ?? 0;
        process.stdout.write(`  note  args: ${n} cases skipped that hit a reported issue: ${k.name} (FUZZ_KNOWN=1 runs them)\n`);
      }
    }
  } finally {
    fam.teardown?.();
  }
  return ok;
}

/** Parent: each family in a child process with a watchdog. */
async function main(): Promise<number> {
  const child = process.argv.indexOf("--child");
  if (child >= 0) return (await runFamily(process.argv[child + 1]!)) ? 0 : 1;

  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const families = wanted.length ? FAMILIES.filter((f) => wanted.includes(f.name)) : FAMILIES;
  if (wanted.length && families.length !== wanted.length) {
    console.error(`fuzz: unknown family in ${wanted.join(" ")}; have ${FAMILIES.map((f) => f.name).join(", ")}`);
    return 2;
  }
  const runs = fuzzRuns(DEFAULT_RUNS);
  const timeoutS = Number(process.env.FUZZ_TIMEOUT_S ?? 1800);
  console.log(`fuzz: ${runs} cases per target (FUZZ_RUNS), families ${families.map((f) => f.name).join(", ")}`);
  const t0 = performance.now();
  const failed: string[] = [];
  for (const fam of families) {
    const f0 = performance.now();
    console.log(`${fam.name}:`);
    let last = "";
    const proc = Bun.spawn([process.execPath, import.meta.path, "--child", fam.name], {
      stdout: "pipe",
      stderr: "inherit",
      env: process.env,
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutS * 1000);
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      const text = decoder.decode(chunk, { stream: true });
      process.stdout.write(text);
      const lines = text.split("\n").filter((l) => l.includes(" … (seed "));
      if (lines.length) last = lines[lines.length - 1]!.trim();
    }
    const code = await proc.exited;
    clearTimeout(timer);
    if (proc.signalCode === "SIGKILL") {
      failed.push(fam.name);
      console.log(`  HANG  ${fam.name}: killed after ${timeoutS} s while running: ${last}`);
      console.log(`        rerun that target with FUZZ_ONLY=<its name> FUZZ_SEED=<its seed> FUZZ_TRACE=1 to see the input`);
    } else if (code !== 0) {
      failed.push(fam.name);
    }
    console.log(`  ${fam.name}: ${fmtMs(performance.now() - f0)}`);
  }
  console.log(`fuzz: ${failed.length ? `FAILED (${failed.join(", ")})` : "all targets passed"} in ${fmtMs(performance.now() - t0)}`);
  return failed.length ? 1 : 0;
}

process.exit(await main());
