// CPU lists as the kernel writes them ("0-3,8,10-11"): in /sys/devices/system/cpu/online and in the
// Cpus_allowed_list line of /proc/<pid>/task/<tid>/status.
import { readFileSync } from "node:fs";

export const CPU_ONLINE_PATH = "/sys/devices/system/cpu/online";

/** "0-2,5" → [0, 1, 2, 5]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`"${text}" is not a CPU list (like 0-3,8)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let c = lo; c <= hi; c++) out.push(c);
  }
  return out;
}

/** The online CPUs, or undefined when sysfs does not say. */
export function onlineCpus(): number[] | undefined {
  try {
    return parseCpuList(readFileSync(CPU_ONLINE_PATH, "utf8"));
  } catch {
    return undefined;
  }
}

/** The Cpus_allowed_list of one thread, as the kernel reports it (text and parsed). */
export function threadCpusAllowed(tid: number): { path: string; text: string; cpus: number[] } {
  const path = `/proc/self/task/${tid}/status`;
  const status = readFileSync(path, "utf8");
  const m = /^Cpus_allowed_list:\s*(.*)$/m.exec(status);
  if (!m) throw new Error(`${path} has no Cpus_allowed_list line`);
  const text = m[1]!.trim();
  return { path, text, cpus: parseCpuList(text) };
}
