// Receive filters as every Intel chip of bdk keeps them: a 4096-bit multicast table indexed by bits 47:36 of
// the group address (MO = 00 in the 8254x/82574/82576 RCTL and the 82599 MCSTCTRL), and a 4096-bit VLAN
// filter table, one bit per VLAN id. The checks and the table arithmetic; each port writes its own registers.
import { RX_OFFLOAD_VLAN_FILTER } from "../../src/ethdev/offloads.ts";
import type { ResolvedPortConfig } from "../../src/ethdev/port.ts";
import { parseMac } from "../../src/net/ether.ts";
import { BdkError } from "../../src/sys/errors.ts";

/** 8254x SDM 13.4.22 (RCTL.MO = 00), 82599 8.2.3.7.10 (MCSTCTRL.MO = 00): bits 47:36 of the group address. */
export function multicastHash(mac: string): number {
  const b = parseMac(mac);
  return ((b[4]! >>> 4) | (b[5]! << 4)) & 0xfff;
}

/** The 128 words of the multicast table for exactly these groups; refuses anything but group addresses. */
export function multicastTable(name: string, macs: readonly string[]): Uint32Array {
  const words = new Uint32Array(128);
  for (const mac of macs) {
    if (typeof mac !== "string" || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 0) {
      throw new BdkError(`${name}: "${mac}" is not a multicast MAC address`, "give group addresses (first byte odd), e.g. 01:00:5e:00:00:fb");
    }
    const h = multicastHash(mac);
    words[h >>> 5]! |= 1 << (h & 31);
  }
  return words;
}

/** setVlanFilter's preconditions: the port was configured with RX_OFFLOAD_VLAN_FILTER, and vid is 0..4095. */
export function checkVlanFilter(name: string, config: ResolvedPortConfig | undefined, vid: number): void {
  if (!config || (config.rxOffloads & RX_OFFLOAD_VLAN_FILTER) === 0) {
    throw new BdkError(`${name}: setVlanFilter() on a port configured without RX_OFFLOAD_VLAN_FILTER`, "configure the port with rxOffloads: RX_OFFLOAD_VLAN_FILTER");
  }
  if (!Number.isInteger(vid) || vid < 0 || vid > 4095) throw new BdkError(`${name}: VLAN id ${vid} is out of range`, "give 0..4095");
}
