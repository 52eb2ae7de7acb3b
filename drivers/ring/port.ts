// The `ring` software port: an in-memory Ethernet link with two ends, like a veth pair without a kernel.
//
// `ring:NAME` names a link. The first open of NAME gets end A, the second end B; a third open while both
// are open is refused. Closing an end frees its place (the next open of NAME takes it). What one end
// transmits on queue q, the other receives on RX queue q: txBurst enqueues the buffer indices straight onto
// the peer's RX ring (an IndexRing in a SharedArrayBuffer), without a copy, so both ends must use one
// mempool (refused otherwise). Each end owns its RX rings (rxQueues rings of rxRingSize); txRingSize is
// checked but unused (a ring port has no TX ring of its own). Each end needs at least as many RX queues as
// its peer has TX queues (checked when the second end starts).
//
// Link up: both ends started. While the peer is stopped (or not yet configured) txBurst takes nothing.
// When the peer's RX ring is full, txBurst takes fewer and the peer counts the rest as imissed (frames it
// had no room for), as a NIC counts drops on the receive side.
//
// Link names are per thread. To use an end in a worker, configure both ends in the owner thread, pass
// `port.handle()` to the worker and `attachPort(handle)` there (src/ethdev/attach.ts). Counters live in the
// shared memory too, so the owner's stats() include what workers did. A view follows its peer's stop and
// start, not a reconfiguration (its link stays down: hand out new handles). Stop the workers before closing
// or reconfiguring an end: that drains its RX rings back to the pool.
import { IndexRing } from "../../src/mem/ring.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import type { PortHandle } from "../../src/ethdev/attach.ts";
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import { checkQueue, type Burst, type LinkStatus, type PortCapabilities, type PortConfig, type PortStats, type ResolvedPortConfig } from "../../src/ethdev/port.ts";
import { BdkError } from "../../src/sys/errors.ts";

export const MAX_QUEUES = 16;
export const MIN_RING = 64;
export const MAX_RING = 65536;
const MAX_FRAME = 65535;

const CAPS: PortCapabilities = {
  maxRxQueues: MAX_QUEUES,
  maxTxQueues: MAX_QUEUES,
  minRingSize: MIN_RING,
  maxRingSize: MAX_RING,
  rss: false,
  maxFrameSize: MAX_FRAME,
};

// The link's control words (one SharedArrayBuffer per link): per end, on its own cache line,
// LIVE = the end's configuration generation while it is started, else 0.
const CTL_END_STRIDE = 16;
const CTL_LIVE = 0;
const CTL_WORDS = 2 * CTL_END_STRIDE;

// An end's memory (one SharedArrayBuffer per configuration): counters, then its RX rings.
const CNT_OFF = 64;
const CNT_RX_PKTS = 0, CNT_RX_BYTES = 1, CNT_TX_PKTS = 2, CNT_TX_BYTES = 3, CNT_MISSED = 4, CNT_ARRAYS = 5;
const RINGS_OFF = CNT_OFF + CNT_ARRAYS * MAX_QUEUES * 8; // 704, a multiple of 64

const END_NAMES = ["A", "B"] as const;

/** The per-thread registry of links by name. */
interface Link {
  name: string;
  control: Int32Array;
  ends: [RingPort | undefined, RingPort | undefined];
  generation: number;
}

const links = new Map<string, Link>();

/** One end's queues over shared memory: what both the owner and a worker's view build. */
class EndMemory {
  readonly rings: IndexRing[] = [];
  readonly rxPackets: Float64Array;
  readonly rxBytes: Float64Array;
  readonly txPackets: Float64Array;
  readonly txBytes: Float64Array;
  readonly missed: Float64Array;

  static create(rxQueues: number, txQueues: number, ringSize: number): EndMemory {
    const ringBytes = IndexRing.bytesFor(ringSize);
    const sab = new SharedArrayBuffer(RINGS_OFF + rxQueues * ringBytes);
    for (let q = 0; q < rxQueues; q++) IndexRing.init(sab, RINGS_OFF + q * ringBytes, ringSize, "spsc");
    return new EndMemory(sab, rxQueues, txQueues, ringSize);
  }

  constructor(readonly sab: SharedArrayBuffer, readonly rxQueues: number, readonly txQueues: number, readonly ringSize: number) {
    const ringBytes = IndexRing.bytesFor(ringSize);
    for (let q = 0; q < rxQueues; q++) this.rings.push(IndexRing.attach(sab, RINGS_OFF + q * ringBytes));
    const arr = (k: number, n: number): Float64Array => new Float64Array(sab, CNT_OFF + k * MAX_QUEUES * 8, n);
    this.rxPackets = arr(CNT_RX_PKTS, rxQueues);
    this.rxBytes = arr(CNT_RX_BYTES, rxQueues);
    this.txPackets = arr(CNT_TX_PKTS, txQueues);
    this.txBytes = arr(CNT_TX_BYTES, txQueues);
    this.missed = arr(CNT_MISSED, rxQueues);
  }
}

/** What a ring port's handle carries (PortHandle.state). */
export interface RingHandleState {
  link: string;
  end: 0 | 1;
  control: SharedArrayBuffer;
  mac: string;
  own: { sab: SharedArrayBuffer; rxQueues: number; txQueues: number; ringSize: number; generation: number };
  peer: { sab: SharedArrayBuffer; rxQueues: number; txQueues: number; ringSize: number; generation: number };
}

function macFor(name: string, end: number): string {
  // FNV-1a over the name; 02: locally administered, unicast; the last byte tells the ends apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const b = [0x02, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff, end];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export class RingPort extends SoftPortBase {
  readonly linkName: string;
  readonly end: 0 | 1;
  private readonly ownerLink: Link | undefined; // undefined for a worker's view
  private readonly control: Int32Array;
  private readonly ownLive: number;
  private readonly peerLive: number;
  private mem: EndMemory | undefined;
  private generation = 0;
  // The data path's view of the peer: its RX rings and imissed counters, valid while control[peerLive] === peerGen.
  private peerRings: IndexRing[] = [];
  private peerMissed: Float64Array = new Float64Array(MAX_QUEUES);
  private peerGen = -1;
  private rxRings: IndexRing[] = [];
  private txQueueCount = 0;
  private missed: Float64Array = new Float64Array(1);
  private len: Uint16Array = new Uint16Array(0);
  private portOf: Uint16Array = new Uint16Array(0);

  /** Use openPort("ring:NAME") (or the driver's open); workers use attachPort(handle). */
  constructor(spec: string, linkName: string, end: 0 | 1, link: Link | undefined, control: Int32Array) {
    super(spec, "ring", `ring:${linkName} end ${END_NAMES[end]}`, macFor(linkName, end), link === undefined);
    this.linkName = linkName;
    this.end = end;
    this.ownerLink = link;
    this.control = control;
    this.ownLive = end * CTL_END_STRIDE + CTL_LIVE;
    this.peerLive = (1 - end) * CTL_END_STRIDE + CTL_LIVE;
  }

  /** Opens an end of the link NAME in this thread. */
  static openEnd(spec: string, linkName: string): RingPort {
    let link = links.get(linkName);
    if (!link) {
      link = { name: linkName, control: new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4)), ends: [undefined, undefined], generation: 0 };
      links.set(linkName, link);
    }
    const end: 0 | 1 | undefined = link.ends[0] === undefined ? 0 : link.ends[1] === undefined ? 1 : undefined;
    if (end === undefined) {
      throw new BdkError(`ring link "${linkName}" already has two ends`, "close one of them first, or use another name (ring:NAME: the two opens of one NAME are its two ends)");
    }
    const port = new RingPort(spec, linkName, end, link, link.control);
    link.ends[end] = port;
    return port;
  }

  /** A worker's view of an end (see attachHandle). */
  static fromHandle(h: PortHandle<RingHandleState>, pool: Mempool): RingPort {
    const s = h.state;
    const port = new RingPort(h.spec, s.link, s.end, undefined, new Int32Array(s.control));
    port.mac = s.mac;
    port.promisc = h.config.promiscuous;
    if (h.config.mtu !== undefined) port.mtuValue = h.config.mtu;
    port.config = { ...h.config, pool };
    port.mem = new EndMemory(s.own.sab, s.own.rxQueues, s.own.txQueues, s.own.ringSize);
    port.generation = s.own.generation;
    port.bindData(pool);
    const peer = new EndMemory(s.peer.sab, s.peer.rxQueues, s.peer.txQueues, s.peer.ringSize);
    port.peerRings = peer.rings;
    port.peerMissed = peer.missed;
    port.peerGen = s.peer.generation;
    port.started = h.started;
    return port;
  }

  capabilities(): PortCapabilities {
    return { ...CAPS };
  }

  // ---- control plane (owner thread) ----

  override configure(config: PortConfig): void {
    super.configure(config);
    this.bindData(this.cfg.pool);
  }

  override close(): void {
    if (this.isView) {
      // A view only drops its references; the owner keeps the link.
      this.started = false;
      this.config = undefined;
      this.closed = true;
      this.rxRings = [];
      this.peerRings = [];
      this.peerGen = -1;
      return;
    }
    super.close();
  }

  protected setup(config: ResolvedPortConfig): void {
    const peer = this.peer();
    if (peer?.config) this.checkPool(config.pool, peer);
    this.mem = EndMemory.create(config.rxQueues, config.txQueues, config.rxRingSize);
    this.generation = ++this.ownerLink!.generation;
  }

  protected teardown(): void {
    // Frames still queued for this end go back to the pool.
    const pool = this.config?.pool;
    const mem = this.mem;
    if (pool && mem) {
      const tmp = new Uint32Array(256);
      for (const r of mem.rings) {
        for (let n = r.dequeueBurst(tmp, 0, tmp.length); n > 0; n = r.dequeueBurst(tmp, 0, tmp.length)) {
          for (let i = 0; i < n; i++) if (pool.isAllocated(tmp[i]!)) pool.free(tmp[i]!);
        }
      }
    }
    this.mem = undefined;
    this.rxRings = [];
    this.peerRings = [];
    this.peerGen = -1;
  }

  protected onStart(): void {
    const peer = this.peer();
    if (peer?.config) {
      this.checkPool(this.cfg.pool, peer);
      const mine = this.cfg;
      const theirs = peer.config;
      if (mine.txQueues > theirs.rxQueues || theirs.txQueues > mine.rxQueues) {
        throw new BdkError(
          `ring link "${this.linkName}": TX queue q of one end feeds RX queue q of the other, but end ${END_NAMES[this.end]} has ${mine.rxQueues} RX / ${mine.txQueues} TX queues and end ${END_NAMES[1 - this.end]} has ${theirs.rxQueues} RX / ${theirs.txQueues} TX`,
          "give each end at least as many RX queues as its peer has TX queues (simplest: the same counts on both ends)",
        );
      }
    }
    Atomics.store(this.control, this.ownLive, this.generation);
  }

  protected onStop(): void {
    Atomics.store(this.control, this.ownLive, 0);
  }

  protected release(): void {
    const link = this.ownerLink;
    if (!link) return;
    if (link.ends[this.end] === this) link.ends[this.end] = undefined;
    if (!link.ends[0] && !link.ends[1] && links.get(link.name) === link) links.delete(link.name);
  }

  /** The structured-cloneable handle a worker passes to attachPort (both ends must be configured). */
  handle(): PortHandle<RingHandleState> {
    this.assertOwner("handle");
    const cfg = this.cfg;
    const peer = this.peer();
    if (!peer?.config || !peer.mem) {
      throw new BdkError(`${this.name}: the other end of ring link "${this.linkName}" is not configured`, "open and configure both ends before handing either to a worker");
    }
    this.checkPool(cfg.pool, peer);
    const { pool, ...config } = cfg;
    const mem = this.mem!;
    return {
      module: import.meta.url,
      driver: "ring",
      spec: this.spec,
      name: this.name,
      config,
      pool: pool.handle(),
      started: this.started,
      state: {
        link: this.linkName,
        end: this.end,
        control: this.control.buffer as SharedArrayBuffer,
        mac: this.mac,
        own: { sab: mem.sab, rxQueues: mem.rxQueues, txQueues: mem.txQueues, ringSize: mem.ringSize, generation: this.generation },
        peer: { sab: peer.mem.sab, rxQueues: peer.mem.rxQueues, txQueues: peer.mem.txQueues, ringSize: peer.mem.ringSize, generation: peer.generation },
      },
    };
  }

  // ---- data path ----

  rxBurst(queue: number, burst: Burst): number {
    const ring = this.rxRings[queue];
    if (ring === undefined) return this.badQueue(queue, "rx");
    const n = ring.dequeueBurst(burst.bufs, 0, burst.capacity);
    burst.count = n;
    if (n === 0) return 0;
    const bufs = burst.bufs;
    const len = this.len;
    const portOf = this.portOf;
    const id = this.id;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const b = bufs[i]!;
      bytes += len[b]!;
      portOf[b] = id;
    }
    this.rxPackets[queue]! += n;
    this.rxBytes[queue]! += bytes;
    return n;
  }

  txBurst(queue: number, burst: Burst, start = 0): number {
    if (!(queue >= 0 && queue < this.txQueueCount)) return this.badQueue(queue, "tx");
    if (Atomics.load(this.control, this.peerLive) !== this.peerGen && !this.refreshPeer()) return 0;
    const n = burst.count - start;
    if (n <= 0) return 0;
    const k = this.peerRings[queue]!.enqueueBurst(burst.bufs, start, n);
    const bufs = burst.bufs;
    const len = this.len;
    let bytes = 0;
    for (let i = start; i < start + k; i++) bytes += len[bufs[i]!]!;
    this.txPackets[queue]! += k;
    this.txBytes[queue]! += bytes;
    if (k < n) this.peerMissed[queue]! += n - k;
    return k;
  }

  // ---- stats, link, addresses ----

  override stats(): PortStats {
    const s = super.stats();
    const m = this.missed;
    for (let q = 0; q < m.length; q++) s.imissed += m[q]!;
    return s;
  }

  override resetStats(): void {
    super.resetStats();
    this.missed.fill(0);
  }

  link(): LinkStatus {
    const up = Atomics.load(this.control, this.ownLive) !== 0 && Atomics.load(this.control, this.peerLive) !== 0;
    return { up, speedMbps: 0, fullDuplex: true };
  }

  override setMtu(mtu: number): void {
    this.assertOwner("setMtu");
    super.setMtu(mtu);
  }

  // ---- internals ----

  private peer(): RingPort | undefined {
    return this.ownerLink?.ends[1 - this.end];
  }

  /** Re-reads the peer's state after its live word changed; false while the link is down. Not per packet: per burst at most, and only while down. */
  private refreshPeer(): boolean {
    const live = Atomics.load(this.control, this.peerLive);
    if (live === 0 || this.mem === undefined) return false;
    if (this.isView) return live === this.peerGen; // a view cannot follow a reconfigured peer
    const peer = this.peer();
    if (!peer || !peer.mem || peer.generation !== live || peer.mem.rxQueues < this.txQueueCount) return false;
    this.peerRings = peer.mem.rings;
    this.peerMissed = peer.mem.missed;
    this.peerGen = live;
    return true;
  }

  private bindData(pool: Mempool): void {
    const mem = this.mem!;
    this.rxRings = mem.rings;
    this.txQueueCount = mem.txQueues;
    this.rxPackets = mem.rxPackets;
    this.rxBytes = mem.rxBytes;
    this.txPackets = mem.txPackets;
    this.txBytes = mem.txBytes;
    this.missed = mem.missed;
    this.len = pool.len;
    this.portOf = pool.port;
    this.peerRings = [];
    this.peerGen = -1;
  }

  private checkPool(pool: Mempool, peer: RingPort): void {
    const other = peer.config!.pool;
    if (other.arena.va !== pool.arena.va) {
      throw new BdkError(
        `ring link "${this.linkName}": end ${END_NAMES[this.end]} uses mempool "${pool.name}" but end ${END_NAMES[peer.end]} uses "${other.name}"`,
        "configure both ends with the same pool: a ring port hands buffer indices to its peer without copying",
      );
    }
  }

  private badQueue(queue: number, dir: "rx" | "tx"): never {
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
    checkQueue(this.name, queue, dir === "rx" ? this.rxRings.length : this.txQueueCount, dir);
    throw new BdkError(`${this.name}: ${dir} queue ${queue} is not set up`, "configure the port again");
  }
}

/** The attach entry point (PortHandle.module points here): a worker's view of an end. */
export function attachHandle(h: PortHandle, pool: Mempool): RingPort {
  if (h.driver !== "ring") throw new BdkError(`attachHandle: a ${h.driver} handle given to the ring driver`, "use attachPort(handle) from src/ethdev/attach.ts");
  return RingPort.fromHandle(h as PortHandle<RingHandleState>, pool);
}

/** Open links in this thread, for diagnostics: name → which ends are open. */
export function ringLinks(): { name: string; ends: string[] }[] {
  return [...links.values()].map((l) => ({ name: l.name, ends: l.ends.flatMap((e, i) => (e ? [END_NAMES[i]!] : [])) }));
}
