// The Port contract: what every driver (a NIC through VFIO, or a software port) fulfils, and what every
// app relies on. Lifecycle as in DPDK: open (openPort) → configure → start → bursts → stop → close.
// Packets are mempool buffer indices; lengths and metadata live in the pool's typed arrays.
import type { Mempool } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";

/** A reusable batch of buffer indices: rxBurst fills it, txBurst drains it. Allocate once, reuse forever. */
export class Burst {
  readonly bufs: Uint32Array;
  /** How many of `bufs` hold packets. */
  count = 0;

  constructor(readonly capacity = 32) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) {
      throw new BdkError(`burst size ${capacity} is out of range`, "give 1..4096 (32 is DPDK's default)");
    }
    this.bufs = new Uint32Array(capacity);
  }

  /** Appends a buffer; false when full. */
  push(buf: number): boolean {
    if (this.count >= this.capacity) return false;
    this.bufs[this.count++] = buf;
    return true;
  }

  /** Frees bufs[from..count) back to the pool and empties the burst (e.g. what txBurst did not take). */
  freeFrom(pool: Mempool, from: number): void {
    for (let i = from; i < this.count; i++) pool.free(this.bufs[i]!);
    this.count = 0;
  }
}

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
}

export interface ResolvedPortConfig {
  pool: Mempool;
  rxQueues: number;
  txQueues: number;
  rxRingSize: number;
  txRingSize: number;
  promiscuous: boolean;
  mtu: number | undefined;
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

export interface QueueStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
}

export interface LinkStatus {
  up: boolean;
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
}

export interface PortInfo extends PortCapabilities {
  /** The spec it was opened with: "0000:00:02.0", "af_packet:veth0", "ring:a". */
  spec: string;
  driver: string;
  /** A human name: interface or ring name, or the PCI address. */
  name: string;
}

export interface Port {
  readonly id: number;
  readonly spec: string;
  readonly driver: string;

  info(): PortInfo;
  /** Queues, ring sizes, pool. Only while stopped. */
  configure(config: PortConfig): void;
  readonly config: ResolvedPortConfig | undefined;
  start(): void;
  stop(): void;
  /** Stops if needed and releases everything: buffers back to the pool, rings, fds, device. Idempotent. */
  close(): void;
  readonly started: boolean;

  /** Fills `burst` (up to its capacity) with received buffers; returns how many. The app now owns them. */
  rxBurst(queue: number, burst: Burst): number;
  /**
   * Offers burst.bufs[start..count) for transmission; returns how many it took, from the front.
   * The port owns (and later frees) what it took; the rest still belongs to the caller.
   */
  txBurst(queue: number, burst: Burst, start?: number): number;
  /**
   * Optional: sleeps until the RX queue has frames or `timeoutMs` passes (poll on a socket, an interrupt
   * eventfd on a NIC); true when frames are ready. Apps call it when idle instead of spinning.
   */
  rxWait?(queue: number, timeoutMs: number): boolean;

  stats(): PortStats;
  queueStats(queue: number, dir: "rx" | "tx"): QueueStats;
  resetStats(): void;
  link(): LinkStatus;
  macAddress(): string;
  setMacAddress(mac: string): void;
  promiscuous(): boolean;
  setPromiscuous(on: boolean): void;
  mtu(): number;
  setMtu(mtu: number): void;
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
  if (c.mtu !== undefined && c.mtu + 18 > c.pool.dataRoom) {
    throw new BdkError(`${name}: MTU ${c.mtu} does not fit the pool's ${c.pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${c.mtu + 18}`);
  }
  return { pool: c.pool, rxQueues, txQueues, rxRingSize, txRingSize, promiscuous: c.promiscuous ?? true, mtu: c.mtu };
}

export function checkQueue(name: string, queue: number, count: number, dir: "rx" | "tx"): void {
  if (!Number.isInteger(queue) || queue < 0 || queue >= count) {
    throw new BdkError(`${name}: ${dir} queue ${queue} does not exist`, `this port was configured with ${count} ${dir} queue(s): 0..${count - 1}`);
  }
}
