// Where the kernel's views live. Every reader in src/pci and src/vfio takes these roots so that tests
// run against trees recorded from a real machine (test/fixtures/sysfs/<scenario>/{sys,proc,dev,run}).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export interface HostPaths {
  /** sysfs, default "/sys". */
  sysfsRoot?: string;
  /** procfs, default "/proc" (routes, interrupts, open files). */
  procRoot?: string;
  /** devtmpfs, default "/dev" (the /dev/vfio nodes). */
  devRoot?: string;
  /** runtime state, default "/run" (bdk keeps bind records in /run/bdk/devbind). */
  runRoot?: string;
}

export interface Roots {
  sys: string;
  proc: string;
  dev: string;
  run: string;
}

export function roots(p: HostPaths = {}): Roots {
  return { sys: p.sysfsRoot ?? "/sys", proc: p.procRoot ?? "/proc", dev: p.devRoot ?? "/dev", run: p.runRoot ?? "/run" };
}

/** The roots of a recorded tree: DIR/sys, DIR/proc, DIR/dev, DIR/run. */
export function treePaths(dir: string): HostPaths {
  return { sysfsRoot: `${dir}/sys`, procRoot: `${dir}/proc`, devRoot: `${dir}/dev`, runRoot: `${dir}/run` };
}

/** A sysfs attribute, trimmed; undefined when absent or unreadable. */
export function readAttr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** The last component of a symlink's target ("../../../bus/pci/drivers/e1000" → "e1000"). */
export function linkName(path: string): string | undefined {
  try {
    const t = readlinkSync(path);
    return t.slice(t.lastIndexOf("/") + 1);
  } catch {
    return undefined;
  }
}

export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}
