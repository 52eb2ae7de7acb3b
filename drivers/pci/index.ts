// `0000:00:02.0` (or `00:02.0`): a PCI NIC through VFIO. Opening runs the safe-assignment verdict and
// refuses an unsafe device with every reason and its fix; then opens the VFIO device and hands it to the
// chip driver registered for its ids (drivers/pci/registry.ts).
import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef, OpenOptions } from "../../src/ethdev/driver.ts";
import type { Port } from "../../src/ethdev/port.ts";
import { pciAddress } from "../../src/pci/device.ts";
import { idPair } from "../../src/pci/ids.ts";
import type { HostPaths } from "../../src/pci/paths.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { VfioDevice } from "../../src/vfio/device.ts";
import { assignmentVerdict, onlyNoIommu, type Verdict } from "../../src/vfio/safety.ts";
import { findPciDriver, pciDrivers, type PciParams } from "./registry.ts";

export { registerPciDriver, findPciDriver, pciDrivers, unregisterPciDriver, type PciDriver } from "./registry.ts";

/** Where the PCI driver looks (tests point it at recorded trees; the default is the real system). */
let hostPaths: HostPaths | undefined;
export function setPciHostPaths(p: HostPaths | undefined): void {
  hostPaths = p;
}

/** The error for an unsafe device: one line per reason, each with its fix. */
export function unsafeError(v: Verdict): BdkError {
  const name = v.device ? `${v.address} (${v.device.chip ?? idPair(v.device.vendorId, v.device.deviceId)})` : v.address;
  const problems = v.reasons.map((r, i) => `(${i + 1}) ${r.problem}`).join("; ");
  const fixes = v.reasons.map((r, i) => `(${i + 1}) ${r.fix}`).join("; ");
  return new BdkError(`refusing to open ${name}: ${problems}`, `fix: ${fixes}`);
}

export const NOIOMMU_WARNING = (addr: string): string =>
  `bdk: WARNING: ${addr} is open in VFIO no-IOMMU mode (allowUnsafeNoIommu): the NIC can read and write ANY memory of ` +
  "this machine, a driver bug or a malicious device can corrupt the kernel, and the kernel is now tainted. " +
  "Use this only on a machine without an IOMMU that you can afford to crash; see docs/assigning-a-nic.md";

/**
 * The checked open shared by openPort and tests: verdict, VFIO open, chip driver. Returns the port, or
 * throws after closing whatever it opened.
 */
export function openPciPort(address: string, spec: string, options: OpenOptions, params: PciParams = {}): Port {
  const addr = pciAddress(address);
  const v = assignmentVerdict(addr, hostPaths);
  if (!v.safe) {
    if (!(options.allowUnsafeNoIommu && onlyNoIommu(v))) throw unsafeError(v);
    console.warn(NOIOMMU_WARNING(addr));
  }
  const dev = v.device!;
  const device = VfioDevice.open(addr, { paths: hostPaths, allowNoIommu: options.allowUnsafeNoIommu === true });
  const chip = findPciDriver(dev.vendorId, dev.deviceId);
  if (!chip) {
    device.close();
    const have = pciDrivers();
    throw new BdkError(
      `no bdk poll-mode driver for ${idPair(dev.vendorId, dev.deviceId)} (${dev.chip ?? dev.deviceName}) yet: ` +
      (have.length ? `bdk drives ${have.map((d) => `${d.name} (${d.ids.map(([a, b]) => idPair(a, b)).join(", ")})`).join("; ")}` : "no PCI chip driver is registered") +
      ` (the device passed the safety checks and was opened and closed cleanly)`,
      `meanwhile give it back to the kernel (bdk devbind --restore ${addr}) and use af_packet:<interface>`);
  }
  try {
    return chip.create(device, spec, options, params);
  } catch (e) {
    device.close();
    throw e;
  }
}

export const driver: DriverDef = {
  kind: "pci",
  usage: "0000:00:02.0[,vectors=N] — a PCI NIC bound to vfio-pci (bdk devbind --bind vfio-pci ADDR; bdk check ADDR says whether it is safe)",
  positional: "addr",
  params: {
    addr: { type: "string", required: true, help: "PCI address, e.g. 0000:00:02.0" },
    vectors: {
      type: "int",
      help: "MSI-X vectors to use (igb, ixgbe): one for link events, then one per RX queue, shared when fewer (default: what the NIC has, up to queues + 1; 0: none, queues are polled)",
    },
  },
  open(params, spec, options) {
    return openPciPort(String(params.addr), spec, options, params.vectors === undefined ? {} : { vectors: Number(params.vectors) });
  },
};

registerDriver(driver);
