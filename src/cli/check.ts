// `bdk check [BDF…]`: the safe-assignment verdict for the given devices, or for every network device
// (and anything on vfio-pci). Exit 0 when every device checked is safe, 1 otherwise.
import { helpText, parseArgs } from "../../apps/common/args.ts";
import { UIO_DRIVERS, VFIO_DRIVER } from "../pci/bind.ts";
import { pciAddress, scanPci } from "../pci/device.ts";
import type { HostPaths } from "../pci/paths.ts";
import { assignmentVerdict, formatVerdict, verdictWord } from "../vfio/safety.ts";

const OPTIONS = {
  json: { type: "bool", help: "machine-readable output" },
  quiet: { type: "bool", alias: "q", help: "print one line per device, without the notes" },
} as const;

const FOOTER = `
Without addresses: every network device, and any other device on vfio-pci or a UIO driver.
A device is SAFE to hand to bdk when it is on vfio-pci, its IOMMU group is viable, an IOMMU isolates it
and interrupt remapping is on (or its absence was accepted). docs/assigning-a-nic.md explains each reason.`;

export async function main(args: string[], paths?: HostPaths): Promise<number> {
  const o = parseArgs("check", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk check", "[BDF…] [--json] [--quiet]", OPTIONS, FOOTER));
    return 0;
  }
  const addresses = o._.length > 0
    ? o._.map(pciAddress)
    : scanPci(paths).filter((d) => d.isNetwork || d.driver === VFIO_DRIVER || (d.driver !== null && UIO_DRIVERS.has(d.driver))).map((d) => d.address);
  if (addresses.length === 0) {
    if (o.json) console.log(JSON.stringify({ safe: false, devices: [] }, null, 2));
    else console.log("no network devices found (bdk devbind --status lists what there is)");
    return 1;
  }
  const verdicts = addresses.map((a) => assignmentVerdict(a, paths));
  const allSafe = verdicts.every((v) => v.safe);
  if (o.json) {
    console.log(JSON.stringify({
      safe: allSafe,
      devices: verdicts.map((v) => ({
        address: v.address, safe: v.safe, word: verdictWord(v), mode: v.mode, group: v.group, irqRemapping: v.irqRemapping,
        iommus: v.iommus, reasons: v.reasons, notes: v.notes,
        device: v.device ? { driver: v.device.driver, vendorId: v.device.vendorId, deviceId: v.device.deviceId, chip: v.device.chip, interfaces: v.device.interfaces } : null,
      })),
    }, null, 2));
  } else {
    console.log(verdicts.map((v) => formatVerdict(v, !o.quiet)).join("\n"));
  }
  return allSafe ? 0 : 1;
}
