// A throw-away network lab: private network namespaces joined by veth pairs, built with iproute2 and
// always torn down (deleting a namespace deletes the veth ends inside it). The demo and the benches use
// it to get a wire without a NIC; nothing is created in the caller's own namespace.
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

  /** A veth pair with its ends created directly inside the two namespaces, both up. */
  veth(a: [string, string], b: [string, string]): VethLink {
    ip(["link", "add", a[1], "netns", a[0], "type", "veth", "peer", "name", b[1], "netns", b[0]], `create veth ${a[1]}/${b[1]}`);
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
