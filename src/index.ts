// bdk's public API: what an embedding packet processor imports. Nothing else lives here.

// Ports
export { openPort, registerDriver, driverUsage, driverKinds } from "./ethdev/open.ts";
// The built-in drivers register themselves with openPort when imported.
import "../drivers/index.ts";
export { Burst } from "./ethdev/burst.ts";
export { emptyStats } from "./ethdev/port.ts";
export type {
  Port, PortConfig, PortStats, LinkStatus, PortInfo, PortCapabilities, ResolvedPortConfig, RssConfig, RxQueueConfig, XStat,
} from "./ethdev/port.ts";
export type { DriverDef, OpenOptions } from "./ethdev/driver.ts";
export type { ParamSpec, Params } from "./ethdev/spec.ts";
export { normalizePciAddress } from "./ethdev/spec.ts";

// Queues: bursts, handles for workers, interrupts
export { attachRxQueue, attachTxQueue } from "./ethdev/queue.ts";
export type { RxQueue, TxQueue, QueueHandle, QueueStats, AttachOptions } from "./ethdev/queue.ts";
export { RxWaiter } from "./ethdev/wait.ts";
export type { PortEvent, LinkEvent, PortEventListener } from "./ethdev/events.ts";
export * from "./ethdev/offloads.ts";

// Writing a driver: the base classes and the registries
export { PortBase } from "./ethdev/base.ts";
export { SoftPortBase, checkUnicastMac } from "./ethdev/soft.ts";
export { RxQueueBase, TxQueueBase, identityFrom } from "./ethdev/queue-base.ts";
export type { QueueIdentity } from "./ethdev/queue-base.ts";
export { checkHandleDriver } from "./ethdev/queue.ts";
export { QueueCounters, C_PACKETS, C_BYTES, C_ERRORS, C_MISSED, C_NOMBUF, C_DRIVER0 } from "./ethdev/counters.ts";
export { registerPciDriver, pciDrivers, findPciDriver } from "../drivers/pci/index.ts";
export type { PciDriver } from "../drivers/pci/index.ts";

// Memory
export { Mempool } from "./mem/mempool.ts";
// Per-buffer metadata constants: RX flags (BUF_*), packet types (PTYPE_*), TX requests (TX_*).
export * from "./mem/mbuf.ts";
export type { MempoolOptions, MempoolHandle, DmaAddressing } from "./mem/mempool.ts";
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
export { monotonicNs } from "./sys/libc.ts";

// Packets
export * as net from "./net/index.ts";
export { PcapReader, PcapWriter, readPcap, PcapError, LINKTYPE_ETHERNET } from "../drivers/pcap/file.ts";

// Telemetry: the socket (bdk telemetry PID), /metrics, /api and the live page; a live terminal screen
export { startTelemetry } from "./telemetry/service.ts";
export type { Telemetry, TelemetryOptions } from "./telemetry/service.ts";
export type { TelemetryApp, TelemetryCommand, TelemetryWorker, MetricFamily, MetricSample, Snapshot } from "./telemetry/model.ts";
export { LiveScreen, columns } from "./telemetry/screen.ts";
export { parseHttpAddress } from "./telemetry/http.ts";

// Errors
export { BdkError, userErrorLine, debugEnabled } from "./sys/errors.ts";
export { SysError } from "./sys/errno.ts";
