// The QEMU rig: boots the test guest (see prepare.ts) with emulated Intel NICs behind a vIOMMU,
// runs one shell command in it and returns the command's exit code and output.
//   CLI:  bun run vm -- [--nic MODEL[:opt=val,...]]... [--no-iommu] [--bridge-group] [--host-root]
//                       [--timeout SECONDS] [--mem MB] [--verbose] -- <command...>
//         bun test/vm/rig.ts prepare [--force]
//   API:  runInGuest({ nics, command, ... }) and rigReady(); see README.md beside this file.
import {
  closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exec, execSync, shQuote } from "./exec.ts";
import {
  INITRD, LOCK_PATH, PROJECT_ROOT, QEMU_MIN_MAJOR, SETUP_HINT, STAMP, STAMP_FORMAT, VMLINUZ,
} from "./paths.ts";
import { prepare, readStamp } from "./prepare.ts";
import {
  defaultMac, machineArgs, nicAddresses, nicArgs, parseNic, validateNic,
  type NicInfo, type NicSpec,
} from "./topology.ts";

import { Qmp } from "./qmp.ts";

export type { NicInfo, NicModel, NicSpec, UdpWire } from "./topology.ts";
export { nicAddresses } from "./topology.ts";

export interface RunOptions {
  /** NICs in order: specs or the CLI's strings ("igb", "e1000:tap=tap0", "e1000e:udp=7001:7002"). */
  nics: (NicSpec | string)[];
  /** The shell command, run with /bin/sh -c in the project folder inside the guest. */
  command: string;
  /** Boot without the intel-iommu device and without intel_iommu=on. */
  noIommu?: boolean;
  /** All NICs behind one conventional pci-bridge, so they share one IOMMU group. */
  bridgeGroup?: boolean;
  /** Share the host's root read-only (9p tag bdkhost): run host programs such as dpdk-testpmd in the guest (guest/host-root.ts). */
  hostRoot?: boolean;
  /** Limit for the boot and the command together; QEMU is killed after it. Default 180. */
  timeoutSec?: number;
  memMb?: number;
  /** Each line of the command's output as it arrives (boot lines too with verbose). */
  onLine?: (line: string, rig: RigHandle) => void;
  /** Called once QEMU runs and every TAP has carrier: the moment to move TAPs into namespaces. */
  onStart?: (nics: NicInfo[], rig: RigHandle) => void | Promise<void>;
  verbose?: boolean;
  /** How long to queue for the machine-wide lock while another guest runs. Default 600. */
  lockTimeoutSec?: number;
  signal?: AbortSignal;
}

/** What a host test can do to a running guest. */
export interface RigHandle {
  /** The run's folder, /bdk-run ($BDK_VM_RUN) in the guest (not cached: live data both ways). */
  runDir: string;
  /** Writes runDir/NAME (the guest's waitSignal(NAME) sees it). */
  signal(name: string, text?: string): void;
  /** A QMP command to QEMU (e.g. set_link { name: "n0", up: false }: netdev n<i> is NIC i's wire). */
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown>;
}

export interface RunResult {
  /** The command's exit code (125: the guest's /init failed before running it). */
  code: number;
  /** The command's output (console lines between the start and exit markers). */
  output: string;
  /** The whole serial console, boot included. */
  console: string;
  nics: NicInfo[];
  /** Wall time of the boot + command, lock wait excluded. */
  ms: number;
}

/** A failure of the rig itself (not of the command): no guest, QEMU error, time limit. */
/** How long a boot may take before the rig calls it stalled (a normal one reaches the command in ≈4 s). */
const BOOT_STALL_MS = 60_000;

export class VmError extends Error {
  constructor(message: string, readonly kind: "not-ready" | "qemu" | "timeout" | "aborted" | "lock" | "boot-stall" = "qemu") {
    super(message);
    this.name = "VmError";
  }
}

const BEGIN_MARKER = "BDK_GUEST_BEGIN";
const EXIT_MARKER = /^BDK_GUEST_EXIT=(\d+)$/;
const DEFAULT_TIMEOUT_SEC = 180;
const CARRIER_WAIT_MS = 15_000;
const RUN_DIR_PREFIX = "bdk-vm-";
const HOOK_GRACE_MS = 10_000;

// ---- readiness --------------------------------------------------------------------------------

let qemuChecked: { ok: boolean; why?: string } | undefined;

/** Whether QEMU >= 10 is installed (cached: the probe costs a process). */
function checkQemu(): { ok: boolean; why?: string } {
  if (qemuChecked) return qemuChecked;
  const r = execSync(["qemu-system-x86_64", "--version"]);
  const major = Number(/version (\d+)\./.exec(r.stdout)?.[1] ?? 0);
  qemuChecked = r.code === 0 && major >= QEMU_MIN_MAJOR
    ? { ok: true }
    : { ok: false, why: `qemu-system-x86_64 not found or older than ${QEMU_MIN_MAJOR} (igb missing): run scripts/setup.sh` };
  return qemuChecked;
}

/** Says whether a guest can boot: QEMU present and prepare has run. */
export function rigReady(): { ok: boolean; why?: string } {
  const qemu = checkQemu();
  if (!qemu.ok) return qemu;
  if (!existsSync(STAMP) || !existsSync(VMLINUZ) || !existsSync(INITRD)) {
    return { ok: false, why: `guest kernel not prepared: ${SETUP_HINT}` };
  }
  if (!readStamp()) return { ok: false, why: `guest was built by an older rig (format != ${STAMP_FORMAT}): ${SETUP_HINT}` };
  return { ok: true };
}

// ---- host-side resources ----------------------------------------------------------------------

/**
 * Takes the machine-wide lock: `flock` locks our open file description (passed as its fd 3),
 * so the lock stays with us after flock exits, and with QEMU, which inherits the fd.
 */
async function acquireLock(timeoutSec: number, signal?: AbortSignal): Promise<number> {
  const fd = openSync(LOCK_PATH, "a");
  const attempt = (wait: string[]): Promise<number> =>
    Bun.spawn(["flock", "-x", ...wait, "3"], { stdio: ["ignore", "ignore", "pipe", fd] }).exited;
  if ((await attempt(["-n"])) === 0) return fd;
  console.error(`bdk-vm: another guest is running; waiting up to ${timeoutSec} s for ${LOCK_PATH}`);
  const waiter = Bun.spawn(["flock", "-x", "-w", String(timeoutSec), "3"], { stdio: ["ignore", "ignore", "pipe", fd] });
  const onAbort = (): void => waiter.kill();
  signal?.addEventListener("abort", onAbort);
  const code = await waiter.exited;
  signal?.removeEventListener("abort", onAbort);
  if (code === 0) return fd;
  closeSync(fd);
  if (signal?.aborted) throw new VmError("aborted while waiting for the VM lock", "aborted");
  throw new VmError(`another guest held ${LOCK_PATH} for more than ${timeoutSec} s`, "lock");
}

/** Creates missing TAPs and sets all of them up; returns the names it created. */
async function ensureTaps(nics: NicInfo[]): Promise<string[]> {
  const created: string[] = [];
  for (const { tap } of nics) {
    if (!tap) continue;
    if (!existsSync(`/sys/class/net/${tap}`)) {
      const r = await exec(["ip", "tuntap", "add", "dev", tap, "mode", "tap"], { timeoutMs: 10_000 });
      if (r.code !== 0) throw new VmError(`cannot create TAP ${tap}: ${r.stderr.trim()}`);
      created.push(tap);
    }
    const r = await exec(["ip", "link", "set", tap, "up"], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new VmError(`cannot set TAP ${tap} up: ${r.stderr.trim()}`);
  }
  return created;
}

/** Removes TAPs the rig created (a caller that moved one into a namespace removes it there). */
async function removeTaps(names: string[]): Promise<void> {
  for (const tap of names) {
    if (existsSync(`/sys/class/net/${tap}`)) await exec(["ip", "link", "del", tap], { timeoutMs: 10_000 });
  }
}

/** Free UDP ports on 127.0.0.1, held together while choosing so none repeats. */
async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(
    Array.from({ length: count }, () => Bun.udpSocket({ hostname: "127.0.0.1", port: 0 })));
  const ports = sockets.map((s) => s.port);
  for (const s of sockets) s.close();
  return ports;
}

/** Resolves specs into NICs with addresses, MACs and wiring (free UDP ports where unwired). */
async function resolveNics(specs: (NicSpec | string)[], bridgeGroup: boolean): Promise<NicInfo[]> {
  const parsed = specs.map((s) => (typeof s === "string" ? parseNic(s) : validateNic({ ...s })));
  const bdfs = nicAddresses(parsed.map((s) => s.model), { bridgeGroup });
  const ports = await freeUdpPorts(2 * parsed.filter((s) => !s.tap && !s.udp).length);
  return parsed.map((s, i) => {
    const nic: NicInfo = { model: s.model, bdf: bdfs[i]!, mac: s.mac ?? defaultMac(i) };
    if (s.tap) nic.tap = s.tap;
    else nic.udp = s.udp ?? { local: ports.shift()!, remote: ports.shift()! };
    return nic;
  });
}

async function waitCarrier(taps: string[], exited: () => boolean): Promise<void> {
  const deadline = Date.now() + CARRIER_WAIT_MS;
  for (const tap of taps) {
    // The TAP may already have been moved into a namespace by then; only wait while it is here.
    const path = `/sys/class/net/${tap}/carrier`;
    while (existsSync(path) && readFileSync(path, "utf8").trim() !== "1") {
      if (exited()) return;
      if (Date.now() > deadline) throw new VmError(`TAP ${tap} has no carrier ${CARRIER_WAIT_MS / 1000} s after QEMU started`);
      await Bun.sleep(50);
    }
  }
}

// ---- the console ------------------------------------------------------------------------------

/** Splits the serial console into the command's output and boot noise, and finds the markers. */
class ConsoleReader {
  readonly all: string[] = [];
  readonly output: string[] = [];
  began = false;
  exitCode: number | undefined;

  constructor(private readonly onLine?: (line: string) => void, private readonly verbose = false) {}

  line(raw: string): void {
    const line = raw.replace(/\r/g, "");
    this.all.push(line);
    const exit = EXIT_MARKER.exec(line);
    if (exit) {
      this.exitCode = Number(exit[1]);
      if (this.verbose) this.onLine?.(line);
      return;
    }
    if (line.startsWith(BEGIN_MARKER)) {
      this.began = true;
      if (this.verbose) this.onLine?.(line);
      return;
    }
    // Before the start marker: boot noise, except our /init's own complaints (they explain a
    // 125); after the exit marker: the power-down.
    const ours = this.exitCode === undefined && (this.began || line.startsWith("bdk-init:"));
    if (ours) {
      this.output.push(line);
      this.onLine?.(line);
    } else if (this.verbose) {
      this.onLine?.(line);
    }
  }

  tail(n = 30): string {
    return this.all.slice(-n).join("\n");
  }
}

async function pumpLines(stream: ReadableStream<Uint8Array>, each: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) each(l);
  }
  pending += decoder.decode();
  if (pending) each(pending);
}

// ---- running a guest --------------------------------------------------------------------------

export async function runInGuest(opts: RunOptions): Promise<RunResult> {
  const ready = rigReady();
  if (!ready.ok) throw new VmError(ready.why!, "not-ready");
  const bridgeGroup = opts.bridgeGroup ?? false;
  const lockFd = await acquireLock(opts.lockTimeoutSec ?? 600, opts.signal);
  let runDir: string | undefined;
  let createdTaps: string[] = [];
  try {
    // The initramfs follows its inputs (guest-init.sh, busybox, Bun's libraries): rebuilt here, under the
    // lock, when one changed since the last prepare, so that a boot never runs a stale /init.
    await prepare({ log: opts.verbose ? (l) => console.log(`bdk-vm: ${l}`) : () => {} });
    runDir = makeRunDir(opts.command);
    // NICs are resolved under the lock so that queued callers do not race for the same ports.
    const nics = await resolveNics(opts.nics, bridgeGroup);
    createdTaps = await ensureTaps(nics);
    const args = [
      ...machineArgs({
        kernel: VMLINUZ, initrd: INITRD, projectDir: PROJECT_ROOT, runDir,
        memMb: opts.memMb ?? 1024, noIommu: opts.noIommu ?? false, hostRoot: opts.hostRoot ?? false,
      }),
      ...nicArgs(nics, { bridgeGroup }),
    ];
    try {
      return await boot(args, nics, runDir, lockFd, opts);
    } catch (e) {
      // A guest that never reached its command (a TCG vCPU that missed its timer while booting) is booted
      // once more, when nothing of the first attempt can be left behind (no TAPs, no onStart hook).
      if (!(e instanceof VmError && e.kind === "boot-stall") || nics.some((n) => n.tap) || opts.onStart) throw e;
      console.warn(`bdk-vm: ${e.message.split("\n")[0]}; booting once more`);
      return await boot(args, nics, runDir, lockFd, opts);
    }
  } finally {
    await removeTaps(createdTaps);
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    closeSync(lockFd);
  }
}

/**
 * The per-run folder shared with the guest (/bdk-run): the command, the project path, and the
 * exit code coming back. Made under the lock, so any other bdk-vm-* folder is a leftover of a
 * killed run and is swept.
 */
function makeRunDir(command: string): string {
  for (const entry of readdirSync(tmpdir(), { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.startsWith(RUN_DIR_PREFIX)) {
      rmSync(join(tmpdir(), entry.name), { recursive: true, force: true });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
  writeFileSync(join(dir, "command"), command);
  writeFileSync(join(dir, "project"), PROJECT_ROOT);
  return dir;
}

async function boot(args: string[], nics: NicInfo[], runDir: string, lockFd: number, opts: RunOptions): Promise<RunResult> {
  const timeoutSec = opts.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  const t0 = performance.now();
  // setpriv --pdeathsig: QEMU dies with us even if we are SIGKILLed; it then execs QEMU, so the
  // pid we hold is QEMU's. QEMU inherits the lock fd, keeping the lock for as long as it lives.
  const qemu = Bun.spawn(["setpriv", "--pdeathsig", "KILL", "--", "qemu-system-x86_64", ...args], {
    stdio: ["ignore", "pipe", "pipe", lockFd],
  });
  let exited = false;
  let stopReason: "timeout" | "aborted" | "boot-stall" | undefined;
  const stop = (why: "timeout" | "aborted" | "boot-stall"): void => {
    stopReason ??= why;
    qemu.kill("SIGKILL");
  };
  const timer = setTimeout(() => stop("timeout"), timeoutSec * 1000);
  // A boot takes seconds; one that has not reached the command after BOOT_STALL_MS has stalled.
  const stallTimer = setTimeout(() => {
    if (!reader.began) stop("boot-stall");
  }, BOOT_STALL_MS);
  const onAbort = (): void => stop("aborted");
  opts.signal?.addEventListener("abort", onAbort);
  if (opts.signal?.aborted) stop("aborted");

  // A throwing onLine must not stop us reading QEMU's stdout (QEMU would block on a full pipe):
  // remember the error, stop the guest, and report it at the end.
  let lineError: Error | undefined;
  const onLine = opts.onLine && ((line: string, rigHandle: RigHandle): void => {
    try {
      opts.onLine!(line, rigHandle);
    } catch (e) {
      lineError ??= e instanceof Error ? e : new Error(String(e));
      stop("aborted");
    }
  });
  let qmp: Promise<Qmp> | undefined;
  const rig: RigHandle = {
    runDir,
    signal: (name, text = "") => writeFileSync(join(runDir, name), text),
    qmp: async (command, args) => {
      qmp ??= Qmp.connect(join(runDir, "qmp.sock"));
      return (await qmp).execute(command, args);
    },
  };
  const reader = new ConsoleReader(onLine && ((l: string) => onLine(l, rig)), opts.verbose);
  const stderr: string[] = [];
  const pumps = Promise.all([
    pumpLines(qemu.stdout, (l) => reader.line(l)),
    pumpLines(qemu.stderr, (l) => stderr.push(l)),
  ]);
  const started = startHook(nics, opts.onStart, rig, () => exited).catch((e: unknown) => {
    stop("aborted");
    return e instanceof Error ? e : new Error(String(e));
  });
  const qemuCode = await qemu.exited;
  exited = true;
  clearTimeout(stallTimer);
  if (qmp) void qmp.then((q) => q.close(), () => undefined);
  clearTimeout(timer);
  opts.signal?.removeEventListener("abort", onAbort);
  await pumps;
  // The guest is gone; a hook still running gets a little longer, never forever.
  const hookError = await Promise.race([
    started,
    Bun.sleep(HOOK_GRACE_MS).then(() => new VmError(`onStart did not finish within ${HOOK_GRACE_MS / 1000} s of the guest's end`)),
  ]);
  const ms = performance.now() - t0;

  if (hookError) throw hookError;
  if (lineError) throw lineError;
  if (stopReason === "timeout") {
    throw new VmError(`guest timed out after ${timeoutSec} s (QEMU killed); last console lines:\n${reader.tail()}`, "timeout");
  }
  if (stopReason === "aborted") throw new VmError("guest run aborted (QEMU killed)", "aborted");
  if (stopReason === "boot-stall") {
    throw new VmError(`guest did not reach its command within ${BOOT_STALL_MS / 1000} s of boot (QEMU killed); last console lines:\n${reader.tail()}`, "boot-stall");
  }
  const code = exitCode(runDir, reader);
  if (code === undefined) {
    const qemuSaid = stderr.slice(-10).join("\n").trim();
    const consoleSaid = reader.tail().trim();
    throw new VmError(
      (consoleSaid ? `guest ended without an exit code (QEMU exit ${qemuCode})` : `QEMU failed to start (exit ${qemuCode})`) +
      (qemuSaid ? `\nQEMU stderr:\n${qemuSaid}` : "") +
      (consoleSaid ? `\nlast console lines:\n${consoleSaid}` : ""));
  }
  return { code, output: reader.output.join("\n"), console: reader.all.join("\n"), nics, ms };
}

/** Waits for TAP carriers, then runs the caller's onStart hook. */
async function startHook(nics: NicInfo[], hook: RunOptions["onStart"], rig: RigHandle, exited: () => boolean): Promise<Error | undefined> {
  const taps = nics.flatMap((n) => (n.tap ? [n.tap] : []));
  if (!hook) return undefined;
  await waitCarrier(taps, exited);
  if (!exited()) await hook(nics, rig);
  return undefined;
}

/** The exit file written by /init is authoritative; the console marker is the fallback. */
function exitCode(runDir: string, reader: ConsoleReader): number | undefined {
  try {
    const text = readFileSync(join(runDir, "exit"), "utf8").trim();
    if (/^\d+$/.test(text)) return Number(text);
  } catch {
    // no file: /init never got that far, or the 9p write was lost; try the console
  }
  return reader.exitCode;
}

// ---- CLI --------------------------------------------------------------------------------------

const USAGE = `usage: bun run vm -- [options] -- <command...>
       bun test/vm/rig.ts prepare [--force]
options:
  --nic MODEL[:opt=val,...]  add a NIC (e1000, e1000e, igb); options: tap=NAME, udp=LOCAL:REMOTE, mac=MAC
  --no-iommu                 no intel-iommu device, no intel_iommu=on
  --bridge-group             all NICs behind one pci-bridge (one IOMMU group; use e1000/e1000e)
  --host-root                share the host's / read-only (9p tag bdkhost; test/vm/guest/host-root.ts runs host programs)
  --timeout SECONDS          kill the guest after this long (default ${DEFAULT_TIMEOUT_SEC})
  --mem MB                   guest memory (default 1024)
  --verbose                  also print the boot console
One command word is a shell script ("ls; exit 7"); several words are quoted as an argv.
Exit code: the command's; 124 time limit, 125 rig error, 130 interrupted.`;

interface CliArgs {
  nics: string[];
  noIommu: boolean;
  bridgeGroup: boolean;
  hostRoot: boolean;
  timeoutSec: number;
  memMb: number;
  verbose: boolean;
  command: string;
}

export function parseCli(argv: string[]): CliArgs {
  // `bun run vm -- …` may or may not pass the first "--" through: drop it when options follow.
  if (argv[0] === "--" && argv.slice(1).includes("--") && argv[1]?.startsWith("--")) argv = argv.slice(1);
  const a: CliArgs = { nics: [], noIommu: false, bridgeGroup: false, hostRoot: false, timeoutSec: DEFAULT_TIMEOUT_SEC, memMb: 1024, verbose: false, command: "" };
  let i = 0;
  const value = (flag: string): string => {
    const v = argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    return v;
  };
  const positive = (flag: string): number => {
    const n = Number(value(flag));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
    return n;
  };
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") { i++; break; }
    if (arg === "--nic") a.nics.push(value(arg));
    else if (arg === "--no-iommu") a.noIommu = true;
    else if (arg === "--bridge-group") a.bridgeGroup = true;
    else if (arg === "--host-root") a.hostRoot = true;
    else if (arg === "--timeout") a.timeoutSec = positive(arg);
    else if (arg === "--mem") a.memMb = positive(arg);
    else if (arg === "--verbose" || arg === "-v") a.verbose = true;
    else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else break;
  }
  const words = argv.slice(i);
  if (words.length === 0) throw new Error("no command given");
  a.command = words.length === 1 ? words[0]! : words.map(shQuote).join(" ");
  // Fail before booting on a typo or a layout QEMU would refuse.
  nicAddresses(a.nics.map((n) => parseNic(n).model), { bridgeGroup: a.bridgeGroup });
  return a;
}

async function cli(argv: string[]): Promise<number> {
  if (argv[0] === "prepare") {
    await prepare({ force: argv.includes("--force") });
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let args: CliArgs;
  try {
    args = parseCli(argv);
  } catch (e) {
    console.error(`bdk-vm: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  process.on("SIGTERM", () => abort.abort());
  try {
    const r = await runInGuest({
      ...args, signal: abort.signal,
      onStart: (nics) => nics.forEach((n, i) => console.error(`bdk-vm: nic${i} ${describeNic(n)}`)),
      onLine: (l) => process.stdout.write(l + "\n"),
    });
    console.error(`bdk-vm: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`);
    return r.code;
  } catch (e) {
    const err = e as Error;
    console.error(`bdk-vm: ${err.message}`);
    if (err instanceof VmError && err.kind === "timeout") return 124;
    if (err instanceof VmError && err.kind === "aborted") return 130;
    return 125;
  }
}

function describeNic(n: NicInfo): string {
  const wire = n.tap ? `tap ${n.tap}` : `udp: send frames to 127.0.0.1:${n.udp!.local}, guest frames arrive on 127.0.0.1:${n.udp!.remote}`;
  return `${n.model} ${n.bdf} ${n.mac} ${wire}`;
}

if (import.meta.main) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`bdk-vm: ${e.message}`);
      process.exit(125);
    },
  );
}
