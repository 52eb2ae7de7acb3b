// Hugepage pools as the kernel shows them in sysfs: how many 2 MiB / 1 GiB pages exist and are free,
// how to reserve them, and which files in hugetlbfs mounts are stale (left by dead processes).
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { BdkError } from "../sys/errors.ts";
import { isRoot } from "../sys/libc.ts";

export const HUGEPAGE_2M = 2 * 1024 * 1024;
export const HUGEPAGE_1G = 1024 * 1024 * 1024;

export interface HugepagePool {
  sizeBytes: number;
  label: string; // "2M", "1G"
  total: number;
  free: number;
  reserved: number;
  surplus: number;
}

const SYS = "/sys/kernel/mm/hugepages";

function readNum(path: string): number {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return 0;
  }
}

/** "2M", "1G", "4K" (the largest unit that divides the size), or "1000B". */
export function sizeLabel(bytes: number): string {
  for (const [unit, n] of [["G", HUGEPAGE_1G], ["M", 2 ** 20], ["K", 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return `${bytes}B`;
}

/** Bytes for people: "512 MiB", "3.8 GiB", "190.7 TiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** Parses "2M", "2048k", "1G", "2MB" into bytes (decimal digits, then the unit; no blanks). */
export function parseSize(text: string): number {
  const m = /^([0-9]+)([kKmMgG])?[bB]?$/.exec(text);
  const unit = m ? { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1 : 0;
  const bytes = m ? Number(m[1]) * unit : 0;
  if (!m || !Number.isSafeInteger(bytes) || bytes === 0) throw new BdkError(`invalid size "${text}"`, "write it like 2M, 1G or 2048k");
  return bytes;
}

/** The largest page count a reservation may ask for. */
export const MAX_HUGEPAGE_COUNT = 2 ** 31;
/** What a reservation leaves free at least: 10 % of the memory, or this much when that is more. */
export const KEEP_FREE_MIN = 512 * 2 ** 20;
export const KEEP_FREE_SHARE = 0.1;

export interface MemInfo {
  totalBytes: number;
  /** MemAvailable: what can be had without swapping. */
  availableBytes: number;
}

/** MemTotal and MemAvailable from /proc/meminfo's text; undefined when either is missing. */
export function parseMeminfo(text: string): MemInfo | undefined {
  const kb = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+([0-9]+) kB$`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const totalBytes = kb("MemTotal");
  const availableBytes = kb("MemAvailable");
  return totalBytes === undefined || availableBytes === undefined ? undefined : { totalBytes, availableBytes };
}

/** How much memory a reservation must leave free, and which rule says so. */
export function keepFree(totalBytes: number): { bytes: number; rule: string } {
  const share = Math.ceil(totalBytes * KEEP_FREE_SHARE);
  return share > KEEP_FREE_MIN
    ? { bytes: share, rule: `10 % of MemTotal ${formatBytes(totalBytes)}` }
    : { bytes: KEEP_FREE_MIN, rule: `${formatBytes(KEEP_FREE_MIN)}, more than 10 % of MemTotal ${formatBytes(totalBytes)}` };
}

export interface ReservationRequest {
  sizeBytes: number;
  count: number;
}

export interface ReservationPlan extends ReservationRequest {
  label: string;
  /** The pool's page count now (what an exact reservation goes back to when the kernel gives less). */
  before: number;
  /** Bytes taken from free memory (negative: given back). */
  growBytes: number;
}

/**
 * Decides the reservations before any is written (pure: pools and meminfo are passed in, tests give fake
 * ones). Refuses, as BdkErrors naming the fix: a size the machine has no pool of (listing the sizes it
 * has), a count that is not a whole number in 0..2^31, one size twice, and growth beyond what
 * MemAvailable allows while keeping KEEP_FREE (10 % of MemTotal, at least 512 MiB) free, unless `force`.
 */
export function planReservations(requests: readonly ReservationRequest[], pools: readonly HugepagePool[], mem: MemInfo | undefined, force = false): ReservationPlan[] {
  const sizes = pools.map((p) => p.label).join(", ") || "none (this kernel has no hugepages)";
  const seen = new Set<number>();
  let grown = 0;
  return requests.map((r) => {
    const label = sizeLabel(r.sizeBytes);
    const pool = pools.find((p) => p.sizeBytes === r.sizeBytes);
    if (!pool) throw new BdkError(`this machine has no ${label} hugepages`, `sizes here: ${sizes}`);
    if (seen.has(r.sizeBytes)) throw new BdkError(`${label} given twice`, `give one count per size, e.g. ${label}:${r.count}`);
    seen.add(r.sizeBytes);
    if (!Number.isSafeInteger(r.count) || r.count < 0 || r.count > MAX_HUGEPAGE_COUNT) {
      throw new BdkError(`${label}:${r.count}: the count is out of range`, `give 0..${MAX_HUGEPAGE_COUNT} pages`);
    }
    const growBytes = (r.count - pool.total) * r.sizeBytes;
    grown += Math.max(0, growBytes);
    if (growBytes > 0 && !force) {
      if (!mem) {
        throw new BdkError(`${label}:${r.count} would take ${formatBytes(growBytes)} more, and MemAvailable cannot be read (/proc/meminfo) to check that against free memory`,
          "give --force to reserve without the check");
      }
      const keep = keepFree(mem.totalBytes);
      const usable = mem.availableBytes - keep.bytes;
      if (grown > usable) {
        const room = Math.max(0, usable - (grown - growBytes));
        const most = pool.total + Math.floor(room / r.sizeBytes);
        throw new BdkError(`${label}:${r.count} would take ${formatBytes(grown)} more than the pools hold now, but ${formatBytes(mem.availableBytes)} is available ` +
          `(MemAvailable) and bdk keeps ${formatBytes(keep.bytes)} of it free (${keep.rule})`,
          `reserve at most ${label}:${most}, free memory first, or give --force to ask the kernel anyway`);
      }
    }
    return { ...r, label, before: pool.total, growBytes };
  });
}

export function hugepagePools(sysRoot = SYS): HugepagePool[] {
  if (!existsSync(sysRoot)) return [];
  return readdirSync(sysRoot)
    .map((d) => /^hugepages-(\d+)kB$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const dir = `${sysRoot}/${m[0]}`;
      const sizeBytes = Number(m[1]) * 1024;
      return {
        sizeBytes,
        label: sizeLabel(sizeBytes),
        total: readNum(`${dir}/nr_hugepages`),
        free: readNum(`${dir}/free_hugepages`),
        reserved: readNum(`${dir}/resv_hugepages`),
        surplus: readNum(`${dir}/surplus_hugepages`),
      };
    })
    .sort((a, b) => a.sizeBytes - b.sizeBytes);
}

export function freeHugepageBytes(sizeBytes = HUGEPAGE_2M): number {
  const pool = hugepagePools().find((p) => p.sizeBytes === sizeBytes);
  return pool ? (pool.free - pool.reserved) * sizeBytes : 0;
}

export const RESERVE_HINT = "reserve some with `bdk hugepages --reserve 2M:512` (or `echo 512 > /proc/sys/vm/nr_hugepages`)";

/** Sets the number of pages of one size; returns how many the kernel actually gave (it may give fewer). */
export function reserveHugepages(sizeBytes: number, count: number, sysRoot = SYS): number {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_HUGEPAGE_COUNT) {
    throw new BdkError(`hugepage count ${count} is out of range`, `give a whole number 0..${MAX_HUGEPAGE_COUNT}`);
  }
  const path = `${sysRoot}/hugepages-${sizeBytes / 1024}kB/nr_hugepages`;
  if (!existsSync(path)) {
    const sizes = hugepagePools(sysRoot).map((p) => p.label).join(", ") || "none";
    throw new BdkError(`this kernel has no ${sizeLabel(sizeBytes)} hugepages`, `sizes offered here: ${sizes}`);
  }
  try {
    writeFileSync(path, String(count));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const denied = code === "EACCES" || code === "EPERM" || code === "EROFS";
    throw new BdkError(`cannot write ${count} to ${path}: ${(e as Error).message}`,
      denied && !isRoot() ? "run as root" : denied ? "sysfs is read-only here (a container?): reserve on the host" : "the kernel refused the value");
  }
  return readNum(path);
}

/** hugetlbfs mount points from /proc/mounts. */
export function hugetlbfsMounts(): string[] {
  try {
    return readFileSync("/proc/mounts", "utf8").split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f[2] === "hugetlbfs")
      .map((f) => f[1]!);
  } catch {
    return [];
  }
}

/** Files in hugetlbfs mounts that no process has open: memory held by nobody. Removes them when asked. */
export function staleHugepageFiles(remove = false): string[] {
  const open = new Set<string>();
  for (const pid of safeReaddir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    for (const fd of safeReaddir(`/proc/${pid}/fd`)) {
      try {
        open.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch { /* the process went away */ }
    }
  }
  const stale: string[] = [];
  for (const mount of hugetlbfsMounts()) {
    for (const f of safeReaddir(mount)) {
      const path = `${mount}/${f}`;
      if (open.has(path) || !statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
      stale.push(path);
      if (remove) unlinkSync(path);
    }
  }
  return stale;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}


export interface ReservationOutcome {
  /** What the kernel granted to the request. */
  got: number;
  /** The pool's size afterwards: `got`, or `before` again when a partial grant was given back. */
  now: number;
  /** A partial grant was given back (exact). */
  gaveBack: boolean;
}

/**
 * Carries out one planned reservation. The kernel may grant fewer pages than asked (fragmented or short
 * memory); with `exact` (the CLI's default) the pool goes back to the size it had before, so a reservation
 * is all or nothing. `reserve` sets the pool's size and returns what the kernel gave (tests pass a fake).
 */
export function applyReservation(plan: ReservationPlan, exact: boolean, reserve: (count: number) => number): ReservationOutcome {
  const got = reserve(plan.count);
  if (got >= plan.count || !exact) return { got, now: got, gaveBack: false };
  const now = got === plan.before ? got : reserve(plan.before);
  return { got, now, gaveBack: true };
}
