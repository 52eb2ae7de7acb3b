// What every Port implementation shares: ids, the lifecycle state machine and its errors, the resolved
// configuration, and per-queue counters kept in typed arrays (a burst adds to them once, not per packet).
import { BdkError } from "../sys/errors.ts";
import {
  checkQueue, emptyStats, resolveConfig,
  type Burst, type LinkStatus, type Port, type PortCapabilities, type PortConfig, type PortInfo,
  type PortStats, type QueueStats, type ResolvedPortConfig,
} from "./port.ts";

let nextPortId = 0;

export abstract class PortBase implements Port {
  readonly id = nextPortId++;
  config: ResolvedPortConfig | undefined;
  started = false;
  protected closed = false;

  // Per-queue counters; drivers add a burst's totals.
  // Typed over ArrayBufferLike so that a driver may place them in shared memory (workers' bursts then count too).
  protected rxPackets: Float64Array<ArrayBufferLike> = new Float64Array(1);
  protected rxBytes: Float64Array<ArrayBufferLike> = new Float64Array(1);
  protected txPackets: Float64Array<ArrayBufferLike> = new Float64Array(1);
  protected txBytes: Float64Array<ArrayBufferLike> = new Float64Array(1);
  /** Driver-kept totals that are not per queue (drops, errors); added into stats(). */
  protected extra: PortStats = emptyStats();

  /**
   * True for a worker's view of a port another thread owns (src/ethdev/attach.ts): it bursts on the same
   * queues but has no control plane; configure, start, stop and the setters refuse.
   */
  protected readonly isView: boolean;

  constructor(readonly spec: string, readonly driver: string, readonly name: string, isView = false) {
    this.isView = isView;
  }

  abstract capabilities(): PortCapabilities;
  /** Builds queues for a resolved config (the port is stopped). */
  protected abstract setup(config: ResolvedPortConfig): void;
  /** Releases what setup built. */
  protected abstract teardown(): void;
  protected abstract onStart(): void;
  protected abstract onStop(): void;
  /** Releases what the port holds beyond its queues (sockets, devices). */
  protected abstract release(): void;

  abstract rxBurst(queue: number, burst: Burst): number;
  abstract txBurst(queue: number, burst: Burst, start?: number): number;
  abstract link(): LinkStatus;
  abstract macAddress(): string;
  abstract setMacAddress(mac: string): void;
  abstract promiscuous(): boolean;
  abstract setPromiscuous(on: boolean): void;
  abstract mtu(): number;
  abstract setMtu(mtu: number): void;

  info(): PortInfo {
    return { spec: this.spec, driver: this.driver, name: this.name, ...this.capabilities() };
  }

  configure(config: PortConfig): void {
    this.assertOwner("configure");
    this.assertOpen();
    if (this.started) throw new BdkError(`${this.name}: cannot configure a started port`, "call stop() first");
    const resolved = resolveConfig(this.name, this.capabilities(), config);
    if (this.config) this.teardown();
    // setup() may read this.cfg; a failed setup leaves the port unconfigured.
    this.config = resolved;
    try {
      this.setup(resolved);
    } catch (e) {
      this.config = undefined;
      throw e;
    }
    this.rxPackets = new Float64Array(resolved.rxQueues);
    this.rxBytes = new Float64Array(resolved.rxQueues);
    this.txPackets = new Float64Array(resolved.txQueues);
    this.txBytes = new Float64Array(resolved.txQueues);
  }

  start(): void {
    this.assertOwner("start");
    this.assertOpen();
    if (!this.config) throw new BdkError(`${this.name}: cannot start an unconfigured port`, "call configure({ pool, … }) first");
    if (this.started) return;
    this.onStart();
    this.started = true;
  }

  stop(): void {
    this.assertOwner("stop");
    if (!this.started) return;
    this.started = false;
    this.onStop();
  }

  close(): void {
    if (this.closed) return;
    try {
      this.stop();
      if (this.config) this.teardown();
    } finally {
      this.config = undefined;
      this.closed = true;
      this.release();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): PortStats {
    const s = { ...this.extra };
    for (let q = 0; q < this.rxPackets.length; q++) {
      s.ipackets += this.rxPackets[q]!;
      s.ibytes += this.rxBytes[q]!;
    }
    for (let q = 0; q < this.txPackets.length; q++) {
      s.opackets += this.txPackets[q]!;
      s.obytes += this.txBytes[q]!;
    }
    return s;
  }

  queueStats(queue: number, dir: "rx" | "tx"): QueueStats {
    const n = dir === "rx" ? this.rxPackets.length : this.txPackets.length;
    checkQueue(this.name, queue, n, dir);
    return dir === "rx"
      ? { ipackets: this.rxPackets[queue]!, ibytes: this.rxBytes[queue]!, opackets: 0, obytes: 0 }
      : { ipackets: 0, ibytes: 0, opackets: this.txPackets[queue]!, obytes: this.txBytes[queue]! };
  }

  resetStats(): void {
    this.rxPackets.fill(0);
    this.rxBytes.fill(0);
    this.txPackets.fill(0);
    this.txBytes.fill(0);
    this.extra = emptyStats();
  }

  /** Refuses control-plane calls on a worker's view. */
  protected assertOwner(what: string): void {
    if (this.isView) {
      throw new BdkError(`${this.name}: ${what}() on a worker's view of the port`,
        "configure, start, stop, close and change the port (MTU, MAC, promiscuous mode) in the thread that opened the port");
    }
  }

  protected assertOpen(): void {
    if (this.closed) throw new BdkError(`${this.name}: port is closed`, "open it again with openPort()");
  }

  /** The resolved config of a configured port (drivers call it in setup-time paths). */
  protected get cfg(): ResolvedPortConfig {
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
    return this.config;
  }
}
