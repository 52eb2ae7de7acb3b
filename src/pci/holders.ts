// Which processes hold a file open: the answer to "device already open in another process".
// Walks /proc/*/fd; cheap on the machines bdk runs on (hundreds of processes, not millions).
import { readlinkSync } from "node:fs";
import { listDir, readAttr, roots, type HostPaths } from "./paths.ts";

export interface Holder {
  pid: number;
  /** The process's name (/proc/PID/comm). */
  comm: string;
}

/** Processes with `target` open (an absolute path as /proc/PID/fd links show it). */
export function processesHolding(target: string, paths?: HostPaths, exceptPid?: number): Holder[] {
  const r = roots(paths);
  const out: Holder[] = [];
  for (const p of listDir(r.proc)) {
    if (!/^\d+$/.test(p)) continue;
    const pid = Number(p);
    if (pid === exceptPid) continue;
    for (const fd of listDir(`${r.proc}/${p}/fd`)) {
      let link: string;
      try {
        link = readlinkSync(`${r.proc}/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link === target) {
        out.push({ pid, comm: readAttr(`${r.proc}/${p}/comm`) ?? "?" });
        break;
      }
    }
  }
  return out;
}

export function formatHolders(h: readonly Holder[]): string {
  return h.map((x) => `pid ${x.pid} (${x.comm})`).join(", ");
}
