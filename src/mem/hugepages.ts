// Hugepage pools as the kernel shows them in sysfs: how many 2 MiB / 1 GiB pages exist and are free,
// how to reserve them, and which files in hugetlbfs mounts are stale (left by dead processes).
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { BdkError } from "../sys/errors.ts";

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

export function sizeLabel(bytes: number): string {
  return bytes >= HUGEPAGE_1G ? `${bytes / HUGEPAGE_1G}G` : `${bytes / (1024 * 1024)}M`;
}

/** Parses "2M", "2048k", "1G", "2MB" into bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kKmMgG])?[bB]?$/.exec(text.trim());
  if (!m) throw new BdkError(`invalid size "${text}"`, 'write it like 2M, 1G or 2048k');
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1;
  return Number(m[1]) * unit;
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
  if (!Number.isInteger(count) || count < 0) throw new BdkError(`hugepage count ${count}`, "give a whole number ≥ 0");
  const path = `${sysRoot}/hugepages-${sizeBytes / 1024}kB/nr_hugepages`;
  if (!existsSync(path)) {
    const sizes = hugepagePools(sysRoot).map((p) => p.label).join(", ") || "none";
    throw new BdkError(`this kernel has no ${sizeLabel(sizeBytes)} hugepages`, `sizes offered here: ${sizes}`);
  }
  try {
    writeFileSync(path, String(count));
  } catch (e) {
    throw new BdkError(`cannot write ${path}: ${(e as Error).message}`, "run as root");
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

