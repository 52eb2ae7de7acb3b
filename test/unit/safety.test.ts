// The safe-assignment verdict, every branch: on trees recorded in the guest, and on copies of them
// changed the way a real machine would differ (UIO driver, no-IOMMU group, IR off, holder process …).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { roots, treePaths, type HostPaths } from "../../src/pci/paths.ts";
import { assignmentVerdict, formatVerdict, interruptRemapping, onlyNoIommu, verdictWord, type ReasonCode } from "../../src/vfio/safety.ts";

const FIX = join(import.meta.dir, "../fixtures/sysfs");
const tree = (name: string) => treePaths(join(FIX, name));
const scratch = mkdtempSync(join(tmpdir(), "bdk-safety-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let copies = 0;
/** A private copy of a recorded tree (symlinks kept) to change. */
function copyOf(name: string): { dir: string; paths: HostPaths } {
  const dir = join(scratch, `${name}-${copies++}`);
  const r = Bun.spawnSync(["cp", "-a", join(FIX, name), dir]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return { dir, paths: treePaths(dir) };
}

function relink(link: string, target: string): void {
  unlinkSync(link);
  symlinkSync(target, link);
}

const codes = (v: { reasons: { code: ReasonCode }[] }): ReasonCode[] => v.reasons.map((r) => r.code);
const E1000 = "0000:00:02.0";
const E1000_DIR = "sys/devices/pci0000:00/0000:00:02.0";

describe("recorded states", () => {
  test("e1000 on vfio-pci behind the vIOMMU: safe", () => {
    const v = assignmentVerdict(E1000, tree("vfio-e1000"));
    expect(v).toMatchObject({ safe: true, reasons: [], mode: "iommu", group: 1, iommus: ["dmar0"], irqRemapping: "on" });
    expect(v.notes).toContain("IOMMU: dmar0");
    expect(v.notes).toContain("IOMMU group 1: this device alone");
    expect(v.notes.some((n) => n.startsWith("interrupt remapping: on"))).toBe(true);
    expect(verdictWord(v)).toBe("safe");
    expect(formatVerdict(v)).toStartWith("0000:00:02.0 (82540EM, 8086:100e): SAFE (IOMMU)");
  });

  test("still on its kernel driver: says which, with its interface, and the bind command", () => {
    const v = assignmentVerdict("00:02.0", tree("kernel-drivers"));
    expect(v.safe).toBe(false);
    expect(codes(v)).toEqual(["kernel-driver"]);
    expect(v.reasons[0]!.problem).toBe("0000:00:02.0 (82540EM, 8086:100e) is still on its kernel driver e1000 (eth0)");
    expect(v.reasons[0]!.fix).toBe("bdk devbind --bind vfio-pci 0000:00:02.0");
    expect(v.mode).toBe("iommu");
    expect(verdictWord(v)).toBe("kernel-driver");
  });

  test("no IOMMU at all: kernel driver and no IOMMU, with the vIOMMU hint", () => {
    const v = assignmentVerdict(E1000, tree("no-iommu"));
    expect(codes(v)).toEqual(["kernel-driver", "no-iommu"]);
    expect(v.mode).toBe("none");
    expect(v.reasons[1]!.problem).toContain("no IOMMU");
    expect(v.reasons[1]!.fix).toContain("intel_iommu=on");
    expect(v.reasons[1]!.fix).toContain("-device intel-iommu,intremap=on");
    expect(formatVerdict(v)).toContain("UNSAFE (no IOMMU)");
  });

  test("bridge group with one NIC left on e1000: not viable, naming it", () => {
    const v = assignmentVerdict("0000:01:01.0", tree("bridge-group"));
    expect(codes(v)).toEqual(["group-not-viable"]);
    expect(v.reasons[0]!.problem).toBe("IOMMU group 1 is not viable: 0000:01:02.0 (82540EM, 8086:100e) on e1000 (eth1) is in use by the kernel");
    expect(v.reasons[0]!.fix).toContain("bdk devbind --bind vfio-pci 0000:01:01.0 0000:01:02.0");
    expect(v.notes).toContain("IOMMU group 1: shared with 0000:00:02.0 (no driver), 0000:01:02.0 (e1000)");
  });

  test("an unknown address", () => {
    const v = assignmentVerdict("0000:00:09.0", tree("vfio-e1000"));
    expect(codes(v)).toEqual(["no-device"]);
    expect(v.reasons[0]).toMatchObject({ problem: "no PCI device 0000:00:09.0", fix: "list them with `bdk devbind --status`" });
    expect(formatVerdict(v)).toContain("UNSAFE (no such device)");
  });

  test("not a network device: the host bridge has no driver; a PCI bridge can never be assigned", () => {
    const host = assignmentVerdict("0000:00:00.0", tree("vfio-e1000"));
    expect(codes(host)).toEqual(["no-driver"]);
    expect(host.notes).toContain("0000:00:00.0 is a Host bridge, not a network device");
    expect(codes(assignmentVerdict("0000:00:03.0", tree("kernel-drivers")))).toEqual(["bridge"]);
  });
});

describe("changed trees", () => {
  test("no driver", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    unlinkSync(join(dir, E1000_DIR, "driver"));
    const v = assignmentVerdict(E1000, paths);
    expect(codes(v)).toEqual(["no-driver"]);
    expect(v.reasons[0]!.fix).toBe("bdk devbind --bind vfio-pci 0000:00:02.0");
  });

  for (const uio of ["uio_pci_generic", "igb_uio"]) {
    test(`bound to ${uio}: unsafe`, () => {
      const { dir, paths } = copyOf("vfio-e1000");
      relink(join(dir, E1000_DIR, "driver"), `../../../bus/pci/drivers/${uio}`);
      const v = assignmentVerdict(E1000, paths);
      expect(codes(v)).toEqual(["uio"]);
      expect(v.reasons[0]!.problem).toContain(`bound to ${uio}`);
      expect(v.reasons[0]!.problem).toContain("no IOMMU protection");
    });
  }

  test("no-IOMMU group node (/dev/vfio/noiommu-N): refused, but allowUnsafeNoIommu could take it", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    renameSync(join(dir, "dev/vfio/1"), join(dir, "dev/vfio/noiommu-1"));
    rmSync(join(dir, "sys/class/iommu"), { recursive: true });
    mkdirSync(join(dir, "sys/class/iommu"));
    const v = assignmentVerdict(E1000, paths);
    expect(v.mode).toBe("noiommu");
    expect(codes(v)).toEqual(["noiommu-mode"]);
    expect(v.reasons[0]!.problem).toContain("can DMA anywhere in memory");
    expect(v.reasons[0]!.fix).toContain("allowUnsafeNoIommu: true");
    expect(onlyNoIommu(v)).toBe(true);
    expect(onlyNoIommu(assignmentVerdict(E1000, tree("no-iommu")))).toBe(false);
  });

  test("group name vfio-noiommu also means no-IOMMU mode", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    writeFileSync(join(dir, "sys/kernel/iommu_groups/1/name"), "vfio-noiommu\n");
    expect(assignmentVerdict(E1000, paths).mode).toBe("noiommu");
  });

  test("IOMMU present but the device has no group", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    unlinkSync(join(dir, E1000_DIR, "iommu_group"));
    const v = assignmentVerdict(E1000, paths);
    expect(codes(v)).toEqual(["no-group"]);
    expect(v.mode).toBe("none");
  });

  test("on vfio-pci but the group node is missing", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    unlinkSync(join(dir, "dev/vfio/1"));
    const v = assignmentVerdict(E1000, paths);
    expect(codes(v)).toEqual(["no-group-node"]);
    expect(v.reasons[0]!.problem).toContain("/dev/vfio/1 does not exist");
  });

  test("held open by another process: names it", () => {
    const { dir, paths } = copyOf("vfio-e1000");
    mkdirSync(join(dir, "proc/4242/fd"), { recursive: true });
    writeFileSync(join(dir, "proc/4242/comm"), "l2fwd\n");
    symlinkSync(`${roots(paths).dev}/vfio/1`, join(dir, "proc/4242/fd/7"));
    const v = assignmentVerdict(E1000, paths);
    expect(codes(v)).toEqual(["in-use"]);
    expect(v.reasons[0]!.problem).toContain("pid 4242 (l2fwd)");
  });

  test("a group member on a kernel driver other than the NIC's own", () => {
    const { dir, paths } = copyOf("bridge-group");
    relink(join(dir, "sys/devices/pci0000:00/0000:00:02.0/0000:01:02.0/driver"), "../../../../bus/pci/drivers/vfio-pci");
    expect(assignmentVerdict("0000:01:01.0", paths).safe).toBe(true);
  });

  describe("interrupt remapping", () => {
    const noIr = (): { dir: string; paths: HostPaths } => {
      const c = copyOf("vfio-e1000");
      const p = join(c.dir, "proc/interrupts");
      writeFileSync(p, readFileSync(p, "utf8").replaceAll("IR-", ""));
      return c;
    };

    test("off with allow_unsafe_interrupts=N: refused (VFIO would refuse too)", () => {
      const { paths } = noIr();
      const v = assignmentVerdict(E1000, paths);
      expect(v.irqRemapping).toBe("off");
      expect(codes(v)).toEqual(["irq-remapping"]);
      expect(v.reasons[0]!.fix).toContain("allow_unsafe_interrupts");
    });

    test("off with allow_unsafe_interrupts=Y: safe, with the risk stated", () => {
      const { dir, paths } = noIr();
      writeFileSync(join(dir, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"), "Y\n");
      const v = assignmentVerdict(E1000, paths);
      expect(v.safe).toBe(true);
      expect(v.notes.find((n) => n.startsWith("risk:"))).toContain("could inject interrupts");
    });

    test("on, and allow_unsafe_interrupts=Y anyway: a note", () => {
      const { dir, paths } = copyOf("vfio-e1000");
      writeFileSync(join(dir, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"), "Y\n");
      const v = assignmentVerdict(E1000, paths);
      expect(v.safe).toBe(true);
      expect(v.notes.some((n) => n.includes("allow_unsafe_interrupts=Y (not needed here"))).toBe(true);
    });

    test("VT-d without the IR capability, no /proc/interrupts: off", () => {
      const { dir, paths } = copyOf("vfio-e1000");
      unlinkSync(join(dir, "proc/interrupts"));
      writeFileSync(join(dir, "sys/devices/virtual/iommu/dmar0/intel-iommu/ecap"), "f00f42\n");
      expect(interruptRemapping(roots(paths)).state).toBe("off");
      // With the IR bit set but no other evidence: unknown, stated as a note.
      writeFileSync(join(dir, "sys/devices/virtual/iommu/dmar0/intel-iommu/ecap"), "f00f4a\n");
      const v = assignmentVerdict(E1000, paths);
      expect(v.irqRemapping).toBe("unknown");
      expect(v.safe).toBe(true);
      expect(v.notes).toContain("interrupt remapping: no evidence either way");
    });
  });

  test("the recorded vIOMMU's ecap has the IR bit", () => {
    const ecap = parseInt(readFileSync(join(FIX, "vfio-e1000/sys/devices/virtual/iommu/dmar0/intel-iommu/ecap"), "utf8"), 16);
    expect(ecap & 0x8).toBe(0x8);
  });
});
