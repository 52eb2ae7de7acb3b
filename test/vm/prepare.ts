// Builds the test guest into .cache/vm/: the Debian backports kernel (vmlinuz + the few modules
// we need, decompressed) and an initramfs with busybox, glibc for Bun, and our /init.
// A second run with nothing changed only hashes its inputs and returns.
import { createHash } from "node:crypto";
import {
  copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync,
  rmSync, statSync, symlinkSync, writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { exec, execSync, mustExec } from "./exec.ts";
import {
  BUN_EXE, CACHE_DIR, GUEST_INIT, INITRD, KERNEL_DIR, STAMP, STAMP_FORMAT, VMLINUZ,
} from "./paths.ts";

/**
 * Modules loaded by /init, in this order: the kernel's own NIC drivers first (so NICs start bound
 * to them, as on a real machine; igb needs dca and i2c-algo-bit), a bridge for tests that forward
 * through the guest kernel, then VFIO, then 9p for the shares. Dependencies missing from this
 * list are added before their users automatically (read from each module's .modinfo).
 */
export const GUEST_MODULES = [
  "e1000", "e1000e", "dca", "i2c-algo-bit", "igb",
  "llc", "stp", "bridge",
  "irqbypass", "vfio", "vfio_iommu_type1", "vfio-pci-core", "vfio-pci",
  "netfs", "9pnet", "9pnet_virtio", "9p",
];
/** What Bun's binary needs at least; `ldd` may add more. */
const BASE_LIBS = ["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0"];
const LIB_DIR = "/lib/x86_64-linux-gnu";
const LOADER = "ld-linux-x86-64.so.2";

export interface Stamp {
  format: number;
  kernel: string;
  inputs: string;
  builtAt: string;
}

export interface PrepareResult {
  kernel: string;
  cached: boolean;
  ms: number;
}

type Log = (line: string) => void;

/** Reads the stamp written by the last successful prepare, or null. */
export function readStamp(): Stamp | null {
  try {
    const s = JSON.parse(readFileSync(STAMP, "utf8")) as Stamp;
    return s.format === STAMP_FORMAT ? s : null;
  } catch {
    return null;
  }
}

export async function prepare(opts: { force?: boolean; log?: Log } = {}): Promise<PrepareResult> {
  const t0 = performance.now();
  const log: Log = opts.log ?? ((l) => console.log(l));
  requireHostTools();
  mkdirSync(CACHE_DIR, { recursive: true });
  if (opts.force) rmSync(KERNEL_DIR, { recursive: true, force: true });

  const kernel = await ensureKernel(log);
  const busybox = await ensureBusybox(log);
  const libs = await bunLibraries();
  const inputs = inputsHash(kernel, busybox, libs);
  const old = readStamp();
  if (!opts.force && old?.inputs === inputs && existsSync(INITRD) && existsSync(VMLINUZ)) {
    log(`up to date (kernel ${kernel})`);
    return { kernel, cached: true, ms: performance.now() - t0 };
  }

  await buildInitramfs(busybox, libs, log);
  const stamp: Stamp = { format: STAMP_FORMAT, kernel, inputs, builtAt: new Date().toISOString() };
  writeFileSync(STAMP, JSON.stringify(stamp, null, 2) + "\n");
  const ms = performance.now() - t0;
  log(`built: kernel ${kernel}, ${INITRD} (${(statSync(INITRD).size / 1e6).toFixed(1)} MB) in ${(ms / 1000).toFixed(1)} s`);
  return { kernel, cached: false, ms };
}

function requireHostTools(): void {
  for (const tool of ["apt-get", "dpkg-deb", "xz", "cpio", "gzip", "ldd"]) {
    if (execSync(["sh", "-c", `command -v ${tool}`]).code !== 0) {
      throw new Error(`${tool} not found: run scripts/setup.sh`);
    }
  }
  if (!existsSync(BUN_EXE)) throw new Error(`${BUN_EXE} missing: run scripts/setup.sh (npm install)`);
}

// ---- kernel -----------------------------------------------------------------------------------

/** Returns the kernel version, downloading and unpacking the package unless already cached. */
async function ensureKernel(log: Log): Promise<string> {
  const cached = cachedKernelVersion();
  if (cached) return cached;
  rmSync(KERNEL_DIR, { recursive: true, force: true });
  const work = join(CACHE_DIR, "download");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const deb = await downloadKernelPackage(work, log);
    log(`unpacking ${basename(deb)}`);
    const tree = join(work, "tree");
    await mustExec(["dpkg-deb", "-x", deb, tree], { timeoutMs: 300_000 });
    const version = readdirSync(join(tree, "lib", "modules"))[0];
    if (!version) throw new Error(`${basename(deb)} has no lib/modules/<version>`);
    const staging = `${KERNEL_DIR}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(join(staging, "modules"), { recursive: true });
    copyFileSync(join(tree, "boot", `vmlinuz-${version}`), join(staging, "vmlinuz"));
    await extractModules(join(tree, "lib", "modules", version, "kernel"), join(staging, "modules"));
    writeFileSync(join(staging, "version"), version + "\n");
    renameSync(staging, KERNEL_DIR); // atomic: a half-built kernel dir is never seen as cached
    log(`kernel ${version}: vmlinuz and ${readdirSync(join(KERNEL_DIR, "modules")).length} modules`);
    return version;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function cachedKernelVersion(): string | null {
  try {
    const version = readFileSync(join(KERNEL_DIR, "version"), "utf8").trim();
    const have = new Set(readdirSync(join(KERNEL_DIR, "modules")));
    const complete = existsSync(VMLINUZ) && GUEST_MODULES.every((m) => have.has(`${m}.ko`));
    return complete && version ? version : null;
  } catch {
    return null;
  }
}

/**
 * linux-image-amd64 from backports is a metapackage whose Depends names the versioned image
 * (linux-image-<ver>-amd64); its "-unsigned" twin has the same files without the signature
 * wrapper. Fetch that one, falling back to the signed package.
 */
async function downloadKernelPackage(work: string, log: Log): Promise<string> {
  // APT::Sandbox::User=root: root downloads into a folder _apt cannot write, quietly.
  const apt = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", "-t", "bookworm-backports"];
  const hint = "is bookworm-backports configured? run scripts/setup.sh";
  log("downloading linux-image-amd64 (bookworm-backports)");
  await mustExec([...apt, "linux-image-amd64"], { cwd: work, timeoutMs: 300_000 }, hint);
  const meta = debsIn(work)[0]!;
  const depends = (await mustExec(["dpkg-deb", "-f", meta, "Depends"])).trim();
  const image = depends.split(/[,|]/).map((d) => d.trim().split(/\s/)[0] ?? "")
    .find((name) => /^linux-image-.+-amd64$/.test(name));
  if (!image) throw new Error(`cannot find the versioned image in Depends of ${basename(meta)}: ${depends}`);
  rmSync(meta);
  for (const name of [`${image}-unsigned`, image]) {
    log(`downloading ${name}`);
    const r = await exec([...apt, name], { cwd: work, timeoutMs: 600_000 });
    const deb = debsIn(work)[0];
    if (r.code === 0 && deb) return deb;
    log(`  ${name} unavailable: ${r.stderr.trim().split("\n").pop()}`);
  }
  throw new Error(`could not download ${image}(-unsigned): ${hint}`);
}

function debsIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".deb")).map((f) => join(dir, f));
}

/** Finds each wanted module (plus missing dependencies) under kernel/, decompressing it. */
async function extractModules(kernelTree: string, out: string): Promise<void> {
  const index = indexModules(kernelTree);
  const done = new Set<string>();
  const add = async (name: string): Promise<void> => {
    if (done.has(name)) return;
    const src = index.get(name);
    if (!src) throw new Error(`module ${name} not found in the kernel package`);
    const dst = join(out, `${name}.ko`);
    await mustExec(["sh", "-c", `xz -dc "$1" > "$2"`, "sh", src, dst]);
    done.add(name);
    for (const dep of moduleDepends(dst)) await add(dep);
  };
  for (const m of GUEST_MODULES) await add(m);
}

/** Maps module name → path of its .ko(.xz) file. */
function indexModules(dir: string, index = new Map<string, string>()): Map<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) indexModules(path, index);
    else if (/\.ko(\.xz)?$/.test(entry.name)) index.set(entry.name.replace(/\.ko(\.xz)?$/, ""), path);
  }
  return index;
}

/** Reads "depends=a,b" from a module's .modinfo section (NUL-separated key=value strings). */
export function moduleDepends(koPath: string): string[] {
  const text = readFileSync(koPath).toString("latin1");
  const m = /\0depends=([^\0]*)\0/.exec(text);
  return m?.[1] ? m[1].split(",").filter(Boolean) : [];
}

/** Orders modules so that each comes after its dependencies, keeping GUEST_MODULES' order otherwise. */
export function loadOrder(available: Map<string, string[]>): string[] {
  const order: string[] = [];
  const visit = (name: string, path: string[]): void => {
    if (order.includes(name)) return;
    if (path.includes(name)) throw new Error(`module dependency cycle: ${[...path, name].join(" -> ")}`);
    for (const dep of available.get(name) ?? []) visit(dep, [...path, name]);
    order.push(name);
  };
  for (const m of GUEST_MODULES) visit(m, []);
  return order;
}

// ---- userland ---------------------------------------------------------------------------------

/** A static busybox: the host's (busybox-static) if it is one, else downloaded into the cache. */
async function ensureBusybox(log: Log): Promise<string> {
  if (existsSync("/bin/busybox") && isStatic("/bin/busybox")) return "/bin/busybox";
  const cached = join(CACHE_DIR, "busybox");
  if (existsSync(cached)) return cached;
  const work = join(CACHE_DIR, "download-busybox");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    log("downloading busybox-static");
    await mustExec(["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", "busybox-static"], { cwd: work });
    await mustExec(["dpkg-deb", "-x", debsIn(work)[0]!, join(work, "tree")]);
    copyFileSync(join(work, "tree", "bin", "busybox"), cached);
    return cached;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** True when the ELF has no program interpreter (PT_INTERP), i.e. needs no loader. */
function isStatic(path: string): boolean {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // ELF64 only
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

/** name in the guest's /lib/x86_64-linux-gnu → host file to copy. */
async function bunLibraries(): Promise<Map<string, string>> {
  const libs = new Map<string, string>();
  for (const name of [LOADER, ...BASE_LIBS]) libs.set(name, join(LIB_DIR, name));
  const out = await mustExec(["ldd", BUN_EXE], { timeoutMs: 10_000 });
  for (const line of out.split("\n")) {
    const m = /^\s*(\S+)\s+=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (!m) continue; // linux-vdso has no file
    // "libc.so.6 => /lib/.../libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const [name, path] = m[2] ? [m[1]!, m[2]] : [basename(m[1]!), m[1]!];
    libs.set(name, path);
  }
  for (const [name, path] of libs) {
    if (!existsSync(path)) throw new Error(`${path} (${name}, needed by Bun in the guest) not found on the host`);
  }
  return libs;
}

// ---- initramfs --------------------------------------------------------------------------------

/** Everything that ends up in the initramfs, hashed: a change in any input rebuilds it. */
function inputsHash(kernel: string, busybox: string, libs: Map<string, string>): string {
  const h = createHash("sha256");
  h.update(`format ${STAMP_FORMAT}\nkernel ${kernel}\nmodules ${GUEST_MODULES.join(",")}\n`);
  h.update(readFileSync(GUEST_INIT));
  for (const path of [busybox, VMLINUZ, ...[...libs.values()].sort()]) {
    const s = statSync(path);
    h.update(`${path} ${s.size} ${s.mtimeMs}\n`);
  }
  return h.digest("hex");
}

async function buildInitramfs(busybox: string, libs: Map<string, string>, log: Log): Promise<void> {
  const root = join(CACHE_DIR, "rootfs");
  rmSync(root, { recursive: true, force: true });
  try {
    for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "lib/modules/bdk", LIB_DIR.slice(1)]) {
      mkdirSync(join(root, d), { recursive: true });
    }
    symlinkSync(LIB_DIR.slice(1), join(root, "lib64")); // /lib64/ld-linux-x86-64.so.2 for Bun
    for (const [name, path] of libs) copyFileSync(realpathSync(path), join(root, LIB_DIR.slice(1), name));
    await installBusybox(busybox, root);
    installModules(join(root, "lib/modules/bdk"));
    copyFileSync(GUEST_INIT, join(root, "init"));
    await mustExec(["chmod", "0755", join(root, "init")]);
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\n");
    log("packing initramfs (cpio + gzip)");
    const tmp = `${INITRD}.tmp`;
    await mustExec(["sh", "-c", `cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$2"`, "sh", root, tmp], { timeoutMs: 120_000 });
    renameSync(tmp, INITRD);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** busybox plus one symlink per applet, made now so the guest does not `--install` at boot. */
async function installBusybox(busybox: string, root: string): Promise<void> {
  copyFileSync(busybox, join(root, "bin/busybox"));
  await mustExec(["chmod", "0755", join(root, "bin/busybox")]);
  const applets = (await mustExec([busybox, "--list-full"])).split("\n").filter(Boolean);
  for (const applet of applets) {
    const path = join(root, applet);
    if (existsSync(path) || applet === "linuxrc") continue;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync("/bin/busybox", path);
  }
}

/** Copies the modules and writes the load order /init follows. */
function installModules(dir: string): void {
  const src = join(KERNEL_DIR, "modules");
  const deps = new Map<string, string[]>();
  for (const f of readdirSync(src)) deps.set(f.replace(/\.ko$/, ""), moduleDepends(join(src, f)));
  const order = loadOrder(deps);
  for (const m of order) copyFileSync(join(src, `${m}.ko`), join(dir, `${m}.ko`));
  writeFileSync(join(dir, "order"), order.join("\n") + "\n");
}

if (import.meta.main) {
  const force = process.argv.includes("--force");
  prepare({ force }).catch((e: Error) => {
    console.error(`prepare: ${e.message}`);
    process.exit(1);
  });
}
