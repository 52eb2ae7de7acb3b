// Moving a PCI function between its kernel driver and vfio-pci, as dpdk-devbind does, with the guards
// that keep a user from cutting off their own SSH session or breaking an IOMMU group:
//   bind:    driver_override = vfio-pci → unbind the current driver → drivers_probe → verify
//   unbind:  clear driver_override → unbind → drivers_probe (the kernel's default match) → verify
//   restore: back to the driver recorded at bind time (/run/bdk/devbind/BDF.json) → verify
// The decisions (checkBind) are pure functions of scanned devices, so tests cover them on recorded trees.
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { BdkError } from "../sys/errors.ts";
import { activeInterfaces, devicePath, findPciFunction, noSuchDevice, pciAddress, shortName, type PciFunction } from "./device.ts";
import { formatHolders, processesHolding } from "./holders.ts";
import { roots, type HostPaths, type Roots } from "./paths.ts";

export const VFIO_DRIVER = "vfio-pci";

/** Drivers the kernel lets share an IOMMU group with a VFIO user (their `driver_managed_dma`). */
const GROUP_SAFE_DRIVERS = new Set(["vfio-pci", "pci-stub", "pcieport"]);
/** Drivers that give userspace a device without IOMMU protection. */
export const UIO_DRIVERS = new Set(["uio_pci_generic", "igb_uio"]);

/** Whether a group member keeps VFIO from using the group: bound to a driver that does its own DMA. */
export function inKernelUse(d: PciFunction): boolean {
  if (d.driver === null) return false;
  return !GROUP_SAFE_DRIVERS.has(d.driver) && !/vfio/.test(d.driver);
}

/** "0000:01:02.0 (82540EM, 8086:100e) on e1000 (eth1)". */
export function describeUse(d: PciFunction): string {
  const ifs = d.interfaces.map((i) => i.name).join(", ");
  return `${shortName(d)} on ${d.driver ?? "no driver"}${ifs ? ` (${ifs})` : ""}`;
}

export interface BindCheck {
  address: string;
  device: PciFunction | undefined;
  /** Reasons not to bind; each says what to do. Empty: go ahead. */
  refusals: string[];
  /** What --force overrode, or what the user should know anyway. */
  warnings: string[];
  /** Already on vfio-pci: nothing to do. */
  alreadyBound: boolean;
}

export interface CheckBindOptions {
  force?: boolean;
  /** Whether the kernel would put group-less devices in no-IOMMU groups (vfio's enable_unsafe_noiommu_mode). */
  noIommuEnabled?: boolean;
}

/**
 * Decides, for each address to bind to vfio-pci, whether it may be bound. `all` is the scan of the
 * machine (group members are looked up in it). Devices bound in the same command may share a group.
 */
export function checkBind(addresses: readonly string[], all: readonly PciFunction[], opts: CheckBindOptions = {}): BindCheck[] {
  const byAddr = new Map(all.map((d) => [d.address, d]));
  const targets = new Set(addresses);
  return addresses.map((address) => {
    const device = byAddr.get(address);
    const c: BindCheck = { address, device, refusals: [], warnings: [], alreadyBound: device?.driver === VFIO_DRIVER };
    if (!device) {
      c.refusals.push(`${noSuchDevice(address).message}`);
      return c;
    }
    const guard = (problem: string, fix: string, forcedNote: string): void => {
      if (opts.force) c.warnings.push(`${problem}: ${forcedNote} (--force)`);
      else c.refusals.push(`${problem}: ${fix}, or pass --force`);
    };
    if (device.isBridge) {
      c.refusals.push(`${shortName(device)} is a PCI bridge: vfio-pci does not take bridges (bind the devices behind it instead)`);
      return c;
    }
    if (c.alreadyBound) return c;
    if (!device.isNetwork) {
      guard(`${shortName(device)} is a ${device.className}, not a network device`, "check the address with `bdk devbind --status`",
        "binding it anyway");
    }
    for (const i of device.interfaces) {
      if (i.routes > 0) {
        guard(`interface ${i.name} of ${device.address} carries ${i.routes} route${i.routes === 1 ? "" : "s"} (*Active*)`,
          `it is in use by the kernel's network stack; move its addresses and routes elsewhere and take it down (ip link set ${i.name} down)`,
          "its routes and connections will be lost");
      } else if (i.up) {
        guard(`interface ${i.name} of ${device.address} is up`, `take it down first: ip link set ${i.name} down`,
          "it will disappear from the kernel");
      }
    }
    if (device.iommuGroup === null) {
      if (!opts.noIommuEnabled) {
        guard(`${device.address} has no IOMMU group, so vfio-pci will refuse it`,
          "the machine has no (enabled) IOMMU: turn on VT-d/AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on " +
          "(in a VM: add a vIOMMU, QEMU -device intel-iommu,intremap=on); see docs/assigning-a-nic.md",
          "trying anyway; expect the probe to fail and the device to go back to its driver");
      }
    } else {
      const busy = device.groupMembers
        .filter((m) => m !== address && !targets.has(m))
        .map((m) => byAddr.get(m))
        .filter((m): m is PciFunction => m !== undefined && inKernelUse(m));
      if (busy.length > 0) {
        const list = busy.map(describeUse).join("; ");
        const together = [address, ...busy.map((b) => b.address)].join(" ");
        if (opts.force) {
          c.warnings.push(`IOMMU group ${device.iommuGroup} also holds ${list}: the group will not be viable (VFIO refuses to open it) ` +
            `until ${busy.length === 1 ? "it is" : "they are"} on vfio-pci or unbound (--force)`);
        } else {
          c.refusals.push(`IOMMU group ${device.iommuGroup} also holds ${list}, in use by the kernel: VFIO can only use a group whose ` +
            `devices are all on vfio-pci or unbound; bind them together (bdk devbind --bind vfio-pci ${together}) or pass --force`);
        }
      }
    }
    return c;
  });
}

// ---- state ------------------------------------------------------------------------------------

export interface BindRecord {
  address: string;
  /** The driver before bdk bound vfio-pci (null: none). */
  driver: string | null;
  driverOverride: string | null;
  interfaces: string[];
  boundAt: string;
}

export function stateDir(r: Roots): string {
  return `${r.run}/bdk/devbind`;
}

function statePath(r: Roots, address: string): string {
  return `${stateDir(r)}/${address}.json`;
}

export function readBindRecord(address: string, paths?: HostPaths): BindRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(statePath(roots(paths), address), "utf8")) as BindRecord;
    return rec && rec.address === address ? rec : undefined;
  } catch {
    return undefined;
  }
}

function writeBindRecord(r: Roots, rec: BindRecord): void {
  mkdirSync(stateDir(r), { recursive: true });
  writeFileSync(statePath(r, rec.address), JSON.stringify(rec, null, 2) + "\n");
}

function dropBindRecord(r: Roots, address: string): void {
  try {
    unlinkSync(statePath(r, address));
  } catch { /* none */ }
}

// ---- actions ----------------------------------------------------------------------------------

export interface BindActionOptions {
  paths?: HostPaths;
  /** Progress lines ("unbound from e1000"). */
  log?: (line: string) => void;
  /** How long to wait for the kernel after each step (ms). */
  settleMs?: number;
}

export interface BindResult {
  address: string;
  before: string | null;
  after: string | null;
  /** Interfaces the device has afterwards. */
  interfaces: string[];
  steps: string[];
}

function sysWrite(path: string, value: string, what: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const hint = code === "EACCES" || code === "EPERM" ? "run as root"
      : code === "ENODEV" ? "the driver does not accept this device"
        : code === "EBUSY" ? "the device is busy" : "see `dmesg | tail` for the kernel's reason";
    throw new BdkError(`${what} failed: writing "${value.trim()}" to ${path}: ${code || (e as Error).message}`, hint);
  }
}

function currentDriver(r: Roots, address: string): string | null {
  return findPciFunction(address, { sysfsRoot: r.sys, procRoot: r.proc, devRoot: r.dev, runRoot: r.run })?.driver ?? null;
}

function waitUntil(pred: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= end) return false;
    Bun.sleepSync(10);
  }
}

function pathsOf(r: Roots): HostPaths {
  return { sysfsRoot: r.sys, procRoot: r.proc, devRoot: r.dev, runRoot: r.run };
}

/** Loads a kernel module when its driver directory is missing; says so. */
export function ensureDriverLoaded(r: Roots, driver: string, module: string, log: (s: string) => void): void {
  if (existsSync(`${r.sys}/bus/pci/drivers/${driver}`)) return;
  log(`${driver} is not loaded: running \`modprobe ${module}\``);
  const p = Bun.spawnSync(["modprobe", module], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0 || !waitUntil(() => existsSync(`${r.sys}/bus/pci/drivers/${driver}`), 2000)) {
    const why = p.stderr.toString().trim();
    throw new BdkError(`cannot load ${module}${why ? `: ${why}` : ""}`,
      driver === VFIO_DRIVER ? "the kernel needs CONFIG_VFIO_PCI (Debian and Ubuntu kernels have it): modprobe vfio-pci"
        : `load it by hand: modprobe ${module}`);
  }
}

/** Refuses to touch a device whose VFIO group is held open: unbinding would block until it is closed. */
function checkNotOpen(r: Roots, d: PciFunction): void {
  if (d.driver !== VFIO_DRIVER || d.iommuGroup === null) return;
  for (const node of [`${r.dev}/vfio/${d.iommuGroup}`, `${r.dev}/vfio/noiommu-${d.iommuGroup}`]) {
    const holders = processesHolding(node, pathsOf(r));
    if (holders.length > 0) {
      throw new BdkError(`${d.address} is open through ${node} by ${formatHolders(holders)}`,
        "close the port in that process (or stop it) first: the kernel would wait for it");
    }
  }
}

/** What every bind/release action starts with: the device as sysfs shows it, and a log of the steps taken. */
function beginAction(address: string, opts: BindActionOptions) {
  const r = roots(opts.paths);
  const log = opts.log ?? (() => {});
  const addr = pciAddress(address);
  const d = findPciFunction(addr, pathsOf(r));
  if (!d) throw noSuchDevice(addr);
  const steps: string[] = [];
  const step = (s: string): void => {
    steps.push(s);
    log(`${addr}: ${s}`);
  };
  return { r, settle: opts.settleMs ?? 3000, addr, d, steps, step };
}

/** Binds one function to vfio-pci. Call checkBind first: this does what it is told. */
export function bindToVfio(address: string, opts: BindActionOptions = {}): BindResult {
  const { r, settle, addr, d, steps, step } = beginAction(address, opts);
  if (d.driver === VFIO_DRIVER) {
    step("already bound to vfio-pci");
    return { address: addr, before: d.driver, after: d.driver, interfaces: [], steps };
  }
  ensureDriverLoaded(r, VFIO_DRIVER, "vfio-pci", (s) => step(s));
  // What to go back to (replaces a stale record: the device is not on vfio-pci now).
  writeBindRecord(r, {
    address: addr, driver: d.driver, driverOverride: d.driverOverride === VFIO_DRIVER ? null : d.driverOverride,
    interfaces: d.interfaces.map((i) => i.name), boundAt: new Date().toISOString(),
  });
  const dir = devicePath(r, addr);
  sysWrite(`${dir}/driver_override`, VFIO_DRIVER, "setting driver_override");
  const override = findPciFunction(addr, pathsOf(r))?.driverOverride;
  if (override !== VFIO_DRIVER) throw new BdkError(`driver_override of ${addr} reads "${override}" after writing vfio-pci`, "is sysfs writable here?");
  step("driver_override = vfio-pci");
  if (d.driver) {
    sysWrite(`${dir}/driver/unbind`, addr, `unbinding ${addr} from ${d.driver}`);
    if (!waitUntil(() => currentDriver(r, addr) === null, settle)) {
      throw new BdkError(`${addr} is still on ${currentDriver(r, addr)} after unbind`, "see `dmesg | tail`");
    }
    step(`unbound from ${d.driver}`);
  }
  sysWrite(`${r.sys}/bus/pci/drivers_probe`, addr, `probing ${addr}`);
  waitUntil(() => currentDriver(r, addr) !== null, settle);
  const now = currentDriver(r, addr);
  if (now !== VFIO_DRIVER) {
    // Leave the device as we found it rather than driverless.
    const why = d.iommuGroup === null
      ? "vfio-pci refuses devices without an IOMMU group: there is no IOMMU (see `bdk check` and docs/assigning-a-nic.md)"
      : "see `dmesg | tail` for vfio-pci's reason";
    try {
      sysWrite(`${dir}/driver_override`, d.driverOverride ?? "\n", "restoring driver_override");
      if (now) sysWrite(`${dir}/driver/unbind`, addr, "unbinding");
      sysWrite(`${r.sys}/bus/pci/drivers_probe`, addr, "probing");
      waitUntil(() => currentDriver(r, addr) !== null || d.driver === null, settle);
    } catch { /* report the first failure */ }
    dropBindRecord(r, addr);
    const back = currentDriver(r, addr);
    throw new BdkError(`vfio-pci did not take ${addr} (it ${now ? `went to ${now}` : "has no driver"}); ` +
      `returned it to ${back ?? "no driver"}`, why);
  }
  step("bound to vfio-pci");
  const after = findPciFunction(addr, pathsOf(r))!;
  if (after.iommuGroup !== null) {
    const node = `${r.dev}/vfio/${after.iommuGroup}`;
    const noiommu = `${r.dev}/vfio/noiommu-${after.iommuGroup}`;
    if (waitUntil(() => existsSync(node) || existsSync(noiommu), settle)) {
      step(`group node ${existsSync(node) ? node : `${noiommu} (no-IOMMU mode: unsafe)`}`);
    } else {
      step(`warning: no group node ${node} appeared`);
    }
  }
  return { address: addr, before: d.driver, after: VFIO_DRIVER, interfaces: [], steps };
}

/** Releases to the kernel's default match: clear driver_override, unbind, drivers_probe. */
export function unbindDevice(address: string, opts: BindActionOptions = {}): BindResult {
  return release(address, null, opts, "unbind");
}

/** Returns a device to the driver it had before `bindToVfio` (falls back to the default match). */
export function restoreDevice(address: string, opts: BindActionOptions = {}): BindResult {
  const addr = pciAddress(address);
  const rec = readBindRecord(addr, opts.paths);
  return release(addr, rec ?? null, opts, "restore");
}

function release(address: string, rec: BindRecord | null, opts: BindActionOptions, mode: "unbind" | "restore"): BindResult {
  const { r, settle, addr, d, steps, step } = beginAction(address, opts);
  checkNotOpen(r, d);
  const dir = devicePath(r, addr);
  if (mode === "restore" && !rec) step("no record of its previous driver: releasing it to the kernel's default match");
  const target = rec ? rec.driver : undefined; // undefined: whatever the kernel matches
  if (target) ensureDriverLoaded(r, target, target, (s) => step(s));
  if (target !== undefined && d.driver === target) {
    step(`already on ${target}`);
  } else {
    // Steering through driver_override makes drivers_probe pick exactly the recorded driver.
    sysWrite(`${dir}/driver_override`, target ?? "\n", "setting driver_override");
    step(target ? `driver_override = ${target}` : "driver_override cleared");
    if (d.driver) {
      sysWrite(`${dir}/driver/unbind`, addr, `unbinding ${addr} from ${d.driver}`);
      if (!waitUntil(() => currentDriver(r, addr) === null, settle)) {
        throw new BdkError(`${addr} is still on ${currentDriver(r, addr)} after unbind`, "see `dmesg | tail`");
      }
      step(`unbound from ${d.driver}`);
    }
    if (target !== null) {
      sysWrite(`${r.sys}/bus/pci/drivers_probe`, addr, `probing ${addr}`);
      waitUntil(() => currentDriver(r, addr) !== null, settle);
    }
  }
  // Put driver_override back as it was before bdk (usually unset).
  const finalOverride = rec?.driverOverride ?? null;
  if (findPciFunction(addr, pathsOf(r))?.driverOverride !== finalOverride) {
    sysWrite(`${dir}/driver_override`, finalOverride ?? "\n", "restoring driver_override");
  }
  const now = currentDriver(r, addr);
  if (target && now !== target) {
    throw new BdkError(`${addr} did not go back to ${target} (it is on ${now ?? "no driver"})`,
      `see \`dmesg | tail\`; try by hand: echo ${addr} > /sys/bus/pci/drivers/${target}/bind`);
  }
  step(now ? `bound to ${now}` : "left without a driver");
  if (now === VFIO_DRIVER && mode === "unbind") {
    step("warning: vfio-pci claimed it again (its id table was extended with new_id): remove the id with /sys/bus/pci/drivers/vfio-pci/remove_id");
  }
  let interfaces: string[] = [];
  const expected = rec?.interfaces.length ?? 0;
  if (now && now !== VFIO_DRIVER) {
    waitUntil(() => (findPciFunction(addr, pathsOf(r))?.interfaces.length ?? 0) >= Math.max(1, expected), expected > 0 ? settle : 500);
    interfaces = findPciFunction(addr, pathsOf(r))?.interfaces.map((i) => i.name) ?? [];
    if (interfaces.length > 0) step(`interface${interfaces.length > 1 ? "s" : ""} ${interfaces.join(", ")}`);
    else if (expected > 0) step(`warning: no interface appeared (it had ${rec!.interfaces.join(", ")})`);
  }
  dropBindRecord(r, addr);
  return { address: addr, before: d.driver, after: now, interfaces, steps };
}

/** Whether the kernel would give group-less devices a no-IOMMU group (CONFIG_VFIO_NOIOMMU + the module parameter). */
export function noIommuModeEnabled(paths?: HostPaths): boolean {
  const r = roots(paths);
  try {
    return /^[Yy1]/.test(readFileSync(`${r.sys}/module/vfio/parameters/enable_unsafe_noiommu_mode`, "utf8"));
  } catch {
    return false;
  }
}

export { activeInterfaces };
