// The host's side of the rig's NIC tests: wires, namespaces with a TAP each, and the guest's `@@name {json}`
// result lines. Shared by nics.test.ts (e1000/e1000e) and igb.test.ts.
import { exec } from "./exec.ts";
import type { RunResult } from "./rig.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;

/** Two free UDP ports for NICs wired to each other: `e1000:udp=A:B` and `e1000e:udp=B:A`. */
export async function crossedWire(): Promise<[number, number]> {
  const [a, b] = await Promise.all([Bun.udpSocket({ hostname: "127.0.0.1", port: 0 }), Bun.udpSocket({ hostname: "127.0.0.1", port: 0 })]);
  const ports: [number, number] = [a.port, b.port];
  a.close();
  b.close();
  return ports;
}

/** Runs argv on the host; resolves with its output (throws on a non-zero exit). */
export async function sh(...argv: string[]): Promise<string> {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")}: exit ${code}: ${err.trim()}`);
  return out;
}

/**
 * `bdk pktgen --rx-only SPEC --count N` on the host (argv wrapped by `inNs`, e.g. a namespace), returned once
 * it says it receives; `result()` waits for it to end and gives its JSON.
 */
export async function startReceiver(inNs: (argv: string[]) => string[], spec: string, count: number): Promise<{ result(): Promise<any> }> {
  const rx = Bun.spawn(inNs([process.execPath, `${ROOT}apps/pktgen.ts`, "--rx-only", spec, "--count", String(count), "--duration", "120", "--json", "--interval", "0.5"]),
    { stdout: "pipe", stderr: "pipe" });
  const reader = rx.stderr.getReader();
  let seen = "";
  while (!seen.includes("RX ")) {
    const c = await reader.read();
    if (c.done) break;
    seen += new TextDecoder().decode(c.value);
  }
  reader.releaseLock();
  return {
    async result() {
      const out = await new Response(rx.stdout).text();
      await rx.exited;
      return JSON.parse(out.trim().split("\n").pop() ?? "null");
    },
  };
}

/** The guest's `@@name {json}` lines by name (the last one wins). */
export function results(r: RunResult): Map<string, any> {
  const m = new Map<string, any>();
  for (const line of r.output.split("\n")) {
    const x = /^@@([\w-]+) (.*)$/.exec(line.trim());
    if (x) m.set(x[1]!, JSON.parse(x[2]!));
  }
  return m;
}

/**
 * Host TAPs, each moved into its own network namespace with an address (192.0.2.1, .2 …), MTU and IPv6
 * off (so the host's kernel sends nothing unasked: no router solicitations, no MLD), once QEMU holds them.
 */
export class TapNamespaces {
  readonly taps: string[];
  readonly namespaces: string[];

  constructor(prefix: string, count: number) {
    const tag = `${process.pid % 100000}`;
    this.taps = Array.from({ length: count }, (_, i) => `${prefix}${String.fromCharCode(65 + i)}${tag}`);
    this.namespaces = this.taps.map((t) => `${t}n`);
  }

  /** Before the boot: the namespaces. */
  async create(): Promise<void> {
    for (const ns of this.namespaces) await sh("ip", "netns", "add", ns);
  }

  /** In the rig's onStart: each TAP into its namespace, up, addressed. */
  async wire(mtu = 1500): Promise<void> {
    for (let i = 0; i < this.taps.length; i++) {
      const [tap, ns] = [this.taps[i]!, this.namespaces[i]!];
      await sh("ip", "link", "set", tap, "netns", ns);
      await sh("ip", "netns", "exec", ns, "sysctl", "-qw", `net.ipv6.conf.${tap}.disable_ipv6=1`);
      await sh("ip", "-n", ns, "link", "set", tap, "mtu", String(mtu));
      await sh("ip", "-n", ns, "addr", "add", `192.0.2.${i + 1}/24`, "dev", tap);
      await sh("ip", "-n", ns, "link", "set", tap, "up");
      await sh("ip", "-n", ns, "link", "set", "lo", "up");
    }
  }

  /** argv run inside namespace i. */
  in(i: number, argv: string[]): string[] {
    return ["ip", "netns", "exec", this.namespaces[i]!, ...argv];
  }

  /** A counter of TAP i from /sys (rx_packets, tx_packets …). */
  counter(i: number, name: string): number {
    return Number(Bun.spawnSync(this.in(i, ["cat", `/sys/class/net/${this.taps[i]}/statistics/${name}`])).stdout.toString());
  }

  async remove(): Promise<void> {
    for (const ns of this.namespaces) await exec(["ip", "netns", "del", ns]);
  }
}
