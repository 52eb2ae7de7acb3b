// Kernel network interfaces seen by name: existence and index, flags (up, running, promiscuous), MAC, MTU,
// carrier, operstate, speed and duplex; and the few changes a port makes (MTU, MAC). Setup-time only.
//
// Flags, MAC and MTU come from ioctls on a socket of this process, so they are right for the network
// namespace the process is in. Carrier, operstate, speed and duplex come from /sys/class/net/IFACE, which
// shows the namespace sysfs was mounted in (`ip netns exec` remounts it; a bare setns does not).
import { readFileSync } from "node:fs";
import { BdkError } from "./errors.ts";
import { SysError } from "./errno.ts";
import { close, ifNameToIndex, ioctlPtr, socket } from "./libc.ts";

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_MULTICAST = 0x1000;

// linux/sockios.h
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const SIOCGIFMTU = 0x8921;
const SIOCSIFMTU = 0x8922;
const SIOCSIFHWADDR = 0x8924;
const SIOCGIFHWADDR = 0x8927;
const ARPHRD_ETHER = 1;
const AF_INET = 2;
const SOCK_DGRAM = 2;

/** struct ifreq: char ifr_name[16]; then a 24-byte union (short flags, int mtu, struct sockaddr hwaddr …). */
const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

export interface NetdevInfo {
  name: string;
  ifindex: number;
  /** "02:00:00:00:00:01", lower case. */
  mac: string;
  mtu: number;
  /** Interface flags (IFF_*), as SIOCGIFFLAGS reports them. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (sysfs `carrier`; IFF_RUNNING when sysfs cannot tell). */
  carrier: boolean;
  /** "up", "down", "lowerlayerdown", "unknown" … (sysfs `operstate`). */
  operstate: string;
  /** Mbit/s from sysfs `speed`; 0 when unknown. */
  speedMbps: number;
  fullDuplex: boolean;
}

/** Refuses names that are not interface names (and could walk out of /sys/class/net). */
export function checkIfName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.length >= IFNAMSIZ || /[/\s:]/.test(name) || name === "." || name === "..") {
    throw new BdkError(`"${String(name)}" is not a network interface name`, `give 1..${IFNAMSIZ - 1} characters without "/", ":" or spaces; list interfaces with \`ip link\``);
  }
}

/** The interface's index, or an error naming it and how to list interfaces. */
export function netdevIndex(name: string): number {
  checkIfName(name);
  try {
    return ifNameToIndex(name);
  } catch (e) {
    if (e instanceof SysError) throw new BdkError(`no network interface named "${name}"`, "list them with `ip link`");
    throw e;
  }
}

export function netdevExists(name: string): boolean {
  try {
    netdevIndex(name);
    return true;
  } catch {
    return false;
  }
}

function ifreq(name: string): Uint8Array {
  checkIfName(name);
  const r = new Uint8Array(IFREQ_SIZE);
  r.set(new TextEncoder().encode(name), 0);
  return r;
}

/** Runs `f` with a datagram socket for interface ioctls (any socket reaches dev_ioctl; an inet one needs no privilege to read). */
function withSocket<T>(f: (fd: number) => T): T {
  const fd = socket(AF_INET, SOCK_DGRAM, 0, "AF_INET/SOCK_DGRAM for interface ioctls");
  try {
    return f(fd);
  } finally {
    close(fd);
  }
}

function ioctlIfreq(fd: number, req: number, r: Uint8Array, what: string, hint?: string): void {
  ioctlPtr(fd, req, r, what, hint);
}

function readSysfs(name: string, attr: string): string | undefined {
  try {
    return readFileSync(`/sys/class/net/${name}/${attr}`, "utf8").trim();
  } catch {
    return undefined; // e.g. carrier and speed of a down interface read as EINVAL
  }
}

export function netdevFlags(name: string): number {
  const r = ifreq(name);
  withSocket((fd) => ioctlIfreq(fd, SIOCGIFFLAGS, r, `SIOCGIFFLAGS ${name}`, `list interfaces with \`ip link\``));
  return r[16]! | (r[17]! << 8);
}

/**
 * dev->flags as /sys/class/net/IFACE/flags shows them. Unlike SIOCGIFFLAGS, these include IFF_PROMISC when
 * it comes from a packet socket's membership or a bridge (the ioctl shows only `ip link set … promisc on`).
 */
export function netdevSysfsFlags(name: string): number {
  checkIfName(name);
  const t = readSysfs(name, "flags");
  if (t === undefined) throw new BdkError(`cannot read /sys/class/net/${name}/flags`, "check the interface exists (`ip link`) and that /sys shows this namespace");
  return parseInt(t, 16);
}

/** Whether the interface is in promiscuous mode, whoever asked for it (a port, tcpdump, a bridge). */
export function netdevPromiscuous(name: string): boolean {
  return (netdevSysfsFlags(name) & IFF_PROMISC) !== 0;
}

export function netdevMtu(name: string): number {
  const r = ifreq(name);
  withSocket((fd) => ioctlIfreq(fd, SIOCGIFMTU, r, `SIOCGIFMTU ${name}`));
  return new DataView(r.buffer).getInt32(16, true);
}

export function netdevMac(name: string): string {
  const r = ifreq(name);
  withSocket((fd) => ioctlIfreq(fd, SIOCGIFHWADDR, r, `SIOCGIFHWADDR ${name}`));
  return formatMac(r, 18);
}

export function netdevInfo(name: string): NetdevInfo {
  const ifindex = netdevIndex(name);
  const flags = netdevFlags(name);
  const carrierText = readSysfs(name, "carrier");
  const operstate = readSysfs(name, "operstate") ?? ((flags & IFF_RUNNING) ? "up" : "down");
  const speed = Number(readSysfs(name, "speed") ?? "0");
  return {
    name,
    ifindex,
    mac: netdevMac(name),
    mtu: netdevMtu(name),
    flags,
    up: (flags & IFF_UP) !== 0,
    carrier: carrierText === undefined ? (flags & IFF_RUNNING) !== 0 : carrierText === "1",
    operstate,
    speedMbps: Number.isInteger(speed) && speed > 0 ? speed : 0,
    fullDuplex: readSysfs(name, "duplex") !== "half",
  };
}

/** Link as a port reports it: up when administratively up, with carrier, and operationally up (or "unknown", as lo and tun say). */
export function netdevLinkUp(info: NetdevInfo): boolean {
  return info.up && info.carrier && (info.operstate === "up" || info.operstate === "unknown");
}

/** Throws unless the interface exists and is administratively up. */
export function requireUp(name: string): void {
  netdevIndex(name);
  if ((netdevFlags(name) & IFF_UP) === 0) {
    throw new BdkError(`interface ${name} is down`, `bring it up: \`ip link set ${name} up\``);
  }
}

export function setNetdevMtu(name: string, mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new BdkError(`${name}: MTU ${mtu} is out of range`, "give 68..65535");
  const r = ifreq(name);
  new DataView(r.buffer).setInt32(16, mtu, true);
  withSocket((fd) => ioctlIfreq(fd, SIOCSIFMTU, r, `SIOCSIFMTU ${name} ${mtu}`,
    `the interface may not support MTU ${mtu} (see \`ip -d link show ${name}\` for minmtu/maxmtu); changing it needs root or CAP_NET_ADMIN`));
}

export function setNetdevMac(name: string, mac: string): void {
  const bytes = parseMacText(mac, name);
  const r = ifreq(name);
  r[16] = ARPHRD_ETHER;
  r[17] = 0;
  r.set(bytes, 18);
  withSocket((fd) => ioctlIfreq(fd, SIOCSIFHWADDR, r, `SIOCSIFHWADDR ${name} ${mac}`,
    `some devices take a new address only while down (\`ip link set ${name} down\`); changing it needs root or CAP_NET_ADMIN`));
}

/** Sets or clears IFF_UP (needs CAP_NET_ADMIN). */
export function setNetdevUp(name: string, up: boolean): void {
  const r = ifreq(name);
  withSocket((fd) => {
    ioctlIfreq(fd, SIOCGIFFLAGS, r, `SIOCGIFFLAGS ${name}`);
    const flags = (r[16]! | (r[17]! << 8));
    const next = up ? flags | IFF_UP : flags & ~IFF_UP;
    r[16] = next & 0xff;
    r[17] = (next >> 8) & 0xff;
    ioctlIfreq(fd, SIOCSIFFLAGS, r, `SIOCSIFFLAGS ${name}`, "changing interface flags needs root or CAP_NET_ADMIN");
  });
}

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** "02:00:00:00:00:01" → 6 bytes; refuses malformed, multicast and all-zero addresses for an interface. */
export function parseMacText(mac: string, who = "interface"): Uint8Array {
  if (typeof mac !== "string" || !MAC_RE.test(mac)) throw new BdkError(`${who}: "${String(mac)}" is not a MAC address`, "write it as 02:00:00:00:00:01");
  const b = new Uint8Array(mac.split(":").map((x) => parseInt(x, 16)));
  if (b[0]! & 1) throw new BdkError(`${who}: ${mac} is a multicast address`, "an interface's own address must be unicast (first byte even)");
  if (b.every((x) => x === 0)) throw new BdkError(`${who}: ${mac} is the zero address`, "give a unicast address such as 02:00:00:00:00:01");
  return b;
}

export function formatMac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[off + i]!.toString(16).padStart(2, "0"));
  return parts.join(":");
}
