// src/pci against sysfs trees recorded in the QEMU guest (test/fixtures/sysfs/): scanning, names,
// groups, interfaces and routes, and the bind decisions (routes/up guards, group members, no IOMMU).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkBind, describePci, findPciFunction, idPair, inKernelUse, knownNic, listPciAddresses, parseIpv4Routes, parseIpv6Routes,
  pciAddress, readBindRecord, readPciFunction, routeCounts, roots, scanPci, shortName, treePaths, type PciFunction,
} from "../../src/pci/index.ts";
import { BdkError } from "../../src/sys/errors.ts";

const FIX = join(import.meta.dir, "../fixtures/sysfs");
const tree = (name: string) => treePaths(join(FIX, name));
const KERNEL = tree("kernel-drivers");
const VFIO = tree("vfio-e1000");
const BRIDGE = tree("bridge-group");
const NOIOMMU = tree("no-iommu");
const HOST = tree("host-virtio");

describe("addresses", () => {
  test("normalises short forms and rejects junk", () => {
    expect(pciAddress("00:02.0")).toBe("0000:00:02.0");
    expect(pciAddress("0000:01:00.0")).toBe("0000:01:00.0");
    expect(pciAddress("0000:0A:1F.7")).toBe("0000:0a:1f.7");
    expect(() => pciAddress("eth0")).toThrow(BdkError);
    expect(() => pciAddress("00:02.8")).toThrow(/not a PCI address/);
  });

  test("an unknown address says how to list devices", () => {
    expect(() => readPciFunction("0000:00:09.0", KERNEL)).toThrow("no PCI device 0000:00:09.0; list them with `bdk devbind --status`");
    expect(findPciFunction("0000:00:09.0", KERNEL)).toBeUndefined();
  });
});

describe("scan of the guest with kernel drivers", () => {
  const all = scanPci(KERNEL);
  const by = (a: string): PciFunction => all.find((d) => d.address === a)!;

  test("lists every function in order", () => {
    expect(listPciAddresses(KERNEL)).toEqual([
      "0000:00:00.0", "0000:00:02.0", "0000:00:03.0", "0000:00:10.0", "0000:00:11.0",
      "0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3", "0000:01:00.0",
    ]);
    expect(all.map((d) => d.address)).toEqual(listPciAddresses(KERNEL));
  });

  test("e1000: ids, names, driver, group, interface up with routes", () => {
    const d = by("0000:00:02.0");
    expect(d).toMatchObject({
      vendorId: 0x8086, deviceId: 0x100e, classCode: 0x020000, chip: "82540EM", vendorName: "Intel",
      deviceName: "82540EM Gigabit Ethernet Controller", isNetwork: true, isBridge: false, driver: "e1000",
      driverOverride: null, kernelDriver: "e1000", iommuGroup: 1, groupMembers: ["0000:00:02.0"], numaNode: null,
    });
    expect(d.interfaces).toHaveLength(1);
    expect(d.interfaces[0]).toMatchObject({ name: "eth0", up: true, mac: "52:54:00:12:34:01", routes: 2 });
    expect(describePci(d)).toBe("82540EM Gigabit Ethernet Controller 8086:100e");
    expect(shortName(d)).toBe("0000:00:02.0 (82540EM, 8086:100e)");
  });

  test("igb behind its root port: own group, interface down", () => {
    const d = by("0000:01:00.0");
    expect(d).toMatchObject({ deviceId: 0x10c9, chip: "82576", driver: "igb", iommuGroup: 6, kernelDriver: "igb" });
    expect(d.interfaces).toEqual([{ name: "eth1", up: false, operstate: "down", mac: "52:54:00:12:34:02", routes: 0 }]);
    const rp = by("0000:00:03.0");
    expect(rp).toMatchObject({ isBridge: true, isNetwork: false, driver: "pcieport", className: "PCI bridge" });
  });

  test("host bridge and the ICH9 group of three", () => {
    expect(by("0000:00:00.0")).toMatchObject({ isNetwork: false, driver: null, className: "Host bridge", chip: undefined });
    expect(by("0000:00:1f.2").groupMembers).toEqual(["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"]);
  });
});

describe("other recorded states", () => {
  test("e1000 on vfio-pci: driver_override set, no interface", () => {
    const d = readPciFunction("00:02.0", VFIO);
    expect(d).toMatchObject({ driver: "vfio-pci", driverOverride: "vfio-pci", iommuGroup: 1, interfaces: [] });
  });

  test("bridge group: both NICs and the bridge share group 1", () => {
    const d = readPciFunction("0000:01:01.0", BRIDGE);
    expect(d.groupMembers).toEqual(["0000:00:02.0", "0000:01:01.0", "0000:01:02.0"]);
    expect(readPciFunction("0000:01:02.0", BRIDGE)).toMatchObject({ driver: "e1000", iommuGroup: 1 });
    expect(readPciFunction("0000:00:02.0", BRIDGE)).toMatchObject({ isBridge: true, driver: null });
  });

  test("no IOMMU: no groups", () => {
    expect(scanPci(NOIOMMU).every((d) => d.iommuGroup === null && d.groupMembers.length === 0)).toBe(true);
    expect(readPciFunction("0000:00:02.0", NOIOMMU).interfaces[0]!.name).toBe("eth0");
  });

  test("virtio-net keeps its interface under virtioN/net", () => {
    const d = readPciFunction("0000:00:03.0", HOST);
    expect(d).toMatchObject({ vendorId: 0x1af4, deviceId: 0x1041, isNetwork: true, driver: "virtio-pci", vendorName: "Red Hat (virtio)" });
    expect(d.interfaces).toHaveLength(1);
    expect(d.interfaces[0]).toMatchObject({ name: "eth0", up: true });
    expect(d.interfaces[0]!.routes).toBeGreaterThan(0);
  });
});

describe("routes", () => {
  test("IPv4: one per line of the main table", () => {
    const text = "Iface\tDestination\tGateway \tFlags\n" +
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "eth1\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
    expect(parseIpv4Routes(text)).toEqual(["eth0", "eth0", "eth1"]);
  });

  test("IPv6: link-local, multicast, local and reject routes do not count", () => {
    const text = [
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0",
      "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0",
      "fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth0",
      "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth1",
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo",
    ].join("\n");
    expect(parseIpv6Routes(text)).toEqual(["eth0", "eth0"]);
  });

  test("counts per interface from the recorded /proc, lo excluded", () => {
    const c = routeCounts(roots(KERNEL));
    expect(c.get("eth0")).toBe(2); // 10.9.0.0/24 (connected) and 10.10.0.0/16 via 10.9.0.2
    expect(c.has("lo")).toBe(false);
    expect(c.has("eth1")).toBe(false);
  });
});

describe("ids", () => {
  test("the NIC table covers the chips bdk targets", () => {
    for (const [dev, chip] of [[0x100e, "82540EM"], [0x100f, "82545EM"], [0x10d3, "82574L"], [0x10c9, "82576"], [0x1521, "I350"],
      [0x1533, "I210"], [0x10fb, "82599ES"], [0x10fc, "82599"], [0x154d, "82599"], [0x10f8, "82599"], [0x1528, "X540"],
      [0x1563, "X550"], [0x15ad, "X552"]] as const) {
      expect(knownNic(0x8086, dev)?.chip).toBe(chip);
    }
    expect(knownNic(0x8086, 0x1234)).toBeUndefined();
    expect(idPair(0x8086, 0x100e)).toBe("8086:100e");
  });
});

describe("bind decisions", () => {
  const kernel = scanPci(KERNEL);

  test("an interface with routes is refused, --force turns it into a warning", () => {
    const [c] = checkBind(["0000:00:02.0"], kernel);
    expect(c!.refusals).toHaveLength(1);
    expect(c!.refusals[0]).toContain("interface eth0 of 0000:00:02.0 carries 2 routes (*Active*)");
    expect(c!.refusals[0]).toContain("or pass --force");
    const [f] = checkBind(["0000:00:02.0"], kernel, { force: true });
    expect(f!.refusals).toEqual([]);
    expect(f!.warnings[0]).toContain("routes and connections will be lost");
  });

  test("an interface that is up but unrouted is refused too", () => {
    const e1000 = kernel.find((d) => d.address === "0000:00:02.0")!;
    const upOnly = { ...e1000, interfaces: [{ ...e1000.interfaces[0]!, routes: 0 }] };
    const [c] = checkBind([e1000.address], [upOnly]);
    expect(c!.refusals[0]).toContain("interface eth0 of 0000:00:02.0 is up: take it down first: ip link set eth0 down");
  });

  test("a quiet NIC in its own group may go", () => {
    const [c] = checkBind(["0000:01:00.0"], kernel);
    expect(c).toMatchObject({ refusals: [], warnings: [], alreadyBound: false });
  });

  test("not a network device: refused unless forced; a bridge never", () => {
    const [host] = checkBind(["0000:00:00.0"], kernel);
    expect(host!.refusals[0]).toContain("0000:00:00.0 (8086:29c0) is a Host bridge, not a network device");
    expect(checkBind(["0000:00:00.0"], kernel, { force: true })[0]!.refusals).toEqual([]);
    const [rp] = checkBind(["0000:00:03.0"], kernel, { force: true });
    expect(rp!.refusals[0]).toContain("is a PCI bridge: vfio-pci does not take bridges");
  });

  test("unknown addresses are refused whatever the flags", () => {
    expect(checkBind(["0000:00:09.0"], kernel, { force: true })[0]!.refusals[0]).toContain("no PCI device 0000:00:09.0");
  });

  test("already on vfio-pci: nothing to do", () => {
    const [c] = checkBind(["0000:00:02.0"], scanPci(VFIO));
    expect(c).toMatchObject({ alreadyBound: true, refusals: [] });
  });

  describe("shared IOMMU group", () => {
    // The recorded bridge group with the first NIC put back on e1000: both NICs in kernel use.
    const bridge = scanPci(BRIDGE).map((d) => d.address === "0000:01:01.0" ? { ...d, driver: "e1000" } : d);

    test("binding one NIC of the group names the other, in kernel use", () => {
      const [c] = checkBind(["0000:01:01.0"], bridge);
      expect(c!.refusals).toHaveLength(1);
      expect(c!.refusals[0]).toContain("IOMMU group 1 also holds 0000:01:02.0 (82540EM, 8086:100e) on e1000 (eth1), in use by the kernel");
      expect(c!.refusals[0]).toContain("bdk devbind --bind vfio-pci 0000:01:01.0 0000:01:02.0");
    });

    test("binding the whole group together is fine (the driverless bridge does not count)", () => {
      const cs = checkBind(["0000:01:01.0", "0000:01:02.0"], bridge);
      expect(cs.flatMap((c) => c.refusals)).toEqual([]);
    });

    test("--force warns that the group will not be viable", () => {
      const [c] = checkBind(["0000:01:01.0"], bridge, { force: true });
      expect(c!.refusals).toEqual([]);
      expect(c!.warnings[0]).toContain("the group will not be viable");
    });

    test("group members on vfio-pci, pci-stub, pcieport or no driver are not in kernel use", () => {
      const base = bridge[0]!;
      for (const driver of [null, "vfio-pci", "pci-stub", "pcieport", "mlx5_vfio_pci"]) expect(inKernelUse({ ...base, driver })).toBe(false);
      for (const driver of ["e1000", "igb", "uio_pci_generic", "ahci"]) expect(inKernelUse({ ...base, driver })).toBe(true);
    });
  });

  test("no IOMMU group: vfio-pci would refuse it, unless no-IOMMU mode is on", () => {
    const noiommu = scanPci(NOIOMMU);
    const [c] = checkBind(["0000:01:00.0"], noiommu);
    expect(c!.refusals[0]).toContain("0000:01:00.0 has no IOMMU group, so vfio-pci will refuse it");
    expect(checkBind(["0000:01:00.0"], noiommu, { noIommuEnabled: true })[0]!.refusals).toEqual([]);
    expect(checkBind(["0000:01:00.0"], noiommu, { force: true })[0]!.warnings[0]).toContain("expect the probe to fail");
  });

  test("bind records are read per address", () => {
    const dir = mkdtempSync(join(tmpdir(), "bdk-run-"));
    const paths = { runRoot: dir };
    expect(readBindRecord("0000:00:02.0", paths)).toBeUndefined();
    Bun.spawnSync(["mkdir", "-p", `${dir}/bdk/devbind`]);
    const rec = { address: "0000:00:02.0", driver: "e1000", driverOverride: null, interfaces: ["eth0"], boundAt: "x" };
    Bun.write(`${dir}/bdk/devbind/0000:00:02.0.json`, JSON.stringify(rec));
    Bun.spawnSync(["sync"]);
    expect(JSON.parse(readFileSync(`${dir}/bdk/devbind/0000:00:02.0.json`, "utf8"))).toEqual(rec);
    expect(readBindRecord("0000:00:02.0", paths)).toEqual(rec);
    expect(readBindRecord("0000:00:03.0", paths)).toBeUndefined();
  });
});
