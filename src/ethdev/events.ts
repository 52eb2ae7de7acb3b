// Port events (DPDK's rte_eth_dev_callback_register): an app subscribes with port.on("link", fn) and the
// control plane calls port.pollEvents() from its loop or timer (or when port.eventFd() is readable). A
// driver reports what its interrupt or the kernel told it; the port compares the link with what it last
// reported, so a subscriber sees each change once, with the time it was noticed.
import type { LinkStatus } from "./port.ts";

export interface LinkEvent {
  type: "link";
  portId: number;
  /** Date.now() when the change was noticed. */
  at: number;
  link: LinkStatus;
  /** Why, when the driver knows more than up/down (e.g. "interface gone"). */
  reason?: string;
}

export type PortEvent = LinkEvent;
export type PortEventListener = (e: PortEvent) => void;
