// One PCI function as sysfs shows it: ids and names, class, driver, driver_override, IOMMU group and
// its members, NUMA node, and the kernel interfaces it carries. Read-only; bind.ts changes things.
import { normalizePciAddress } from "./address.ts";
import { BdkError } from "../sys/errors.ts";
import { className, idPair, isBridgeClass, isNetworkClass, knownNic, vendorName } from "./ids.ts";
import { pciInterfaces, routeCounts, type NetInterface } from "./net.ts";
import { linkName, listDir, readAttr, roots, type HostPaths, type Roots } from "./paths.ts";

export type { NetInterface } from "./net.ts";

export interface PciFunction {
  /** "0000:00:02.0" */
  address: string;
  vendorId: number;
  deviceId: number;
  subsystemVendorId: number;
  subsystemDeviceId: number;
  /** 24-bit class code: base class, subclass, programming interface (0x020000 = Ethernet). */
  classCode: number;
  vendorName: string;
  /** The chip's short name for NICs bdk knows ("82540EM"); undefined otherwise. */
  chip: string | undefined;
  /** The lspci-style name when known, else the class name. */
  deviceName: string;
  className: string;
  isNetwork: boolean;
  isBridge: boolean;
  /** The bound driver ("e1000", "vfio-pci"), or null. */
  driver: string | null;
  /** What driver_override says, or null when it is unset ("(null)"). */
  driverOverride: string | null;
  /** The driver that normally owns this chip, when bdk knows it (where --restore-less release goes). */
  kernelDriver: string | undefined;
  iommuGroup: number | null;
  /** Every function of the IOMMU group, this one included, sorted. */
  groupMembers: string[];
  numaNode: number | null;
  interfaces: NetInterface[];
}

export function devicePath(r: Roots, bdf: string): string {
  return `${r.sys}/bus/pci/devices/${bdf}`;
}

function hexAttr(path: string): number {
  const t = readAttr(path);
  return t === undefined ? 0 : parseInt(t, 16) >>> 0;
}

/** Normalises "00:02.0" → "0000:00:02.0", or throws naming the accepted form. */
export function pciAddress(text: string): string {
  const a = normalizePciAddress(text);
  if (!a) throw new BdkError(`"${text}" is not a PCI address`, "write it as 0000:00:02.0 (or 00:02.0)");
  return a;
}

/** Every PCI function's address, sorted. */
export function listPciAddresses(paths?: HostPaths): string[] {
  const r = roots(paths);
  return listDir(`${r.sys}/bus/pci/devices`).filter((a) => normalizePciAddress(a) === a);
}

export function pciExists(bdf: string, paths?: HostPaths): boolean {
  return readAttr(`${devicePath(roots(paths), bdf)}/vendor`) !== undefined;
}

/** The members of IOMMU group N. */
export function groupDevices(r: Roots, group: number): string[] {
  return listDir(`${r.sys}/kernel/iommu_groups/${group}/devices`);
}

/** Reads one function; undefined when there is no such device. `routes` lets a scan parse /proc once. */
export function findPciFunction(bdf: string, paths?: HostPaths, routes?: Map<string, number>): PciFunction | undefined {
  const r = roots(paths);
  const dir = devicePath(r, bdf);
  const vendorText = readAttr(`${dir}/vendor`);
  if (vendorText === undefined) return undefined;
  const vendorId = parseInt(vendorText, 16) >>> 0;
  const deviceId = hexAttr(`${dir}/device`);
  const classCode = hexAttr(`${dir}/class`);
  const known = knownNic(vendorId, deviceId);
  const groupName = linkName(`${dir}/iommu_group`);
  const iommuGroup = groupName !== undefined && /^\d+$/.test(groupName) ? Number(groupName) : null;
  const override = readAttr(`${dir}/driver_override`);
  const numa = Number(readAttr(`${dir}/numa_node`) ?? "-1");
  return {
    address: bdf,
    vendorId,
    deviceId,
    subsystemVendorId: hexAttr(`${dir}/subsystem_vendor`),
    subsystemDeviceId: hexAttr(`${dir}/subsystem_device`),
    classCode,
    vendorName: vendorName(vendorId),
    chip: known?.chip,
    deviceName: known?.name ?? className(classCode),
    className: className(classCode),
    isNetwork: isNetworkClass(classCode),
    isBridge: isBridgeClass(classCode),
    driver: linkName(`${dir}/driver`) ?? null,
    driverOverride: override === undefined || override === "(null)" || override === "" ? null : override,
    kernelDriver: known?.kernelDriver,
    iommuGroup,
    groupMembers: iommuGroup === null ? [] : groupDevices(r, iommuGroup),
    numaNode: Number.isInteger(numa) && numa >= 0 ? numa : null,
    interfaces: pciInterfaces(r, bdf, routes ?? routeCounts(r)),
  };
}

/** Reads one function or throws the error a user should see for an unknown address. */
export function readPciFunction(bdf: string, paths?: HostPaths, routes?: Map<string, number>): PciFunction {
  const address = pciAddress(bdf);
  const dev = findPciFunction(address, paths, routes);
  if (!dev) throw noSuchDevice(address);
  return dev;
}

export function noSuchDevice(address: string): BdkError {
  return new BdkError(`no PCI device ${address}`, "list them with `bdk devbind --status`");
}

/** Every PCI function, in address order. */
export function scanPci(paths?: HostPaths): PciFunction[] {
  const routes = routeCounts(roots(paths));
  return listPciAddresses(paths).flatMap((a) => findPciFunction(a, paths, routes) ?? []);
}

/** "82540EM Gigabit Ethernet Controller 8086:100e". */
export function describePci(d: PciFunction): string {
  return `${d.deviceName} ${idPair(d.vendorId, d.deviceId)}`;
}

/** "0000:00:02.0 (82540EM, 8086:100e)": how errors name a device. */
export function shortName(d: PciFunction): string {
  return `${d.address} (${d.chip ? `${d.chip}, ` : ""}${idPair(d.vendorId, d.deviceId)})`;
}

/** Whether the function's interfaces are in use by the kernel's network stack. */
export function activeInterfaces(d: PciFunction): NetInterface[] {
  return d.interfaces.filter((i) => i.up || i.routes > 0);
}
