// A VFIO group: /dev/vfio/N, the unit of isolation. Opened once per process (the kernel allows one
// opener), shared by the devices of the group this process opens, put into the process's container.
import { existsSync } from "node:fs";
import { findPciFunction, groupDevices, type PciFunction } from "../pci/device.ts";
import { describeUse, inKernelUse } from "../pci/bind.ts";
import { formatHolders, processesHolding } from "../pci/holders.ts";
import { roots, type HostPaths } from "../pci/paths.ts";
import { E, SysError } from "../sys/errno.ts";
import { BdkError } from "../sys/errors.ts";
import { close, cstr, getpid, ioctlPtr, O_RDWR, open } from "../sys/libc.ts";
import { VfioContainer, type ContainerMember } from "./container.ts";
import { GroupStatus, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE, VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS } from "./uapi.ts";

export interface GroupOpenOptions {
  paths?: HostPaths;
  /** Accept a no-IOMMU group (/dev/vfio/noiommu-N). */
  allowNoIommu?: boolean;
}

const groups = new Map<number, VfioGroup>();

export class VfioGroup implements ContainerMember {
  /** Opens group N (or returns this process's open one) and takes a reference on it. */
  static acquire(number: number, opts: GroupOpenOptions = {}): VfioGroup {
    let g = groups.get(number);
    if (!g || g.closed) {
      g = new VfioGroup(number, opts);
      groups.set(number, g);
    }
    g.refs++;
    return g;
  }

  /** Groups this process has open. */
  static openGroups(): VfioGroup[] {
    return [...groups.values()].filter((g) => !g.closed);
  }

  readonly fd: number;
  readonly path: string;
  readonly noIommu: boolean;
  readonly container: VfioContainer;
  private refs = 0;
  private closed = false;

  private constructor(readonly number: number, opts: GroupOpenOptions) {
    const r = roots(opts.paths);
    const node = `${r.dev}/vfio/${number}`;
    const noiommuNode = `${r.dev}/vfio/noiommu-${number}`;
    this.noIommu = !existsSync(node) && existsSync(noiommuNode);
    this.path = this.noIommu ? noiommuNode : node;
    if (!existsSync(this.path)) {
      throw new BdkError(`no VFIO group node ${node}`, "bind the device to vfio-pci first (bdk devbind --bind vfio-pci BDF), then check it with `bdk check`");
    }
    if (this.noIommu && !opts.allowNoIommu) {
      throw new BdkError(`IOMMU group ${number} is a no-IOMMU group (${noiommuNode}): its devices can DMA anywhere in memory`,
        "enable the IOMMU (see docs/assigning-a-nic.md), or accept the risk with allowUnsafeNoIommu: true");
    }
    this.fd = openGroupNode(this.path, opts.paths);
    try {
      const st = this.status();
      if (!st.viable) throw notViable(number, opts.paths);
      this.container = VfioContainer.shared(opts.paths);
      this.container.attach(this);
    } catch (e) {
      close(this.fd);
      this.closed = true;
      throw e;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get references(): number {
    return this.refs;
  }

  /** VFIO_GROUP_GET_STATUS: viable (every device of the group is on a VFIO driver or none) and container set. */
  status(): { viable: boolean; containerSet: boolean } {
    const buf = GroupStatus.encode({ argsz: GroupStatus.size });
    ioctlPtr(this.fd, VFIO_GROUP_GET_STATUS, buf, `VFIO_GROUP_GET_STATUS(${this.path})`);
    const flags = GroupStatus.get(buf, "flags");
    return { viable: (flags & VFIO_GROUP_FLAGS_VIABLE) !== 0, containerSet: (flags & VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0 };
  }

  /** VFIO_GROUP_GET_DEVICE_FD for one function of the group. */
  deviceFd(address: string): number {
    try {
      return ioctlPtr(this.fd, VFIO_GROUP_GET_DEVICE_FD, cstr(address), `VFIO_GROUP_GET_DEVICE_FD(${address})`);
    } catch (e) {
      if (e instanceof SysError && e.errno === E.EBUSY) {
        throw new BdkError(`${address} is already open (VFIO says EBUSY)`, "close the other port on it first");
      }
      if (e instanceof SysError && (e.errno === E.ENODEV || e.errno === E.EINVAL)) {
        throw new BdkError(`${address} is not in IOMMU group ${this.number}`, "`bdk devbind --status` shows each device's group");
      }
      throw e;
    }
  }

  /** Drops a reference; the last one takes the group out of the container and closes it. */
  release(): void {
    if (this.closed || --this.refs > 0) return;
    this.closed = true;
    groups.delete(this.number);
    try {
      this.container.detach(this);
    } finally {
      try {
        close(this.fd);
      } catch { /* gone */ }
    }
  }
}

function openGroupNode(path: string, paths?: HostPaths): number {
  try {
    return open(path, O_RDWR);
  } catch (e) {
    if (!(e instanceof SysError)) throw e;
    if (e.errno === E.EBUSY) {
      const holders = processesHolding(path, paths, getpid());
      throw new BdkError(`${path}: device already open in another process${holders.length ? ` (${formatHolders(holders)})` : ""}`,
        holders.length
          ? "a VFIO group can be open in one process at a time: close the port there or stop that process"
          : "a VFIO group can be open in one process at a time; find it with `ls -l /proc/*/fd | grep vfio`");
    }
    if (e.errno === E.EACCES || e.errno === E.EPERM) {
      throw new BdkError(`${path}: permission denied`, "run as root, or give your user the group node (chown) and a big enough `ulimit -l`");
    }
    throw e;
  }
}

/** The error for a group that is not viable, naming the members still on kernel drivers. */
function notViable(number: number, paths?: HostPaths): BdkError {
  const members = findMembers(number, paths);
  const busy = members.filter(inKernelUse);
  const list = busy.map(describeUse).join("; ");
  return new BdkError(
    `IOMMU group ${number} is not viable${busy.length ? `: ${list} ${busy.length === 1 ? "is" : "are"} still on a kernel driver` : ""}`,
    busy.length
      ? `VFIO needs every device of the group on vfio-pci or no driver: bdk devbind --bind vfio-pci ${busy.map((b) => b.address).join(" ")}`
      : "every device of the group must be on vfio-pci or no driver: see `bdk devbind --status`");
}

function findMembers(number: number, paths?: HostPaths): PciFunction[] {
  return groupDevices(roots(paths), number)
    .map((a) => findPciFunction(a, paths))
    .filter((d): d is PciFunction => d !== undefined);
}
