// Host programs inside the guest (dpdk-testpmd, next to bdk on the same emulated NICs): the host's root,
// shared read-only over 9p when the rig runs with hostRoot (tag bdkhost), is mounted at /host, the guest's
// own /dev, /proc, /sys, /tmp and /run are bound over the host's, and the program runs chrooted there with
// the host's own libraries and paths. Mounts change only the guest's view; nothing is written to the host.
import { existsSync, mkdirSync } from "node:fs";
import { run } from "./lib.ts";

export const HOST_ROOT = "/host";

/** Mounts the host's root at /host (idempotent); throws with the reason when the rig did not share it. */
export function mountHostRoot(): void {
  if (existsSync(`${HOST_ROOT}/usr/bin`)) return;
  mkdirSync(HOST_ROOT, { recursive: true });
  const m = run(["mount", "-t", "9p", "-o", "trans=virtio,version=9p2000.L,msize=1048576,ro,cache=loose", "bdkhost", HOST_ROOT]);
  if (m.code !== 0) throw new Error(`mount bdkhost: ${m.err.trim()} (run the rig with hostRoot: true / --host-root)`);
  for (const dir of ["/dev", "/dev/hugepages", "/proc", "/sys", "/tmp", "/run"]) {
    const b = run(["mount", "--bind", dir, `${HOST_ROOT}${dir}`]);
    if (b.code !== 0) throw new Error(`bind ${dir}: ${b.err.trim()}`);
  }
}

/** argv for a host program, run chrooted in the host's root (its own dynamic loader and libraries). */
export function hostArgv(argv: string[]): string[] {
  mountHostRoot();
  return ["chroot", HOST_ROOT, ...argv];
}
