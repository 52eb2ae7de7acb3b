// A VFIO device: one PCI function opened through its group. Regions (BARs mmap'd as Uint32Array, config
// space through pread/pwrite), bus mastering, reset, interrupts as eventfds. close() undoes everything in
// reverse and drops the group (the container unmaps DMA and closes with the last group). Every open
// device is tracked so that the process releases it on exit or on SIGINT/SIGTERM.
import type { Pointer } from "bun:ffi";
import { physAddr } from "../mem/pagemap.ts";
import type { DmaArena } from "../mem/arena.ts";
import { findPciFunction, noSuchDevice, pciAddress, type PciFunction } from "../pci/device.ts";
import type { HostPaths } from "../pci/paths.ts";
import { E } from "../sys/errno.ts";
import { BdkError } from "../sys/errors.ts";
import {
  arrayBufferAt, close, errno, eventfd, eventfdRead, fail, ioctlInt, ioctlPtr, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, mmap, munmap,
  POLLIN, pread, PROT_READ, PROT_WRITE, pwrite, raw,
} from "../sys/libc.ts";
import { VfioGroup } from "./group.ts";
import { track, untrack } from "./registry.ts";
import {
  capChain, DeviceInfo, IrqInfo, IrqSetHeader, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, RegionInfo,
  SparseArea, SparseMmapCap, VFIO_DEVICE_FLAGS_PCI, VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
  VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_RESET, VFIO_DEVICE_SET_IRQS, VFIO_IRQ_INFO_AUTOMASKED, VFIO_IRQ_INFO_EVENTFD,
  VFIO_IRQ_INFO_MASKABLE, VFIO_IRQ_INFO_NORESIZE, VFIO_IRQ_SET_ACTION_MASK, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_UNMASK,
  VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_FLAG_CAPS, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
  VFIO_REGION_INFO_FLAG_WRITE, IRQ_INDEX, type IrqKind,
} from "./uapi.ts";

export interface VfioOpenOptions {
  paths?: HostPaths;
  /** Accept a no-IOMMU group. The caller (drivers/pci) has warned the user. */
  allowNoIommu?: boolean;
  /**
   * Also VFIO_DEVICE_RESET on open and on close (default false): vfio-pci already resets a device that
   * supports it when its fd is first opened and when it is released, so doing it here would only repeat
   * the wait (100 ms per FLR).
   */
  reset?: boolean;
}

export interface Region {
  index: number;
  flags: number;
  size: number;
  /** Offset of the region in the device fd (pread/pwrite/mmap). */
  offset: number;
  readable: boolean;
  writable: boolean;
  mmappable: boolean;
  /** Parts that may be mmap'd when not all of it may (the MSI-X table excluded); undefined: all of it. */
  sparse: { offset: number; size: number }[] | undefined;
}

export interface Bar {
  index: number;
  size: number;
  /** The mapping's address in this process. */
  addr: number;
  /** Registers: u32[offset >>> 2]. */
  u32: Uint32Array;
}

export interface IrqInfoResult {
  index: number;
  count: number;
  flags: number;
  eventfd: boolean;
  maskable: boolean;
  automasked: boolean;
  noresize: boolean;
}

const IRQ_NAMES: Record<IrqKind, string> = { intx: "INTx", msi: "MSI", msix: "MSI-X" };

/** Interrupt vectors wired to eventfds. INTx is automasked: unmask() after handling each one. */
export class IrqVectors {
  private readonly scratch = new BigUint64Array(1);
  private readonly pollfd = new Int32Array(2);

  constructor(private readonly device: VfioDevice, readonly kind: IrqKind, readonly fds: readonly number[]) {}

  get index(): number {
    return IRQ_INDEX[this.kind];
  }

  /** Interrupts on `vector` since the last call (0 when none; never blocks). */
  take(vector = 0): number {
    return eventfdRead(this.fd(vector), this.scratch);
  }

  /** Waits up to timeoutMs for an interrupt on `vector`; returns how many arrived (0 on timeout). Blocks the thread. */
  wait(vector = 0, timeoutMs = 1000): number {
    const fd = this.fd(vector);
    this.pollfd[0] = fd;
    this.pollfd[1] = POLLIN;
    if (raw.poll(this.pollfd, 1, timeoutMs) < 0 && errno() !== E.EINTR) fail("poll", `eventfd ${fd}`);
    return this.take(vector);
  }

  unmask(vector = 0): void {
    this.device.maskIrq(this.kind, false, vector);
  }

  mask(vector = 0): void {
    this.device.maskIrq(this.kind, true, vector);
  }

  private fd(vector: number): number {
    const fd = this.fds[vector];
    if (fd === undefined) throw new BdkError(`${IRQ_NAMES[this.kind]} vector ${vector} is not enabled`, `enabled vectors: 0..${this.fds.length - 1}`);
    return fd;
  }
}

export class VfioDevice {
  /**
   * Opens a device bound to vfio-pci: its group (shared with other devices of the group opened here),
   * the process's container, the device fd (vfio-pci resets the device then, if it can). Does not judge safety: callers run
   * `assignmentVerdict` first (drivers/pci does).
   */
  static open(address: string, opts: VfioOpenOptions = {}): VfioDevice {
    const addr = pciAddress(address);
    const pci = findPciFunction(addr, opts.paths);
    if (!pci) throw noSuchDevice(addr);
    if (pci.driver !== "vfio-pci") {
      throw new BdkError(`${addr} is on ${pci.driver ?? "no driver"}, not vfio-pci`, `bdk devbind --bind vfio-pci ${addr}`);
    }
    if (pci.iommuGroup === null) throw new BdkError(`${addr} has no IOMMU group`, "run `bdk check` for the reason");
    for (const d of openList) {
      if (d.address === addr) throw new BdkError(`${addr} is already open in this process`, "close the first port before opening it again");
    }
    const group = VfioGroup.acquire(pci.iommuGroup, { paths: opts.paths, allowNoIommu: opts.allowNoIommu });
    let fd = -1;
    try {
      fd = group.deviceFd(addr);
      return new VfioDevice(addr, pci, group, fd, opts.reset ?? false);
    } catch (e) {
      if (fd >= 0) close(fd);
      group.release();
      throw e;
    }
  }

  readonly flags: number;
  readonly numRegions: number;
  readonly numIrqs: number;
  private readonly regions = new Map<number, Region>();
  private readonly bars = new Map<number, { bar: Bar; maps: { addr: number; size: number }[] }>();
  private readonly irqs = new Map<IrqKind, IrqVectors>();
  private closed = false;
  private readonly cfgBuf = new Uint8Array(4);

  private constructor(
    readonly address: string,
    /** What sysfs said at open time (ids, names, group). */
    readonly pci: PciFunction,
    readonly group: VfioGroup,
    readonly fd: number,
    private readonly resetOnClose: boolean,
  ) {
    const info = DeviceInfo.encode({ argsz: DeviceInfo.size });
    ioctlPtr(fd, VFIO_DEVICE_GET_INFO, info, `VFIO_DEVICE_GET_INFO(${address})`);
    const d = DeviceInfo.decode(info);
    this.flags = d.flags;
    this.numRegions = d.num_regions;
    this.numIrqs = d.num_irqs;
    if ((this.flags & VFIO_DEVICE_FLAGS_PCI) === 0) throw new BdkError(`${address}: VFIO says it is not a PCI device`, "bdk drives PCI NICs only");
    if (resetOnClose && this.canReset) this.reset();
    openList.add(this);
    track(this);
  }

  get container() {
    return this.group.container;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether VFIO_DEVICE_RESET works for this device (FLR, PM or bus reset available). */
  get canReset(): boolean {
    return (this.flags & VFIO_DEVICE_FLAGS_RESET) !== 0;
  }

  get noIommu(): boolean {
    return this.group.noIommu;
  }

  /** VFIO_DEVICE_GET_REGION_INFO (cached): BAR0..5 are 0..5, ROM 6, config space 7. */
  region(index: number): Region {
    this.assertOpen();
    const cached = this.regions.get(index);
    if (cached) return cached;
    if (index < 0 || index >= this.numRegions) throw new BdkError(`${this.address}: no region ${index}`, `regions are 0..${this.numRegions - 1}`);
    let buf = RegionInfo.encode({ argsz: RegionInfo.size, index });
    ioctlPtr(this.fd, VFIO_DEVICE_GET_REGION_INFO, buf, `VFIO_DEVICE_GET_REGION_INFO(${this.address}, ${index})`);
    const need = RegionInfo.get(buf, "argsz");
    if (need > buf.byteLength) {
      buf = new Uint8Array(need);
      RegionInfo.encode({ argsz: need, index }, buf);
      ioctlPtr(this.fd, VFIO_DEVICE_GET_REGION_INFO, buf, `VFIO_DEVICE_GET_REGION_INFO(${this.address}, ${index}, caps)`);
    }
    const r = parseRegionInfo(buf);
    this.regions.set(index, r);
    return r;
  }

  /** mmaps BAR `index` (cached): registers as a Uint32Array. */
  mapBar(index = 0): Bar {
    this.assertOpen();
    const have = this.bars.get(index);
    if (have) return have.bar;
    if (index > 5) throw new BdkError(`${this.address}: BAR${index} does not exist`, "PCI BARs are 0..5");
    const r = this.region(index);
    if (r.size === 0) throw new BdkError(`${this.address}: BAR${index} is not implemented`, "the chip's registers are in BAR0 for Intel NICs");
    if (!r.mmappable) throw new BdkError(`${this.address}: BAR${index} cannot be mmap'd (an I/O port BAR?)`, "use BAR0");
    const prot = PROT_READ | PROT_WRITE;
    const maps: { addr: number; size: number }[] = [];
    let addr: number;
    if (!r.sparse) {
      addr = mmap(r.size, prot, MAP_SHARED, this.fd, r.offset, `${this.address} BAR${index}`);
      maps.push({ addr, size: r.size });
    } else {
      // Reserve the whole BAR, then map the allowed parts at their places; the holes fault if touched.
      addr = mmap(r.size, 0, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, `${this.address} BAR${index} reservation`);
      maps.push({ addr, size: r.size });
      for (const a of r.sparse) {
        if (a.size === 0) continue;
        const p = raw.mmap((addr + a.offset) as unknown as Pointer, a.size, prot, MAP_SHARED | MAP_FIXED, this.fd, r.offset + a.offset);
        if (p === null || Number(p) !== addr + a.offset) {
          munmap(addr, r.size);
          throw new BdkError(`${this.address}: mmap of BAR${index} part 0x${a.offset.toString(16)}+0x${a.size.toString(16)} failed`, "see dmesg");
        }
      }
    }
    const bar: Bar = { index, size: r.size, addr, u32: new Uint32Array(arrayBufferAt(addr, r.size)) };
    this.bars.set(index, { bar, maps });
    return bar;
  }

  /** Reads `width` bytes of PCI config space at `offset` (little-endian). */
  readConfig(offset: number, width: 1 | 2 | 4): number {
    const r = this.region(VFIO_PCI_CONFIG_REGION_INDEX);
    const b = this.cfgBuf.subarray(0, width);
    const n = pread(this.fd, b, r.offset + offset, `${this.address} config 0x${offset.toString(16)}`);
    if (n !== width) throw new BdkError(`${this.address}: short config read at 0x${offset.toString(16)} (${n} of ${width})`, "the offset may be beyond config space");
    return width === 1 ? b[0]! : width === 2 ? b[0]! | (b[1]! << 8) : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  writeConfig(offset: number, width: 1 | 2 | 4, value: number): void {
    const r = this.region(VFIO_PCI_CONFIG_REGION_INDEX);
    const b = this.cfgBuf.subarray(0, width);
    for (let i = 0; i < width; i++) b[i] = (value >>> (8 * i)) & 0xff;
    const n = pwrite(this.fd, b, r.offset + offset, `${this.address} config 0x${offset.toString(16)}`);
    if (n !== width) throw new BdkError(`${this.address}: short config write at 0x${offset.toString(16)}`, "the offset may be beyond config space");
  }

  /** Memory decoding and bus mastering on (the device may DMA), or bus mastering off. */
  setBusMaster(on: boolean): void {
    const cmd = this.readConfig(PCI_COMMAND, 2);
    const next = on ? cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER : cmd & ~PCI_COMMAND_MASTER;
    if (next !== cmd) this.writeConfig(PCI_COMMAND, 2, next);
    const now = this.readConfig(PCI_COMMAND, 2);
    if (((now & PCI_COMMAND_MASTER) !== 0) !== on) {
      throw new BdkError(`${this.address}: bus mastering did not turn ${on ? "on" : "off"} (command register 0x${now.toString(16)})`, "see dmesg");
    }
  }

  get busMaster(): boolean {
    return (this.readConfig(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) !== 0;
  }

  /** VFIO_DEVICE_RESET; false when the device offers no reset. */
  reset(): boolean {
    this.assertOpen();
    if (!this.canReset) return false;
    ioctlInt(this.fd, VFIO_DEVICE_RESET, 0, `VFIO_DEVICE_RESET(${this.address})`);
    return true;
  }

  irqInfo(kind: IrqKind | number): IrqInfoResult {
    this.assertOpen();
    const index = typeof kind === "number" ? kind : IRQ_INDEX[kind];
    const buf = IrqInfo.encode({ argsz: IrqInfo.size, index });
    ioctlPtr(this.fd, VFIO_DEVICE_GET_IRQ_INFO, buf, `VFIO_DEVICE_GET_IRQ_INFO(${this.address}, ${index})`);
    const i = IrqInfo.decode(buf);
    return {
      index, count: i.count, flags: i.flags,
      eventfd: (i.flags & VFIO_IRQ_INFO_EVENTFD) !== 0,
      maskable: (i.flags & VFIO_IRQ_INFO_MASKABLE) !== 0,
      automasked: (i.flags & VFIO_IRQ_INFO_AUTOMASKED) !== 0,
      noresize: (i.flags & VFIO_IRQ_INFO_NORESIZE) !== 0,
    };
  }

  /**
   * Routes `count` vectors of INTx, MSI or MSI-X to new eventfds. Only one kind can be on at a time:
   * another kind that is on is turned off first.
   */
  enableIrqs(kind: IrqKind, count = 1): IrqVectors {
    this.assertOpen();
    const info = this.irqInfo(kind);
    if (info.count === 0) throw new BdkError(`${this.address} has no ${IRQ_NAMES[kind]} interrupts`, `it offers: ${this.irqKinds().map((k) => IRQ_NAMES[k]).join(", ") || "none"}`);
    if (!Number.isInteger(count) || count < 1 || count > info.count) {
      throw new BdkError(`${this.address}: ${count} ${IRQ_NAMES[kind]} vectors asked`, `it has 1..${info.count}`);
    }
    for (const k of [...this.irqs.keys()]) this.disableIrqs(k);
    const fds: number[] = [];
    try {
      for (let i = 0; i < count; i++) fds.push(eventfd(0));
      this.setIrqs(IRQ_INDEX[kind], VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, fds, `enable ${IRQ_NAMES[kind]}`);
    } catch (e) {
      for (const fd of fds) close(fd);
      throw e;
    }
    const v = new IrqVectors(this, kind, fds);
    this.irqs.set(kind, v);
    return v;
  }

  /** The interrupt kinds the device offers. */
  irqKinds(): IrqKind[] {
    return (["intx", "msi", "msix"] as const).filter((k) => IRQ_INDEX[k] < this.numIrqs && this.irqInfo(k).count > 0);
  }

  /** Turns a kind off (SET_IRQS DATA_NONE | ACTION_TRIGGER, count 0) and closes its eventfds. */
  disableIrqs(kind: IrqKind): void {
    const v = this.irqs.get(kind);
    if (!v) return;
    this.irqs.delete(kind);
    try {
      this.setIrqs(IRQ_INDEX[kind], VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, [], `disable ${IRQ_NAMES[kind]}`, 0);
    } finally {
      for (const fd of v.fds) {
        try {
          close(fd);
        } catch { /* closed */ }
      }
    }
  }

  /** Masks or unmasks one vector (INTx is automasked after each interrupt: unmask to get the next). */
  maskIrq(kind: IrqKind, mask: boolean, vector = 0): void {
    this.assertOpen();
    const info = this.irqInfo(kind);
    if (!info.maskable) throw new BdkError(`${this.address}: ${IRQ_NAMES[kind]} cannot be masked through VFIO`, "mask it in the device's own registers (IMC)");
    this.setIrqs(IRQ_INDEX[kind], VFIO_IRQ_SET_DATA_NONE | (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK), vector, [],
      `${mask ? "mask" : "unmask"} ${IRQ_NAMES[kind]} ${vector}`, 1);
  }

  private setIrqs(index: number, flags: number, start: number, fds: readonly number[], what: string, count = fds.length): void {
    const buf = new Uint8Array(IrqSetHeader.size + 4 * fds.length);
    IrqSetHeader.encode({ argsz: buf.byteLength, flags, index, start, count }, buf);
    const dv = new DataView(buf.buffer);
    fds.forEach((fd, i) => dv.setInt32(IrqSetHeader.size + 4 * i, fd, true));
    ioctlPtr(this.fd, VFIO_DEVICE_SET_IRQS, buf, `VFIO_DEVICE_SET_IRQS(${this.address}, ${what})`);
  }

  /**
   * The address the device must be given for `arena` + offset: the IOVA behind an IOMMU; the physical
   * address in no-IOMMU mode (then a buffer must not cross a page boundary of a 4 KiB-page arena).
   */
  dmaAddress(arena: DmaArena, offset = 0): number {
    return this.group.noIommu ? physAddr(arena.va + offset) : arena.iova + offset;
  }

  /**
   * Releases everything, in reverse: interrupts off and their eventfds closed, BARs unmapped, bus
   * mastering off, (reset if asked), device fd closed (vfio-pci resets the device), group dropped (the container unmaps DMA and closes with the
   * last group). Idempotent; reports but does not stop on a failing step.
   */
  close(): void {
    if (this.closed) return;
    const errors: string[] = [];
    const attempt = (what: string, f: () => void): void => {
      try {
        f();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const k of [...this.irqs.keys()]) attempt(`disabling ${IRQ_NAMES[k]}`, () => this.disableIrqs(k));
    for (const [i, b] of this.bars) for (const m of b.maps) attempt(`unmapping BAR${i}`, () => munmap(m.addr, m.size));
    this.bars.clear();
    attempt("clearing bus master", () => this.setBusMaster(false));
    if (this.resetOnClose && this.canReset) attempt("reset", () => this.reset());
    this.closed = true;
    attempt("closing the device fd", () => close(this.fd));
    openList.delete(this);
    untrack(this);
    attempt("releasing the group", () => this.group.release());
    if (errors.length > 0) console.error(`bdk: closing ${this.address}: ${errors.join("; ")}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new BdkError(`${this.address}: the VFIO device is closed`, "open it again");
  }
}

const MAP_FIXED = 0x10;
const openList = new Set<VfioDevice>();

/** Devices open in this process. */
export function openVfioDevices(): readonly VfioDevice[] {
  return [...openList];
}

/** Decodes a VFIO_DEVICE_GET_REGION_INFO buffer. Exported for tests. */
export function parseRegionInfo(buf: Uint8Array): Region {
  const r = RegionInfo.decode(buf);
  let sparse: Region["sparse"];
  let msixMappable = false;
  if ((r.flags & VFIO_REGION_INFO_FLAG_CAPS) !== 0 && r.cap_offset !== 0) {
    for (const cap of capChain(buf, r.cap_offset)) {
      const at = buf.subarray(cap.offset);
      if (cap.id === VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
        const n = SparseMmapCap.get(at, "nr_areas");
        sparse = [];
        for (let i = 0; i < n; i++) {
          const off = SparseMmapCap.size + i * SparseArea.size;
          if (off + SparseArea.size > at.byteLength) break;
          const a = SparseArea.decode(at.subarray(off));
          sparse.push({ offset: a.offset, size: a.size });
        }
      } else if (cap.id === VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
        msixMappable = true;
      }
    }
  }
  // MSIX_MAPPABLE: the kernel lets the whole BAR be mapped despite the sparse list.
  if (msixMappable) sparse = undefined;
  return {
    index: r.index, flags: r.flags, size: r.size, offset: r.offset,
    readable: (r.flags & VFIO_REGION_INFO_FLAG_READ) !== 0,
    writable: (r.flags & VFIO_REGION_INFO_FLAG_WRITE) !== 0,
    mmappable: (r.flags & VFIO_REGION_INFO_FLAG_MMAP) !== 0,
    sparse,
  };
}

