// A throw-away network lab: private network namespaces joined by veth pairs, built with iproute2 and
// always torn down (deleting a namespace deletes the veth ends inside it). The demo and the benches use
// it to get a wire without a NIC; nothing is created in the caller's own namespace.
//
// A lab whose process was killed (SIGKILL, a crash) cannot tear itself down: its namespaces stay until
// someone deletes them. Labs tagged with their process id (`${prefix}${pid}`) can be found again:
// reapStaleLabs(prefix) removes those whose process is gone, and stops whatever still runs inside them.
import { readFileSync } from "node:fs";
import { BdkError } from "../../src/index.ts";

export interface VethLink {
  /** [namespace, interface] of each end. */
  a: [string, string];
  b: [string, string];
}

function ip(args: string[], what: string): string {
  const r = Bun.spawnSync(["ip", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    const err = r.stderr.toString().trim();
    if (r.exitCode === null || /not found|ENOENT/i.test(err)) throw new BdkError(`${what}: cannot run "ip"`, "install iproute2 (scripts/setup.sh does)");
    throw new BdkError(`${what}: ip ${args.join(" ")} failed: ${err}`, /Operation not permitted/.test(err) ? "run as root" : "see the message above");
  }
  return r.stdout.toString();
}

export function listNamespaces(): string[] {
  return ip(["netns", "list"], "list namespaces").split("\n").map((l) => l.split(" ")[0]!).filter(Boolean);
}

/** The command line of a running process (empty for a zombie or a process that is gone). */
export function processCmdline(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return [];
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** The processes running inside a namespace (`ip netns pids`); [] when there are none or it is gone. */
export function namespacePids(ns: string): number[] {
  const r = Bun.spawnSync(["ip", "netns", "pids", ns], { stdout: "pipe", stderr: "ignore" });
  if (r.exitCode !== 0) return [];
  return r.stdout.toString().split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

export interface StaleLab {
  /** The process that made the lab (gone). */
  pid: number;
  /** Its namespaces, removed. */
  namespaces: string[];
  /** Processes that still ran inside them, killed. */
  killed: number[];
}

/**
 * Finds the namespaces of labs tagged `${prefix}<pid>` (NetLab names them `${prefix}<pid>-NAME`) whose process
 * is gone, kills what still runs inside them and deletes them. `owns(cmdline)` tells whether a live process
 * is the lab's maker (a pid reused by another program does not keep a lab alive); by default any live
 * process does. Labs of live processes are left alone. Never throws for a namespace that vanished meanwhile.
 */
export function reapStaleLabs(prefix: string, owns: (cmdline: string[]) => boolean = () => true): StaleLab[] {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\d+)-`);
  const byPid = new Map<number, string[]>();
  for (const ns of listNamespaces()) {
    const m = re.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    byPid.set(pid, [...(byPid.get(pid) ?? []), ns]);
  }
  const out: StaleLab[] = [];
  for (const [pid, namespaces] of byPid) {
    if (pid === process.pid) continue;
    const cmd = processCmdline(pid);
    if (cmd.length > 0 && owns(cmd)) continue;
    const killed: number[] = [];
    for (const ns of namespaces) {
      for (const p of namespacePids(ns)) {
        try {
          process.kill(p, "SIGKILL");
          killed.push(p);
        } catch {
          // already gone
        }
      }
    }
    for (const ns of namespaces) Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
    out.push({ pid, namespaces, killed });
  }
  return out;
}

export class NetLab {
  private readonly namespaces: string[] = [];
  private destroyed = false;

  /** `tag` names everything this lab creates, so that leftovers are recognisable. */
  constructor(readonly tag: string) {}

  namespace(name: string): string {
    const full = `${this.tag}-${name}`;
    if (listNamespaces().includes(full)) ip(["netns", "del", full], `remove stale namespace ${full}`);
    ip(["netns", "add", full], `create namespace ${full}`);
    this.namespaces.push(full);
    // Quiet wires: no IPv6 autoconfiguration or router solicitations to mix with our frames.
    this.exec(full, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
    this.exec(full, ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
    ip(["-n", full, "link", "set", "lo", "up"], `bring up lo in ${full}`);
    return full;
  }

  /** A veth pair with its ends created directly inside the two namespaces, both up (with `mtu`, both ends get it). */
  veth(a: [string, string], b: [string, string], opts: { mtu?: number } = {}): VethLink {
    const mtu = opts.mtu === undefined ? [] : ["mtu", String(opts.mtu)];
    ip(["link", "add", a[1], ...mtu, "netns", a[0], "type", "veth", "peer", "name", b[1], ...mtu, "netns", b[0]], `create veth ${a[1]}/${b[1]}`);
    for (const [ns, dev] of [a, b]) {
      ip(["-n", ns, "link", "set", dev, "up"], `bring up ${dev}`);
    }
    return { a, b };
  }

  /** Runs a command inside a namespace and returns its stdout; throws on failure. */
  exec(ns: string, cmd: string[]): string {
    const r = Bun.spawnSync(["ip", "netns", "exec", ns, ...cmd], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new BdkError(`in namespace ${ns}: ${cmd.join(" ")} failed: ${r.stderr.toString().trim()}`, "see the message above");
    return r.stdout.toString();
  }

  /** The argv prefix that runs a program inside a namespace. */
  prefix(ns: string): string[] {
    return ["ip", "netns", "exec", ns];
  }

  /** Deletes every namespace this lab made (and so every veth in them). Idempotent; never throws. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const ns of this.namespaces.reverse()) {
      Bun.spawnSync(["ip", "netns", "del", ns], { stdout: "ignore", stderr: "ignore" });
    }
  }
}
