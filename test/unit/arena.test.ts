// DMA arenas on 2 MiB hugepages and on 4 KiB pages, views of one arena from another thread, the IOVA
// allocator, and DMA mappers (the VFIO container's hook).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { startWorkers } from "../../src/lcore/worker.ts";
import { addDmaMapper, configureIova, createArena, currentIovaSpace, DmaArena, liveArenas, type DmaMapper } from "../../src/mem/arena.ts";
import { freeHugepageBytes, HUGEPAGE_2M } from "../../src/mem/hugepages.ts";
import { IovaSpace } from "../../src/mem/iova.ts";

const NR = "/proc/sys/vm/nr_hugepages";
const WORKER = new URL("./workers/arena-worker.ts", import.meta.url);
let saved = "0";

function setHugepages(n: number): number {
  writeFileSync(NR, String(n));
  return Number(readFileSync(NR, "utf8").trim());
}

beforeAll(() => {
  saved = readFileSync(NR, "utf8").trim();
});
afterAll(() => {
  writeFileSync(NR, saved);
});

async function checkViews(a: DmaArena): Promise<void> {
  const words = Math.min(4096, a.u32.length >> 2);
  for (let i = 0; i < words; i++) a.u32[i] = (i * 2654435761) >>> 0;
  a.u32[a.u32.length - 1] = 0xc0ffee;
  // Another view from the same pointer, in this thread.
  const b = DmaArena.attach(a.handle());
  expect(b.va).toBe(a.va);
  expect(b.u32[1]).toBe(2654435761);
  b.u8[words * 4 * 3] = 0x5a;
  expect(a.u8[words * 4 * 3]).toBe(0x5a);
  b.free(); // a view never unmaps
  expect(a.u32[1]).toBe(2654435761);
  // And in a worker.
  const group = await startWorkers<unknown, { bad: number; lastSeen: number; size: number; hugepage: boolean }>(WORKER, {
    cores: [1],
    init: { arena: a.handle(), words },
  });
  const [r] = await group.join(10_000);
  expect(r).toEqual({ bad: 0, lastSeen: 0xc0ffee, size: a.size, hugepage: a.hugepage });
  for (let i = 0; i < words; i++) if (a.u32[words + i] !== (~i >>> 0)) throw new Error(`word ${words + i} not written by the worker`);
}

describe("hugepage arenas", () => {
  test("require: with 2 MiB pages reserved, the arena is on hugepages, 2 MiB aligned, and shared views work", async () => {
    const got = setHugepages(8);
    if (got < 4) throw new Error(`the kernel gave only ${got} hugepages`);
    const freeBefore = freeHugepageBytes(HUGEPAGE_2M);
    const a = createArena({ size: 3 * 1024 * 1024, hugepages: "require", name: "huge" });
    try {
      expect(a.hugepage).toBe(true);
      expect(a.size).toBe(4 * 1024 * 1024);
      expect(a.iova % HUGEPAGE_2M).toBe(0);
      expect(a.va % HUGEPAGE_2M).toBe(0);
      expect(freeHugepageBytes(HUGEPAGE_2M)).toBe(freeBefore - a.size);
      await checkViews(a);
    } finally {
      a.free();
    }
    expect(a.isFreed).toBe(true);
    expect(freeHugepageBytes(HUGEPAGE_2M)).toBe(freeBefore);
  });

  test("require: with none free, the error says how to reserve them", () => {
    setHugepages(0);
    expect(freeHugepageBytes(HUGEPAGE_2M)).toBe(0);
    expect(() => createArena({ size: 4096, hugepages: "require", name: "needs-huge" }))
      .toThrow(/1 free 2 MiB hugepages needed for "needs-huge", 0 available; reserve some with `bdk hugepages --reserve/);
  });

  test("prefer: with none free, falls back to 4 KiB pages", async () => {
    setHugepages(0);
    const a = createArena({ size: 10_000, hugepages: "prefer", name: "fallback" });
    try {
      expect(a.hugepage).toBe(false);
      expect(a.size).toBe(12_288);
      expect(a.iova % 4096).toBe(0);
      await checkViews(a);
    } finally {
      a.free();
    }
  });
});

describe("4 KiB arenas", () => {
  test("never: 4 KiB pages, views in this thread and in a worker", async () => {
    const a = createArena({ size: 1 << 20, hugepages: "never", name: "small" });
    try {
      expect(a.hugepage).toBe(false);
      expect(a.size).toBe(1 << 20);
      expect(a.va % 4096).toBe(0);
      expect(a.u8.every((x) => x === 0)).toBe(true); // fresh anonymous memory
      await checkViews(a);
    } finally {
      a.free();
    }
    a.free(); // idempotent
  });

  test("bad sizes are refused", () => {
    expect(() => createArena({ size: 0, hugepages: "never", name: "z" })).toThrow(/arena "z" size 0; give a positive number of bytes/);
    expect(() => createArena({ size: 1.5, hugepages: "never" })).toThrow(/positive number of bytes/);
  });
});

describe("IOVA allocation", () => {
  test("stays below 2^width, honours alignment, never overlaps", () => {
    const s = new IovaSpace(30);
    const got: [number, number][] = [];
    for (let i = 0; i < 50; i++) {
      const size = 4096 * (1 + (i % 7));
      const align = [4096, 65536, HUGEPAGE_2M][i % 3]!;
      const at = s.alloc(size, align);
      expect(at % align).toBe(0);
      expect(at + size).toBeLessThanOrEqual(2 ** 30);
      expect(at).toBeGreaterThanOrEqual(0x100000); // the first MiB is never handed out
      got.push([at, at + size]);
    }
    got.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < got.length; i++) expect(got[i]![0]).toBeGreaterThanOrEqual(got[i - 1]![1]);
  });

  test("exhaustion is an error naming the width", () => {
    const s = new IovaSpace(24); // 16 MiB, minus the first MiB
    s.alloc(8 * 1024 * 1024, HUGEPAGE_2M);
    expect(() => s.alloc(8 * 1024 * 1024, HUGEPAGE_2M)).toThrow(/no IOVA space left for 8388608 bytes below 2\^24; free unused arenas, or raise the IOVA width/);
    expect(() => new IovaSpace(60)).toThrow(/IOVA width 60 bits is out of range/);
    expect(() => s.alloc(0)).toThrow(/IOVA allocation of 0 bytes/);
    expect(() => s.alloc(4096, 3000)).toThrow(/alignment 3000/);
  });

  test("ranges with a window excluded (the x86 MSI window) are respected", () => {
    const lo = 0xfee00000, hi = 0xfeefffff;
    const s = new IovaSpace(33, [[0, lo - 1], [hi + 1, 2 ** 33 - 1]]);
    for (let i = 0; i < 2100; i++) {
      const at = s.alloc(HUGEPAGE_2M, HUGEPAGE_2M);
      expect(at + HUGEPAGE_2M - 1 < lo || at > hi).toBe(true);
      expect(IovaSpace.fits(at, HUGEPAGE_2M, [[0, lo - 1], [hi + 1, 2 ** 33 - 1]])).toBe(true);
    }
    // 2100 × 2 MiB went past 4 GiB: the allocator jumped over the window.
    expect(Math.max(...s.allocations.keys())).toBeGreaterThan(hi);
    expect(IovaSpace.fits(lo - 4096, 8192, [[0, lo - 1]])).toBe(false);
  });

  test("release makes the space reusable, and neighbours merge", () => {
    const s = new IovaSpace(24);
    const a = s.alloc(HUGEPAGE_2M, HUGEPAGE_2M);
    const b = s.alloc(HUGEPAGE_2M, HUGEPAGE_2M);
    const c = s.alloc(HUGEPAGE_2M, HUGEPAGE_2M);
    s.release(a);
    s.release(b);
    expect(s.alloc(2 * HUGEPAGE_2M, HUGEPAGE_2M)).toBe(a); // a and b merged into one 4 MiB hole
    expect(() => s.release(a + 4096)).toThrow(/was not allocated here/);
    s.release(c);
    expect(() => s.release(c)).toThrow(/was not allocated here/);
  });

  test("arenas get IOVAs from the current space; it cannot change while arenas live", () => {
    const a = createArena({ size: 8192, hugepages: "never" });
    try {
      expect(a.iova + a.size).toBeLessThanOrEqual(2 ** currentIovaSpace().widthBits);
      expect(currentIovaSpace().allocations.get(a.iova)).toBe(a.size);
      expect(() => configureIova(32)).toThrow(/cannot change the IOVA space while DMA arenas exist/);
    } finally {
      a.free();
    }
    expect(currentIovaSpace().allocations.has(a.iova)).toBe(false);
  });
});

describe("DMA mappers", () => {
  test("a mapper added later sees existing arenas and new ones; arenas are unmapped on free and on removal", () => {
    const log: string[] = [];
    const mapper: DmaMapper = {
      map: (a) => log.push(`map ${a.name} ${a.iova}`),
      unmap: (a) => log.push(`unmap ${a.name} ${a.iova}`),
    };
    const first = createArena({ size: 4096, hugepages: "never", name: "first" });
    const others = liveArenas().filter((a) => a !== first);
    const remove = addDmaMapper(mapper);
    expect(log).toContain(`map first ${first.iova}`);
    expect(log.length).toBe(others.length + 1);
    log.length = 0;
    const second = createArena({ size: 4096, hugepages: "never", name: "second" });
    expect(log).toEqual([`map second ${second.iova}`]);
    first.free();
    expect(log).toEqual([`map second ${second.iova}`, `unmap first ${first.iova}`]);
    log.length = 0;
    remove();
    expect(log).toContain(`unmap second ${second.iova}`);
    log.length = 0;
    second.free();
    expect(log).toEqual([]); // removed: no longer told
    remove(); // idempotent
  });

  test("a mapper that fails leaves no arena behind", () => {
    const bad: DmaMapper = {
      map: (a) => {
        if (a.name === "refused") throw new Error("IOMMU says no");
      },
      unmap: () => {},
    };
    const remove = addDmaMapper(bad);
    try {
      const before = liveArenas().length;
      const used = currentIovaSpace().allocations.size;
      expect(() => createArena({ size: 4096, hugepages: "never", name: "refused" })).toThrow("IOMMU says no");
      expect(liveArenas().length).toBe(before);
      expect(currentIovaSpace().allocations.size).toBe(used);
    } finally {
      remove();
    }
  });
});
