// What every Port implementation shares: ids, the lifecycle state machine and its errors, the resolved
// configuration, the queue objects and their counters (shared memory, one cache line per queue), stats and
// xstats summed from them, and link events.
import { BdkError } from "../sys/errors.ts";
import type { Burst } from "./burst.ts";
import { C_BYTES, C_ERRORS, C_MISSED, C_NOMBUF, C_PACKETS, QueueCounters } from "./counters.ts";
import type { PortEvent, PortEventListener } from "./events.ts";
import {
  checkQueue, emptyStats, resolveConfig,
  type LinkStatus, type Port, type PortCapabilities, type PortConfig, type PortInfo, type PortStats,
  type ResolvedPortConfig, type XStat,
} from "./port.ts";
import type { QueueStats, RxQueue, TxQueue } from "./queue.ts";
import type { QueueIdentity } from "./queue-base.ts";

let nextPortId = 0;

export abstract class PortBase implements Port {
  readonly id = nextPortId++;
  config: ResolvedPortConfig | undefined;
  started = false;
  protected closed = false;

  /** Per-queue counters (shared memory): the queues' bursts add to them; stats() sums them. */
  protected rxCounters = QueueCounters.create(0);
  protected txCounters = QueueCounters.create(0);
  /** The queues setup() built, indexed by queue number. */
  protected rxqs: RxQueue[] = [];
  protected txqs: TxQueue[] = [];
  /** Driver-kept totals that are not per queue (e.g. drops a device counts for the whole port); added into stats(). */
  protected extra: PortStats = emptyStats();

  private readonly listeners: PortEventListener[] = [];
  private lastLink: LinkStatus | undefined;

  constructor(readonly spec: string, readonly driver: string, readonly name: string) {}

  abstract capabilities(): PortCapabilities;
  /** Builds the queues (this.rxqs, this.txqs) for a resolved config; the port is stopped. */
  protected abstract setup(config: ResolvedPortConfig): void;
  /** Releases what setup built. */
  protected abstract teardown(): void;
  protected abstract onStart(): void;
  protected abstract onStop(): void;
  /** Releases what the port holds beyond its queues (sockets, devices). */
  protected abstract release(): void;

  abstract link(): LinkStatus;
  abstract macAddress(): string;
  abstract setMacAddress(mac: string): void;
  abstract promiscuous(): boolean;
  abstract setPromiscuous(on: boolean): void;
  abstract mtu(): number;
  abstract setMtu(mtu: number): void;

  /** Filters a port may lack: the default refuses, naming the driver (NIC drivers override them). */
  allMulticast(): boolean {
    return false;
  }

  setAllMulticast(_on: boolean): void {
    throw this.unsupported("setAllMulticast");
  }

  setMulticastAddresses(_macs: readonly string[]): void {
    throw this.unsupported("setMulticastAddresses");
  }

  setVlanFilter(_vid: number, _on: boolean): void {
    throw this.unsupported("setVlanFilter");
  }

  protected unsupported(what: string): BdkError {
    return new BdkError(`${this.name}: ${what}() is not supported by the ${this.driver} driver`, "see the drivers' feature matrix in the README");
  }

  info(): PortInfo {
    return { spec: this.spec, driver: this.driver, name: this.name, ...this.capabilities() };
  }

  configure(config: PortConfig): void {
    this.assertOpen();
    if (this.started) throw new BdkError(`${this.name}: cannot configure a started port`, "call stop() first");
    const resolved = resolveConfig(this.name, this.capabilities(), config);
    if (this.config) this.dropQueues();
    // setup() reads this.cfg and the counters; a failed setup leaves the port unconfigured.
    this.config = resolved;
    this.rxCounters = QueueCounters.create(resolved.rxQueues);
    this.txCounters = QueueCounters.create(resolved.txQueues);
    try {
      this.setup(resolved);
      if (this.rxqs.length !== resolved.rxQueues || this.txqs.length !== resolved.txQueues) {
        throw new BdkError(`${this.name}: driver ${this.driver} built ${this.rxqs.length} RX / ${this.txqs.length} TX queues for ${resolved.rxQueues} / ${resolved.txQueues}`, "this is a bug in the driver");
      }
    } catch (e) {
      this.rxqs = [];
      this.txqs = [];
      this.config = undefined;
      throw e;
    }
  }

  start(): void {
    this.assertOpen();
    if (!this.config) throw new BdkError(`${this.name}: cannot start an unconfigured port`, "call configure({ pool, … }) first");
    if (this.started) return;
    this.onStart();
    this.started = true;
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.onStop();
  }

  close(): void {
    if (this.closed) return;
    try {
      this.stop();
      if (this.config) this.dropQueues();
    } finally {
      this.config = undefined;
      this.closed = true;
      this.release();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- queues ----

  rxQueue(queue: number): RxQueue {
    this.requireConfigured();
    checkQueue(this.name, queue, this.rxqs.length, "rx");
    return this.rxqs[queue]!;
  }

  txQueue(queue: number): TxQueue {
    this.requireConfigured();
    checkQueue(this.name, queue, this.txqs.length, "tx");
    return this.txqs[queue]!;
  }

  rxBurst(queue: number, burst: Burst): number {
    const q = this.rxqs[queue];
    return q !== undefined ? q.burst(burst) : this.rxQueue(queue).burst(burst);
  }

  txBurst(queue: number, burst: Burst, start = 0): number {
    const q = this.txqs[queue];
    return q !== undefined ? q.burst(burst, start) : this.txQueue(queue).burst(burst, start);
  }

  /** What a driver's queue needs to know about itself (its counters, its pool, the port's id). */
  protected queueIdentity(module: string, dir: "rx" | "tx", queue: number): QueueIdentity {
    const cfg = this.cfg;
    return {
      module, driver: this.driver, spec: this.spec, portId: this.id, queueId: queue,
      pool: dir === "rx" ? cfg.rxPools[queue]! : cfg.pool,
      counters: dir === "rx" ? this.rxCounters : this.txCounters,
    };
  }

  // ---- stats ----

  stats(): PortStats {
    const s = { ...this.extra };
    const rx = this.rxCounters;
    const tx = this.txCounters;
    s.ipackets += rx.sum(C_PACKETS);
    s.ibytes += rx.sum(C_BYTES);
    s.ierrors += rx.sum(C_ERRORS);
    s.imissed += rx.sum(C_MISSED);
    s.rxNoMbuf += rx.sum(C_NOMBUF);
    s.opackets += tx.sum(C_PACKETS);
    s.obytes += tx.sum(C_BYTES);
    s.oerrors += tx.sum(C_ERRORS);
    return s;
  }

  queueStats(queue: number, dir: "rx" | "tx"): QueueStats {
    const c = dir === "rx" ? this.rxCounters : this.txCounters;
    checkQueue(this.name, queue, c.queues, dir);
    return { packets: c.get(queue, C_PACKETS), bytes: c.get(queue, C_BYTES), errors: c.get(queue, C_ERRORS), missed: c.get(queue, C_MISSED), noMbuf: c.get(queue, C_NOMBUF) };
  }

  /** DPDK's names for the basic stats and the per-queue counters, then driverXstats(). */
  xstats(): XStat[] {
    const s = this.stats();
    const out: XStat[] = [
      { name: "rx_good_packets", value: s.ipackets },
      { name: "tx_good_packets", value: s.opackets },
      { name: "rx_good_bytes", value: s.ibytes },
      { name: "tx_good_bytes", value: s.obytes },
      { name: "rx_missed_errors", value: s.imissed },
      { name: "rx_errors", value: s.ierrors },
      { name: "tx_errors", value: s.oerrors },
      { name: "rx_mbuf_allocation_errors", value: s.rxNoMbuf },
    ];
    for (let q = 0; q < this.rxCounters.queues; q++) {
      const c = this.rxCounters;
      out.push({ name: `rx_q${q}_packets`, value: c.get(q, C_PACKETS) }, { name: `rx_q${q}_bytes`, value: c.get(q, C_BYTES) },
        { name: `rx_q${q}_errors`, value: c.get(q, C_ERRORS) }, { name: `rx_q${q}_missed`, value: c.get(q, C_MISSED) });
    }
    for (let q = 0; q < this.txCounters.queues; q++) {
      const c = this.txCounters;
      out.push({ name: `tx_q${q}_packets`, value: c.get(q, C_PACKETS) }, { name: `tx_q${q}_bytes`, value: c.get(q, C_BYTES) },
        { name: `tx_q${q}_errors`, value: c.get(q, C_ERRORS) });
    }
    out.push(...this.driverXstats());
    return out;
  }

  /** A driver's own counters by name (hardware registers, kicks …). */
  protected driverXstats(): XStat[] {
    return [];
  }

  resetStats(): void {
    this.rxCounters.reset();
    this.txCounters.reset();
    this.extra = emptyStats();
  }

  // ---- events ----

  on(type: "link", listener: PortEventListener): () => void {
    if (type !== "link") throw new BdkError(`${this.name}: no "${String(type)}" events`, 'ports report "link" events');
    if (typeof listener !== "function") throw new BdkError(`${this.name}: on("link", …) needs a function`, "pass (event) => { … }");
    if (this.lastLink === undefined) this.lastLink = this.safeLink();
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  pollEvents(): PortEvent[] {
    if (this.closed) return [];
    this.drainEventFd();
    const link = this.safeLink();
    const reason = link.up ? undefined : link.reason;
    const last = this.lastLink;
    this.lastLink = link;
    if (last === undefined || (last.up === link.up && last.speedMbps === link.speedMbps && last.fullDuplex === link.fullDuplex)) return [];
    const e: PortEvent = { type: "link", portId: this.id, at: Date.now(), link, ...(reason ? { reason } : {}) };
    for (const l of [...this.listeners]) l(e);
    return [e];
  }

  eventFd(): number {
    return -1;
  }

  /** Clears whatever made eventFd() readable (a driver with an fd overrides it). */
  protected drainEventFd(): void {}

  /** The link, or down with the reason when the driver cannot read it. */
  private safeLink(): LinkStatus {
    try {
      return this.link();
    } catch (e) {
      return { up: false, speedMbps: 0, fullDuplex: false, reason: (e as Error).message };
    }
  }

  // ---- helpers ----

  protected assertOpen(): void {
    if (this.closed) throw new BdkError(`${this.name}: port is closed`, "open it again with openPort()");
  }

  protected requireConfigured(): void {
    this.assertOpen();
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
  }

  /** The resolved config of a configured port (drivers call it in setup-time paths). */
  protected get cfg(): ResolvedPortConfig {
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
    return this.config;
  }

  private dropQueues(): void {
    this.teardown();
    this.rxqs = [];
    this.txqs = [];
  }
}
