// The Port contract: what every driver (a NIC through VFIO, or a software port) fulfils, and what every
// app relies on. Lifecycle as in DPDK: open (openPort) → configure → start → bursts → stop → close.
// Packets are mempool buffer indices; lengths and metadata live in the pool's typed arrays.
import type { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";
import type { Burst } from "./burst.ts";
import type { PortEvent, PortEventListener } from "./events.ts";
import { flagNames, RSS_NAMES, RX_OFFLOAD_NAMES, RX_OFFLOAD_SCATTER, TX_OFFLOAD_NAMES } from "./offloads.ts";
import type { QueueStats, RxQueue, TxQueue } from "./queue.ts";

export type { QueueStats };

export { Burst } from "./burst.ts";

export interface PortConfig {
  /** The pool RX buffers come from. Ports of one container may share it: a frame received on one is sent on another without a copy. */
  pool: Mempool;
  rxQueues?: number;
  txQueues?: number;
  /** Descriptors per RX ring (power of two; the driver states its limits). */
  rxRingSize?: number;
  txRingSize?: number;
  /** Receive frames for any MAC (default true, as l2fwd wants). */
  promiscuous?: boolean;
  mtu?: number;
  /** RX_OFFLOAD_* bits asked for (a subset of capabilities().rxOffloads). */
  rxOffloads?: number;
  /** TX_OFFLOAD_* bits asked for. */
  txOffloads?: number;
  /** Receive-side scaling over the RX queues (ports with capabilities().rss). */
  rss?: RssConfig;
  /** Per RX queue: ring size and pool, overriding rxRingSize and pool for that queue. */
  rxQueueConfig?: readonly (RxQueueConfig | undefined)[];
  /** Per TX queue: ring size. */
  txQueueConfig?: readonly ({ ringSize?: number } | undefined)[];
}

export interface RxQueueConfig {
  ringSize?: number;
  /** Where this queue's RX buffers come from (a NUMA-local pool, a pool of larger buffers …). */
  pool?: Mempool;
}

export interface RssConfig {
  /** The Toeplitz key (capabilities().rssKeySize bytes); default: the port's own. */
  key?: Uint8Array;
  /** Redirection table: entry i names the RX queue for hash values whose low bits are i; default: round-robin. */
  reta?: readonly number[];
  /** RSS_* bits: which headers are hashed (a subset of capabilities().rssHashTypes); default: all it has. */
  hashTypes?: number;
}

export interface ResolvedPortConfig {
  pool: Mempool;
  rxQueues: number;
  txQueues: number;
  rxRingSize: number;
  txRingSize: number;
  promiscuous: boolean;
  mtu: number | undefined;
  rxOffloads: number;
  txOffloads: number;
  /** Undefined when RSS is off (one RX queue, or not asked for and not possible). */
  rss: { key: Uint8Array | undefined; reta: number[]; hashTypes: number } | undefined;
  /** Per RX queue, resolved: ring size and pool. */
  rxRingSizes: number[];
  rxPools: Mempool[];
  txRingSizes: number[];
}

export interface PortStats {
  /** Frames received and handed to the app. */
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** Frames the port dropped because the app did not poll in time (ring full). */
  imissed: number;
  ierrors: number;
  oerrors: number;
  /** RX refills that failed because the mempool was empty. */
  rxNoMbuf: number;
}

/** A named counter (DPDK's xstats): the basic stats, per-queue counters and whatever the driver adds. */
export interface XStat {
  name: string;
  value: number;
}

export interface LinkStatus {
  up: boolean;
  /** Why the link is down, when the driver knows more than "down" (the interface is gone, the device fell off the bus). */
  reason?: string;
  /** Mbit/s; 0 when unknown (emulated and virtual links report none). */
  speedMbps: number;
  fullDuplex: boolean;
}

export interface PortCapabilities {
  maxRxQueues: number;
  maxTxQueues: number;
  minRingSize: number;
  maxRingSize: number;
  rss: boolean;
  /** Frames up to this many bytes (without CRC) can be received. */
  maxFrameSize: number;
  /** RX_OFFLOAD_* / TX_OFFLOAD_* bits the port can do (0: none). */
  rxOffloads?: number;
  txOffloads?: number;
  /** RSS_* bits the port can hash on, its key size in bytes and its redirection table size. */
  rssHashTypes?: number;
  rssKeySize?: number;
  retaSize?: number;
}

export interface PortInfo extends PortCapabilities {
  /** The spec it was opened with: "0000:00:02.0", "af_packet:veth0", "ring:a". */
  spec: string;
  driver: string;
  /** A human name: interface or ring name, or the PCI address. */
  name: string;
}

/**
 * A port: the control plane (configure, start, stop, stats, link, MAC, MTU, promiscuous, events) lives
 * here; the bursts live on its queues (rxQueue(q), txQueue(q)), which a pinned worker can take over.
 */
export interface Port {
  /** A number unique in the process: what RX writes into pool.port[b] (a queue in a worker writes the same). */
  readonly id: number;
  readonly spec: string;
  readonly driver: string;

  info(): PortInfo;
  /** Queues, ring sizes, pools, offloads, RSS. Only while stopped. */
  configure(config: PortConfig): void;
  readonly config: ResolvedPortConfig | undefined;
  start(): void;
  stop(): void;
  /** Stops if needed and releases everything: buffers back to the pool, rings, fds, device. Idempotent. */
  close(): void;
  readonly started: boolean;

  /** RX queue q of the configured port (the same object every call while the configuration lasts). */
  rxQueue(queue: number): RxQueue;
  txQueue(queue: number): TxQueue;

  /** Convenience for rxQueue(queue).burst(burst); hot loops hold the queue instead. */
  rxBurst(queue: number, burst: Burst): number;
  /** Convenience for txQueue(queue).burst(burst, start). */
  txBurst(queue: number, burst: Burst, start?: number): number;

  stats(): PortStats;
  /** Every counter by name, as DPDK's xstats: rx_good_packets …, rx_q0_packets …, then the driver's own. */
  xstats(): XStat[];
  queueStats(queue: number, dir: "rx" | "tx"): QueueStats;
  resetStats(): void;
  link(): LinkStatus;
  macAddress(): string;
  setMacAddress(mac: string): void;
  promiscuous(): boolean;
  setPromiscuous(on: boolean): void;
  /** Receive every multicast frame (not only those of setMulticastAddresses). */
  allMulticast(): boolean;
  setAllMulticast(on: boolean): void;
  /** The multicast groups to receive (replaces the list; [] for none). */
  setMulticastAddresses(macs: readonly string[]): void;
  /** Accepts (on) or drops (off) frames tagged with VLAN `vid` (a port configured with RX_OFFLOAD_VLAN_FILTER). */
  setVlanFilter(vid: number, on: boolean): void;
  mtu(): number;
  setMtu(mtu: number): void;

  /** Subscribes to the port's events; returns the function that unsubscribes. */
  on(type: "link", listener: PortEventListener): () => void;
  /** Looks for events (link changes) and delivers them to the subscribers; returns them too. */
  pollEvents(): PortEvent[];
  /** A file descriptor that becomes readable when pollEvents() has news (a link interrupt, a netlink socket); -1 if none. */
  eventFd(): number;
}

export function emptyStats(): PortStats {
  return { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNoMbuf: 0 };
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Checks a configuration against what the port can do, filling defaults; every refusal names the fix. */
export function resolveConfig(name: string, caps: PortCapabilities, c: PortConfig): ResolvedPortConfig {
  if (!c || typeof c !== "object" || !c.pool) throw new BdkError(`${name}: configure() needs a mempool`, "pass { pool: Mempool.create({ count: 8192 }) }");
  const rxQueues = c.rxQueues ?? 1;
  const txQueues = c.txQueues ?? 1;
  const rxRingSize = c.rxRingSize ?? Math.min(Math.max(512, caps.minRingSize), caps.maxRingSize);
  const txRingSize = c.txRingSize ?? Math.min(Math.max(512, caps.minRingSize), caps.maxRingSize);
  const count = (what: string, v: number, max: number): void => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new BdkError(`${name}: ${what} ${v} is out of range`, `this port supports 1..${max}`);
  };
  count("rxQueues", rxQueues, caps.maxRxQueues);
  count("txQueues", txQueues, caps.maxTxQueues);
  const ring = (what: string, v: number): void => {
    if (!isPowerOfTwo(v) || v < caps.minRingSize || v > caps.maxRingSize) {
      throw new BdkError(`${name}: ${what} ${v} is not a power of two in ${caps.minRingSize}..${caps.maxRingSize}`, "use 256, 512, 1024 …");
    }
  };
  ring("rxRingSize", rxRingSize);
  ring("txRingSize", txRingSize);
  if (c.mtu !== undefined && (!Number.isInteger(c.mtu) || c.mtu < 68 || c.mtu + 18 > caps.maxFrameSize)) {
    throw new BdkError(`${name}: MTU ${c.mtu} is out of range`, `this port supports 68..${caps.maxFrameSize - 18}`);
  }
  const rxOffloads = offloads(name, "rxOffloads", c.rxOffloads, caps.rxOffloads ?? 0, RX_OFFLOAD_NAMES);
  const txOffloads = offloads(name, "txOffloads", c.txOffloads, caps.txOffloads ?? 0, TX_OFFLOAD_NAMES);
  const rxRingSizes: number[] = [];
  const rxPools: Mempool[] = [];
  if (c.rxQueueConfig !== undefined && (!Array.isArray(c.rxQueueConfig) || c.rxQueueConfig.length > rxQueues)) {
    throw new BdkError(`${name}: rxQueueConfig must be an array of at most ${rxQueues} entries (one per RX queue)`, "give [{ ringSize, pool }, …] indexed by queue");
  }
  if (c.txQueueConfig !== undefined && (!Array.isArray(c.txQueueConfig) || c.txQueueConfig.length > txQueues)) {
    throw new BdkError(`${name}: txQueueConfig must be an array of at most ${txQueues} entries (one per TX queue)`, "give [{ ringSize }, …] indexed by queue");
  }
  for (let q = 0; q < rxQueues; q++) {
    const qc = c.rxQueueConfig?.[q];
    const size = qc?.ringSize ?? rxRingSize;
    ring(`RX queue ${q} ring size`, size);
    rxRingSizes.push(size);
    const pool = qc?.pool ?? c.pool;
    if (c.mtu !== undefined && c.mtu + 18 > pool.dataRoom && (rxOffloads & RX_OFFLOAD_SCATTER) === 0) {
      throw new BdkError(`${name}: MTU ${c.mtu} does not fit RX queue ${q}'s pool "${pool.name}" (${pool.dataRoom}-byte buffers)`, `create the pool with dataRoom ≥ ${c.mtu + 18}`);
    }
    rxPools.push(pool);
  }
  const txRingSizes: number[] = [];
  for (let q = 0; q < txQueues; q++) {
    const size = c.txQueueConfig?.[q]?.ringSize ?? txRingSize;
    ring(`TX queue ${q} ring size`, size);
    txRingSizes.push(size);
  }
  return {
    pool: c.pool, rxQueues, txQueues, rxRingSize, txRingSize, promiscuous: c.promiscuous ?? true, mtu: c.mtu,
    rxOffloads, txOffloads, rss: resolveRss(name, caps, c.rss, rxQueues), rxRingSizes, rxPools, txRingSizes,
  };
}

function offloads(name: string, what: string, asked: number | undefined, can: number, names: Readonly<Record<number, string>>): number {
  if (asked === undefined) return 0;
  if (!Number.isInteger(asked) || asked < 0 || asked > 0xffffffff) throw new BdkError(`${name}: ${what} ${asked} is not a bit mask`, `combine the ${what === "rxOffloads" ? "RX" : "TX"}_OFFLOAD_* constants with |`);
  const missing = asked & ~can;
  if (missing !== 0) {
    throw new BdkError(`${name}: ${what} asks for ${flagNames(missing, names)}, which this port cannot do`, `it offers: ${flagNames(can, names)}`);
  }
  return asked;
}

function resolveRss(name: string, caps: PortCapabilities, rss: RssConfig | undefined, rxQueues: number): ResolvedPortConfig["rss"] {
  if (rss === undefined) return undefined;
  if (!caps.rss) throw new BdkError(`${name}: RSS asked of a port that has none`, "drop the rss option, or use one RX queue");
  const types = caps.rssHashTypes ?? 0;
  const hashTypes = rss.hashTypes ?? types;
  if ((hashTypes & ~types) !== 0) {
    throw new BdkError(`${name}: RSS on ${flagNames(hashTypes & ~types, RSS_NAMES)} is not offered`, `this port hashes ${flagNames(types, RSS_NAMES)}`);
  }
  if (rss.key !== undefined) {
    const size = caps.rssKeySize ?? 0;
    if (!(rss.key instanceof Uint8Array) || rss.key.length !== size) {
      throw new BdkError(`${name}: the RSS key must be a Uint8Array of ${size} bytes`, size ? `give ${size} bytes, or omit it for the port's own` : "this port takes no key: omit it");
    }
  }
  const size = caps.retaSize ?? 0;
  let reta: number[];
  if (rss.reta === undefined) {
    reta = Array.from({ length: size }, (_, i) => i % rxQueues);
  } else {
    if (!Array.isArray(rss.reta) || rss.reta.length !== size) {
      throw new BdkError(`${name}: the RSS redirection table must have ${size} entries`, `give ${size} queue numbers, or omit it for round-robin`);
    }
    const bad = rss.reta.find((q) => !Number.isInteger(q) || q < 0 || q >= rxQueues);
    if (bad !== undefined) throw new BdkError(`${name}: the RSS redirection table names RX queue ${bad}`, `the port has RX queues 0..${rxQueues - 1}`);
    reta = [...rss.reta];
  }
  return { key: rss.key, reta, hashTypes };
}

export function checkQueue(name: string, queue: number, count: number, dir: "rx" | "tx"): void {
  if (!Number.isInteger(queue) || queue < 0 || queue >= count) {
    throw new BdkError(`${name}: ${dir} queue ${queue} does not exist`, `this port was configured with ${count} ${dir} queue(s): 0..${count - 1}`);
  }
}
