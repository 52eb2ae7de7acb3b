// What a driver declares so that openPort can find it, check its spec arguments and open it.
import type { Port, PortConfig } from "./port.ts";
import type { ParamSpec, Params } from "./spec.ts";

export interface OpenOptions extends Partial<PortConfig> {
  /** Open a device in VFIO no-IOMMU mode (unsafe: the device can DMA anywhere). Warned on every open. */
  allowUnsafeNoIommu?: boolean;
}

export const OPEN_OPTION_KEYS: readonly (keyof OpenOptions)[] = [
  "pool", "rxQueues", "txQueues", "rxRingSize", "txRingSize", "promiscuous", "mtu", "allowUnsafeNoIommu",
  "rxOffloads", "txOffloads", "rss", "rxQueueConfig", "txQueueConfig",
];

export interface DriverDef {
  /** The spec's KIND ("af_packet", "ring", …), or "pci" for PCI addresses. */
  kind: string;
  /** One line for listings and errors: the spec form and what the port is. */
  usage: string;
  /** Which parameter a bare value sets ("af_packet:veth0" sets iface). */
  positional?: string;
  params: Record<string, ParamSpec>;
  open(params: Params, spec: string, options: OpenOptions): Port;
}
