// What software ports (ring, null, pcap) share beyond PortBase: a MAC, a promiscuous flag and an MTU that
// live only in the port object, checked the way a NIC driver would check them.
import { BdkError } from "../sys/errors.ts";
import { PortBase } from "./base.ts";

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** A port's own address: six hex bytes, unicast. Returns it lower-cased. */
export function checkUnicastMac(portName: string, mac: string): string {
  if (typeof mac !== "string" || !MAC_RE.test(mac)) throw new BdkError(`${portName}: "${mac}" is not a MAC address`, "write it as 02:00:00:00:00:01");
  if (parseInt(mac.slice(0, 2), 16) & 1) throw new BdkError(`${portName}: ${mac} is a multicast address`, "a port's own address must be unicast (first byte even)");
  return mac.toLowerCase();
}

export abstract class SoftPortBase extends PortBase {
  protected mac: string;
  protected promisc = true;
  protected mtuValue = 1500;

  constructor(spec: string, driver: string, name: string, mac: string) {
    super(spec, driver, name);
    this.mac = mac;
  }

  /** Called after the MAC changed (a port that bakes it into frames rebuilds them). */
  protected onMacChange(): void {}

  macAddress(): string {
    return this.mac;
  }

  setMacAddress(mac: string): void {
    this.mac = checkUnicastMac(this.name, mac);
    this.onMacChange();
  }

  promiscuous(): boolean {
    return this.promisc;
  }

  setPromiscuous(on: boolean): void {
    this.promisc = on;
  }

  mtu(): number {
    return this.mtuValue;
  }

  /** The MTU may grow up to the frame size the port and its pool's buffers allow. */
  setMtu(mtu: number): void {
    const frame = Math.min(this.capabilities().maxFrameSize, this.config ? this.config.pool.dataRoom : Infinity);
    const max = frame - 18;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) throw new BdkError(`${this.name}: MTU ${mtu} is out of range`, `this port supports 68..${max}`);
    this.mtuValue = mtu;
  }
}
