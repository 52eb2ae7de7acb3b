// The kernel interface under a software port (af_packet, and af_xdp beside it): its link as the kernel says
// (down, with the reason, when the interface is gone or was made again), a netlink socket that becomes
// readable when a link changes, MAC and MTU through ioctls, and promiscuous mode held as a membership on a
// packet socket of our own for as long as the port asks (close drops it: the interface leaves promiscuous
// mode unless someone else, tcpdump say, holds it too). Opening it also proves that we may use AF_PACKET.
import { PortBase } from "../../src/ethdev/base.ts";
import type { LinkStatus } from "../../src/ethdev/port.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { close, raw } from "../../src/sys/libc.ts";
import {
  netdevExists, netdevInfo, netdevLinkUp, netdevMac, netdevMtu, netdevPromiscuous, setNetdevMac, setNetdevMtu, type NetdevInfo,
} from "../../src/sys/netdev.ts";
import { LinkMonitor } from "../../src/sys/netlink.ts";
import { packetSocket } from "./socket.ts";
import { PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP, PACKET_MR_PROMISC, packetMreq, SOL_PACKET } from "./uapi.ts";

const LINK_DOWN: LinkStatus = { up: false, speedMbps: 0, fullDuplex: false };

export class KernelInterface {
  /** Holds the promiscuous membership; -1 once closed. */
  private ctlFd: number;
  private readonly monitor: LinkMonitor;
  private promisc = false;

  /** `name` starts the messages (the port's name); `spec` names what failed to open. */
  constructor(readonly name: string, readonly iface: string, readonly ifindex: number, spec: string) {
    this.ctlFd = packetSocket(spec);
    try {
      this.monitor = new LinkMonitor(spec);
    } catch (e) {
      close(this.ctlFd);
      throw e;
    }
  }

  /** The interface's link; down (not an error) when the interface is gone. */
  link(): LinkStatus {
    if (!netdevExists(this.iface)) return this.down(`interface ${this.iface} (ifindex ${this.ifindex}) no longer exists`);
    let info: NetdevInfo;
    try {
      info = netdevInfo(this.iface);
    } catch (e) {
      return this.down(`cannot read interface ${this.iface}: ${(e as Error).message}`);
    }
    if (info.ifindex !== this.ifindex) return this.down(`interface ${this.iface} was deleted and made again (ifindex ${this.ifindex} → ${info.ifindex})`);
    const up = netdevLinkUp(info);
    return { up, speedMbps: up ? info.speedMbps : 0, fullDuplex: info.fullDuplex };
  }

  /** A link that cannot be read is down, with the reason (pollEvents puts it in the event). */
  private down(reason: string): LinkStatus {
    return { ...LINK_DOWN, reason: `${this.name}: ${reason}` };
  }

  /** A netlink socket that becomes readable when a link changes (any of the namespace's: pollEvents sorts it out); -1 once closed. */
  get eventFd(): number {
    return this.monitor.fd;
  }

  drainEvents(): void {
    this.monitor.drain();
  }

  macAddress(): string {
    return netdevMac(this.iface);
  }

  setMacAddress(mac: string): void {
    setNetdevMac(this.iface, mac);
  }

  /** Whether we hold the interface in promiscuous mode (others, e.g. tcpdump, may hold it too: see interfacePromiscuous). */
  promiscuous(): boolean {
    return this.promisc;
  }

  setPromiscuous(on: boolean): void {
    if (on === this.promisc) return;
    this.membership(on ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, this.ctlFd);
    this.promisc = on;
  }

  /** True when the kernel says the interface is promiscuous, whoever asked for it. */
  interfacePromiscuous(): boolean {
    return netdevPromiscuous(this.iface);
  }

  mtu(): number {
    return netdevMtu(this.iface);
  }

  /** The interface's MTU; the port checks the value against its own limits first. */
  setMtu(mtu: number): void {
    setNetdevMtu(this.iface, mtu);
  }

  /** Drops the membership (if held) and closes both sockets. Idempotent. */
  close(): void {
    this.monitor.close();
    const fd = this.ctlFd;
    if (fd < 0) return;
    this.ctlFd = -1;
    try {
      if (this.promisc) this.membership(PACKET_DROP_MEMBERSHIP, fd);
    } catch {
      // the interface may be gone; closing the socket drops the membership anyway
    } finally {
      this.promisc = false;
      close(fd);
    }
  }

  private membership(op: number, fd: number): void {
    const r = raw.setsockopt(fd, SOL_PACKET, op, packetMreq(this.ifindex, PACKET_MR_PROMISC), 16);
    if (r !== 0) {
      throw new BdkError(`${this.name}: ${op === PACKET_ADD_MEMBERSHIP ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP"} (promiscuous) failed`,
        "check that the interface still exists (`ip link`)");
    }
  }
}

/**
 * A port on a kernel interface: the control plane the interface itself answers (link, link events, MAC,
 * promiscuous mode, MTU read) goes to its KernelInterface; the subclass sets `netif` in its constructor and
 * keeps what is its own (queues, MTU limits, release).
 */
export abstract class KernelInterfacePort extends PortBase {
  protected abstract readonly netif: KernelInterface;

  /** The interface's link; down (not an error) when the interface is gone. */
  link(): LinkStatus {
    this.assertOpen();
    return this.netif.link();
  }

  /** A netlink socket that becomes readable when a link changes (any of the namespace's: pollEvents sorts it out); -1 once closed. */
  override eventFd(): number {
    return this.netif.eventFd;
  }

  protected override drainEventFd(): void {
    this.netif.drainEvents();
  }

  macAddress(): string {
    this.assertOpen();
    return this.netif.macAddress();
  }

  setMacAddress(mac: string): void {
    this.assertOpen();
    this.netif.setMacAddress(mac);
  }

  /** Whether this port holds the interface in promiscuous mode (others, e.g. tcpdump, may hold it too: see interfacePromiscuous). */
  promiscuous(): boolean {
    return this.netif.promiscuous();
  }

  setPromiscuous(on: boolean): void {
    this.assertOpen();
    this.netif.setPromiscuous(on);
  }

  /** True when the kernel says the interface is promiscuous, whoever asked for it. */
  interfacePromiscuous(): boolean {
    return this.netif.interfacePromiscuous();
  }

  mtu(): number {
    this.assertOpen();
    return this.netif.mtu();
  }
}
