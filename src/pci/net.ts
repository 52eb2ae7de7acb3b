// The kernel network interfaces of a PCI function, whether they are up, and whether they carry routes:
// the things that make taking a NIC away from the kernel cut someone off (dpdk-devbind's "*Active*").
import { listDir, readAttr, type Roots } from "./paths.ts";

export interface NetInterface {
  name: string;
  /** IFF_UP in /sys/class/net/NAME/flags: the administrator set it up. */
  up: boolean;
  /** "up", "down", "unknown", … */
  operstate: string;
  mac: string | undefined;
  /** IPv4 routes in the main table plus IPv6 routes that are not link-local, multicast or local. */
  routes: number;
}

const IFF_UP = 0x1;
const RTF_REJECT = 0x0200;
const RTF_LOCAL = 0x80000000;

/** Routes per interface from /proc/net/route (IPv4 main table) and /proc/net/ipv6_route. */
export function routeCounts(r: Roots): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (dev: string): void => {
    if (dev !== "lo") counts.set(dev, (counts.get(dev) ?? 0) + 1);
  };
  for (const dev of parseIpv4Routes(readAttr(`${r.proc}/net/route`) ?? "")) add(dev);
  for (const dev of parseIpv6Routes(readAttr(`${r.proc}/net/ipv6_route`) ?? "")) add(dev);
  return counts;
}

/** Interface names, one per route, of /proc/net/route's text. */
export function parseIpv4Routes(text: string): string[] {
  return text.split("\n").slice(1).map((l) => l.trim().split(/\s+/)[0] ?? "").filter((d) => d !== "");
}

/**
 * Interface names, one per route that an administrator would call a route: not the fe80::/64 and
 * ff00::/8 routes every up interface gets, not local (own address) or reject entries.
 */
export function parseIpv6Routes(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const dest = f[0]!;
    const flags = parseInt(f[8]!, 16) >>> 0;
    if (dest.startsWith("fe8") || dest.startsWith("fe9") || dest.startsWith("fea") || dest.startsWith("feb")) continue;
    if (dest.startsWith("ff")) continue;
    if ((flags & RTF_LOCAL) !== 0 || (flags & RTF_REJECT) !== 0) continue;
    out.push(f[9]!);
  }
  return out;
}

/** The interfaces of a PCI function: under BDF/net, or BDF/virtioN/net for virtio-net. */
export function pciInterfaces(r: Roots, bdf: string, routes: Map<string, number>): NetInterface[] {
  const dev = `${r.sys}/bus/pci/devices/${bdf}`;
  const netDirs = [`${dev}/net`, ...listDir(dev).filter((d) => /^virtio\d+$/.test(d)).map((d) => `${dev}/${d}/net`)];
  return netDirs.flatMap((netDir) => listDir(netDir).map((name) => {
    const dir = `${netDir}/${name}`;
    const flags = parseInt(readAttr(`${dir}/flags`) ?? "0", 16) || 0;
    return {
      name,
      up: (flags & IFF_UP) !== 0,
      operstate: readAttr(`${dir}/operstate`) ?? "unknown",
      mac: readAttr(`${dir}/address`),
      routes: routes.get(name) ?? 0,
    };
  }));
}
