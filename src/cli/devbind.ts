// `bdk devbind`: dpdk-devbind.py for bdk. Lists NICs with driver, IOMMU group, interfaces and the
// safety verdict; binds them to vfio-pci with guards (active interfaces, shared IOMMU groups); releases
// them to the kernel (--unbind: default match; --restore: the driver they had before).
import { helpText, parseArgs, UsageError } from "../../apps/common/args.ts";
import {
  bindToVfio, checkBind, noIommuModeEnabled, restoreDevice, unbindDevice, UIO_DRIVERS, VFIO_DRIVER,
  type BindResult,
} from "../pci/bind.ts";
import { pciAddress, scanPci, type PciFunction } from "../pci/device.ts";
import { idPair } from "../pci/ids.ts";
import type { HostPaths } from "../pci/paths.ts";
import { BdkError } from "../sys/errors.ts";
import { assignmentVerdict, verdictWord, type Verdict } from "../vfio/safety.ts";
import { findPciDriver } from "../index.ts";

const OPTIONS = {
  status: { type: "bool", alias: "s", help: "list network devices by driver, with IOMMU group, interfaces and the safety verdict (the default)" },
  bind: { type: "string", alias: "b", value: "DRIVER", help: "bind the given devices to DRIVER (only vfio-pci)" },
  unbind: { type: "bool", alias: "u", help: "release the given devices to the kernel's default driver (clears driver_override)" },
  restore: { type: "bool", help: "give the given devices back to the driver they had before `--bind`" },
  force: { type: "bool", help: "bind even if an interface is up or routed, the device is not a NIC, or its IOMMU group has devices in kernel use" },
  json: { type: "bool", help: "machine-readable output" },
} as const;

const SYNOPSIS = "[--status] | --bind vfio-pci BDF… | --unbind BDF… | --restore BDF…  [--force] [--json]";
const FOOTER = `
A BDF is a PCI address: 0000:00:02.0 (or 00:02.0). Markers in the listing: *Active* = the interface
carries routes, up = it is administratively up. bdk= names the bdk poll-mode driver that takes the device (none: not yet). The last word is the safety verdict of \`bdk check\`.
Examples:
  bdk devbind --status
  bdk devbind --bind vfio-pci 0000:00:02.0 0000:00:03.0
  bdk devbind --restore 0000:00:02.0`;

export async function main(args: string[], paths?: HostPaths): Promise<number> {
  const o = parseArgs("devbind", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk devbind", SYNOPSIS, OPTIONS, FOOTER));
    return 0;
  }
  const actions = [o.bind !== undefined, o.unbind, o.restore].filter(Boolean).length;
  if (actions > 1) throw new UsageError("devbind: give one of --bind, --unbind, --restore", "run them one after another");
  if (actions === 0) {
    if (o._.length > 0) throw new UsageError(`devbind: what to do with ${o._.join(" ")}?`, "add --bind vfio-pci, --unbind or --restore");
    return status(o.json, paths);
  }
  if (o.status) throw new UsageError("devbind: --status lists; it does not combine with --bind/--unbind/--restore", "run it afterwards");
  if (o._.length === 0) throw new UsageError("devbind: no device given", "name PCI addresses, e.g. 0000:00:02.0 (see bdk devbind --status)");
  const addresses = o._.map(pciAddress);
  if (o.bind !== undefined) {
    if (o.bind !== VFIO_DRIVER) {
      throw new UsageError(`devbind: bdk binds to vfio-pci only, not "${o.bind}"`,
        o.bind === "uio_pci_generic" || o.bind === "igb_uio" ? "UIO drivers give no IOMMU protection: use --bind vfio-pci" : "use --bind vfio-pci, or --restore to go back to the kernel driver");
    }
    return bind(addresses, o.force, o.json, paths);
  }
  return release(addresses, o.restore ? "restore" : "unbind", o.json, paths);
}

// ---- --status ---------------------------------------------------------------------------------

interface Row {
  device: PciFunction;
  verdict: Verdict;
}

function interfacesText(d: PciFunction): string {
  if (d.interfaces.length === 0) return "";
  return " if=" + d.interfaces.map((i) => {
    const marks = [i.up ? "up" : "", i.routes > 0 ? `${i.routes} route${i.routes === 1 ? "" : "s"}` : ""].filter(Boolean);
    return marks.length ? `${i.name}(${marks.join(",")})` : i.name;
  }).join(",");
}

export function statusLine(d: PciFunction, v: Verdict): string {
  const active = d.interfaces.some((i) => i.routes > 0) ? " *Active*" : "";
  const drv = d.driver ? ` drv=${d.driver}` : "";
  const unused = d.driver !== VFIO_DRIVER ? " unused=vfio-pci" : "";
  const group = ` iommu_group=${d.iommuGroup ?? "none"}`;
  const numa = d.numaNode === null ? "" : ` numa=${d.numaNode}`;
  return `${d.address} '${d.deviceName} ${idPair(d.vendorId, d.deviceId)}'${drv}${unused}${interfacesText(d)}${group}${numa}${active} bdk=${bdkDriverOf(d)} verdict=${verdictWord(v)}`;
}

/** The bdk poll-mode driver that would take the device ("none": bdk has no driver for its ids yet). */
export function bdkDriverOf(d: PciFunction): string {
  return findPciDriver(d.vendorId, d.deviceId)?.name ?? "none";
}

/** The sections of the listing, computed from a scan (exported for tests). */
export function statusSections(rows: readonly Row[]): { title: string; rows: Row[] }[] {
  const net = rows.filter((r) => r.device.isNetwork);
  const otherUser = rows.filter((r) => !r.device.isNetwork && r.device.driver !== null && (r.device.driver === VFIO_DRIVER || UIO_DRIVERS.has(r.device.driver)));
  const userspace = (d: PciFunction): boolean => d.driver === VFIO_DRIVER || (d.driver !== null && UIO_DRIVERS.has(d.driver));
  return [
    { title: "Network devices using vfio-pci (userspace)", rows: net.filter((r) => userspace(r.device)) },
    { title: "Network devices using a kernel driver", rows: net.filter((r) => r.device.driver !== null && !userspace(r.device)) },
    { title: "Network devices using no driver", rows: net.filter((r) => r.device.driver === null) },
    ...(otherUser.length ? [{ title: "Other devices using a userspace driver", rows: otherUser }] : []),
  ];
}

function status(json: boolean, paths?: HostPaths): number {
  const all = scanPci(paths);
  const rows: Row[] = all
    .filter((d) => d.isNetwork || d.driver === VFIO_DRIVER || (d.driver !== null && UIO_DRIVERS.has(d.driver)))
    .map((device) => ({ device, verdict: assignmentVerdict(device.address, paths) }));
  if (json) {
    console.log(JSON.stringify({
      devices: rows.map((r) => ({
        ...r.device,
        bdkDriver: bdkDriverOf(r.device),
        verdict: { safe: r.verdict.safe, word: verdictWord(r.verdict), mode: r.verdict.mode, reasons: r.verdict.reasons, notes: r.verdict.notes },
      })),
    }, null, 2));
    return 0;
  }
  const out: string[] = [];
  for (const s of statusSections(rows)) {
    out.push("", s.title, "=".repeat(s.title.length));
    if (s.rows.length === 0) out.push("<none>");
    for (const r of s.rows) out.push(statusLine(r.device, r.verdict));
  }
  if (rows.length === 0) out.push("", "no network devices found");
  console.log(out.join("\n").replace(/^\n/, ""));
  return 0;
}

// ---- --bind -----------------------------------------------------------------------------------

function bind(addresses: string[], force: boolean, json: boolean, paths?: HostPaths): number {
  const all = scanPci(paths);
  const checks = checkBind(addresses, all, { force, noIommuEnabled: noIommuModeEnabled(paths) });
  const log = json ? () => {} : (s: string) => console.log(s);
  for (const c of checks) for (const w of c.warnings) console.error(`bdk devbind: warning: ${w}`);
  const refused = checks.filter((c) => c.refusals.length > 0);
  if (refused.length > 0) {
    for (const c of refused) for (const r of c.refusals) console.error(`bdk devbind: refusing ${c.address}: ${r}`);
    if (addresses.length > 1) console.error("bdk devbind: nothing was bound");
    if (json) console.log(JSON.stringify({ ok: false, refused: refused.map((c) => ({ address: c.address, reasons: c.refusals })) }, null, 2));
    return 1;
  }
  const results: (BindResult & { verdict?: string; error?: string })[] = [];
  let failed = false;
  for (const c of checks) {
    try {
      const r = bindToVfio(c.address, { paths, log });
      const v = assignmentVerdict(c.address, paths);
      results.push({ ...r, verdict: verdictWord(v) });
      if (!json) {
        console.log(`${c.address}: on vfio-pci; verdict: ${verdictWord(v)}${v.safe ? "" : ` — ${v.reasons.map((x) => x.problem).join("; ")} (bdk check ${c.address})`}`);
      }
    } catch (e) {
      if (!(e instanceof BdkError)) throw e;
      failed = true;
      results.push({ address: c.address, before: c.device?.driver ?? null, after: null, interfaces: [], steps: [], error: e.message });
      console.error(`bdk devbind: ${e.message}`);
    }
  }
  if (json) console.log(JSON.stringify({ ok: !failed, results }, null, 2));
  return failed ? 1 : 0;
}

// ---- --unbind / --restore ---------------------------------------------------------------------

function release(addresses: string[], mode: "unbind" | "restore", json: boolean, paths?: HostPaths): number {
  const log = json ? () => {} : (s: string) => console.log(s);
  const results: (BindResult & { error?: string })[] = [];
  let failed = false;
  for (const a of addresses) {
    try {
      results.push((mode === "restore" ? restoreDevice : unbindDevice)(a, { paths, log }));
    } catch (e) {
      if (!(e instanceof BdkError)) throw e;
      failed = true;
      results.push({ address: a, before: null, after: null, interfaces: [], steps: [], error: e.message });
      console.error(`bdk devbind: ${e.message}`);
    }
  }
  if (json) console.log(JSON.stringify({ ok: !failed, results }, null, 2));
  return failed ? 1 : 0;
}
