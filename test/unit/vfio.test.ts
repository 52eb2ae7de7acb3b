// VFIO uapi numbers and layouts (checked against linux/vfio.h and what the spike verified), the parsers of
// the kernel's capability chains, and the refusals of openPort("0000:…") on recorded trees. The real
// ioctls run in the QEMU guest: test/vm/vfio.test.ts.
import { afterAll, afterEach, describe, expect, spyOn, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findPciDriver, registerPciDriver, setPciHostPaths, unregisterPciDriver, NOIOMMU_WARNING } from "../../drivers/pci/index.ts";
import { openPort } from "../../src/index.ts";
import { pagemapPfn } from "../../src/mem/pagemap.ts";
import { treePaths } from "../../src/pci/paths.ts";
import { SysError } from "../../src/sys/errno.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { parseIommuInfo, planIova, widthOf } from "../../src/vfio/container.ts";
import { handlersInstalled, openDevices, releaseAll, track, untrack } from "../../src/vfio/registry.ts";
import { parseRegionInfo } from "../../src/vfio/device.ts";
import * as U from "../../src/vfio/uapi.ts";

describe("uapi", () => {
  test("ioctl numbers are _IO(';', 100 + n)", () => {
    expect([
      U.VFIO_GET_API_VERSION, U.VFIO_CHECK_EXTENSION, U.VFIO_SET_IOMMU, U.VFIO_GROUP_GET_STATUS, U.VFIO_GROUP_SET_CONTAINER,
      U.VFIO_GROUP_UNSET_CONTAINER, U.VFIO_GROUP_GET_DEVICE_FD, U.VFIO_DEVICE_GET_INFO, U.VFIO_DEVICE_GET_REGION_INFO,
      U.VFIO_DEVICE_GET_IRQ_INFO, U.VFIO_DEVICE_SET_IRQS, U.VFIO_DEVICE_RESET, U.VFIO_IOMMU_GET_INFO, U.VFIO_IOMMU_MAP_DMA,
      U.VFIO_IOMMU_UNMAP_DMA,
    ].map((n) => n.toString(16))).toEqual([
      "3b64", "3b65", "3b66", "3b67", "3b68", "3b69", "3b6a", "3b6b", "3b6c", "3b6d", "3b6e", "3b6f", "3b70", "3b71", "3b72",
    ]);
    expect(U.VFIO_TYPE1v2_IOMMU).toBe(3);
    expect(U.VFIO_NOIOMMU_IOMMU).toBe(8);
  });

  test("struct sizes match the kernel's", () => {
    expect(U.GroupStatus.size).toBe(8);
    expect(U.IommuType1Info.size).toBe(24);
    expect(U.DmaMap.size).toBe(32);
    expect(U.DmaUnmap.size).toBe(24);
    expect(U.DeviceInfo.size).toBe(24);
    expect(U.RegionInfo.size).toBe(32);
    expect(U.IrqInfo.size).toBe(16);
    expect(U.IrqSetHeader.size).toBe(20);
    expect(U.CapHeader.size).toBe(8);
  });

  test("MAP_DMA encodes 64-bit fields as two halves", () => {
    const b = U.DmaMap.encode({ argsz: 32, flags: 3, vaddr: 0x7f12_3456_7000, iova: 0x1_0000_0000, size: 0x20_0000 });
    const dv = new DataView(b.buffer);
    expect(dv.getUint32(0, true)).toBe(32);
    expect(dv.getBigUint64(8, true)).toBe(0x7f1234567000n);
    expect(dv.getBigUint64(16, true)).toBe(0x100000000n);
    expect(dv.getBigUint64(24, true)).toBe(0x200000n);
  });
});

/** Builds an IOMMU_GET_INFO answer as the kernel would: header, then a chain of capabilities. */
function iommuInfoBuffer(ranges: [bigint, bigint][], dmaAvail?: number): Uint8Array {
  const rangeCap = 16 + 16 * ranges.length;
  const size = 24 + rangeCap + (dmaAvail === undefined ? 0 : 12);
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, size, true);
  dv.setUint32(4, U.VFIO_IOMMU_INFO_PGSIZES | U.VFIO_IOMMU_INFO_CAPS, true);
  dv.setBigUint64(8, 0x40201000n, true);
  dv.setUint32(16, 24, true);
  dv.setUint16(24, U.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, true);
  dv.setUint16(26, 1, true);
  dv.setUint32(28, dmaAvail === undefined ? 0 : 24 + rangeCap, true);
  dv.setUint32(32, ranges.length, true);
  ranges.forEach(([s, e], i) => {
    dv.setBigUint64(40 + 16 * i, s, true);
    dv.setBigUint64(48 + 16 * i, e, true);
  });
  if (dmaAvail !== undefined) {
    const at = 24 + rangeCap;
    dv.setUint16(at, U.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, true);
    dv.setUint16(at + 2, 1, true);
    dv.setUint32(at + 4, 0, true);
    dv.setUint32(at + 8, dmaAvail, true);
  }
  return b;
}

describe("IOMMU info", () => {
  test("IOVA ranges around the x86 MSI window, 39-bit vIOMMU, DMA mappings left", () => {
    const info = parseIommuInfo(iommuInfoBuffer([[0n, 0xfedfffffn], [0xfef00000n, 0x7fffffffffn]], 65535));
    expect(info.pageSizes).toBe(0x40201000);
    expect(info.iovaRanges).toEqual([[0, 0xfedfffff], [0xfef00000, 0x7fffffffff]]);
    expect(info.iovaWidth).toBe(39);
    expect(info.dmaAvail).toBe(65535);
  });

  test("no capabilities: no ranges, width 0 (the allocator keeps its default)", () => {
    const b = U.IommuType1Info.encode({ argsz: 24, flags: U.VFIO_IOMMU_INFO_PGSIZES, iova_pgsizes: 0x1000 });
    expect(parseIommuInfo(b)).toMatchObject({ iovaRanges: [], iovaWidth: 0, dmaAvail: undefined, pageSizes: 0x1000 });
  });

  test("widths: 48-bit IOMMUs, 57-bit capped at 52", () => {
    expect(widthOf([[0, 2 ** 48 - 1]])).toBe(48);
    expect(widthOf([[0, Number.MAX_SAFE_INTEGER]])).toBe(52);
  });

  test("a looping capability chain ends", () => {
    const b = iommuInfoBuffer([[0n, 0xffffn]]);
    new DataView(b.buffer).setUint32(28, 24, true); // next points at itself
    expect(U.capChain(b, 24)).toHaveLength(1);
  });
});

describe("IOVA plan", () => {
  const info = parseIommuInfo(iommuInfoBuffer([[0n, 0xfedfffffn], [0xfef00000n, 0x7fffffffffn]]));

  test("no arena yet: the allocator is configured from the ranges", () => {
    expect(planIova(info, [])).toBe("configure");
  });

  test("arenas that fit are kept; one across the MSI window is refused, by name", () => {
    expect(planIova(info, [{ iova: 0x100000, size: 0x200000, name: "pool" }])).toBe("keep");
    expect(() => planIova(info, [{ iova: 0xfec00000, size: 0x400000, name: "big" }]))
      .toThrow('DMA arena "big" lies at IOVA 0xfec00000..0xfeffffff, outside what this IOMMU can map (0x0..0xfedfffff, 0xfef00000..0x7fffffffff); open the ports before creating mempools');
  });

  test("an IOMMU without ranges leaves the allocator alone", () => {
    expect(planIova({ ...info, iovaRanges: [] }, [])).toBe("keep");
  });
});

describe("release registry", () => {
  test("handlers are installed while a device is open, and releaseAll closes everything", () => {
    const exitListeners = process.listenerCount("exit");
    const closed: string[] = [];
    const dev = (address: string) => ({ address, close: () => void closed.push(address) });
    const a = dev("0000:00:02.0");
    const b = dev("0000:00:03.0");
    expect(handlersInstalled()).toBe(false);
    track(a);
    track(b);
    expect(handlersInstalled()).toBe(true);
    expect(process.listenerCount("exit")).toBe(exitListeners + 1);
    expect(process.listenerCount("SIGINT")).toBeGreaterThanOrEqual(1);
    untrack(a);
    expect(handlersInstalled()).toBe(true);
    track(a);
    releaseAll();
    expect(closed).toEqual(["0000:00:02.0", "0000:00:03.0"]); // newest first: a was tracked again after b
    expect(openDevices()).toEqual([]);
    expect(handlersInstalled()).toBe(false);
    expect(process.listenerCount("exit")).toBe(exitListeners);
  });
});

describe("region info", () => {
  test("a plain mmap-able BAR", () => {
    const b = U.RegionInfo.encode({ argsz: 32, flags: 7, index: 0, size: 0x20000, offset: 0 });
    expect(parseRegionInfo(b)).toMatchObject({ index: 0, size: 0x20000, offset: 0, readable: true, writable: true, mmappable: true, sparse: undefined });
  });

  test("config space is region 7 at 7 << 40", () => {
    const b = U.RegionInfo.encode({ argsz: 32, flags: 3, index: 7, size: 256, offset: 7 * 2 ** 40 });
    expect(parseRegionInfo(b)).toMatchObject({ offset: 0x70000000000, mmappable: false });
  });

  const sparse = (msix: boolean): Uint8Array => {
    const b = new Uint8Array(32 + 16 + 32 + (msix ? 8 : 0));
    U.RegionInfo.encode({ argsz: b.byteLength, flags: 15, index: 3, cap_offset: 32, size: 0x4000, offset: 3 * 2 ** 40 }, b);
    U.CapHeader.encode({ id: U.VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, next: msix ? 80 : 0 }, b.subarray(32));
    const dv = new DataView(b.buffer);
    dv.setUint32(40, 2, true);
    dv.setBigUint64(48, 0n, true);
    dv.setBigUint64(56, 0x1000n, true);
    dv.setBigUint64(64, 0x2000n, true);
    dv.setBigUint64(72, 0x2000n, true);
    if (msix) U.CapHeader.encode({ id: U.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version: 1, next: 0 }, b.subarray(80));
    return b;
  };

  test("a BAR with the MSI-X table carved out maps in parts", () => {
    expect(parseRegionInfo(sparse(false)).sparse).toEqual([{ offset: 0, size: 0x1000 }, { offset: 0x2000, size: 0x2000 }]);
  });

  test("MSIX_MAPPABLE: the whole BAR may be mapped", () => {
    expect(parseRegionInfo(sparse(true)).sparse).toBeUndefined();
  });
});

describe("pagemap", () => {
  test("present pages give their frame number; absent or swapped ones none", () => {
    expect(pagemapPfn((1n << 63n) | 0x12345n)).toBe(0x12345);
    expect(pagemapPfn(0x12345n)).toBeUndefined();
    expect(pagemapPfn((1n << 63n) | (1n << 62n) | 5n)).toBeUndefined();
  });
});

describe("openPort on a PCI address", () => {
  const FIX = join(import.meta.dir, "../fixtures/sysfs");
  const scratch = mkdtempSync(join(tmpdir(), "bdk-vfio-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  afterEach(() => setPciHostPaths(undefined));

  test("a device on its kernel driver is refused with the reason and the fix", () => {
    setPciHostPaths(treePaths(join(FIX, "kernel-drivers")));
    let err: unknown;
    try {
      openPort("00:02.0");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BdkError);
    expect((err as Error).message).toBe(
      "refusing to open 0000:00:02.0 (82540EM): (1) 0000:00:02.0 (82540EM, 8086:100e) is still on its kernel driver e1000 (eth0); " +
      "fix: (1) bdk devbind --bind vfio-pci 0000:00:02.0");
  });

  test("every reason is listed, numbered", () => {
    setPciHostPaths(treePaths(join(FIX, "no-iommu")));
    expect(() => openPort("0000:01:00.0")).toThrow(/\(1\) 0000:01:00\.0 \(82576, 8086:10c9\) is still on its kernel driver igb \(eth1\); \(2\) no IOMMU/);
  });

  test("unknown address and non-network device", () => {
    setPciHostPaths(treePaths(join(FIX, "vfio-e1000")));
    expect(() => openPort("0000:00:09.0")).toThrow("refusing to open 0000:00:09.0: (1) no PCI device 0000:00:09.0; fix: (1) list them with `bdk devbind --status`");
    expect(() => openPort("0000:00:00.0")).toThrow(/refusing to open 0000:00:00\.0 \(8086:29c0\): \(1\) 0000:00:00\.0 \(8086:29c0\) is bound to no driver/);
  });

  test("no-IOMMU mode: refused without allowUnsafeNoIommu; with it, a loud warning on every open", () => {
    const dir = join(scratch, "noiommu");
    Bun.spawnSync(["cp", "-a", join(FIX, "vfio-e1000"), dir]);
    renameSync(join(dir, "dev/vfio/1"), join(dir, "dev/vfio/noiommu-1"));
    rmSync(join(dir, "sys/class/iommu"), { recursive: true });
    mkdirSync(join(dir, "sys/class/iommu"));
    setPciHostPaths(treePaths(dir));
    expect(() => openPort("0000:00:02.0")).toThrow(/no IOMMU: 0000:00:02\.0 is in VFIO no-IOMMU mode .*allowUnsafeNoIommu: true/);
    const warn = spyOn(console, "warn").mockImplementation(() => {});
    try {
      for (let i = 0; i < 2; i++) {
        // The recorded /dev/vfio nodes are plain files: the first VFIO ioctl fails (ENOTTY) after the warning.
        expect(() => openPort("0000:00:02.0", { allowUnsafeNoIommu: true })).toThrow(SysError);
      }
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn.mock.calls[0]![0]).toBe(NOIOMMU_WARNING("0000:00:02.0"));
      expect(String(warn.mock.calls[0]![0])).toContain("can read and write ANY memory");
    } finally {
      warn.mockRestore();
    }
  });
});

describe("chip driver registry", () => {
  test("register, find, refuse a second driver for the same ids", () => {
    const create = (): never => {
      throw new Error("not used");
    };
    // The real e1000 driver holds 8086:100e (registered by the package entry): a second driver for it is refused.
    expect(findPciDriver(0x8086, 0x100e)?.name).toBe("e1000");
    expect(() => registerPciDriver({ name: "other", ids: [[0x8086, 0x100e]], create })).toThrow("8086:100e is already driven by e1000");
    registerPciDriver({ name: "fake-nic", ids: [[0x1234, 0x0001], [0x1234, 0x0002]], create });
    try {
      expect(findPciDriver(0x1234, 0x0002)?.name).toBe("fake-nic");
      expect(findPciDriver(0x1234, 0x0003)).toBeUndefined();
      expect(() => registerPciDriver({ name: "other", ids: [[0x1234, 0x0001]], create })).toThrow("1234:0001 is already driven by fake-nic");
    } finally {
      unregisterPciDriver("fake-nic");
    }
    expect(findPciDriver(0x1234, 0x0001)).toBeUndefined();
  });
});
