// Pinned worker groups: pinning verified through /proc, results, errors naming the worker and core,
// the stop flag, the stop timeout, and Ctrl-C handling.
import { describe, expect, test } from "bun:test";
import { onStopSignal, startWorkers, WorkerGroupError } from "../../src/lcore/worker.ts";
import { parseCpuList } from "../../src/lcore/cpus.ts";
import { gettid } from "../../src/sys/libc.ts";
import type { BasicInit } from "./workers/basic.ts";

const BASIC = new URL("./workers/basic.ts", import.meta.url);
const BUN = process.execPath;

describe("startWorkers", () => {
  test("pins each worker to its core, verified by /proc, and returns each result in order", async () => {
    const group = await startWorkers<BasicInit, { core: number; tid: number; cpu: number; value: number }>(BASIC, {
      cores: [1, 0],
      init: (core, index) => ({ mode: "return", value: core * 100 + index }),
    });
    expect(group.workers.map((w) => [w.index, w.core, w.cpus])).toEqual([[0, 1, [1]], [1, 0, [0]]]);
    const tids = group.workers.map((w) => w.tid);
    expect(new Set([...tids, gettid()]).size).toBe(3);
    const results = await group.join();
    expect(results.map((r) => [r.core, r.cpu, r.value])).toEqual([[1, 1, 100], [0, 0, 1]]);
    expect(results.map((r) => r.tid)).toEqual(tids);
  });

  test("stop() sets the shared flag; workers polling it return their results", async () => {
    const group = await startWorkers<BasicInit, { n: number; cpu: number }>(BASIC, { cores: [0, 1], init: { mode: "loop" } });
    expect(group.stopping).toBe(false);
    await Bun.sleep(50);
    const results = await group.stop(5000);
    expect(group.stopping).toBe(true);
    expect(results.map((r) => r.cpu)).toEqual([0, 1]);
    for (const r of results) expect(r.n).toBeGreaterThan(0);
  });

  test("an error thrown in a worker names the worker and its core, and the others are asked to stop", async () => {
    const group = await startWorkers<BasicInit>(BASIC, { cores: [0, 1], name: "fwd", init: (core) => ({ mode: core === 1 ? "throw" : "loop" }) });
    const err = await group.join(5000).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerGroupError);
    const e = err as WorkerGroupError<{ n: number }>;
    expect(e.message).toContain("fwd worker 1 (core 1) failed: boom on core 1");
    expect(e.stack).toContain("in the worker");
    expect(e.results[0]!.n).toBeGreaterThanOrEqual(0); // worker 0 saw the stop flag and returned its result
    expect(e.results[1]).toBeUndefined();
  });

  test("a core that does not exist fails the start with an error naming it and the online list", async () => {
    const err = await startWorkers(BASIC, { cores: [0, 999], init: { mode: "return" } }).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/worker 1 cannot be pinned to core 999: sched_setaffinity.*EINVAL/);
    expect(err!.message).toContain("/sys/devices/system/cpu/online");
  });

  test("bad arguments are refused before any thread starts", async () => {
    await expect(startWorkers(BASIC, { cores: [] })).rejects.toThrow(/needs at least one core/);
    await expect(startWorkers(BASIC, { cores: [0.5] })).rejects.toThrow(/core 0.5 is not a core number/);
    await expect(startWorkers(BASIC, { cores: [0], init: { f: () => 1 } })).rejects.toThrow(/init message cannot be sent/);
  });

  test("a worker that ignores the stop flag is terminated after the timeout", async () => {
    const group = await startWorkers<BasicInit>(BASIC, { cores: [0], init: { mode: "hang" } });
    const t0 = performance.now();
    const err = await group.stop(300).then(() => undefined, (e: Error) => e);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(err!.message).toMatch(/worker 0 \(core 0\) did not finish within 300 ms and was terminated; poll ctx.shouldStop/);
  });

  test("a worker that exits its thread without a result is an error", async () => {
    const group = await startWorkers<BasicInit>(BASIC, { cores: [1], init: { mode: "exit" } });
    await expect(group.join(5000)).rejects.toThrow(/worker 0 \(core 1\) exited \(code 3\) without a result/);
  });

  test("a module that never calls runWorker is reported at start", async () => {
    const url = new URL("./workers/not-a-worker.ts", import.meta.url);
    await expect(startWorkers(url, { cores: [0], startTimeoutMs: 2000 })).rejects.toThrow(/worker 0 \(core 0\) exited \(code 0\) without a result; the worker module must call runWorker/);
  });

  test("a module that hangs before runWorker times out at start", async () => {
    const url = new URL("./workers/hang-at-load.ts", import.meta.url);
    await expect(startWorkers(url, { cores: [0], startTimeoutMs: 500 })).rejects.toThrow(/did not start within 500 ms.*runWorker/);
  });
});

describe("parseCpuList", () => {
  test("ranges and singles", () => {
    expect(parseCpuList("0-2,5,7-8\n")).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseCpuList("3")).toEqual([3]);
    expect(() => parseCpuList("a-b")).toThrow(/not a CPU list/);
  });
});

describe("stop signals", () => {
  test("onStopSignal installs the process handlers once and removes them with the last registration", () => {
    const before = process.listenerCount("SIGINT");
    const offA = onStopSignal(() => {});
    const offB = onStopSignal(() => {});
    expect(process.listenerCount("SIGINT")).toBe(before + 1);
    expect(process.listenerCount("SIGTERM")).toBeGreaterThanOrEqual(1);
    offA();
    expect(process.listenerCount("SIGINT")).toBe(before + 1);
    offB();
    expect(process.listenerCount("SIGINT")).toBe(before);
  });

  async function spawnMain(mode: string) {
    const proc = Bun.spawn([BUN, new URL("./workers/signal-main.ts", import.meta.url).pathname, mode], { stdout: "pipe", stderr: "pipe" });
    const reader = proc.stdout.getReader();
    let out = "";
    while (!out.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    return { proc, reader, out };
  }

  test("Ctrl-C stops the workers cleanly: results come back and the handlers are gone", async () => {
    const { proc, reader } = await spawnMain("loop");
    await Bun.sleep(100);
    proc.kill("SIGINT");
    let out = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(await proc.exited).toBe(0);
    const report = JSON.parse(out.trim());
    expect(report.results.length).toBe(2);
    for (const r of report.results) expect(r.n).toBeGreaterThan(0);
    expect(report.listeners).toBe(0);
    expect(await new Response(proc.stderr).text()).toContain("SIGINT: stopping (press Ctrl-C again to exit at once)");
  }, 20_000);

  test("a second Ctrl-C exits at once even when a worker does not listen", async () => {
    const { proc } = await spawnMain("hang");
    await Bun.sleep(100);
    proc.kill("SIGINT");
    await Bun.sleep(200);
    expect(proc.exitCode).toBeNull(); // still waiting for the worker
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(130);
  }, 20_000);
});
