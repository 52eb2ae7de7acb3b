// The AF_PACKET port: a kernel network interface (veth, tap, a NIC the kernel drives) as a bdk Port. This file
// is its control plane; the bursts are the queues' (rxtx.ts), the sockets and rings are socket.ts's.
//
// Queues are sockets: RX queue q and TX queue q are socket q, each with its own mmap'd TPACKET_V2 rings
// (see socket.ts for why V2), RX queue q's ring of rxRingSizes[q] frames and TX queue q's of txRingSizes[q].
// Several RX queues join one PACKET_FANOUT group in hash mode, so that each flow lands on one queue, like RSS.
//
// Lifecycle: open checks the interface (exists, up) and that we may use AF_PACKET, and keeps one control
// socket that holds promiscuous membership for as long as the port is open, and a netlink socket for link
// events (eventFd). configure checks geometry and sizes and builds the queue objects; start makes the queue
// sockets and rings and binds the queues to them (a queue handle is good for that start); stop sends what is
// still queued, adds the kernel's drop counts to the stats and closes the sockets; close drops the membership
// (the interface leaves promiscuous mode unless someone else holds it) and the control sockets.
//
// Counters: the queues count in PortBase's per-queue blocks (shared memory, so that the owner's stats()
// include what workers did). imissed is the kernel's: PACKET_STATISTICS drops per socket, which reset on
// every read, so stats() and stop() fold them into the RX queue's missed counter. TX kicks (one sendto per
// burst that queued frames) and refused kicks live in the TX queue's driver slots: txKicks(), txKickErrors()
// and the tx_qN_kicks xstats.
//
// Link: the interface's (up, carrier and operstate; speed and duplex from sysfs). eventFd() becomes readable
// when any link of the namespace changes; pollEvents() then reads the link again. An interface that
// disappeared reads as down, and pollEvents says why in the event's reason.
import {
  checkQueue, type PortCapabilities, type PortConfig, type PortStats, type QueueStats, type ResolvedPortConfig,
  type XStat,
} from "../../src/ethdev/port.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError, warnOnce } from "../../src/sys/errors.ts";
import { netdevIndex, netdevMtu, requireUp } from "../../src/sys/netdev.ts";
import { claimInterface, type InterfaceClaim } from "./claim.ts";
import { KernelInterface, KernelInterfacePort } from "./netif.ts";
import { AfPacketRxQueue, AfPacketTxQueue, C_KICK_ERRORS, C_KICKS, QUEUE_MODULE, type PortFacts } from "./rxtx.ts";
import { createShared, MAX_QUEUES, MAX_RING, MIN_RING, W_LIVE, W_TX_MAX, type AfPacketOptions } from "./shared.ts";
import { PacketSocket, type RingGeometry } from "./socket.ts";
import { RX_DATA_OFFSET, TX_DATA_OFFSET } from "./uapi.ts";

/** How long stop() keeps kicking a TX ring that still holds frames. */
const DRAIN_MS = 200;

export class AfPacketPort extends KernelInterfacePort {
  readonly iface: string;
  readonly ifindex: number;
  readonly geometry: RingGeometry;
  private readonly opts: AfPacketOptions;
  /** Link, link events, MAC, MTU and promiscuous mode of the interface (netif.ts, shared with af_xdp). */
  protected readonly netif: KernelInterface;
  /** The advisory per-interface claim (claim.ts): another bdk process on the interface is warned. */
  private readonly claim: InterfaceClaim;
  /** Socket q serves RX queue q and TX queue q; empty while stopped. */
  private socks: PacketSocket[] = [];
  private fanoutId: number | undefined;
  /** The port's control words (W_LIVE, W_TX_MAX), shared with the workers' queues. */
  private readonly shared: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  /** Starts so far: the next start's generation is starts + 1 (never 0, which means stopped). */
  private starts = 0;
  /** Use openPort("af_packet:…") (or the driver's open). */
  constructor(spec: string, opts: AfPacketOptions) {
    super(spec, "af_packet", opts.iface);
    this.opts = opts;
    this.iface = opts.iface;
    this.geometry = { frameSize: opts.frameSize, blockSize: opts.blockSize };
    this.ifindex = netdevIndex(opts.iface);
    requireUp(opts.iface);
    this.shared = createShared();
    this.ctl = new Int32Array(this.shared);
    this.netif = new KernelInterface(this.name, this.iface, this.ifindex, spec);
    this.claim = claimInterface(this.spec, this.iface, this.ifindex);
  }

  capabilities(): PortCapabilities {
    return {
      maxRxQueues: MAX_QUEUES,
      maxTxQueues: MAX_QUEUES,
      minRingSize: MIN_RING,
      maxRingSize: MAX_RING,
      rss: true, // fanout hash: one flow, one queue
      maxFrameSize: this.geometry.frameSize - RX_DATA_OFFSET,
    };
  }

  /** Fills queue counts and ring sizes the caller left out from the spec's queues= and frames=. */
  override configure(config: PortConfig): void {
    if (config && typeof config === "object") {
      config = {
        ...config,
        rxQueues: config.rxQueues ?? this.opts.queues,
        txQueues: config.txQueues ?? this.opts.queues,
        rxRingSize: config.rxRingSize ?? this.opts.frames,
        txRingSize: config.txRingSize ?? this.opts.frames,
      };
    }
    super.configure(config);
  }

  protected setup(config: ResolvedPortConfig): void {
    const g = this.geometry;
    const perBlock = Math.floor(g.blockSize / g.frameSize);
    const rings = [
      ...config.rxRingSizes.map((n, q) => [`RX queue ${q}'s ring size`, n] as const),
      ...config.txRingSizes.map((n, q) => [`TX queue ${q}'s ring size`, n] as const),
    ];
    for (const [what, n] of rings) {
      if (n % perBlock !== 0) {
        throw new BdkError(`${this.name}: ${what} ${n} is not a multiple of the ${perBlock} frames a ${g.blockSize}-byte block holds`,
          "use a larger ring or a smaller block_size");
      }
    }
    if (config.mtu !== undefined) this.setMtu(config.mtu);
    const mtu = netdevMtu(this.iface);
    // An interface MTU above what fits (lo has 65536) is not an error: frames that do not fit are dropped and
    // counted (ierrors), as a NIC drops frames above its buffer size. Say so once.
    const problem = this.mtuProblem(mtu, config.rxPools);
    if (problem) warnOnce(`af_packet:mtu:${this.iface}`, `${problem.message}; longer frames will be dropped and counted as ierrors`);
    Atomics.store(this.ctl, W_TX_MAX, this.txMax(mtu));
    this.setPromiscuous(config.promiscuous);
    const facts: PortFacts = { options: { ...this.opts }, ifindex: this.ifindex, shared: this.shared };
    for (let q = 0; q < config.rxQueues; q++) this.rxqs.push(new AfPacketRxQueue(this.queueIdentity(QUEUE_MODULE, "rx", q), facts));
    for (let q = 0; q < config.txQueues; q++) this.txqs.push(new AfPacketTxQueue(this.queueIdentity(QUEUE_MODULE, "tx", q), facts));
  }

  /** Why frames of this MTU would not fit the rings or the RX pools, with the fix; undefined when they do. */
  private mtuProblem(mtu: number, pools: readonly Mempool[]): BdkError | undefined {
    const room = this.geometry.frameSize - RX_DATA_OFFSET;
    if (mtu + 14 > room) {
      return new BdkError(`${this.name}: MTU ${mtu} frames do not fit ${this.geometry.frameSize}-byte ring frames (${room} bytes of data)`,
        mtu + 18 + RX_DATA_OFFSET <= 65536 ? `open with frame_size=${nextFrameSize(mtu + 18 + RX_DATA_OFFSET)} or lower the MTU` : "lower the MTU (`ip link set … mtu 1500`)");
    }
    const pool = pools.find((p) => mtu + 14 > p.dataRoom);
    if (pool) {
      return new BdkError(`${this.name}: MTU ${mtu} frames do not fit the pool "${pool.name}"'s ${pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${mtu + 18}`);
    }
    return undefined;
  }

  /** The longest frame the kernel takes on TX: what a ring frame holds, and no more than the MTU allows. */
  private txMax(mtu: number): number {
    return Math.min(this.geometry.frameSize - TX_DATA_OFFSET, mtu + 18);
  }

  /** The queues are dropped by PortBase; their sockets were closed by stop(). */
  protected teardown(): void {}

  protected onStart(): void {
    const cfg = this.cfg;
    const n = Math.max(cfg.rxQueues, cfg.txQueues);
    const socks: PacketSocket[] = [];
    try {
      requireUp(this.iface);
      Atomics.store(this.ctl, W_TX_MAX, this.txMax(netdevMtu(this.iface)));
      const fanout = cfg.rxQueues > 1 || this.opts.fanout !== undefined;
      let group = this.opts.fanout;
      for (let q = 0; q < n; q++) {
        const s = new PacketSocket({
          name: `${this.iface} queue ${q}`,
          ifindex: this.ifindex,
          geometry: this.geometry,
          rxFrames: q < cfg.rxQueues ? cfg.rxRingSizes[q]! : 0,
          txFrames: q < cfg.txQueues ? cfg.txRingSizes[q]! : 0,
          qdiscBypass: this.opts.qdiscBypass,
          vnetHdr: this.opts.vnetHdr,
        });
        socks.push(s);
        if (fanout && q < cfg.rxQueues) group = s.joinFanout(group ?? 0, group === undefined);
      }
      this.fanoutId = fanout ? group : undefined;
    } catch (e) {
      for (const s of socks) s.close();
      throw e;
    }
    this.socks = socks;
    const gen = ++this.starts;
    for (let q = 0; q < cfg.rxQueues; q++) this.rxq(q).bind(socks[q], gen);
    for (let q = 0; q < cfg.txQueues; q++) this.txq(q).bind(socks[q], gen);
    Atomics.store(this.ctl, W_LIVE, gen);
  }

  protected onStop(): void {
    // Workers' queues see the port stopped from here on (their bursts return 0); the workers should be stopped already.
    Atomics.store(this.ctl, W_LIVE, 0);
    const socks = this.socks;
    this.socks = [];
    try {
      for (const q of this.txqs) (q as AfPacketTxQueue).drain(DRAIN_MS);
      for (const q of this.rxqs) (q as AfPacketRxQueue).foldDrops();
    } finally {
      for (const q of this.rxqs) (q as AfPacketRxQueue).bind(undefined, 0);
      for (const q of this.txqs) (q as AfPacketTxQueue).bind(undefined, 0);
      this.fanoutId = undefined;
      for (const s of socks) s.close();
    }
  }

  protected release(): void {
    this.claim.release();
    this.netif.close();
  }

  private rxq(q: number): AfPacketRxQueue {
    return this.rxqs[q] as AfPacketRxQueue;
  }

  private txq(q: number): AfPacketTxQueue {
    return this.txqs[q] as AfPacketTxQueue;
  }

  // ---- TX kicks, rings and sockets ---------------------------------------------------------------

  /** sendto kicks of TX queue `queue`, or of all queues, since configure. One per TX burst that queued frames. */
  txKicks(queue?: number): number {
    const c = this.txCounters;
    if (queue === undefined) return c.sum(C_KICKS);
    checkQueue(this.name, queue, c.queues, "tx");
    return c.get(queue, C_KICKS);
  }

  /** Kicks the kernel refused (ENOBUFS when the device queue is full, ENETDOWN …); the frames stay queued and go at the next kick. */
  txKickErrors(): number {
    return this.txCounters.sum(C_KICK_ERRORS);
  }

  /**
   * Kicks TX queue `queue` when frames wait in its ring after a refused kick (an app that stops sending calls
   * it to get them out; stop() drains the rings itself). True when nothing waits any more or the kernel took
   * them; false when it still refuses (the link is down), and the frames stay queued.
   */
  txFlush(queue: number): boolean {
    return (this.txQueue(queue) as AfPacketTxQueue).flush();
  }

  /** TX ring frames per state, per queue: for diagnostics and tests. */
  txRingState(queue: number): { available: number; pending: number; wrongFormat: number } {
    return (this.txQueue(queue) as AfPacketTxQueue).ringState();
  }

  /** The socket of queue q (for an app's own epoll); -1 while stopped. */
  queueFd(queue: number): number {
    return this.socks[queue]?.fd ?? -1;
  }

  /** The fanout group the RX queues share (undefined with one queue and no fanout=, and while stopped). */
  get fanoutGroup(): number | undefined {
    return this.fanoutId;
  }

  // ---- stats ---------------------------------------------------------------------------------------

  /** PACKET_STATISTICS resets the kernel's counters on every read: fold them into the RX queues' missed counters. */
  private foldDrops(): void {
    for (const q of this.rxqs) (q as AfPacketRxQueue).foldDrops();
  }

  /** The whole port's counters, whichever thread made the bursts (they live in shared memory). */
  override stats(): PortStats {
    this.foldDrops();
    return super.stats();
  }

  override queueStats(queue: number, dir: "rx" | "tx"): QueueStats {
    if (dir === "rx") this.foldDrops();
    return super.queueStats(queue, dir);
  }

  override resetStats(): void {
    for (const q of this.rxqs) (q as AfPacketRxQueue).discardDrops();
    super.resetStats();
  }

  protected override driverXstats(): XStat[] {
    const c = this.txCounters;
    const out: XStat[] = [];
    for (let q = 0; q < c.queues; q++) {
      out.push({ name: `tx_q${q}_kicks`, value: c.get(q, C_KICKS) }, { name: `tx_q${q}_kick_errors`, value: c.get(q, C_KICK_ERRORS) });
    }
    out.push({ name: "tx_kicks", value: c.sum(C_KICKS) }, { name: "tx_kick_errors", value: c.sum(C_KICK_ERRORS) });
    return out;
  }

  // ---- link, events and interface settings: KernelInterfacePort (netif.ts); the MTU's limits are the port's ----

  setMtu(mtu: number): void {
    this.assertOpen();
    const max = this.capabilities().maxFrameSize - 18;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) {
      throw new BdkError(`${this.name}: MTU ${mtu} is out of range for ${this.geometry.frameSize}-byte ring frames`,
        `this port supports 68..${max}; for more, open it with a larger frame_size (e.g. frame_size=${nextFrameSize(mtu + 18 + RX_DATA_OFFSET)})`);
    }
    const problem = this.mtuProblem(mtu, this.config?.rxPools ?? []);
    if (problem) throw problem;
    this.netif.setMtu(mtu);
    Atomics.store(this.ctl, W_TX_MAX, this.txMax(mtu));
  }
}

/** A frame size (multiple of 16, power of two up to 64 KiB) that holds `bytes`. */
function nextFrameSize(bytes: number): number {
  let f = 2048;
  while (f < bytes) f *= 2;
  return f;
}
