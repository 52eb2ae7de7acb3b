// The VFIO container: one per process, shared by every group it opens, so that one IOMMU domain (one
// set of IOVA → memory mappings) serves every device: a mempool mapped once is usable by all ports.
// It is a DmaMapper: every DMA arena, existing or future, is IOMMU_MAP_DMA'd once and unmapped when
// freed. It lives while groups use it and closes with the last one.
import { addDmaMapper, configureIova, liveArenas, type DmaArena, type DmaMapper } from "../mem/arena.ts";
import { IovaSpace } from "../mem/iova.ts";
import { roots, type HostPaths } from "../pci/paths.ts";
import { BdkError, warnOnce } from "../sys/errors.ts";
import { close, ioctlInt, ioctlPtr, O_RDWR, open } from "../sys/libc.ts";
import {
  capChain, DmaAvailCap, DmaMap, DmaUnmap, IommuType1Info, IovaRange, IovaRangeCap,
  VFIO_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_GET_API_VERSION, VFIO_GROUP_SET_CONTAINER, VFIO_GROUP_UNSET_CONTAINER, VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_INFO_CAPS, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
  VFIO_IOMMU_UNMAP_DMA, VFIO_NOIOMMU_IOMMU, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU,
} from "./uapi.ts";

/** What the container learnt from VFIO_IOMMU_GET_INFO. */
export interface IommuInfo {
  type: "type1v2" | "noiommu";
  /** Bitmask of the IOMMU page sizes (4K | 2M | 1G = 0x40201000). */
  pageSizes: number;
  /** Usable IOVA ranges, inclusive ends, as the kernel reports them (the MSI window is excluded). */
  iovaRanges: [number, number][];
  /** Bits of IOVA the IOMMU translates (from the highest range end), capped at 52. */
  iovaWidth: number;
  /** DMA mappings still allowed (vfio_iommu_type1.dma_entry_limit), when the kernel says. */
  dmaAvail: number | undefined;
}

/** What a group gives the container: its fd and whether it is a no-IOMMU group. */
export interface ContainerMember {
  readonly fd: number;
  readonly number: number;
  readonly noIommu: boolean;
}

interface Mapping {
  iova: number;
  size: number;
}

let shared: VfioContainer | undefined;

export class VfioContainer implements DmaMapper {
  /** The container of this process, opened on first use. */
  static shared(paths?: HostPaths): VfioContainer {
    if (!shared || shared.closed) shared = new VfioContainer(paths);
    return shared;
  }

  /** The open container, if any. */
  static get current(): VfioContainer | undefined {
    return shared && !shared.closed ? shared : undefined;
  }

  readonly fd: number;
  readonly path: string;
  info: IommuInfo | undefined;
  private readonly members = new Set<ContainerMember>();
  private readonly mapped = new Map<DmaArena, Mapping>();
  private removeMapper: (() => void) | undefined;
  private closed = false;
  private noIommu: boolean | undefined;

  private constructor(paths?: HostPaths) {
    this.path = `${roots(paths).dev}/vfio/vfio`;
    this.fd = open(this.path, O_RDWR, 0, "VFIO is not loaded: modprobe vfio-pci (and bind the device: bdk devbind --bind vfio-pci BDF)");
    try {
      const api = ioctlInt(this.fd, VFIO_GET_API_VERSION, 0, "VFIO_GET_API_VERSION");
      if (api !== VFIO_API_VERSION) throw new BdkError(`VFIO API version ${api}, bdk speaks ${VFIO_API_VERSION}`, "this kernel's VFIO is not supported");
    } catch (e) {
      close(this.fd);
      throw e;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get groupCount(): number {
    return this.members.size;
  }

  /** Arenas currently mapped into the IOMMU (their IOVA and size). */
  get mappings(): ReadonlyMap<DmaArena, Mapping> {
    return this.mapped;
  }

  get isNoIommu(): boolean {
    return this.noIommu === true;
  }

  /** CHECK_EXTENSION: 1 when the kernel offers the IOMMU type. */
  hasExtension(ext: number): boolean {
    return ioctlInt(this.fd, VFIO_CHECK_EXTENSION, ext, `VFIO_CHECK_EXTENSION(${ext})`) > 0;
  }

  /**
   * Puts a group in this container. The first group fixes the IOMMU type (SET_IOMMU), reads the IOMMU's
   * info and starts mapping every DMA arena.
   */
  attach(group: ContainerMember): void {
    if (this.closed) throw new BdkError("the VFIO container is closed", "open the device again");
    if (this.members.has(group)) return;
    if (this.noIommu !== undefined && this.noIommu !== group.noIommu) {
      throw new BdkError(`IOMMU group ${group.number} is ${group.noIommu ? "a no-IOMMU group" : "IOMMU-backed"} but this process's VFIO container is ${this.noIommu ? "no-IOMMU" : "IOMMU-backed"}`,
        "one process cannot mix no-IOMMU and IOMMU-protected devices");
    }
    const first = this.members.size === 0;
    const type = group.noIommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU;
    const irqHint = "if `dmesg` says \"No interrupt remapping support\", interrupt remapping is off: see `bdk check`";
    try {
      if (first && !this.hasExtension(type)) {
        throw new BdkError(group.noIommu ? "this kernel's VFIO has no no-IOMMU support" : "this kernel's VFIO lacks the type1v2 IOMMU",
          group.noIommu ? "no-IOMMU mode needs CONFIG_VFIO_NOIOMMU and vfio.enable_unsafe_noiommu_mode=1" : "use a kernel ≥ 3.18 with vfio_iommu_type1");
      }
      ioctlPtr(group.fd, VFIO_GROUP_SET_CONTAINER, new Int32Array([this.fd]), `VFIO_GROUP_SET_CONTAINER(group ${group.number})`, irqHint);
    } catch (e) {
      // A container nobody joined is closed, not left behind.
      if (first) this.closeFd();
      throw e;
    }
    this.members.add(group);
    if (!first) return;
    try {
      ioctlInt(this.fd, VFIO_SET_IOMMU, type, `VFIO_SET_IOMMU(${group.noIommu ? "NOIOMMU" : "TYPE1v2"})`, irqHint);
      this.noIommu = group.noIommu;
      if (group.noIommu) {
        this.info = { type: "noiommu", pageSizes: 0, iovaRanges: [], iovaWidth: 0, dmaAvail: undefined };
        return;
      }
      this.info = this.readInfo();
      this.adoptIovaRanges(this.info);
      this.removeMapper = addDmaMapper(this);
    } catch (e) {
      this.members.delete(group);
      this.noIommu = undefined;
      this.info = undefined;
      try {
        ioctlPtr(group.fd, VFIO_GROUP_UNSET_CONTAINER, new Int32Array([this.fd]), "VFIO_GROUP_UNSET_CONTAINER");
      } catch { /* the original error matters */ }
      this.closeFd();
      throw e;
    }
  }

  /**
   * Takes a group out. With the last group the DMA mappings are removed (while the IOMMU is still
   * attached: the unmaps need it), the group leaves, and the container closes.
   */
  detach(group: ContainerMember): void {
    if (!this.members.has(group)) return;
    const last = this.members.size === 1;
    if (last) {
      const remove = this.removeMapper;
      this.removeMapper = undefined;
      remove?.();
    }
    try {
      ioctlPtr(group.fd, VFIO_GROUP_UNSET_CONTAINER, new Int32Array([this.fd]), `VFIO_GROUP_UNSET_CONTAINER(group ${group.number})`);
    } catch (e) {
      // Closing the group fd detaches it anyway.
      warnOnce(`unset-container-${group.number}`, `${(e as Error).message}`);
    }
    this.members.delete(group);
    if (last) this.closeFd();
  }

  private closeFd(): void {
    if (this.closed) return;
    this.closed = true;
    this.mapped.clear();
    try {
      close(this.fd);
    } catch { /* already gone */ }
    if (shared === this) shared = undefined;
  }

  /** VFIO_IOMMU_GET_INFO with its capability chain (IOVA ranges, DMA mappings available). */
  readInfo(): IommuInfo {
    let buf = IommuType1Info.encode({ argsz: IommuType1Info.size });
    ioctlPtr(this.fd, VFIO_IOMMU_GET_INFO, buf, "VFIO_IOMMU_GET_INFO");
    const need = IommuType1Info.get(buf, "argsz");
    if (need > buf.byteLength) {
      // The kernel asks for room for its capabilities: call again with it.
      buf = new Uint8Array(need);
      IommuType1Info.set(buf, "argsz", need);
      ioctlPtr(this.fd, VFIO_IOMMU_GET_INFO, buf, "VFIO_IOMMU_GET_INFO(caps)");
    }
    return parseIommuInfo(buf);
  }

  /** Makes the IOVA allocator obey the IOMMU's ranges, or checks that live arenas already do. */
  private adoptIovaRanges(info: IommuInfo): void {
    if (planIova(info, liveArenas()) === "configure") configureIova(info.iovaWidth, info.iovaRanges);
  }

  map(arena: DmaArena): void {
    if (this.closed || this.noIommu || this.mapped.has(arena)) return;
    const req = DmaMap.encode({
      argsz: DmaMap.size, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
      vaddr: arena.va, iova: arena.iova, size: arena.size,
    });
    ioctlPtr(this.fd, VFIO_IOMMU_MAP_DMA, req, `VFIO_IOMMU_MAP_DMA("${arena.name}" iova 0x${arena.iova.toString(16)}, ${arena.size} bytes)`,
      mapHint(arena, this.info));
    this.mapped.set(arena, { iova: arena.iova, size: arena.size });
  }

  /** Never throws: the arena is going away either way; a failure is reported. */
  unmap(arena: DmaArena): void {
    const m = this.mapped.get(arena);
    if (!m || this.closed) return;
    this.mapped.delete(arena);
    const req = DmaUnmap.encode({ argsz: DmaUnmap.size, flags: 0, iova: m.iova, size: m.size });
    try {
      ioctlPtr(this.fd, VFIO_IOMMU_UNMAP_DMA, req, `VFIO_IOMMU_UNMAP_DMA(iova 0x${m.iova.toString(16)})`);
      const done = DmaUnmap.get(req, "size");
      if (done !== m.size) warnOnce(`unmap-${m.iova}`, `IOMMU unmapped ${done} of ${m.size} bytes at IOVA 0x${m.iova.toString(16)}`);
    } catch (e) {
      warnOnce(`unmap-${m.iova}`, `${(e as Error).message} (the memory stays pinned until the process exits)`);
    }
  }
}

/**
 * What to do with the IOMMU's IOVA ranges: "configure" the allocator (no arena exists yet), "keep" it
 * (arenas exist and all fit, or the IOMMU reported no ranges), or throw naming the arena that does not fit.
 */
export function planIova(info: IommuInfo, arenas: readonly Pick<DmaArena, "iova" | "size" | "name">[]): "configure" | "keep" {
  if (info.iovaRanges.length === 0) return "keep";
  if (arenas.length === 0) return "configure";
  const a = arenas.find((x) => !IovaSpace.fits(x.iova, x.size, info.iovaRanges));
  if (a) {
    throw new BdkError(
      `DMA arena "${a.name}" lies at IOVA 0x${a.iova.toString(16)}..0x${(a.iova + a.size - 1).toString(16)}, outside what this IOMMU can map ` +
      `(${formatRanges(info.iovaRanges)})`,
      "open the ports before creating mempools (bdk then fits IOVAs to the IOMMU), or free that arena first");
  }
  return "keep";
}

/** Decodes a VFIO_IOMMU_GET_INFO buffer. Exported for tests. */
export function parseIommuInfo(buf: Uint8Array): IommuInfo {
  const head = IommuType1Info.decode(buf);
  const info: IommuInfo = { type: "type1v2", pageSizes: head.iova_pgsizes, iovaRanges: [], iovaWidth: 0, dmaAvail: undefined };
  if ((head.flags & VFIO_IOMMU_INFO_CAPS) !== 0 && head.cap_offset !== 0) {
    for (const cap of capChain(buf, head.cap_offset)) {
      const at = buf.subarray(cap.offset);
      if (cap.id === VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
        const n = IovaRangeCap.get(at, "nr_iovas");
        for (let i = 0; i < n; i++) {
          const off = IovaRangeCap.size + i * IovaRange.size;
          if (off + IovaRange.size > at.byteLength) break;
          const r = IovaRange.decode(at.subarray(off));
          info.iovaRanges.push([r.start, r.end]);
        }
      } else if (cap.id === VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
        info.dmaAvail = DmaAvailCap.get(at, "avail");
      }
    }
  }
  info.iovaWidth = widthOf(info.iovaRanges);
  return info;
}

/** Bits needed for the highest usable IOVA, capped at 52 (IOVAs stay exact as numbers). */
export function widthOf(ranges: readonly (readonly [number, number])[]): number {
  if (ranges.length === 0) return 0;
  const top = Math.max(...ranges.map((r) => r[1]));
  return Math.min(52, Math.max(24, Math.ceil(Math.log2(top + 1))));
}

function formatRanges(ranges: readonly (readonly [number, number])[]): string {
  return ranges.map(([a, b]) => `0x${a.toString(16)}..0x${b.toString(16)}`).join(", ");
}

function mapHint(arena: DmaArena, info: IommuInfo | undefined): string {
  if (info && info.iovaRanges.length > 0 && !IovaSpace.fits(arena.iova, arena.size, info.iovaRanges)) {
    return `IOVA outside the IOMMU's ranges (${formatRanges(info.iovaRanges)})`;
  }
  if (info?.dmaAvail === 0) return "no DMA mappings left (vfio_iommu_type1 dma_entry_limit): use fewer, larger arenas";
  return "ENOMEM: raise the locked-memory limit (ulimit -l unlimited) or run as root; EINVAL/EEXIST: an IOVA clash (a bug: report it)";
}
