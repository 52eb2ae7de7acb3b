// The `ring` software port: an in-memory Ethernet link with two ends, like a veth pair without a kernel.
//
// `ring:NAME` names a link. The first open of NAME gets end A, the second end B; a third open while both
// are open is refused. Closing an end frees its place (the next open of NAME takes it). What one end
// transmits on queue q, the other receives on RX queue q: a TX burst enqueues the buffer indices straight onto
// the peer's RX ring (an IndexRing in a SharedArrayBuffer), without a copy, so both ends must use one
// mempool (refused otherwise). Each end owns its RX rings (one per RX queue, of its ring size); txRingSize is
// checked but unused (a ring port has no TX ring of its own). Each end needs at least as many RX queues as
// its peer has TX queues (checked when the second end starts).
//
// Link up: both ends started. While the peer is stopped (or not yet configured) a TX burst takes nothing.
// When the peer's RX ring is full, a TX burst takes fewer and the caller keeps the rest (back-pressure, as
// a full TX ring on a NIC): nothing is lost inside the link, so imissed stays 0; refusals are counted in
// the tx_qN_full xstat (a frame offered again is counted again: it says how often the ring was full).
//
// RX interrupts: each RX queue has an eventfd and an "armed" word. While the queue's owner has armed it
// (enableInterrupt, as RxWaiter does before it sleeps), a TX burst that put frames on it writes the
// eventfd once: one system call per burst, and none while the receiver is busy polling.
//
// Link names are per thread. To use a queue in a worker, configure both ends in the owner thread, pass
// `port.rxQueue(q).handle()` (or txQueue) to the worker and attachRxQueue / attachTxQueue there. A worker's
// TX queue follows its peer's stop and start, not a reconfiguration (it stays down: hand out new handles).
// Stop the workers before closing or reconfiguring an end: that drains its RX rings back to the pool.
import { IndexRing } from "../../src/mem/ring.ts";
import { macToString } from "../../src/net/ether.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_DRIVER0, C_PACKETS } from "../../src/ethdev/counters.ts";
import type { LinkStatus, PortCapabilities, ResolvedPortConfig, XStat } from "../../src/ethdev/port.ts";
import { checkHandleDriver, type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { close, eventfd, eventfdRead, eventfdSignal } from "../../src/sys/libc.ts";

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
const CTL_WORDS = 2 * CTL_END_STRIDE;
/** The TX counter slot for refusals (the peer's RX ring was full). */
const C_TX_FULL = C_DRIVER0;

// An end's memory (one SharedArrayBuffer per configuration): per RX queue an "armed" word on its own cache
// line, then the RX rings.
const ARM_STRIDE = 16; // Int32 words: 64 bytes
const RINGS_OFF = MAX_QUEUES * ARM_STRIDE * 4;

const END_NAMES = ["A", "B"] as const;

/** One end's queues as plain data: what the owner builds at configure and a handle carries to a worker. */
interface EndShared {
  sab: SharedArrayBuffer;
  rxQueues: number;
  /** Byte offset of RX queue q's ring in sab. */
  ringOffsets: number[];
  /** RX queue q's interrupt eventfd (fds are process-wide: a worker uses the same number). */
  eventFds: number[];
  /** The configuration's generation: the end's LIVE word holds it while started. */
  generation: number;
}

function createEnd(ringSizes: readonly number[], generation: number): EndShared {
  const ringOffsets: number[] = [];
  let at = RINGS_OFF;
  for (const size of ringSizes) {
    ringOffsets.push(at);
    at += IndexRing.bytesFor(size);
  }
  const sab = new SharedArrayBuffer(at);
  ringSizes.forEach((size, q) => IndexRing.init(sab, ringOffsets[q]!, size, "spsc"));
  const eventFds: number[] = [];
  try {
    for (let q = 0; q < ringSizes.length; q++) eventFds.push(eventfd());
  } catch (e) {
    for (const fd of eventFds) close(fd);
    throw e;
  }
  return { sab, rxQueues: ringSizes.length, ringOffsets, eventFds, generation };
}

/** The per-thread registry of links by name. */
interface Link {
  name: string;
  control: Int32Array;
  ends: [RingPort | undefined, RingPort | undefined];
  generation: number;
}

const links = new Map<string, Link>();

interface RingRxState {
  end: EndShared;
}

interface RingTxState {
  control: SharedArrayBuffer;
  /** Index of the peer's LIVE word in control. */
  peerLive: number;
  /** The peer's queues when the handle was made (a worker cannot follow a reconfigured peer). */
  peer: EndShared | undefined;
}

function macFor(name: string, end: number): string {
  // FNV-1a over the name; 02: locally administered, unicast; the last byte tells the ends apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return macToString(new Uint8Array([0x02, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff, end]));
}

/** RX queue q of an end: takes what the peer's TX queue q put on this end's ring. */
export class RingRxQueue extends RxQueueBase {
  private readonly ring: IndexRing;
  private readonly armed: Int32Array;
  private readonly armAt: number;
  private readonly fd: number;
  private readonly scratch = new BigUint64Array(1);

  constructor(ident: QueueIdentity, private readonly state: RingRxState) {
    super(ident);
    const end = state.end;
    this.ring = IndexRing.attach(end.sab, end.ringOffsets[ident.queueId]!);
    this.armed = new Int32Array(end.sab, 0, MAX_QUEUES * ARM_STRIDE);
    this.armAt = ident.queueId * ARM_STRIDE;
    this.fd = end.eventFds[ident.queueId]!;
  }

  burst(burst: Burst): number {
    const n = this.ring.dequeueBurst(burst.bufs, 0, burst.capacity);
    burst.count = n;
    if (n === 0) return 0;
    const bufs = burst.bufs;
    const len = this.pool.len;
    const portOf = this.pool.port;
    const id = this.portId;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const b = bufs[i]!;
      bytes += len[b]!;
      portOf[b] = id;
    }
    this.cnt[C_PACKETS]! += n;
    this.cnt[C_BYTES]! += bytes;
    return n;
  }

  ready(): boolean {
    return this.ring.count() !== 0;
  }

  override eventFd(): number {
    return this.fd;
  }

  override enableInterrupt(): void {
    Atomics.store(this.armed, this.armAt, 1);
  }

  override disableInterrupt(): void {
    Atomics.store(this.armed, this.armAt, 0);
    eventfdRead(this.fd, this.scratch);
  }

  /** Frees whatever is still queued (teardown). */
  drain(): void {
    const pool = this.pool;
    const tmp = new Uint32Array(256);
    for (let n = this.ring.dequeueBurst(tmp, 0, tmp.length); n > 0; n = this.ring.dequeueBurst(tmp, 0, tmp.length)) {
      for (let i = 0; i < n; i++) if (pool.isAllocated(tmp[i]!)) pool.free(tmp[i]!);
    }
  }

  protected handleState(): RingRxState {
    return this.state;
  }
}

/** TX queue q of an end: puts buffer indices on the peer's RX ring q, without a copy. */
export class RingTxQueue extends TxQueueBase {
  private readonly control: Int32Array;
  private peerRing: IndexRing | undefined;
  private peerArmed: Int32Array = new Int32Array(1);
  private peerFd = -1;
  private peerGen = -1;
  private readonly armAt: number;

  /** `resolvePeer` (owner thread only) finds the peer's current queues after it was (re)configured. */
  constructor(ident: QueueIdentity, private readonly state: RingTxState, private readonly resolvePeer?: () => EndShared | undefined) {
    super(ident);
    this.control = new Int32Array(state.control);
    this.armAt = ident.queueId * ARM_STRIDE;
    if (state.peer) this.bindPeer(state.peer);
  }

  burst(burst: Burst, start = 0): number {
    if (Atomics.load(this.control, this.state.peerLive) !== this.peerGen && !this.refreshPeer()) return 0;
    const n = burst.count - start;
    if (n <= 0) return 0;
    const k = this.peerRing!.enqueueBurst(burst.bufs, start, n);
    const bufs = burst.bufs;
    const len = this.pool.len;
    let bytes = 0;
    for (let i = start; i < start + k; i++) bytes += len[bufs[i]!]!;
    this.cnt[C_PACKETS]! += k;
    this.cnt[C_BYTES]! += bytes;
    if (k < n) this.cnt[C_TX_FULL]! += n - k;
    // The receiver armed its interrupt before sleeping: wake it, once per burst.
    if (k !== 0 && Atomics.load(this.peerArmed, this.armAt) !== 0) eventfdSignal(this.peerFd);
    return k;
  }

  /** Re-reads the peer after its LIVE word changed; false while the link is down. Per burst at most, and only then. */
  private refreshPeer(): boolean {
    const live = Atomics.load(this.control, this.state.peerLive);
    if (live === 0) return false;
    if (!this.resolvePeer) return live === this.peerGen; // a worker cannot follow a reconfigured peer
    const peer = this.resolvePeer();
    if (!peer || peer.generation !== live || peer.rxQueues <= this.queueId) return false;
    this.bindPeer(peer);
    return true;
  }

  private bindPeer(peer: EndShared): void {
    if (peer.rxQueues <= this.queueId) return;
    this.peerRing = IndexRing.attach(peer.sab, peer.ringOffsets[this.queueId]!);
    this.peerArmed = new Int32Array(peer.sab, 0, MAX_QUEUES * ARM_STRIDE);
    this.peerFd = peer.eventFds[this.queueId]!;
    this.peerGen = peer.generation;
  }

  protected handleState(): RingTxState {
    return { ...this.state, peer: this.resolvePeer?.() ?? this.state.peer };
  }
}

export class RingPort extends SoftPortBase {
  readonly linkName: string;
  readonly end: 0 | 1;
  private readonly link_: Link;
  private readonly ownLive: number;
  private readonly peerLive: number;
  private shared: EndShared | undefined;

  /** Use openPort("ring:NAME") (or the driver's open). */
  constructor(spec: string, linkName: string, end: 0 | 1, link: Link) {
    super(spec, "ring", `ring:${linkName} end ${END_NAMES[end]}`, macFor(linkName, end));
    this.linkName = linkName;
    this.end = end;
    this.link_ = link;
    this.ownLive = end * CTL_END_STRIDE;
    this.peerLive = (1 - end) * CTL_END_STRIDE;
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
    const port = new RingPort(spec, linkName, end, link);
    link.ends[end] = port;
    return port;
  }

  capabilities(): PortCapabilities {
    return { ...CAPS };
  }

  protected setup(config: ResolvedPortConfig): void {
    const peer = this.peer();
    if (peer?.config) this.checkPool(config.pool, peer);
    const other = config.rxPools.find((p) => p.arena.va !== config.pool.arena.va);
    if (other) {
      throw new BdkError(`${this.name}: RX queue pool "${other.name}" differs from the port's pool "${config.pool.name}"`,
        "a ring link hands buffer indices over without copying: give every queue the one pool of both ends");
    }
    this.shared = createEnd(config.rxRingSizes, ++this.link_.generation);
    const txState: RingTxState = { control: this.link_.control.buffer as SharedArrayBuffer, peerLive: this.peerLive, peer: undefined };
    const resolvePeer = (): EndShared | undefined => this.peer()?.shared;
    for (let q = 0; q < config.rxQueues; q++) this.rxqs.push(new RingRxQueue(this.queueIdentity(import.meta.url, "rx", q), { end: this.shared }));
    for (let q = 0; q < config.txQueues; q++) this.txqs.push(new RingTxQueue(this.queueIdentity(import.meta.url, "tx", q), txState, resolvePeer));
  }

  protected teardown(): void {
    // Frames still queued for this end go back to the pool.
    for (const q of this.rxqs) (q as RingRxQueue).drain();
    for (const fd of this.shared?.eventFds ?? []) close(fd);
    this.shared = undefined;
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
    Atomics.store(this.link_.control, this.ownLive, this.shared!.generation);
  }

  protected onStop(): void {
    Atomics.store(this.link_.control, this.ownLive, 0);
  }

  protected release(): void {
    const link = this.link_;
    if (link.ends[this.end] === this) link.ends[this.end] = undefined;
    if (!link.ends[0] && !link.ends[1] && links.get(link.name) === link) links.delete(link.name);
  }

  link(): LinkStatus {
    const up = Atomics.load(this.link_.control, this.ownLive) !== 0 && Atomics.load(this.link_.control, this.peerLive) !== 0;
    return { up, speedMbps: 0, fullDuplex: true };
  }

  protected override driverXstats(): XStat[] {
    const out: XStat[] = [];
    for (let q = 0; q < this.txCounters.queues; q++) out.push({ name: `tx_q${q}_full`, value: this.txCounters.get(q, C_TX_FULL) });
    return out;
  }

  private peer(): RingPort | undefined {
    return this.link_.ends[1 - this.end];
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
}

/** The attach entry point (QueueHandle.module points here): a worker's object for a queue of a ring end. */
export function attachQueue(h: QueueHandle, pool: Mempool): RingRxQueue | RingTxQueue {
  checkHandleDriver(h, "ring");
  const ident = identityFrom(h, pool);
  if (h.dir === "rx") return new RingRxQueue(ident, h.state as RingRxState);
  const state = h.state as RingTxState;
  if (!state.peer) {
    throw new BdkError(`attachTxQueue(${h.spec}): the other end of the ring link was not configured when the handle was made`,
      "open and configure both ends before handing a TX queue to a worker");
  }
  return new RingTxQueue(ident, state);
}

/** Open links in this thread, for diagnostics: name → which ends are open. */
export function ringLinks(): { name: string; ends: string[] }[] {
  return [...links.values()].map((l) => ({ name: l.name, ends: l.ends.flatMap((e, i) => (e ? [END_NAMES[i]!] : [])) }));
}
