// DMA arenas: one mmap'd region with its address, an ArrayBuffer over it, and an IOVA we allocated.
// Every arena is announced to the registered mappers (the VFIO container maps it into the IOMMU), also
// arenas created after a port was opened, and is unmapped from them before it is freed.
import { arrayBufferAt, MAP_ANONYMOUS, MAP_HUGETLB, MAP_POPULATE, MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE } from "../sys/libc.ts";
import { SysError } from "../sys/errno.ts";
import { BdkError, warnOnce } from "../sys/errors.ts";
import { freeHugepageBytes, HUGEPAGE_2M, RESERVE_HINT } from "./hugepages.ts";
import { DEFAULT_IOVA_WIDTH, IovaSpace } from "./iova.ts";

export type HugepagePolicy = "prefer" | "require" | "never";

export interface ArenaOptions {
  /** Bytes; rounded up to the page size. */
  size: number;
  /** prefer (default): hugepages, else 4 KiB pages (with a warning once a device maps them); require: hugepages or an error; never: 4 KiB pages. */
  hugepages?: HugepagePolicy;
  name?: string;
}

/** What an arena is to a worker in another thread: enough to build its own views of the same memory. */
export interface ArenaHandle {
  va: number;
  size: number;
  iova: number;
  hugepage: boolean;
  name: string;
}

export class DmaArena {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  private freed = false;

  constructor(readonly va: number, readonly size: number, readonly iova: number, readonly hugepage: boolean, readonly name: string, private readonly owned: boolean) {
    this.buffer = arrayBufferAt(va, size);
    this.u8 = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
  }

  get isFreed(): boolean {
    return this.freed;
  }

  handle(): ArenaHandle {
    return { va: this.va, size: this.size, iova: this.iova, hugepage: this.hugepage, name: this.name };
  }

  /** Views of an arena made by another thread of this process (same address space). Never freed from here. */
  static attach(h: ArenaHandle): DmaArena {
    return new DmaArena(h.va, h.size, h.iova, h.hugepage, h.name, false);
  }

  /** Unmaps from every mapper (IOMMU), returns the IOVA and the memory. Idempotent. */
  free(): void {
    if (this.freed || !this.owned) return;
    this.freed = true;
    for (const m of mappers) m.unmap(this);
    arenas.delete(this);
    iovaSpace.release(this.iova);
    munmap(this.va, this.size);
  }
}

/** Something that must know every arena's IOVA: the VFIO container. */
export interface DmaMapper {
  map(arena: DmaArena): void;
  unmap(arena: DmaArena): void;
}

const arenas = new Set<DmaArena>();
let fallbackReason = "";

/** A device is about to DMA into 4 KiB pages: worth one line, since hugepages would spare the IOTLB. */
function warnSmallPages(a: DmaArena): void {
  if (!a.hugepage) warnOnce("hugepages-fallback", `${fallbackReason || `arena "${a.name}" is not on hugepages`}: a device DMAs into 4 KiB pages (works through the IOMMU, more IOTLB misses); ${RESERVE_HINT}`);
}
const mappers = new Set<DmaMapper>();
let iovaSpace = new IovaSpace(DEFAULT_IOVA_WIDTH);

/** Adds a mapper and maps every live arena into it. Returns the function that removes it (after unmapping). */
export function addDmaMapper(m: DmaMapper): () => void {
  const done: DmaArena[] = [];
  try {
    for (const a of arenas) {
      warnSmallPages(a);
      m.map(a);
      done.push(a);
    }
  } catch (e) {
    for (const a of done) m.unmap(a);
    throw e;
  }
  mappers.add(m);
  return () => {
    if (!mappers.delete(m)) return;
    for (const a of arenas) m.unmap(a);
  };
}

export function liveArenas(): readonly DmaArena[] {
  return [...arenas];
}

/** Replaces the IOVA space (width, usable ranges). Only while no arena is live: their IOVAs would be lost. */
export function configureIova(widthBits: number, ranges?: readonly (readonly [number, number])[]): void {
  if (arenas.size > 0) {
    throw new BdkError("cannot change the IOVA space while DMA arenas exist", "configure it before creating mempools");
  }
  iovaSpace = new IovaSpace(widthBits, ranges);
}

export function currentIovaSpace(): IovaSpace {
  return iovaSpace;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Allocates an arena. MAP_SHARED so that hugetlb pages are never copy-on-write (a fork must not move a page
 * a device writes to); MAP_POPULATE so that every page is resident before a
 * device sees it. Not MAP_LOCKED: the VFIO container pins the pages it maps (and accounts them), and a
 * software-only pool needs no pinning, so an unprivileged user's small memlock limit does not get in the way.
 */
export function createArena(opts: ArenaOptions): DmaArena {
  const policy = opts.hugepages ?? "prefer";
  const name = opts.name ?? "arena";
  if (!Number.isInteger(opts.size) || opts.size <= 0) throw new BdkError(`arena "${name}" size ${opts.size}`, "give a positive number of bytes");
  const base = MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE;
  let va = 0;
  let size = 0;
  let huge = false;
  if (policy !== "never") {
    size = roundUp(opts.size, HUGEPAGE_2M);
    const free = freeHugepageBytes(HUGEPAGE_2M);
    if (free >= size) {
      try {
        va = mmap(size, PROT_READ | PROT_WRITE, base | MAP_HUGETLB, -1, 0, `${name} hugepages`);
        huge = true;
      } catch (e) {
        if (!(e instanceof SysError) || policy === "require") throw e;
      }
    }
    if (!huge) {
      const why = `${size / HUGEPAGE_2M} free 2 MiB hugepages needed for "${name}", ${free / HUGEPAGE_2M} available`;
      if (policy === "require") throw new BdkError(why, RESERVE_HINT);
      // Said only once a device maps such an arena (see warnSmallPages): software ports do not care.
      fallbackReason = why;
    }
  }
  if (!huge) {
    size = roundUp(opts.size, 4096);
    va = mmap(size, PROT_READ | PROT_WRITE, base, -1, 0, `${name} 4 KiB pages`, "free some memory or ask for a smaller pool");
  }
  let iova: number;
  try {
    iova = iovaSpace.alloc(size, huge ? HUGEPAGE_2M : 4096);
  } catch (e) {
    munmap(va, size);
    throw e;
  }
  const arena = new DmaArena(va, size, iova, huge, name, true);
  arenas.add(arena);
  const done: DmaMapper[] = [];
  try {
    for (const m of mappers) {
      warnSmallPages(arena);
      m.map(arena);
      done.push(m);
    }
  } catch (e) {
    for (const m of done) m.unmap(arena);
    arenas.delete(arena);
    iovaSpace.release(iova);
    munmap(va, size);
    throw e;
  }
  return arena;
}
