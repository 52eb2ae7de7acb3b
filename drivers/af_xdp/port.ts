// The AF_XDP port: a kernel network interface as a bdk Port through XDP sockets, with the frames in the
// mempool's own buffers (see xsk.ts for the UMEM, bpf.ts for the XDP program). This file is the control plane.
//
// Lifecycle:
//   open       checks the interface (exists, up, has the queues asked for), makes the XSKMAP, loads the redirect
//              program and attaches it through a BPF link (refused when the interface has a program that is not
//              ours); opens a netlink socket for link events and a packet socket that holds promiscuous
//              membership. While no socket is in the map, the program passes every frame to the kernel.
//   configure  checks the pool (it backs the UMEM) and ring sizes, builds the queue objects.
//   start      one XDP socket per queue pair (RX queue i and TX queue i: interface queue `queue + i`), its fill
//              ring filled from the pool, put in the XSKMAP: from here the queue's frames come to bdk.
//   stop       takes the sockets out of the map (their frames go to the kernel again), sends what TX still
//              holds, folds the kernel's drop counts into the stats, closes the sockets and gives back to the
//              pool every buffer the kernel still held.
//   close      drops the link (the program leaves the interface), the map, the program and the sockets. If
//              the process dies first, the kernel does the same when it closes the fds.
//
// Counters: the queues count in PortBase's per-queue blocks (shared memory). imissed is the kernel's:
// XDP_STATISTICS rx_dropped + rx_ring_full per socket, folded in by stats() and stop(). TX kicks (sendto when
// the ring asks for a wake-up) and fill-ring wake-ups are the queues' driver slots and xstats.
import {
  type PortCapabilities, type PortConfig, type PortStats, type QueueStats, type ResolvedPortConfig, type XStat,
} from "../../src/ethdev/port.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError, warnOnce } from "../../src/sys/errors.ts";
import { close } from "../../src/sys/libc.ts";
import {
  netdevIndex, netdevMtu, requireUp,
} from "../../src/sys/netdev.ts";
import { readdirSync, readlinkSync } from "node:fs";
import { KernelInterface, KernelInterfacePort } from "../af_packet/netif.ts";
import { AfXdpError, attachXdpLink, createXskMap, loadXdpProgram, progId, redirectProgram, xskMapDelete, xskMapSet, type XdpMode } from "./bpf.ts";
import {
  AfXdpRxQueue, AfXdpTxQueue, C_KICK_ERRORS, C_KICKS, C_WAKEUPS, QUEUE_MODULE, W_LIVE, W_TX_MAX, type AfXdpOptions,
} from "./rxtx.ts";
import { XDP_PACKET_HEADROOM } from "./uapi.ts";
import { chunkFor, XdpSocket } from "./xsk.ts";

export const MAX_QUEUES = 16;
export const MIN_RING = 64;
export const MAX_RING = 65536;
export const DEFAULT_FRAMES = 1024;
/** The largest frame an af_xdp port can carry: a page-sized chunk less XDP's headroom (no multi-buffer). */
export const MAX_FRAME = 4096 - XDP_PACKET_HEADROOM;
const DRAIN_MS = 200;

/** RX queues of an interface (/sys/class/net/IFACE/queues/rx-N), 1 when sysfs does not say. */
export function interfaceRxQueues(iface: string): number {
  try {
    return Math.max(1, readdirSync(`/sys/class/net/${iface}/queues`).filter((n) => /^rx-\d+$/.test(n)).length);
  } catch {
    return 1;
  }
}

/** What was said once per process about an interface's mode. */
const told = new Set<string>();

/** Interfaces this process has an af_xdp port on (netns inode:ifindex → spec): one XDP program per interface. */
const open = new Map<string, string>();

function interfaceKey(ifindex: number): string {
  let ns = "";
  try {
    ns = readlinkSync("/proc/self/ns/net");
  } catch {
    // no /proc: the index alone
  }
  return `${ns}:${ifindex}`;
}

export class AfXdpPort extends KernelInterfacePort {
  readonly iface: string;
  readonly ifindex: number;
  /** The interface's RX queue count when the port was opened. */
  readonly interfaceQueues: number;
  /** native or generic: the mode the program was attached in. */
  readonly xdpMode: XdpMode;
  /** The kernel's id of our XDP program (what `ip link` shows on the interface while the port is open). */
  readonly programId: number;
  private readonly opts: AfXdpOptions;
  private readonly shared = new SharedArrayBuffer(64);
  private readonly ctl = new Int32Array(this.shared);
  private mapFd: number;
  private progFd: number;
  private linkFd: number;
  /** Link, link events, MAC, MTU and promiscuous mode of the interface (af_packet's netif.ts). */
  protected readonly netif: KernelInterface;
  private socks: XdpSocket[] = [];
  private starts = 0;
  private readonly key: string;

  constructor(spec: string, opts: AfXdpOptions) {
    super(spec, "af_xdp", opts.iface);
    this.opts = opts;
    this.iface = opts.iface;
    this.ifindex = netdevIndex(opts.iface);
    requireUp(opts.iface);
    const nq = interfaceRxQueues(opts.iface);
    this.interfaceQueues = nq;
    if (opts.queue + opts.queues > nq) {
      const which = opts.queues === 1 ? `queue ${opts.queue}` : `queues ${opts.queue}..${opts.queue + opts.queues - 1}`;
      throw new AfXdpError("queue", `${spec}: interface ${opts.iface} has ${nq} RX queue${nq === 1 ? "" : "s"} (0..${nq - 1}), not ${which}`,
        `use queue= and queues= within them, or give the interface more (\`ethtool -L ${opts.iface} combined N\`; a veth: \`ip link add … numrxqueues N numtxqueues N type veth …\`)`);
    }
    this.key = interfaceKey(this.ifindex);
    const other = open.get(this.key);
    if (other !== undefined) {
      throw new AfXdpError("busy", `${spec}: interface ${opts.iface} already has an af_xdp port in this process (${other}), and an interface takes one XDP program`,
        `open it once, with queues=N for more queues (workers can take them), or queue=N to leave others to the kernel`);
    }
    const fds: number[] = [];
    try {
      this.mapFd = createXskMap(spec, nq);
      fds.push(this.mapFd);
      this.progFd = loadXdpProgram(spec, redirectProgram(this.mapFd));
      fds.push(this.progFd);
      const link = attachXdpLink(spec, opts.iface, this.ifindex, this.progFd, opts.mode);
      this.linkFd = link.fd;
      fds.push(link.fd);
      this.xdpMode = link.mode;
      this.programId = progId(this.progFd);
      this.netif = new KernelInterface(this.name, this.iface, this.ifindex, spec);
    } catch (e) {
      for (const fd of fds.reverse()) close(fd);
      throw e;
    }
    open.set(this.key, spec);
    if (opts.mode === undefined && this.xdpMode === "generic") this.tell("generic", `generic XDP (the driver of ${opts.iface} has no native XDP)`);
  }

  /** One line per interface and finding, once per process: which mode the port got when it had a choice. */
  private tell(key: string, what: string): void {
    const k = `${this.iface}:${key}`;
    if (told.has(k) || process.env.BDK_AF_XDP_QUIET === "1") return;
    told.add(k);
    console.error(`bdk: ${this.spec}: ${what}`);
  }

  /** Whether the sockets run in zero-copy mode (known once started; false while stopped). */
  get zeroCopy(): boolean {
    return this.socks.length > 0 && this.socks.every((s) => s.zeroCopy);
  }

  /** "native XDP, copy mode" and the like: what the port got. */
  modeLine(): string {
    return `${this.xdpMode} XDP, ${this.started ? (this.zeroCopy ? "zero-copy" : "copy mode") : "not started"}`;
  }

  capabilities(): PortCapabilities {
    const avail = Math.max(1, Math.min(MAX_QUEUES, this.interfaceQueues - this.opts.queue));
    return {
      maxRxQueues: avail,
      maxTxQueues: avail,
      minRingSize: MIN_RING,
      maxRingSize: MAX_RING,
      // The interface spreads frames over its queues (a NIC's RSS; a veth: the queue the sender used); bdk takes
      // them as they come and sets no key or table (like af_packet's fanout).
      rss: true,
      maxFrameSize: MAX_FRAME,
    };
  }

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
    const pool = config.pool;
    chunkFor(pool);
    for (let q = 0; q < config.rxQueues; q++) {
      if (config.rxPools[q] !== pool) {
        throw new AfXdpError("pool", `${this.name}: RX queue ${q} has a pool of its own ("${config.rxPools[q]!.name}"); an af_xdp socket's RX and TX share one UMEM`,
          `give every queue the port's pool ("${pool.name}")`);
      }
    }
    if (config.mtu !== undefined) this.setMtu(config.mtu);
    const mtu = netdevMtu(this.iface);
    const problem = this.mtuProblem(mtu, pool);
    if (problem) warnOnce(`af_xdp:mtu:${this.iface}`, `${problem.message}; longer frames will be dropped (imissed)`);
    Atomics.store(this.ctl, W_TX_MAX, this.txMax(mtu, pool));
    this.setPromiscuous(config.promiscuous);
    for (let q = 0; q < config.rxQueues; q++) this.rxqs.push(new AfXdpRxQueue(this.queueIdentity(QUEUE_MODULE, "rx", q), this.shared));
    for (let q = 0; q < config.txQueues; q++) this.txqs.push(new AfXdpTxQueue(this.queueIdentity(QUEUE_MODULE, "tx", q), this.shared));
  }

  /** Frames of `mtu` do not fit what a chunk of this pool holds after XDP's headroom: why, with the fix. */
  private mtuProblem(mtu: number, pool: Mempool): BdkError | undefined {
    const room = chunkFor(pool) - XDP_PACKET_HEADROOM;
    if (mtu + 14 <= room) return undefined;
    return new BdkError(`${this.name}: MTU ${mtu} frames do not fit the pool "${pool.name}"'s AF_XDP chunks (${room} bytes after XDP's ${XDP_PACKET_HEADROOM}-byte headroom)`,
      mtu + 14 <= MAX_FRAME ? `create the pool with headroom + dataRoom ≥ ${mtu + 14 + XDP_PACKET_HEADROOM}` : `lower the MTU to ${MAX_FRAME - 14} or less (AF_XDP without multi-buffer), or use af_packet`);
  }

  private txMax(mtu: number, pool: Mempool): number {
    return Math.min(chunkFor(pool), mtu + 18);
  }

  protected teardown(): void {}

  protected onStart(): void {
    const cfg = this.cfg;
    const n = Math.max(cfg.rxQueues, cfg.txQueues);
    const socks: XdpSocket[] = [];
    try {
      requireUp(this.iface);
      Atomics.store(this.ctl, W_TX_MAX, this.txMax(netdevMtu(this.iface), cfg.pool));
      for (let q = 0; q < n; q++) {
        socks.push(XdpSocket.open({
          name: `${this.spec} queue ${q}`,
          iface: this.iface,
          ifindex: this.ifindex,
          queue: this.opts.queue + q,
          pool: cfg.pool,
          rxSize: q < cfg.rxQueues ? cfg.rxRingSizes[q]! : 0,
          txSize: q < cfg.txQueues ? cfg.txRingSizes[q]! : 0,
          zeroCopy: this.opts.zeroCopy,
          native: this.xdpMode === "native",
        }));
      }
    } catch (e) {
      for (const s of socks) s.close();
      throw e;
    }
    this.socks = socks;
    const gen = ++this.starts;
    for (let q = 0; q < cfg.rxQueues; q++) this.rxq(q).bind(socks[q], gen);
    for (let q = 0; q < cfg.txQueues; q++) this.txq(q).bind(socks[q], gen);
    Atomics.store(this.ctl, W_LIVE, gen);
    const want = cfg.rxRingSizes.reduce((a, b) => a + b, 0);
    if (want > cfg.pool.available()) {
      warnOnce(`af_xdp:pool:${this.spec}`, `${this.spec}: its fill rings want ${want} buffers and the pool "${cfg.pool.name}" has ${cfg.pool.available()} free: ` +
        "the kernel drops what it has no buffer for (imissed); create the pool with more buffers or give smaller rings (frames=)");
    }
    try {
      for (let q = 0; q < cfg.rxQueues; q++) this.rxq(q).refill();
      for (let q = 0; q < cfg.rxQueues; q++) xskMapSet(this.mapFd, this.opts.queue + q, socks[q]!.fd, this.spec);
    } catch (e) {
      this.started = true;
      this.stop();
      throw e;
    }
    if (this.zeroCopy && !cfg.pool.arena.hugepage && cfg.pool.stride % 4096 !== 0 && 4096 % cfg.pool.stride !== 0) {
      // Zero-copy DMA-maps the UMEM page by page: a chunk that crosses into a page that is not physically next
      // to it is refused by the kernel (counted in rx_qN_xsk_invalid_descs), and with this stride many do.
      warnOnce(`af_xdp:zc-pages:${this.spec}`, `${this.spec}: zero-copy over the pool "${cfg.pool.name}" on 4 KiB pages: ${cfg.pool.stride}-byte buffers cross pages the NIC cannot DMA across; ` +
        "reserve hugepages (`bdk hugepages --reserve 2M:512`) before creating the pool, or use zerocopy=off");
    }
    if (this.opts.zeroCopy === "auto") {
      this.tell(this.zeroCopy ? "zc" : "copy", this.zeroCopy ? `${this.xdpMode} XDP, zero-copy` : `${this.xdpMode} XDP, copy mode (the driver of ${this.iface} has no AF_XDP zero-copy${this.xdpMode === "generic" ? " in generic mode" : ""})`);
    }
  }

  protected onStop(): void {
    Atomics.store(this.ctl, W_LIVE, 0);
    const socks = this.socks;
    this.socks = [];
    const cfg = this.cfg;
    try {
      for (let q = 0; q < cfg.rxQueues; q++) xskMapDelete(this.mapFd, this.opts.queue + q);
      for (const q of this.txqs) (q as AfXdpTxQueue).drain(DRAIN_MS);
      for (const q of this.rxqs) (q as AfXdpRxQueue).foldDrops();
    } finally {
      for (const q of this.rxqs) (q as AfXdpRxQueue).bind(undefined, 0);
      for (const q of this.txqs) (q as AfXdpTxQueue).bind(undefined, 0);
      const pool = cfg.pool;
      for (const s of socks) {
        s.close();
        // The socket is gone: whatever the kernel still held (fill entries, TX frames never completed) is ours again.
        for (const owned of [s.rxOwned, s.txOwned]) {
          for (let b = 0; b < owned.length; b++) {
            if (owned[b] !== 0) {
              owned[b] = 0;
              pool.free(b);
            }
          }
        }
      }
    }
  }

  protected release(): void {
    open.delete(this.key);
    this.netif.close();
    for (const fd of [this.linkFd, this.progFd, this.mapFd]) {
      try {
        close(fd);
      } catch {
        // nothing more to do: the process's exit closes it anyway
      }
    }
    this.linkFd = this.progFd = this.mapFd = -1;
  }

  private rxq(q: number): AfXdpRxQueue {
    return this.rxqs[q] as AfXdpRxQueue;
  }

  private txq(q: number): AfXdpTxQueue {
    return this.txqs[q] as AfXdpTxQueue;
  }

  /**
   * Kicks TX queue `queue` until the kernel has taken everything on its ring (copy mode sends a batch per
   * kick, and fewer when the socket's send buffer is full; the next burst sends the rest, stop() drains). For an
   * app that stops sending and wants its last frames out now. True when the ring is empty.
   */
  txFlush(queue: number, ms = 100): boolean {
    return (this.txQueue(queue) as AfXdpTxQueue).flush(ms);
  }

  /** The XDP socket of queue q (for an app's own poll); -1 while stopped. */
  queueFd(queue: number): number {
    return this.socks[queue]?.fd ?? -1;
  }

  // ---- stats ---------------------------------------------------------------------------------------

  private foldDrops(): void {
    for (const q of this.rxqs) (q as AfXdpRxQueue).foldDrops();
  }

  override stats(): PortStats {
    this.foldDrops();
    return super.stats();
  }

  override queueStats(queue: number, dir: "rx" | "tx"): QueueStats {
    if (dir === "rx") this.foldDrops();
    return super.queueStats(queue, dir);
  }

  override resetStats(): void {
    for (const q of this.rxqs) (q as AfXdpRxQueue).foldDrops(true);
    super.resetStats();
  }

  /** The kernel's per-socket counters (XDP_STATISTICS) and the kicks and wake-ups, DPDK-style names. */
  protected override driverXstats(): XStat[] {
    const out: XStat[] = [];
    const k = new Float64Array(6);
    for (let q = 0; q < this.socks.length; q++) {
      if (!this.socks[q]!.readStats(k)) continue;
      out.push(
        { name: `rx_q${q}_xsk_dropped`, value: k[0]! }, { name: `rx_q${q}_xsk_ring_full`, value: k[3]! },
        { name: `rx_q${q}_xsk_fill_ring_empty`, value: k[4]! }, { name: `rx_q${q}_xsk_invalid_descs`, value: k[1]! },
        { name: `tx_q${q}_xsk_invalid_descs`, value: k[2]! }, { name: `tx_q${q}_xsk_ring_empty`, value: k[5]! },
      );
    }
    const rx = this.rxCounters;
    for (let q = 0; q < rx.queues; q++) out.push({ name: `rx_q${q}_wakeups`, value: rx.get(q, C_WAKEUPS) });
    const tx = this.txCounters;
    for (let q = 0; q < tx.queues; q++) {
      out.push({ name: `tx_q${q}_kicks`, value: tx.get(q, C_KICKS) }, { name: `tx_q${q}_kick_errors`, value: tx.get(q, C_KICK_ERRORS) });
    }
    out.push({ name: "tx_kicks", value: tx.sum(C_KICKS) }, { name: "tx_kick_errors", value: tx.sum(C_KICK_ERRORS) });
    return out;
  }

  // ---- link, events and interface settings: KernelInterfacePort (netif.ts); the MTU's limits are the port's ----

  setMtu(mtu: number): void {
    this.assertOpen();
    const max = MAX_FRAME - 14;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) {
      throw new BdkError(`${this.name}: MTU ${mtu} is out of range for AF_XDP`, `this port supports 68..${max} (one page per frame, less XDP's headroom); for jumbo frames use af_packet`);
    }
    const pool = this.config?.pool;
    if (pool) {
      const problem = this.mtuProblem(mtu, pool);
      if (problem) throw problem;
    }
    this.netif.setMtu(mtu);
    if (pool) Atomics.store(this.ctl, W_TX_MAX, this.txMax(mtu, pool));
  }
}
