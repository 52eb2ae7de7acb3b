// linux/vfio.h, the parts bdk uses: ioctl numbers, flags and struct layouts (x86-64).
// Every VFIO ioctl is _IO(VFIO_TYPE, VFIO_BASE + n) = 0x3b00 | (100 + n): the size travels in argsz.
import { _IO } from "../sys/ioctl.ts";
import { struct } from "../sys/struct.ts";

const VFIO_TYPE = ";";
const VFIO_BASE = 100;
const vfio = (n: number): number => _IO(VFIO_TYPE, VFIO_BASE + n);

export const VFIO_GET_API_VERSION = vfio(0); // 0x3b64
export const VFIO_CHECK_EXTENSION = vfio(1); // 0x3b65
export const VFIO_SET_IOMMU = vfio(2); // 0x3b66
export const VFIO_GROUP_GET_STATUS = vfio(3); // 0x3b67
export const VFIO_GROUP_SET_CONTAINER = vfio(4); // 0x3b68
export const VFIO_GROUP_UNSET_CONTAINER = vfio(5); // 0x3b69
export const VFIO_GROUP_GET_DEVICE_FD = vfio(6); // 0x3b6a
export const VFIO_DEVICE_GET_INFO = vfio(7); // 0x3b6b
export const VFIO_DEVICE_GET_REGION_INFO = vfio(8); // 0x3b6c
export const VFIO_DEVICE_GET_IRQ_INFO = vfio(9); // 0x3b6d
export const VFIO_DEVICE_SET_IRQS = vfio(10); // 0x3b6e
export const VFIO_DEVICE_RESET = vfio(11); // 0x3b6f
export const VFIO_IOMMU_GET_INFO = vfio(12); // 0x3b70
export const VFIO_IOMMU_MAP_DMA = vfio(13); // 0x3b71
export const VFIO_IOMMU_UNMAP_DMA = vfio(14); // 0x3b72

export const VFIO_API_VERSION = 0;

// IOMMU types (CHECK_EXTENSION / SET_IOMMU)
export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;
export const VFIO_NOIOMMU_IOMMU = 8;

// struct vfio_group_status
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;
export const GroupStatus = struct("vfio_group_status", 8, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
});

// struct vfio_iommu_type1_info (+ capability chain when flags & CAPS)
export const VFIO_IOMMU_INFO_PGSIZES = 1 << 0;
export const VFIO_IOMMU_INFO_CAPS = 1 << 1;
export const IommuType1Info = struct("vfio_iommu_type1_info", 24, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  iova_pgsizes: { offset: 8, type: "u64" },
  cap_offset: { offset: 16, type: "u32" },
});

// struct vfio_info_cap_header: every capability starts with it; `next` is an offset from the start of
// the enclosing info struct (0 ends the chain).
export const CapHeader = struct("vfio_info_cap_header", 8, {
  id: { offset: 0, type: "u16" },
  version: { offset: 2, type: "u16" },
  next: { offset: 4, type: "u32" },
});

export const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
export const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION = 2;
export const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
/** struct vfio_iommu_type1_info_cap_iova_range: header, nr_iovas, reserved, then {u64 start, u64 end} × nr. */
export const IovaRangeCap = struct("vfio_iommu_type1_info_cap_iova_range", 16, {
  nr_iovas: { offset: 8, type: "u32" },
});
export const IovaRange = struct("vfio_iova_range", 16, {
  start: { offset: 0, type: "u64" },
  end: { offset: 8, type: "u64" },
});
export const DmaAvailCap = struct("vfio_iommu_type1_info_dma_avail", 12, {
  avail: { offset: 8, type: "u32" },
});

// struct vfio_iommu_type1_dma_map / _unmap
export const VFIO_DMA_MAP_FLAG_READ = 1 << 0;
export const VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
export const DmaMap = struct("vfio_iommu_type1_dma_map", 32, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  vaddr: { offset: 8, type: "u64" },
  iova: { offset: 16, type: "u64" },
  size: { offset: 24, type: "u64" },
});
export const DmaUnmap = struct("vfio_iommu_type1_dma_unmap", 24, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  iova: { offset: 8, type: "u64" },
  size: { offset: 16, type: "u64" },
});

// struct vfio_device_info
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const DeviceInfo = struct("vfio_device_info", 24, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  num_regions: { offset: 8, type: "u32" },
  num_irqs: { offset: 12, type: "u32" },
  cap_offset: { offset: 16, type: "u32" },
});

// struct vfio_region_info (+ capabilities when flags & CAPS)
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;
export const RegionInfo = struct("vfio_region_info", 32, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  index: { offset: 8, type: "u32" },
  cap_offset: { offset: 12, type: "u32" },
  size: { offset: 16, type: "u64" },
  offset: { offset: 24, type: "u64" },
});
export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;
/** struct vfio_region_info_cap_sparse_mmap: header, nr_areas, reserved, then {u64 offset, u64 size} × nr. */
export const SparseMmapCap = struct("vfio_region_info_cap_sparse_mmap", 16, {
  nr_areas: { offset: 8, type: "u32" },
});
export const SparseArea = struct("vfio_region_sparse_mmap_area", 16, {
  offset: { offset: 0, type: "u64" },
  size: { offset: 8, type: "u64" },
});

// PCI region indices
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;

// struct vfio_irq_info
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;
export const IrqInfo = struct("vfio_irq_info", 16, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  index: { offset: 8, type: "u32" },
  count: { offset: 12, type: "u32" },
});

// struct vfio_irq_set: 20-byte header, then `count` s32 eventfds (DATA_EVENTFD) or u8 bools (DATA_BOOL)
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const IrqSetHeader = struct("vfio_irq_set", 20, {
  argsz: { offset: 0, type: "u32" },
  flags: { offset: 4, type: "u32" },
  index: { offset: 8, type: "u32" },
  start: { offset: 12, type: "u32" },
  count: { offset: 16, type: "u32" },
});

export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;

export type IrqKind = "intx" | "msi" | "msix";
export const IRQ_INDEX: Readonly<Record<IrqKind, number>> = { intx: 0, msi: 1, msix: 2 };

/** PCI config space: the command register and its bits. */
export const PCI_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 1 << 1;
export const PCI_COMMAND_MASTER = 1 << 2;
export const PCI_COMMAND_INTX_DISABLE = 1 << 10;
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;

export interface CapEntry {
  id: number;
  version: number;
  /** Offset of the capability in the info buffer. */
  offset: number;
}

/** Walks a capability chain in an info buffer (offsets are from the buffer's start). */
export function capChain(buf: Uint8Array, first: number): CapEntry[] {
  const out: CapEntry[] = [];
  const seen = new Set<number>();
  let off = first;
  while (off !== 0 && off + CapHeader.size <= buf.byteLength && !seen.has(off)) {
    seen.add(off);
    const h = CapHeader.decode(buf.subarray(off));
    out.push({ id: h.id, version: h.version, offset: off });
    off = h.next;
  }
  return out;
}
