// IO virtual addresses: we choose them, the IOMMU translates them. They stay below the IOMMU's address
// width (39 bits on many vIOMMUs) and inside the ranges the kernel reports as usable (VFIO's IOVA-range
// capability excludes the x86 MSI window, for instance). A first-fit allocator over a sorted free list.
import { BdkError } from "../sys/errors.ts";

export const DEFAULT_IOVA_WIDTH = 39;
const MIN_IOVA = 0x100000; // keep page 0 and the first MiB unused: a zero IOVA in a descriptor is a bug's signature

interface Span { start: number; end: number } // [start, end)

export class IovaSpace {
  private free: Span[];
  private readonly used = new Map<number, number>(); // start -> size

  constructor(readonly widthBits = DEFAULT_IOVA_WIDTH, ranges?: readonly (readonly [number, number])[]) {
    if (!Number.isInteger(widthBits) || widthBits < 24 || widthBits > 52) {
      throw new BdkError(`IOVA width ${widthBits} bits is out of range`, "give 24..52 (39 suits most vIOMMUs, 48 most IOMMUs)");
    }
    const limit = 2 ** widthBits;
    const spans = (ranges ?? [[0, limit - 1]]).map(([lo, hi]) => ({ start: Math.max(lo, MIN_IOVA), end: Math.min(hi + 1, limit) }));
    this.free = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  }

  /** Allocates `size` bytes aligned to `align` (a power of two). */
  alloc(size: number, align = 0x200000): number {
    if (size <= 0 || !Number.isInteger(size)) throw new BdkError(`IOVA allocation of ${size} bytes`, "the size must be a positive integer");
    if (align & (align - 1)) throw new BdkError(`IOVA alignment ${align}`, "the alignment must be a power of two");
    for (let i = 0; i < this.free.length; i++) {
      const s = this.free[i]!;
      const start = Math.ceil(s.start / align) * align;
      if (start + size > s.end) continue;
      const pieces: Span[] = [];
      if (start > s.start) pieces.push({ start: s.start, end: start });
      if (start + size < s.end) pieces.push({ start: start + size, end: s.end });
      this.free.splice(i, 1, ...pieces);
      this.used.set(start, size);
      return start;
    }
    throw new BdkError(
      `no IOVA space left for ${size} bytes below 2^${this.widthBits}`,
      "free unused arenas, or raise the IOVA width if the IOMMU allows it (bdk check shows it)",
    );
  }

  release(iova: number): void {
    const size = this.used.get(iova);
    if (size === undefined) throw new BdkError(`IOVA 0x${iova.toString(16)} was not allocated here`, "release each IOVA once, with the address alloc returned");
    this.used.delete(iova);
    this.free.push({ start: iova, end: iova + size });
    this.free.sort((a, b) => a.start - b.start);
    const merged: Span[] = [];
    for (const s of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.end === s.start) last.end = s.end;
      else merged.push({ ...s });
    }
    this.free = merged;
  }

  /** Whether [iova, iova+size) lies inside the given usable ranges (inclusive ends, as VFIO reports them). */
  static fits(iova: number, size: number, ranges: readonly (readonly [number, number])[]): boolean {
    return ranges.some(([lo, hi]) => iova >= lo && iova + size - 1 <= hi);
  }

  get allocations(): ReadonlyMap<number, number> {
    return this.used;
  }
}
