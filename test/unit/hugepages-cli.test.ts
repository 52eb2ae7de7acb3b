// `bdk hugepages --reserve`: the decisions (sizes the machine has, strict counts, free memory, exact
// grants) as pure functions on fake sysfs pools and /proc/meminfo, the command on a scratch copy of a
// recorded tree, and one real reservation of a single 2 MiB page that is given back at once.
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as hugepages, parseReservation } from "../../src/cli/hugepages.ts";
import {
  applyReservation, HUGEPAGE_1G, HUGEPAGE_2M, hugepagePools, keepFree, parseMeminfo, planReservations, reserveHugepages, sizeLabel,
  type HugepagePool, type MemInfo,
} from "../../src/mem/hugepages.ts";
import { treePaths } from "../../src/pci/paths.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const FIX = join(import.meta.dir, "../fixtures/sysfs");
const scratch = mkdtempSync(join(tmpdir(), "bdk-hugecli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const pool = (sizeBytes: number, total = 0): HugepagePool => ({ sizeBytes, label: sizeLabel(sizeBytes), total, free: total, reserved: 0, surplus: 0 });
const POOLS = [pool(HUGEPAGE_2M), pool(HUGEPAGE_1G)];
/** 4 GiB of memory, 3 GiB available: 512 MiB kept free (more than 10 %), 2.5 GiB usable = 1280 2 MiB pages. */
const SMALL: MemInfo = { totalBytes: 4 * GiB, availableBytes: 3 * GiB };

async function run(args: string[], dir: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  try {
    const code = await hugepages(args, treePaths(dir));
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** A scratch copy of the recorded guest with a fake /proc/meminfo. */
function tree(name: string, meminfo = "MemTotal:        4194304 kB\nMemFree:          524288 kB\nMemAvailable:    3145728 kB\n"): string {
  const dir = join(scratch, name);
  Bun.spawnSync(["cp", "-a", join(FIX, "vfio-e1000"), dir]);
  writeFileSync(join(dir, "proc/meminfo"), meminfo);
  return dir;
}
const nr2M = (dir: string): string => readFileSync(join(dir, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "utf8").trim();

describe("SIZE:COUNT", () => {
  test("counts are strict whole numbers up to 2^31", () => {
    expect(parseReservation("2M:512")).toEqual({ sizeBytes: HUGEPAGE_2M, count: 512 });
    expect(parseReservation("1G:0")).toEqual({ sizeBytes: HUGEPAGE_1G, count: 0 });
    expect(parseReservation("2M:2147483648").count).toBe(2 ** 31);
    for (const bad of ["2M:1e3", "2M:0x20", "2M: 32", "2M:32 ", "2M:", "2M:-1", "2M:3.5", "2M:+5"]) {
      expect(() => parseReservation(bad)).toThrow(/the count ".*" is not a whole number/);
    }
    expect(() => parseReservation("2M:2147483649")).toThrow("the count is out of range; give 0..2147483648 pages");
    expect(() => parseReservation(`2M:${"9".repeat(23)}`)).toThrow("the count is out of range; give 0..2147483648 pages");
    expect(() => parseReservation("2X:1")).toThrow('"2X" is not a page size');
  });

  test("sizes are labelled in the unit that divides them: no 0.00390625M", () => {
    expect(sizeLabel(4096)).toBe("4K");
    expect(sizeLabel(3 * MiB)).toBe("3M");
    expect(sizeLabel(HUGEPAGE_2M)).toBe("2M");
    expect(sizeLabel(HUGEPAGE_1G)).toBe("1G");
    expect(sizeLabel(1000)).toBe("1000B");
  });
});

describe("planReservations (fake pools and meminfo)", () => {
  test("MemTotal and MemAvailable from /proc/meminfo", () => {
    expect(parseMeminfo("MemTotal:        4194304 kB\nMemFree:  1 kB\nMemAvailable:    3145728 kB\n")).toEqual(SMALL);
    expect(parseMeminfo("MemTotal:        4194304 kB\n")).toBeUndefined();
  });

  test("the margin kept free: 512 MiB, or 10 % of the memory when that is more, and it says which", () => {
    expect(keepFree(4 * GiB)).toEqual({ bytes: 512 * MiB, rule: "512 MiB, more than 10 % of MemTotal 4 GiB" });
    expect(keepFree(64 * GiB).bytes).toBe(Math.ceil(6.4 * GiB));
    expect(keepFree(64 * GiB).rule).toBe("10 % of MemTotal 64 GiB");
  });

  test("a reservation beyond free memory is refused with the most that fits, unless forced", () => {
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 99999999 }], POOLS, SMALL)).toThrow(
      "2M:99999999 would take 190.7 TiB more than the pools hold now, but 3 GiB is available (MemAvailable) and bdk keeps 512 MiB of it free " +
        "(512 MiB, more than 10 % of MemTotal 4 GiB); reserve at most 2M:1280, free memory first, or give --force to ask the kernel anyway");
    expect(planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1280 }], POOLS, SMALL)[0]).toMatchObject({ label: "2M", before: 0, growBytes: 1280 * HUGEPAGE_2M });
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1281 }], POOLS, SMALL)).toThrow("reserve at most 2M:1280");
    expect(planReservations([{ sizeBytes: HUGEPAGE_2M, count: 99999999 }], POOLS, SMALL, true)[0]!.count).toBe(99999999);
    // What the pool holds already counts: growing 1000 → 2000 needs 2000 MiB, which fits.
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 2000 }], [pool(HUGEPAGE_2M, 1000)], SMALL)).not.toThrow();
    // The 10 % rule on a large machine: 64 GiB, 10 GiB available → 3.6 GiB usable.
    const big: MemInfo = { totalBytes: 64 * GiB, availableBytes: 10 * GiB };
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_1G, count: 4 }], POOLS, big)).toThrow(/bdk keeps 6\.4 GiB of it free \(10 % of MemTotal 64 GiB\); reserve at most 1G:3/);
  });

  test("several sizes add up; shrinking is always allowed; unknown meminfo needs --force to grow", () => {
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1024 }, { sizeBytes: HUGEPAGE_1G, count: 1 }], POOLS, SMALL)).toThrow("reserve at most 1G:0");
    const tight: MemInfo = { totalBytes: 4 * GiB, availableBytes: 0 };
    expect(planReservations([{ sizeBytes: HUGEPAGE_2M, count: 0 }], [pool(HUGEPAGE_2M, 512)], tight)[0]!.growBytes).toBe(-512 * HUGEPAGE_2M);
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1 }], POOLS, undefined)).toThrow("MemAvailable cannot be read (/proc/meminfo)");
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1 }], POOLS, undefined, true)).not.toThrow();
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1 }, { sizeBytes: HUGEPAGE_2M, count: 2 }], POOLS, SMALL)).toThrow("2M given twice");
  });

  test("sizes the machine has no pool of are refused, listing the ones it has", () => {
    expect(() => planReservations([{ sizeBytes: 4096, count: 1 }], POOLS, SMALL)).toThrow("this machine has no 4K hugepages; sizes here: 2M, 1G");
    expect(() => planReservations([{ sizeBytes: 3 * MiB, count: 1 }], POOLS, SMALL)).toThrow("this machine has no 3M hugepages; sizes here: 2M, 1G");
    expect(() => planReservations([{ sizeBytes: HUGEPAGE_2M, count: 1 }], [], SMALL)).toThrow("sizes here: none");
  });

  test("exact: a partial grant is given back; --no-exact keeps it", () => {
    const [plan] = planReservations([{ sizeBytes: HUGEPAGE_2M, count: 600 }], [pool(HUGEPAGE_2M, 100)], SMALL);
    let size = 100;
    const kernel = (count: number): number => (size = Math.min(count, 400)); // a kernel that finds room for 400
    expect(applyReservation(plan!, true, kernel)).toEqual({ got: 400, now: 100, gaveBack: true });
    expect(size).toBe(100);
    expect(applyReservation(plan!, false, kernel)).toEqual({ got: 400, now: 400, gaveBack: false });
    expect(size).toBe(400);
    expect(applyReservation({ ...plan!, count: 300 }, true, kernel)).toEqual({ got: 300, now: 300, gaveBack: false });
  });
});

describe("bdk hugepages --reserve on a recorded tree", () => {
  test("beyond free memory: refused before anything is written; --force writes", async () => {
    const dir = tree("big");
    await expect(run(["--reserve", "2M:99999999"], dir)).rejects.toThrow(/^hugepages: 2M:99999999 would take 190\.7 TiB more .*reserve at most 2M:1280/);
    expect(nr2M(dir)).toBe("0");
    // Two reservations: the second does not fit, so neither is written.
    await expect(run(["--reserve", "2M:16", "--reserve", "1G:3"], dir)).rejects.toThrow("reserve at most 1G:2");
    expect(nr2M(dir)).toBe("0");
    const forced = await run(["--reserve", "2M:99999999", "--force", "--json"], dir);
    expect(JSON.parse(forced.out).reserved).toEqual([{ size: "2M", asked: 99999999, got: 99999999 }]);
  });

  test("4k:1 and 3M:1 name the sizes here; a 23-digit count is refused as a count, never written as 1e+23", async () => {
    const dir = tree("sizes");
    await expect(run(["--reserve", "4k:1"], dir)).rejects.toThrow("hugepages: this machine has no 4K hugepages; sizes here: 2M, 1G");
    await expect(run(["--reserve", "3M:1"], dir)).rejects.toThrow("sizes here: 2M, 1G");
    await expect(run(["--reserve", `2M:${"1".repeat(23)}`], dir)).rejects.toThrow("the count is out of range; give 0..2147483648 pages");
    await expect(run(["--reserve", ""], dir)).rejects.toThrow("--reserve needs a value");
    expect(nr2M(dir)).toBe("0");
  });

  test("a write the kernel refuses does not tell root to run as root", () => {
    const dir = join(scratch, "refuse");
    mkdirSync(join(dir, "hugepages-2048kB/nr_hugepages"), { recursive: true }); // a directory: EISDIR
    expect(() => reserveHugepages(HUGEPAGE_2M, 1, dir)).toThrow(process.getuid?.() === 0 ? /the kernel refused the value$/ : /./);
    expect(() => reserveHugepages(HUGEPAGE_2M, 2 ** 31 + 1, dir)).toThrow("hugepage count 2147483649 is out of range");
  });

  test("--help documents exact as the default, --no-exact and --force", async () => {
    const r = await run(["--help"], tree("help"));
    expect(r.out).toContain("--[no-]exact");
    expect(r.out).toContain("Exact is the default: a partial grant is given back.");
    expect(r.out).toContain("--[no-]force");
  });
});

const real2M = hugepagePools().find((p) => p.sizeBytes === HUGEPAGE_2M);
describe.skipIf(process.getuid?.() !== 0 || real2M === undefined)("one real reservation (root)", () => {
  test("one more 2 MiB page, exactly, then the pool as it was", async () => {
    const before = hugepagePools().find((p) => p.sizeBytes === HUGEPAGE_2M)!.total;
    const out: string[] = [];
    const log = spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
    try {
      const code = await hugepages(["--reserve", `2M:${before + 1}`, "--json"]);
      const r = JSON.parse(out.join("\n")).reserved[0];
      // Exact: either the page was granted, or the pool is back where it was.
      if (code === 0) expect(r.got).toBe(before + 1);
      else expect(r).toMatchObject({ gaveBack: true, now: before });
    } finally {
      log.mockRestore();
      reserveHugepages(HUGEPAGE_2M, before);
    }
    expect(hugepagePools().find((p) => p.sizeBytes === HUGEPAGE_2M)!.total).toBe(before);
  });
});
