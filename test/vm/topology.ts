// The guest's PCI topology and the QEMU arguments that build it. Pure functions: the BDF of every
// NIC follows from its position in the list, so a test knows which address is which NIC before
// the guest boots (rig.test.ts checks them against the guest's /sys/bus/pci/devices).
//
// Layout on q35's root bus (pcie.0), slot = 2 + index of the NIC:
//   e1000, e1000e  directly on pcie.0          → 0000:00:<slot>.0, one IOMMU group each
//   igb            behind its own pcie-root-port (two igb on one bus collide: each reserves
//                  functions for SR-IOV VFs)   → 0000:<bus>:00.0, bus = 1 + number of earlier igb
//                  (SeaBIOS numbers bridges depth-first in slot order, and there are no others)
//   --bridge-group: one conventional pci-bridge at slot 2 (bus 1), NIC i at 0000:01:<i+1>.0;
//                  devices behind a PCI bridge share one IOMMU group (with the bridge itself).
//                  e1000 and e1000e work there, and so does one igb (two collide, see above).
//   9p shares      virtio-9p-pci at slots 0x10 (project), 0x11 (run folder) and 0x12 (the host's root, read-only, when asked).

export type NicModel = "e1000" | "e1000e" | "igb";
export const NIC_MODELS: readonly NicModel[] = ["e1000", "e1000e", "igb"];
export const MAX_NICS = 8;

export interface UdpWire {
  /** QEMU's own port on 127.0.0.1: a UDP datagram sent here is a frame the guest NIC receives. */
  local: number;
  /** Every frame the guest NIC sends arrives as one datagram on 127.0.0.1:remote. */
  remote: number;
}

export interface NicSpec {
  model: NicModel;
  /** Host TAP device (created if missing). */
  tap?: string;
  /** Explicit UDP wiring; without tap or udp the NIC gets free ephemeral ports. */
  udp?: UdpWire;
  mac?: string;
}

export interface NicInfo {
  model: NicModel;
  /** The guest PCI address, e.g. "0000:00:02.0". */
  bdf: string;
  tap?: string;
  udp?: UdpWire;
  mac: string;
}

export interface TopologyOptions {
  bridgeGroup?: boolean;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");
const TAP_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i;

/** Parses "igb", "e1000:tap=tap0", "e1000e:udp=7001:7002,mac=52:54:00:aa:bb:cc". */
export function parseNic(text: string): NicSpec {
  const [model, ...rest] = text.split(":");
  const spec: NicSpec = { model: checkModel(model ?? "") };
  const opts = rest.join(":");
  if (!opts) return spec;
  // Options are comma-separated; values (mac, udp) contain colons but never commas.
  for (const opt of opts.split(",")) {
    const eq = opt.indexOf("=");
    const key = opt.slice(0, eq);
    const value = opt.slice(eq + 1);
    if (eq < 0) throw new Error(`NIC option '${opt}' in '${text}' is not key=value`);
    if (key === "tap") spec.tap = value;
    else if (key === "mac") spec.mac = value;
    else if (key === "udp") spec.udp = parseUdp(value, text);
    else throw new Error(`unknown NIC option '${key}' in '${text}' (known: tap=, udp=LOCAL:REMOTE, mac=)`);
  }
  return validateNic(spec);
}

function checkModel(model: string): NicModel {
  if (!(NIC_MODELS as readonly string[]).includes(model)) {
    throw new Error(`unknown NIC model '${model}': use one of ${NIC_MODELS.join(", ")}`);
  }
  return model as NicModel;
}

function parseUdp(value: string, text: string): UdpWire {
  const m = /^(\d+):(\d+)$/.exec(value);
  const local = Number(m?.[1]);
  const remote = Number(m?.[2]);
  const ok = (p: number): boolean => Number.isInteger(p) && p > 0 && p < 65536;
  if (!m || !ok(local) || !ok(remote)) throw new Error(`udp= in '${text}' must be LOCALPORT:REMOTEPORT`);
  return { local, remote };
}

export function validateNic(spec: NicSpec): NicSpec {
  checkModel(spec.model);
  if (spec.tap !== undefined && !TAP_NAME.test(spec.tap)) {
    throw new Error(`TAP name '${spec.tap}' must be 1-15 characters of [A-Za-z0-9_.-]`);
  }
  if (spec.tap !== undefined && spec.udp) throw new Error(`a NIC takes tap= or udp=, not both`);
  if (spec.mac !== undefined && !MAC.test(spec.mac)) throw new Error(`MAC '${spec.mac}' is not xx:xx:xx:xx:xx:xx`);
  return spec;
}

/** The default MAC of NIC i: 52:54:00:12:34:01, :02, … */
export function defaultMac(index: number): string {
  return `52:54:00:12:34:${hex2(index + 1)}`;
}

/** Guest PCI addresses of the NICs, in order (see the layout at the top of this file). */
export function nicAddresses(models: NicModel[], opts: TopologyOptions = {}): string[] {
  checkTopology(models, opts);
  if (opts.bridgeGroup) return models.map((_, i) => `0000:01:${hex2(i + 1)}.0`);
  let rootPorts = 0;
  return models.map((model, i) =>
    model === "igb" ? `0000:${hex2(++rootPorts)}:00.0` : `0000:00:${hex2(2 + i)}.0`);
}

/** Rejects layouts QEMU refuses, with the reason, before anything boots. */
export function checkTopology(models: NicModel[], opts: TopologyOptions = {}): void {
  if (models.length > MAX_NICS) throw new Error(`at most ${MAX_NICS} NICs (got ${models.length})`);
  if (opts.bridgeGroup && models.filter((m) => m === "igb").length > 1) {
    // Seen: "PCI: slot 18 function 0 not available for igbvf" with igb at bridge slots 1 and 2.
    throw new Error("--bridge-group takes at most one igb: each igb reserves PCI functions for its " +
      "SR-IOV VFs and two collide on one bus; group e1000/e1000e NICs instead");
  }
}

/**
 * QEMU -netdev/-device arguments for NICs whose wiring is already decided (udp ports chosen).
 * Every NIC gets `romfile=` so no iPXE option ROM is loaded (≈0.35 s each under TCG).
 */
export function nicArgs(nics: NicInfo[], opts: TopologyOptions = {}): string[] {
  checkTopology(nics.map((n) => n.model), opts);
  const args: string[] = [];
  if (opts.bridgeGroup && nics.length > 0) {
    args.push("-device", "pci-bridge,id=bdkbr,chassis_nr=1,bus=pcie.0,addr=0x2");
  }
  let rootPorts = 0;
  nics.forEach((nic, i) => {
    args.push("-netdev", netdevArg(nic, `n${i}`));
    const dev = `${nic.model},netdev=n${i},mac=${nic.mac},romfile=`;
    if (opts.bridgeGroup) {
      args.push("-device", `${dev},bus=bdkbr,addr=${hex2(i + 1)}`);
    } else if (nic.model === "igb") {
      const rp = `bdkrp${++rootPorts}`;
      args.push("-device", `pcie-root-port,id=${rp},bus=pcie.0,addr=${hex2(2 + i)},chassis=${rootPorts},slot=${rootPorts}`);
      args.push("-device", `${dev},bus=${rp},addr=0x0`);
    } else {
      args.push("-device", `${dev},bus=pcie.0,addr=${hex2(2 + i)}`);
    }
  });
  return args;
}

function netdevArg(nic: NicInfo, id: string): string {
  // vnet_hdr=off: QEMU finishes checksums and segments TSO frames itself, as a NIC does on the wire, instead of
  // handing the host partial checksums and super-frames through the virtio header (which tcpdump would show).
  if (nic.tap) return `tap,id=${id},ifname=${nic.tap},script=no,downscript=no,vnet_hdr=off`;
  if (!nic.udp) throw new Error(`NIC ${id} has neither tap nor udp wiring`);
  return `dgram,id=${id},local.type=inet,local.host=127.0.0.1,local.port=${nic.udp.local},` +
    `remote.type=inet,remote.host=127.0.0.1,remote.port=${nic.udp.remote}`;
}

export interface MachineOptions {
  kernel: string;
  initrd: string;
  projectDir: string;
  runDir: string;
  memMb: number;
  noIommu: boolean;
  /** Share the host's root read-only (tag bdkhost): for host programs run in the guest, e.g. dpdk-testpmd (test/vm/guest/host-root.ts). */
  hostRoot?: boolean;
}

/**
 * The machine: q35 under TCG (nested KVM fails on these hosts), Intel vIOMMU with interrupt
 * remapping (caching-mode so VFIO can shadow the guest's mappings), serial console on stdio.
 */
export function machineArgs(m: MachineOptions): string[] {
  // mitigations=off: a throwaway test guest; saves a few hundred ms of boot under TCG.
  // idle=poll: an idle TCG vCPU that halts sometimes misses its timer wakeup ("rcu_preempt kthread timer
  // wakeup didn't happen"), and whatever sleeps on it (a PCI reset's msleep) then stalls for minutes; a
  // vCPU that never halts never misses it. The price is host CPU while the guest is idle.
  const append = ["console=ttyS0", "panic=-1", "quiet", "mitigations=off", "idle=poll", ...(m.noIommu ? [] : ["intel_iommu=on"])];
  return [
    "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", String(m.memMb),
    "-machine", "q35,kernel-irqchip=split",
    ...(m.noIommu ? [] : ["-device", "intel-iommu,intremap=on,caching-mode=on"]),
    "-kernel", m.kernel, "-initrd", m.initrd, "-append", append.join(" "),
    "-fsdev", `local,id=fsproj,path=${qemuValue(m.projectDir)},security_model=none`,
    "-device", "virtio-9p-pci,fsdev=fsproj,mount_tag=bdkproj,bus=pcie.0,addr=0x10",
    "-fsdev", `local,id=fsrun,path=${qemuValue(m.runDir)},security_model=none`,
    "-device", "virtio-9p-pci,fsdev=fsrun,mount_tag=bdkrun,bus=pcie.0,addr=0x11",
    ...(m.hostRoot ? ["-fsdev", "local,id=fshost,path=/,security_model=none,readonly=on",
      "-device", "virtio-9p-pci,fsdev=fshost,mount_tag=bdkhost,bus=pcie.0,addr=0x12"] : []),
    // The monitor, for host tests that act on devices while the guest runs (set_link …): test/vm/qmp.ts.
    "-qmp", `unix:${qemuValue(`${m.runDir}/qmp.sock`)},server=on,wait=off`,
  ];
}

/** QEMU option values escape a comma by doubling it. */
function qemuValue(value: string): string {
  return value.replace(/,/g, ",,");
}
