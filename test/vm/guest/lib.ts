// Helpers for the guest side of test/vm/vfio.test.ts: results go to the console as `@@name {json}` lines
// that the host test parses; commands run as child processes with their output captured.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export const PROJECT = new URL("../../..", import.meta.url).pathname.replace(/\/$/, "");
export const BUN = process.execPath;

/** Prints one result line for the host. */
export function report(name: string, value: unknown): void {
  console.log(`@@${name} ${JSON.stringify(value)}`);
}

export interface Ran {
  code: number;
  out: string;
  err: string;
}

/** Runs argv to completion (no TTY, so no colours). */
export function run(argv: string[], timeoutMs = 120_000): Ran {
  const p = Bun.spawnSync(argv, { cwd: PROJECT, stdout: "pipe", stderr: "pipe", timeout: timeoutMs, env: { ...process.env, NO_COLOR: "1" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** `bdk ARGS…` in a child process. */
export function bdk(...args: string[]): Ran {
  return run([BUN, `${PROJECT}/src/cli/main.ts`, ...args]);
}

/** A guest script in a child process. */
export function script(name: string, ...args: string[]): Ran {
  return run([BUN, `${PROJECT}/test/vm/guest/${name}`, ...args]);
}

export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

export function mapsCount(): number {
  return readFileSync("/proc/self/maps", "utf8").trim().split("\n").length;
}

export function hex(n: number): string {
  return "0x" + (n >>> 0).toString(16);
}

export function macOf(ral: number, rah: number): string {
  const b = [ral & 0xff, (ral >>> 8) & 0xff, (ral >>> 16) & 0xff, ral >>> 24, rah & 0xff, (rah >>> 8) & 0xff];
  return b.map((x) => (x >>> 0).toString(16).padStart(2, "0")).join(":");
}

export function sleepMs(ms: number): void {
  Bun.sleepSync(ms);
}

/** Waits until f() is truthy (polling) or the time is up; returns the last value. */
export function until<T>(f: () => T, ms: number, step = 5): T {
  const end = Date.now() + ms;
  let v = f();
  while (!v && Date.now() < end) {
    Bun.sleepSync(step);
    v = f();
  }
  return v;
}

export function dmesg(): string {
  return run(["dmesg"]).out;
}

/** Where this process's fds point (pipes, sockets, anon inodes like [eventfd] or [vfio-device], files). */
export function fdTargets(): string[] {
  return readdirSync("/proc/self/fd").map((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`);
    } catch {
      return "?";
    }
  }).filter((t) => !t.startsWith("/proc/")).sort();
}

/** The names of this process's mappings ([anon] for anonymous ones). */
export function mapNames(): string[] {
  return readFileSync("/proc/self/maps", "utf8").trim().split("\n").map((l) => l.split(/\s+/).slice(5).join(" ") || "[anon]").sort();
}

/** What `after` holds beyond `before` (multisets). */
export function diff(after: string[], before: string[]): string[] {
  const left = [...before];
  return after.filter((t) => {
    const i = left.indexOf(t);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/**
 * Keeps every guest vCPU from idling, with a nice-19 spinner per CPU, until the returned function is
 * called. Under QEMU TCG an idle (halted) vCPU sometimes misses its timer wakeup for a minute or more
 * ("rcu_preempt kthread timer wakeup didn't happen" on the console), and whatever sleeps on that CPU
 * (an msleep in a PCI reset, say) waits with it. A vCPU that never halts never misses it; the spinners
 * take ~1.5% of a CPU from real work.
 */
export function keepCpusAwake(): () => void {
  const n = navigator.hardwareConcurrency || 2;
  const spinners = Array.from({ length: n }, (_, cpu) =>
    Bun.spawn(["taskset", "-c", String(cpu), "sh", "-c", "renice -n 19 -p $$ >/dev/null; while :; do :; done"], { stdio: ["ignore", "ignore", "ignore"] }));
  return () => {
    for (const p of spinners) p.kill("SIGKILL");
  };
}

/** Waits (polling, without blocking the event loop) until the host test wrote /bdk-run/NAME (RigHandle.signal); returns its text. Throws after `ms`. */
export async function waitSignal(name: string, ms: number): Promise<string> {
  const path = `${process.env.BDK_VM_RUN ?? "/bdk-run"}/${name}`;
  const end = Date.now() + ms;
  for (;;) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      if (Date.now() > end) throw new Error(`no signal "${name}" from the host within ${ms} ms`);
      await Bun.sleep(20);
    }
  }
}
