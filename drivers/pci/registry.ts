// The chip drivers (poll-mode drivers) for PCI NICs: e1000, igb, ixgbe register here with the ids they
// drive. drivers/pci opens the VFIO device and hands it to the matching one.
import type { DriverDef, OpenOptions } from "../../src/ethdev/driver.ts";
import type { Port } from "../../src/ethdev/port.ts";
import { idPair } from "../../src/pci/ids.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { VfioDevice } from "../../src/vfio/device.ts";

/** What a PCI port spec may say beyond its address (`0000:01:00.0,vectors=3`). */
export interface PciParams {
  /** MSI-X vectors to use; a driver without MSI-X refuses it. */
  vectors?: number;
}

export interface PciDriver {
  /** "e1000", "igb", "ixgbe". */
  name: string;
  /** [vendor, device] pairs this driver takes. */
  ids: readonly (readonly [number, number])[];
  /**
   * Builds the port around an open VFIO device. The port owns the device from then on and closes it in
   * its release(). If create throws, drivers/pci closes the device.
   */
  create(device: VfioDevice, spec: string, options: OpenOptions, params: PciParams): Port;
}

const drivers: PciDriver[] = [];

export function registerPciDriver(d: PciDriver): void {
  if (!d || typeof d.create !== "function" || !Array.isArray(d.ids)) {
    throw new BdkError("registerPciDriver needs { name, ids: [[vendor, device], …], create }", "see drivers/pci/registry.ts");
  }
  for (const [v, dev] of d.ids) {
    const other = findPciDriver(v, dev);
    if (other) throw new BdkError(`${idPair(v, dev)} is already driven by ${other.name}`, `register ${d.name} for other ids`);
  }
  drivers.push(d);
}

/** Removes a driver (tests). */
export function unregisterPciDriver(name: string): void {
  const i = drivers.findIndex((d) => d.name === name);
  if (i >= 0) drivers.splice(i, 1);
}

export function findPciDriver(vendor: number, device: number): PciDriver | undefined {
  return drivers.find((d) => d.ids.some(([v, dev]) => v === vendor && dev === device));
}

export function pciDrivers(): readonly PciDriver[] {
  return drivers;
}

export type { DriverDef };
