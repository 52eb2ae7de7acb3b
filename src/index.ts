// bdk's public API: what an embedding packet processor imports. Nothing else lives here.

// Ports
export { openPort, registerDriver, driverUsage, driverKinds } from "./ethdev/open.ts";
// The built-in drivers register themselves with openPort when imported.
import "../drivers/index.ts";
export { Burst, emptyStats } from "./ethdev/port.ts";
export type {
  Port, PortConfig, PortStats, QueueStats, LinkStatus, PortInfo, PortCapabilities, ResolvedPortConfig,
} from "./ethdev/port.ts";
export { PortBase } from "./ethdev/base.ts";
export type { DriverDef, OpenOptions } from "./ethdev/driver.ts";
export { normalizePciAddress } from "./ethdev/spec.ts";

// Memory
export {
  Mempool, BUF_RSS_HASH, BUF_VLAN_STRIPPED, BUF_IP_CSUM_BAD, BUF_L4_CSUM_BAD, BUF_IP_CSUM_GOOD, BUF_L4_CSUM_GOOD,
} from "./mem/mempool.ts";
export type { MempoolOptions, MempoolHandle } from "./mem/mempool.ts";
export { createArena, DmaArena, addDmaMapper, configureIova } from "./mem/arena.ts";
export type { ArenaOptions, ArenaHandle, DmaMapper, HugepagePolicy } from "./mem/arena.ts";
export { hugepagePools, reserveHugepages } from "./mem/hugepages.ts";

// Cores and rings
export { IndexRing } from "./mem/ring.ts";
export type { RingSync } from "./mem/ring.ts";
export { startWorkers, WorkerGroup } from "./lcore/worker.ts";
export { runWorker } from "./lcore/worker-runtime.ts";
export type { WorkerContext } from "./lcore/worker-runtime.ts";
export { onStopSignal } from "./lcore/signals.ts";

// Packets
export * as net from "./net/index.ts";
export { PcapReader, PcapWriter, readPcap, PcapError } from "./net/pcap.ts";

// Errors
export { BdkError } from "./sys/errors.ts";
export { SysError } from "./sys/errno.ts";
