// `bdk check [BDF…]`: the safe-assignment verdict for the given devices, or for every network device
// (and anything on vfio-pci). Exit 0 when every device checked is safe, 1 otherwise.
//
// Advice to bind a device goes through devbind's own guard (checkBind: routed or up interfaces, non-NICs,
// shared IOMMU groups): when `bdk devbind --bind vfio-pci …` would refuse, the advice says so and why, and
// for an interface with routes that binding it would cut this machine's network, and what --force means,
// instead of a bare command that cuts the SSH session it was typed in.
import { helpText, parseArgs } from "../../apps/common/args.ts";
import { checkBind, inKernelUse, noIommuModeEnabled, UIO_DRIVERS, VFIO_DRIVER } from "../pci/bind.ts";
import { pciAddress, scanPci, type NetInterface, type PciFunction } from "../pci/device.ts";
import type { HostPaths } from "../pci/paths.ts";
import { assignmentVerdict, formatVerdict, verdictWord, type Verdict, type VerdictReason } from "../vfio/safety.ts";

const OPTIONS = {
  json: { type: "bool", help: "machine-readable output" },
  quiet: { type: "bool", alias: "q", help: 'one line per device: "ADDRESS safe" or "ADDRESS unsafe: the first reason"' },
} as const;

const FOOTER = `
Without addresses: every network device, and any other device on vfio-pci or a UIO driver.
A device is SAFE to hand to bdk when it is on vfio-pci, its IOMMU group is viable, an IOMMU isolates it
and interrupt remapping is on (or its absence was accepted). docs/assigning-a-nic.md explains each reason.
Advice to bind a device carries bdk devbind's guard: an interface with routes is this machine's network.`;

/** Reasons whose fix binds the device itself to vfio-pci. */
const BIND_SELF = new Set<VerdictReason["code"]>(["kernel-driver", "no-driver", "uio"]);

const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many);
const names = (ifs: readonly NetInterface[]): string => ifs.map((i) => i.name).join(", ");

/**
 * The advice for binding `targets` to vfio-pci, as devbind would take it: undefined when devbind binds
 * them without a word (the plain command is the advice), else why not and what --force would do.
 */
export function guardedBindAdvice(targets: readonly string[], all: readonly PciFunction[], noIommuEnabled: boolean): string | undefined {
  const checks = checkBind(targets, all, { noIommuEnabled });
  if (checks.every((c) => c.refusals.length === 0)) return undefined;
  const cmd = `bdk devbind --bind vfio-pci ${targets.join(" ")}`;
  const devices = checks.map((c) => c.device).filter((d): d is PciFunction => d !== undefined);
  const routed = devices.flatMap((d) => d.interfaces.filter((i) => i.routes > 0));
  const up = devices.flatMap((d) => d.interfaces.filter((i) => i.routes === 0 && i.up));
  // The guard's other refusals (not a NIC, no IOMMU group, a busy group): the same check without the interfaces.
  const bare = all.map((d) => (targets.includes(d.address) ? { ...d, interfaces: [] } : d));
  const other = checkBind(targets, bare, { noIommuEnabled }).flatMap((c) => c.refusals);
  const parts: string[] = [];
  if (routed.length > 0) {
    const it = plural(routed.length, "it", "them");
    parts.push(`binding it would cut this machine's network: ${routed.map((i) => `${i.name} carries ${i.routes} ${plural(i.routes, "route", "routes")}`).join(", ")} ` +
      `(*Active*), so \`${cmd}\` refuses; move ${plural(routed.length, "its", "their")} addresses and routes to another interface and take ${it} down ` +
      `(${routed.map((i) => `ip link set ${i.name} down`).join("; ")}) first. --force binds anyway, and every route and connection over ${names(routed)} ` +
      "is lost (an SSH session over it included)");
  }
  if (up.length > 0) {
    parts.push(`${names(up)} ${plural(up.length, "is", "are")} up: take ${plural(up.length, "it", "them")} down first (${up.map((i) => `ip link set ${i.name} down`).join("; ")}); ` +
      `--force binds anyway and ${names(up)} ${plural(up.length, "disappears", "disappear")} from the kernel`);
  }
  if (other.length > 0) parts.push(`${parts.length > 0 ? "also, " : ""}\`${cmd}\` would be refused: ${other.join("; ")}`);
  return parts.join(". ");
}

/** The verdict with every bind advice passed through devbind's guard. */
export function guardVerdict(v: Verdict, all: readonly PciFunction[], noIommuEnabled: boolean): Verdict {
  const d = v.device;
  if (!d) return v;
  const reasons = v.reasons.map((r) => {
    let targets: string[] | undefined;
    if (BIND_SELF.has(r.code)) targets = [v.address];
    else if (r.code === "group-not-viable") {
      const busy = d.groupMembers.filter((m) => m !== v.address).filter((m) => {
        const f = all.find((x) => x.address === m);
        return f !== undefined && inKernelUse(f);
      });
      targets = [v.address, ...busy];
    }
    const advice = targets && guardedBindAdvice(targets, all, noIommuEnabled);
    return advice ? { ...r, fix: advice } : r;
  });
  return { ...v, reasons };
}

/** `-q`: "0000:00:02.0 safe" or "0000:00:03.0 unsafe: <the first reason>". */
export function quietLine(v: Verdict): string {
  return v.safe ? `${v.address} safe` : `${v.address} unsafe: ${v.reasons[0]?.problem ?? verdictWord(v)}`;
}

export async function main(args: string[], paths?: HostPaths): Promise<number> {
  const o = parseArgs("check", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk check", "[BDF…] [--json] [--quiet]", OPTIONS, FOOTER));
    return 0;
  }
  const all = scanPci(paths);
  const addresses = o._.length > 0
    ? o._.map(pciAddress)
    : all.filter((d) => d.isNetwork || d.driver === VFIO_DRIVER || (d.driver !== null && UIO_DRIVERS.has(d.driver))).map((d) => d.address);
  if (addresses.length === 0) {
    if (o.json) console.log(JSON.stringify({ safe: false, devices: [] }, null, 2));
    else console.log("no network devices found (bdk devbind --status lists what there is)");
    return 1;
  }
  const noIommu = noIommuModeEnabled(paths);
  const verdicts = addresses.map((a) => guardVerdict(assignmentVerdict(a, paths), all, noIommu));
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
  } else if (o.quiet) {
    console.log(verdicts.map(quietLine).join("\n"));
  } else {
    console.log(verdicts.map((v) => formatVerdict(v)).join("\n"));
  }
  return allSafe ? 0 : 1;
}
