// Where the rig keeps things. Everything it builds lives in the git-ignored .cache/vm/ of the
// project, so a fresh clone rebuilds it with `scripts/setup.sh --vm`.
import { join, resolve } from "node:path";

/** The project root: the guest mounts it over 9p at this same absolute path. */
export const PROJECT_ROOT = resolve(import.meta.dir, "../..");
export const CACHE_DIR = join(PROJECT_ROOT, ".cache", "vm");
/** Kernel files picked out of the Debian package: vmlinuz, version, modules/*.ko (decompressed). */
export const KERNEL_DIR = join(CACHE_DIR, "kernel");
export const VMLINUZ = join(KERNEL_DIR, "vmlinuz");
export const INITRD = join(CACHE_DIR, "initrd.gz");
export const STAMP = join(CACHE_DIR, "stamp.json");
/** The guest's /init, copied verbatim into the initramfs. */
export const GUEST_INIT = join(import.meta.dir, "guest-init.sh");
export const BUN_EXE = join(PROJECT_ROOT, "node_modules", "bun", "bin", "bun.exe");

/** Only one QEMU may run at a time on a 2-core machine: every boot holds this lock. */
export const LOCK_PATH = "/tmp/bdk-vm.lock";
/** Bumped whenever the layout of the initramfs changes, so old caches are rebuilt. */
export const STAMP_FORMAT = 1;
/** QEMU 10 (bookworm-backports) is what the rig is verified with; bookworm's 7.2 lacks igb. */
export const QEMU_MIN_MAJOR = 10;

export const SETUP_HINT = "run scripts/setup.sh --vm";
