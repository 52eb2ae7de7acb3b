// The safe-assignment verdict: may this PCI function be handed to a userspace driver, and if not, why
// and what to do. A device is safe when it is bound to vfio-pci, has an IOMMU group whose other members
// are on vfio-pci or no driver (bridges aside), an IOMMU is present (not no-IOMMU mode), and interrupt
// remapping is on or its absence was accepted knowingly. `bdk check` prints it; every open runs it.
import { existsSync } from "node:fs";
import { describeUse, inKernelUse, UIO_DRIVERS, VFIO_DRIVER } from "../pci/bind.ts";
import { findPciFunction, groupDevices, pciAddress, shortName, type PciFunction } from "../pci/device.ts";
import { formatHolders, processesHolding } from "../pci/holders.ts";
import { listDir, readAttr, roots, type HostPaths, type Roots } from "../pci/paths.ts";

export type VerdictMode = "iommu" | "noiommu" | "none";

export type ReasonCode =
  | "no-device" | "kernel-driver" | "no-driver" | "uio" | "bridge"
  | "no-iommu" | "no-group" | "group-not-viable" | "no-group-node" | "noiommu-mode" | "irq-remapping" | "in-use";

export interface VerdictReason {
  /** Stable identifier of the problem (for programs and tests). */
  code: ReasonCode;
  problem: string;
  fix: string;
}

export type IrqRemapping = "on" | "off" | "unknown";

export interface Verdict {
  address: string;
  safe: boolean;
  reasons: VerdictReason[];
  notes: string[];
  /** How the device would be used: behind an IOMMU, in VFIO's no-IOMMU mode, or not at all. */
  mode: VerdictMode;
  device: PciFunction | undefined;
  group: number | null;
  /** The IOMMUs the kernel registered (/sys/class/iommu). */
  iommus: string[];
  irqRemapping: IrqRemapping;
}

const BIND_FIX = (a: string): string => `bdk devbind --bind vfio-pci ${a}`;
const IOMMU_FIX = "turn on VT-d (Intel) or AMD-Vi/IOMMU in the firmware and boot with intel_iommu=on (or amd_iommu=on; iommu=pt keeps " +
  "the host fast); inside a VM, give it a vIOMMU: QEMU -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on " +
  "and intel_iommu=on on the guest's command line";

/** Evidence about interrupt remapping: /proc/interrupts chip names (IR-…), and the VT-d ecap IR bit. */
export function interruptRemapping(r: Roots): { state: IrqRemapping; evidence: string } {
  const interrupts = readAttr(`${r.proc}/interrupts`);
  if (interrupts !== undefined && /\bIR-(IO-APIC|PCI-MSI|PCI-MSIX|PCI-MSI-)/.test(interrupts)) {
    return { state: "on", evidence: "interrupts go through IR- (remapped) chips in /proc/interrupts" };
  }
  if (interrupts !== undefined && /AMD-IR|INTEL-IR/.test(interrupts)) {
    return { state: "on", evidence: "an interrupt-remapping irqchip appears in /proc/interrupts" };
  }
  // Intel VT-d: extended capability bit 3 (IR) says whether the hardware can remap at all.
  const ecaps = listDir(`${r.sys}/class/iommu`)
    .map((d) => readAttr(`${r.sys}/class/iommu/${d}/intel-iommu/ecap`))
    .filter((e): e is string => e !== undefined)
    .map((e) => parseInt(e, 16));
  if (ecaps.length > 0 && ecaps.every((e) => (e & 0x8) === 0)) {
    return { state: "off", evidence: "the VT-d unit cannot remap interrupts (ecap IR bit clear)" };
  }
  if (interrupts !== undefined && /\b(IO-APIC|PCI-MSI)/.test(interrupts)) {
    return { state: "off", evidence: "interrupts bypass remapping (IO-APIC/PCI-MSI chips without IR- in /proc/interrupts)" };
  }
  return { state: "unknown", evidence: "no evidence either way" };
}

function boolParam(path: string): boolean | undefined {
  const t = readAttr(path);
  return t === undefined ? undefined : /^[Yy1]/.test(t);
}

/** The verdict for one PCI function. Reads sysfs/procfs/devtmpfs under `paths` (recorded trees in tests). */
export function assignmentVerdict(address: string, paths?: HostPaths): Verdict {
  const r = roots(paths);
  const addr = pciAddress(address);
  const reasons: VerdictReason[] = [];
  const notes: string[] = [];
  const iommus = listDir(`${r.sys}/class/iommu`);
  const v: Verdict = { address: addr, safe: false, reasons, notes, mode: "none", device: undefined, group: null, iommus, irqRemapping: "unknown" };
  const dev = findPciFunction(addr, paths);
  if (!dev) {
    reasons.push({ code: "no-device", problem: `no PCI device ${addr}`, fix: "list them with `bdk devbind --status`" });
    return v;
  }
  v.device = dev;
  v.group = dev.iommuGroup;
  const name = shortName(dev);
  if (!dev.isNetwork) notes.push(`${dev.address} is a ${dev.className}, not a network device`);

  // 1. The driver.
  if (dev.isBridge) {
    reasons.push({ code: "bridge", problem: `${name} is a PCI bridge`, fix: "bridges cannot be assigned; assign the devices behind it" });
  } else if (dev.driver === null) {
    reasons.push({ code: "no-driver", problem: `${name} is bound to no driver`, fix: BIND_FIX(addr) });
  } else if (UIO_DRIVERS.has(dev.driver)) {
    reasons.push({
      code: "uio",
      problem: `${name} is bound to ${dev.driver}: UIO gives userspace the device with no IOMMU protection (it can DMA anywhere) and no interrupt isolation`,
      fix: BIND_FIX(addr),
    });
  } else if (dev.driver !== VFIO_DRIVER) {
    const ifs = dev.interfaces.map((i) => i.name).join(", ");
    reasons.push({ code: "kernel-driver", problem: `${name} is still on its kernel driver ${dev.driver}${ifs ? ` (${ifs})` : ""}`, fix: BIND_FIX(addr) });
  }

  // 2. The IOMMU and the group.
  const groupName = dev.iommuGroup === null ? undefined : readAttr(`${r.sys}/kernel/iommu_groups/${dev.iommuGroup}/name`);
  const node = dev.iommuGroup === null ? undefined : `${r.dev}/vfio/${dev.iommuGroup}`;
  const noiommuNode = dev.iommuGroup === null ? undefined : `${r.dev}/vfio/noiommu-${dev.iommuGroup}`;
  const isNoIommuGroup = (noiommuNode !== undefined && existsSync(noiommuNode)) || groupName === "vfio-noiommu";
  if (isNoIommuGroup) {
    v.mode = "noiommu";
    reasons.push({
      code: "noiommu-mode",
      problem: `no IOMMU: ${addr} is in VFIO no-IOMMU mode (${noiommuNode}): the device can DMA anywhere in memory and the kernel is tainted`,
      fix: `${IOMMU_FIX}; or accept the risk knowingly: openPort("${addr}", { allowUnsafeNoIommu: true })`,
    });
  } else if (iommus.length === 0) {
    reasons.push({ code: "no-iommu", problem: "no IOMMU: /sys/class/iommu is empty, so no device can be isolated", fix: IOMMU_FIX });
  } else {
    notes.push(`IOMMU: ${iommus.join(", ")}`);
    if (dev.iommuGroup === null) {
      reasons.push({
        code: "no-group", problem: `${name} has no IOMMU group: the IOMMU does not cover it`,
        fix: "check `dmesg | grep -i -e DMAR -e AMD-Vi -e iommu` for why; iommu=pt is fine, iommu=off or intel_iommu=off is not",
      });
    } else {
      v.mode = "iommu";
    }
  }

  if (dev.iommuGroup !== null) {
    const members = groupDevices(r, dev.iommuGroup);
    const others = members.filter((m) => m !== addr).map((m) => findPciFunction(m, paths)).filter((m): m is PciFunction => m !== undefined);
    const busy = others.filter(inKernelUse);
    if (busy.length > 0) {
      reasons.push({
        code: "group-not-viable",
        problem: `IOMMU group ${dev.iommuGroup} is not viable: ${busy.map(describeUse).join("; ")} ${busy.length === 1 ? "is" : "are"} in use by the kernel`,
        fix: `VFIO needs every device of a group on vfio-pci or no driver: bdk devbind --bind vfio-pci ${[addr, ...busy.map((b) => b.address)].join(" ")}`,
      });
    }
    notes.push(others.length === 0 ? `IOMMU group ${dev.iommuGroup}: this device alone`
      : `IOMMU group ${dev.iommuGroup}: shared with ${others.map((o) => `${o.address} (${o.driver ?? "no driver"})`).join(", ")}`);

    // 3. The group node: present once vfio-pci holds a device of the group.
    if (dev.driver === VFIO_DRIVER && node && !isNoIommuGroup) {
      if (!existsSync(node)) {
        reasons.push({
          code: "no-group-node", problem: `${node} does not exist although ${addr} is on vfio-pci`,
          fix: "is devtmpfs mounted on /dev? rebind the device: bdk devbind --unbind then --bind vfio-pci",
        });
      } else {
        const holders = processesHolding(node, paths, process.pid);
        if (holders.length > 0) {
          reasons.push({ code: "in-use", problem: `${node} is open in another process: ${formatHolders(holders)}`, fix: "close the port there (or stop the process) first" });
        }
      }
    }
  }

  // 4. Interrupt remapping: without it a device can forge MSIs (interrupt injection).
  const ir = interruptRemapping(r);
  v.irqRemapping = ir.state;
  const unsafeIrq = boolParam(`${r.sys}/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts`);
  if (v.mode === "iommu" || (iommus.length > 0 && v.mode !== "noiommu")) {
    if (ir.state === "on") {
      notes.push(`interrupt remapping: on (${ir.evidence})`);
    } else if (unsafeIrq) {
      notes.push(`risk: interrupt remapping is ${ir.state} (${ir.evidence}) and vfio_iommu_type1 allow_unsafe_interrupts=Y: ` +
        "the device could inject interrupts (MSI writes) into the host");
    } else if (ir.state === "off") {
      reasons.push({
        code: "irq-remapping",
        problem: `interrupt remapping is off (${ir.evidence}): VFIO refuses such groups (\"No interrupt remapping support\")`,
        fix: "enable it (firmware: VT-d with interrupt remapping / x2APIC; do not boot with intremap=off; QEMU: intel-iommu,intremap=on " +
          "with -machine kernel-irqchip=split), or accept MSI injection knowingly: echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
      });
    } else {
      notes.push(`interrupt remapping: ${ir.evidence}`);
    }
  }
  if (unsafeIrq && ir.state === "on") notes.push("note: vfio_iommu_type1 allow_unsafe_interrupts=Y (not needed here: interrupt remapping is on)");
  if (dev.numaNode !== null) notes.push(`NUMA node ${dev.numaNode}`);
  v.safe = reasons.length === 0;
  return v;
}

/** The verdict in a word, for listings: "safe", or the first problem's code. */
export function verdictWord(v: Verdict): string {
  return v.safe ? "safe" : v.reasons[0]!.code;
}

/** Only the no-IOMMU reason stands between this device and an open with allowUnsafeNoIommu. */
export function onlyNoIommu(v: Verdict): boolean {
  return v.mode === "noiommu" && v.reasons.every((r) => r.code === "noiommu-mode");
}

/** Multi-line text for `bdk check` and for errors. */
export function formatVerdict(v: Verdict, withNotes = true): string {
  const d = v.device;
  const how = !d ? "no such device" : v.mode === "iommu" ? "IOMMU" : v.mode === "noiommu" ? "no-IOMMU mode" : "no IOMMU";
  const head = `${d ? shortName(d) : v.address}: ${v.safe ? "SAFE" : "UNSAFE"} (${how})`;
  const lines = [head];
  for (const r of v.reasons) lines.push(`  ✗ ${r.problem}`, `    fix: ${r.fix}`);
  if (withNotes) for (const n of v.notes) lines.push(`  · ${n}`);
  return lines.join("\n");
}
