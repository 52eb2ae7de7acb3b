// Physical addresses from /proc/self/pagemap: what a device sees when there is no IOMMU (VFIO no-IOMMU
// mode). Only meaningful for locked, resident memory (DMA arenas are MAP_LOCKED | MAP_POPULATE), and
// only readable with CAP_SYS_ADMIN (others read PFN 0).
import { closeSync, openSync, readSync } from "node:fs";
import { BdkError } from "../sys/errors.ts";

const PAGE = 4096;
const PRESENT = 1n << 63n;
const SWAPPED = 1n << 62n;
const PFN_MASK = (1n << 55n) - 1n;

/** Decodes one 64-bit pagemap entry into a page frame number; undefined when not present. */
export function pagemapPfn(entry: bigint): number | undefined {
  if ((entry & PRESENT) === 0n || (entry & SWAPPED) !== 0n) return undefined;
  return Number(entry & PFN_MASK);
}

/** The physical address of virtual address `va` of this process. */
export function physAddr(va: number, pagemap = "/proc/self/pagemap"): number {
  const buf = new BigUint64Array(1);
  const fd = openSync(pagemap, "r");
  try {
    const n = readSync(fd, new Uint8Array(buf.buffer), 0, 8, Math.floor(va / PAGE) * 8);
    if (n !== 8) throw new BdkError(`short read of ${pagemap} for 0x${va.toString(16)}`, "is the address mapped?");
  } finally {
    closeSync(fd);
  }
  const pfn = pagemapPfn(buf[0]!);
  if (pfn === undefined) throw new BdkError(`page at 0x${va.toString(16)} is not resident`, "DMA memory must be locked and populated (DMA arenas are)");
  if (pfn === 0) throw new BdkError("the kernel hides physical addresses from this process", "run as root (CAP_SYS_ADMIN) to use no-IOMMU mode");
  return pfn * PAGE + (va % PAGE);
}
