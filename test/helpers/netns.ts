/**
 * Test helpers: network namespaces and veth pairs that a test makes and always removes (root only).
 *
 * ```ts
 * import { withVethPair, Capture, listLinks, listNetns, sendRawFrames } from "../helpers/netns.ts";
 *
 * await withVethPair(async ({ a, b, nsB, macA, macB, execB }) => {
 *   // a stays in this process's namespace; b lives in namespace nsB (made because of { nsB: true }).
 *   const cap = await Capture.start(b, nsB);            // tcpdump -i b -w <tmp> inside nsB
 *   … send frames on a (an af_packet:${a} port) …
 *   const frames = await cap.stop();                   // Uint8Array[] of what b received, in order
 *   execB(["ping", "-c", "1", "-W", "1", "-I", b, "192.0.2.1"]);  // a command inside nsB
 * }, { nsB: true, addrB: "192.0.2.2/24" });
 * ```
 *
 * - Names are `bdkt` + a suffix made of this process's pid and a counter ("bdkt3f1a0", at most 15
 *   characters), so parallel runs do not collide and leftovers are easy to spot: `ip -o link | grep bdkt`.
 * - Both ends come up with IPv6 disabled (net.ipv6.conf.X.disable_ipv6=1: no DAD, router or MLD
 *   solicitations), so a capture holds only the frames a test sends. Give addrA/addrB (TEST-NET ranges:
 *   192.0.2.0/24, 198.51.100.0/24) for IPv4 traffic; only inside namespaces the test made.
 * - Cleanup runs in `finally`: processes the pair started are killed, links deleted, namespaces deleted.
 *   A process that dies mid-test still cleans up in an exit handler. `listLinks()` / `listNetns()`
 *   snapshot what exists so that a test can check that nothing was left behind.
 * - `TestNet` is the same thing as a class, for suites that build several pairs in beforeAll/afterAll.
 * - `sendRawFrames(iface, frames, ns?)` writes raw Ethernet frames on an interface (through a plain
 *   AF_PACKET socket; inside `ns` through a child process), for RX tests that want exact bytes.
 */
import { spawn, spawnSync, type Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NAME_PREFIX = "bdkt";
/** This process's tag: every name made here starts with it. */
export const RUN_TAG = `${NAME_PREFIX}${(process.pid % 46656).toString(36)}`;
let counter = 0;

/** A fresh name, unique in this run: RUN_TAG + kind letter + counter (≤ 15 characters, the IFNAMSIZ limit). */
export function uniqueName(kind = ""): string {
  const name = `${RUN_TAG}${kind}${(counter++).toString(36)}`;
  if (name.length > 15) throw new Error(`interface name ${name} is longer than 15 characters: use a shorter kind`);
  return name;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; throws with its stderr unless it exits 0 (or `allowFail`). */
export function run(cmd: string[], opts: { allowFail?: boolean; input?: string; env?: Record<string, string> } = {}): RunResult {
  const p = spawnSync(cmd, { stdout: "pipe", stderr: "pipe", stdin: opts.input !== undefined ? Buffer.from(opts.input) : "ignore", env: opts.env ?? process.env as Record<string, string> });
  const res = { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  if (res.code !== 0 && !opts.allowFail) throw new Error(`\`${cmd.join(" ")}\` exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`);
  return res;
}

export function ip(...args: string[]): string {
  return run(["ip", ...args]).stdout;
}

/** The command, run inside namespace `ns` when given. */
export function inNs(ns: string | undefined, cmd: string[]): string[] {
  return ns ? ["ip", "netns", "exec", ns, ...cmd] : cmd;
}

export function execIn(ns: string | undefined, cmd: string[], opts: { allowFail?: boolean } = {}): RunResult {
  return run(inNs(ns, cmd), opts);
}

/** Every network namespace `ip netns` knows (names only). */
export function listNetns(): string[] {
  return run(["ip", "netns", "list"]).stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]!).filter((n) => n !== "");
}

/** Interface names of this process's namespace (or of `ns`). */
export function listLinks(ns?: string): string[] {
  const out = run(ns ? ["ip", "-n", ns, "-o", "link", "show"] : ["ip", "-o", "link", "show"]).stdout;
  return out.split("\n").map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
}

/** Our names still around (this run's tag, or any bdkt name with `all`). */
export function leftovers(all = false): { netns: string[]; links: string[] } {
  const p = all ? NAME_PREFIX : RUN_TAG;
  return { netns: listNetns().filter((n) => n.startsWith(p)), links: listLinks().filter((n) => n.startsWith(p)) };
}

function sysctlIf(ns: string | undefined, iface: string, key: string, value: string): void {
  // Missing keys (no IPv6 in this kernel) are not an error worth failing a test for.
  execIn(ns, ["sysctl", "-q", "-w", `net.ipv6.conf.${iface}.${key}=${value}`], { allowFail: true });
}

export function linkMac(iface: string, ns?: string): string {
  const out = JSON.parse(run(ns ? ["ip", "-n", ns, "-j", "link", "show", "dev", iface] : ["ip", "-j", "link", "show", "dev", iface]).stdout) as { address: string }[];
  return out[0]!.address;
}

/** The kernel's counter /sys/class/net/IFACE/statistics/NAME, read inside `ns` when given. */
export function linkStat(iface: string, name: string, ns?: string): number {
  if (!ns) return Number(readFileSync(`/sys/class/net/${iface}/statistics/${name}`, "utf8").trim());
  return Number(execIn(ns, ["cat", `/sys/class/net/${iface}/statistics/${name}`]).stdout.trim());
}

export interface VethOptions {
  /** Put end A / end B in a namespace of its own. */
  nsA?: boolean;
  nsB?: boolean;
  /** IPv4 address with prefix for an end, e.g. "192.0.2.2/24". */
  addrA?: string;
  addrB?: string;
  mtu?: number;
  /** Bring the ends up (default true). */
  up?: boolean;
}

export interface VethPair {
  a: string;
  b: string;
  nsA: string | undefined;
  nsB: string | undefined;
  macA: string;
  macB: string;
  execA(cmd: string[], opts?: { allowFail?: boolean }): RunResult;
  execB(cmd: string[], opts?: { allowFail?: boolean }): RunResult;
  /** Starts a background process inside B's namespace (killed at cleanup). */
  spawnB(cmd: string[]): Subprocess<"ignore", "pipe", "pipe">;
  spawnA(cmd: string[]): Subprocess<"ignore", "pipe", "pipe">;
}

const live = new Set<TestNet>();
let exitHookInstalled = false;

/** A set of namespaces and veth pairs with one cleanup. */
export class TestNet {
  readonly namespaces: string[] = [];
  /** [name, namespace] of links to delete (deleting one end of a veth deletes both). */
  readonly links: [string, string | undefined][] = [];
  readonly procs: Subprocess[] = [];

  constructor() {
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => {
        for (const t of live) t.cleanup();
      });
    }
  }

  addNetns(): string {
    const ns = uniqueName("n");
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    execIn(ns, ["ip", "link", "set", "lo", "up"]);
    execIn(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"], { allowFail: true });
    return ns;
  }

  vethPair(opts: VethOptions = {}): VethPair {
    const a = uniqueName("a");
    const b = uniqueName("b");
    ip("link", "add", a, "type", "veth", "peer", "name", b);
    this.links.push([a, undefined]);
    const nsA = opts.nsA ? this.addNetns() : undefined;
    const nsB = opts.nsB ? this.addNetns() : undefined;
    if (nsA) {
      ip("link", "set", a, "netns", nsA);
      this.links[this.links.length - 1] = [a, nsA];
    }
    if (nsB) ip("link", "set", b, "netns", nsB);
    const nsArgs = (ns: string | undefined): string[] => (ns ? ["-n", ns] : []);
    for (const [name, ns, addr] of [[a, nsA, opts.addrA], [b, nsB, opts.addrB]] as const) {
      sysctlIf(ns, name, "disable_ipv6", "1");
      sysctlIf(ns, name, "accept_ra", "0");
      if (opts.mtu) ip(...nsArgs(ns), "link", "set", name, "mtu", String(opts.mtu));
      if (addr) ip(...nsArgs(ns), "addr", "add", addr, "dev", name);
    }
    if (opts.up ?? true) {
      ip(...nsArgs(nsA), "link", "set", a, "up");
      ip(...nsArgs(nsB), "link", "set", b, "up");
    }
    const spawnIn = (ns: string | undefined, cmd: string[]) => {
      const p = spawn(inNs(ns, cmd), { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      this.procs.push(p);
      return p;
    };
    return {
      a, b, nsA, nsB,
      macA: linkMac(a, nsA),
      macB: linkMac(b, nsB),
      execA: (cmd, o) => execIn(nsA, cmd, o),
      execB: (cmd, o) => execIn(nsB, cmd, o),
      spawnA: (cmd) => spawnIn(nsA, cmd),
      spawnB: (cmd) => spawnIn(nsB, cmd),
    };
  }

  /** Kills what it started and deletes links and namespaces; never throws; idempotent. */
  cleanup(): void {
    for (const p of this.procs.splice(0)) {
      try {
        p.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    for (const [name, ns] of this.links.splice(0)) {
      run(ns ? ["ip", "-n", ns, "link", "del", name] : ["ip", "link", "del", name], { allowFail: true });
    }
    for (const ns of this.namespaces.splice(0)) run(["ip", "netns", "del", ns], { allowFail: true });
    live.delete(this);
  }
}

/** Makes a veth pair (options: namespaces, addresses), runs `fn`, and removes everything, whatever happens. */
export async function withVethPair<T>(fn: (p: VethPair) => Promise<T> | T, opts: VethOptions = {}): Promise<T> {
  const net = new TestNet();
  try {
    return await fn(net.vethPair(opts));
  } finally {
    net.cleanup();
  }
}

// ---- pcap files and tcpdump ---------------------------------------------------------------------------

export interface PcapRecord {
  /** Seconds since the epoch (fractional). */
  time: number;
  /** Bytes on the wire (may exceed data.length when the capture was cut). */
  origLen: number;
  data: Uint8Array;
}

/** Parses a classic pcap file (µs or ns timestamps, either byte order). */
export function readPcap(bytes: Uint8Array): PcapRecord[] {
  if (bytes.length < 24) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = dv.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) { le = true; nano = m === 0xa1b23c4d; }
  else if (m === 0xd4c3b2a1 || m === 0x4d3cb2a1) { le = false; nano = m === 0x4d3cb2a1; }
  else throw new Error(`not a pcap file (magic 0x${m.toString(16)})`);
  const out: PcapRecord[] = [];
  let at = 24;
  while (at + 16 <= bytes.length) {
    const sec = dv.getUint32(at, le);
    const frac = dv.getUint32(at + 4, le);
    const incl = dv.getUint32(at + 8, le);
    const orig = dv.getUint32(at + 12, le);
    if (at + 16 + incl > bytes.length) break; // a record tcpdump had not finished writing
    out.push({ time: sec + frac / (nano ? 1e9 : 1e6), origLen: orig, data: bytes.slice(at + 16, at + 16 + incl) });
    at += 16 + incl;
  }
  return out;
}

/** `tcpdump -i IFACE -w FILE` (inside `ns` when given), started and ready to capture. */
export class Capture {
  private constructor(private readonly proc: Subprocess<"ignore", "pipe", "pipe">, private readonly dir: string, readonly file: string, private stderr: string) {}

  static async start(iface: string, ns?: string, filter: string[] = [], timeoutMs = 5000): Promise<Capture> {
    const dir = mkdtempSync(join(tmpdir(), "bdk-cap-"));
    const file = join(dir, "cap.pcap");
    // --immediate-mode: libpcap's default TPACKET_V3 ring hands frames over only when a block fills or its
    // timer fires (up to a second later), and frames in a half-full block are lost when tcpdump is stopped.
    // -U: write each packet as it arrives; -Z root: keep writing to our temp dir; -n: no name lookups.
    const proc = spawn(inNs(ns, ["tcpdump", "-i", iface, "-w", file, "--immediate-mode", "-U", "-n", "-Z", "root", "-s", "65535", ...filter]),
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    // tcpdump says "listening on IFACE" once its socket is bound: from then on it sees every frame.
    const reader = proc.stderr.getReader();
    let text = "";
    const deadline = Date.now() + timeoutMs;
    while (!text.includes("listening on")) {
      const left = deadline - Date.now();
      const chunk = await Promise.race([reader.read(), Bun.sleep(Math.max(left, 0)).then(() => undefined)]);
      if (chunk === undefined || chunk.done) {
        proc.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`tcpdump on ${iface} did not start: ${text.trim() || "(no output)"}`);
      }
      text += new TextDecoder().decode(chunk.value);
    }
    reader.releaseLock();
    return new Capture(proc, dir, file, text);
  }

  /** Waits `settleMs` for frames in flight, stops tcpdump, and returns what it wrote. */
  async stop(settleMs = 200): Promise<Uint8Array[]> {
    return (await this.stopRecords(settleMs)).map((r) => r.data);
  }

  async stopRecords(settleMs = 200): Promise<PcapRecord[]> {
    await Bun.sleep(settleMs);
    this.proc.kill("SIGINT");
    const killer = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await this.proc.exited;
    clearTimeout(killer);
    try {
      return readPcap(new Uint8Array(readFileSync(this.file)));
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  get startupText(): string {
    return this.stderr;
  }
}

// ---- raw frames -----------------------------------------------------------------------------------------

/**
 * Writes frames on `iface` through an AF_PACKET socket (bypassing the IP stack), in this process or, with
 * `ns`, in a child process inside that namespace. Returns how many the kernel accepted.
 */
export function sendRawFrames(iface: string, frames: readonly Uint8Array[], ns?: string): number {
  if (ns) {
    const dir = mkdtempSync(join(tmpdir(), "bdk-raw-"));
    try {
      const file = join(dir, "frames.bin");
      const total = frames.reduce((n, f) => n + 2 + f.length, 0);
      const buf = new Uint8Array(total);
      let at = 0;
      for (const f of frames) {
        buf[at] = f.length >> 8;
        buf[at + 1] = f.length & 0xff;
        buf.set(f, at + 2);
        at += 2 + f.length;
      }
      writeFileSync(file, buf);
      const bun = process.execPath;
      const r = execIn(ns, [bun, import.meta.path, "--send-raw", iface, file]);
      return Number(r.stdout.trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return sendRawHere(iface, frames);
}

function sendRawHere(iface: string, frames: readonly Uint8Array[]): number {
  // Loaded lazily so that the helpers above work without bun:ffi.
  const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    if_nametoindex: { args: [FFIType.ptr], returns: FFIType.u32 },
  });
  const s = libc.symbols;
  try {
    const idx = s.if_nametoindex(new TextEncoder().encode(iface + "\0"));
    if (idx === 0) throw new Error(`sendRawFrames: no interface ${iface}`);
    const fd = s.socket(17 /* AF_PACKET */, 3 /* SOCK_RAW */ | 0o2000000, 0);
    if (fd < 0) throw new Error("sendRawFrames: socket(AF_PACKET) failed (root?)");
    try {
      const sll = new Uint8Array(20);
      const dv = new DataView(sll.buffer);
      dv.setUint16(0, 17, true);
      dv.setInt32(4, idx, true);
      if (s.bind(fd, sll, 20) !== 0) throw new Error(`sendRawFrames: bind to ${iface} failed`);
      let n = 0;
      for (const f of frames) if (Number(s.send(fd, f, f.length, 0)) === f.length) n++;
      return n;
    } finally {
      s.close(fd);
    }
  } finally {
    libc.close();
  }
}

if (import.meta.main && process.argv[2] === "--send-raw") {
  const iface = process.argv[3]!;
  const buf = new Uint8Array(readFileSync(process.argv[4]!));
  const frames: Uint8Array[] = [];
  for (let at = 0; at + 2 <= buf.length;) {
    const len = (buf[at]! << 8) | buf[at + 1]!;
    frames.push(buf.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  console.log(sendRawHere(iface, frames));
}
