// The AF_PACKET port: a kernel network interface (veth, tap, a NIC the kernel drives) as a bdk Port.
//
// Queues are sockets: RX queue q and TX queue q are socket q, each with its own mmap'd TPACKET_V2 rings
// (see socket.ts for why V2). Several RX queues join one PACKET_FANOUT group in hash mode, so that each
// flow lands on one queue, like RSS. Frames are copied: out of the kernel's RX ring into mempool buffers,
// and out of mempool buffers into the TX ring; the kernel owns its rings, the app owns the pool.
//
// Lifecycle: open checks the interface (exists, up) and that we may use AF_PACKET, and keeps one control
// socket that holds promiscuous membership for as long as the port is open. configure checks geometry and
// sizes; start makes the queue sockets and rings; stop sends what is still queued, adds the kernel's drop
// counts to the stats and closes them; close drops the membership (the interface leaves promiscuous mode
// unless someone else holds it) and the control socket.
//
// Hot path (rxBurst / txBurst): typed-array views over the ring for the header words, no allocation, no
// closure, no BigInt. RX makes no system call at all; TX makes one (the sendto kick) per burst. Frames up to
// 128 bytes are copied a 32-bit word at a time in JS; longer ones (and unaligned ones) with libc memcpy
// through bun:ffi, which is 2–3× faster past that size and allocates nothing.
//
// Workers (src/ethdev/attach.ts): once the port is started, `port.handle()` is plain data a worker thread of this
// process passes to attachPort(). It carries, per queue, the socket's fd, the ring mapping's address and geometry
// (fds and addresses are process-wide: the worker builds its own typed-array views of the same ring memory) and
// a SharedArrayBuffer with the queue's ring heads and kick counters; plus the port's SharedArrayBuffer with the
// live word (the start's generation), the TX length limit and every counter, so the owner's stats() include the
// workers' bursts. The view's bursts, rxWait, stats and link work on the same queues; its control plane
// (configure, start, stop, setMtu, setMacAddress, setPromiscuous, handle) throws; its close() only drops the view.
// One thread per queue at a time: RX queue q and TX queue q are separate queues (one socket, two rings, two
// heads on cache lines of their own), so they may go to two threads; the owner must not burst on a queue a
// worker uses. A handle is good for one start: the owner stops the workers before it stops, reconfigures or
// closes the port (that closes the sockets and unmaps the rings); a view that bursts after the owner's stop()
// only sees the port stopped (bursts return 0, link down), and a new start() needs new handles.
import type { Pointer } from "bun:ffi";
import type { PortHandle } from "../../src/ethdev/attach.ts";
import { PortBase } from "../../src/ethdev/base.ts";
import {
  checkQueue, emptyStats, type Burst, type LinkStatus, type PortCapabilities, type PortConfig, type PortStats, type QueueStats,
  type ResolvedPortConfig,
} from "../../src/ethdev/port.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BUF_L4_CSUM_GOOD } from "../../src/mem/mempool.ts";
import {
  netdevIndex, netdevInfo, netdevLinkUp, netdevMac, netdevMtu, netdevPromiscuous, requireUp, setNetdevMac, setNetdevMtu,
} from "../../src/sys/netdev.ts";
import { BdkError, warnOnce } from "../../src/sys/errors.ts";
import { close, raw } from "../../src/sys/libc.ts";
import { packetSocket, PacketSocket, S_RX_HEAD, S_TX_HEAD, type RingGeometry, type SocketHandle } from "./socket.ts";
import {
  H16_MAC, H16_VLAN_TCI, H16_VLAN_TPID, H32_LEN, H32_SNAPLEN, H32_STATUS, PACKET_ADD_MEMBERSHIP, PACKET_DROP_MEMBERSHIP,
  PACKET_MR_PROMISC, packetMreq, RX_DATA_OFFSET, SOL_PACKET, TP_STATUS_CSUM_VALID, TP_STATUS_KERNEL, TP_STATUS_SEND_REQUEST,
  TP_STATUS_TX_OWNER_MASK, TP_STATUS_USER, TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID, TP_STATUS_WRONG_FORMAT,
  TX_DATA_OFFSET, VNET_HDR_LEN,
} from "./uapi.ts";

export const MIN_RING = 64;
export const MAX_RING = 65536;
export const MAX_QUEUES = 16;
export const DEFAULT_FRAME_SIZE = 2048;
export const DEFAULT_FRAMES = 512;
/** Frames up to this many bytes are copied by the JS word loop; longer ones by memcpy. */
const SMALL_COPY = 128;
/** How long stop() keeps kicking a TX ring that still holds frames. */
const DRAIN_MS = 200;
const PAGE = 4096;

// The port's shared memory (one SharedArrayBuffer for the life of the port; a worker's view uses the same one):
//   Int32 words 0..15: C_LIVE = the generation of the current start while started, else 0; C_TX_MAX = the longest
//     frame the kernel takes on TX (min(frame room, MTU + 18)); C_PROMISC = 1 while this port holds promiscuous mode.
//   BigInt64 at byte 64: imissed, folded in from the kernel's per-socket counters (reading them resets them, and
//     any thread may read them: Atomics.add).
//   Float64 from byte 128: per queue q an RX block at q * Q_STRIDE + RXC and a TX block at q * Q_STRIDE + TXC,
//     128 bytes each, so that threads that own different queues do not write the same cache line.
const C_LIVE = 0;
const C_TX_MAX = 1;
const C_PROMISC = 2;
const CTL_WORDS = 16;
const MISSED_OFF = 64;
const CNT_OFF = 128;
const Q_STRIDE = 32;
const RXC = 0;
const TXC = 16;
const K_PKTS = 0;
const K_BYTES = 1;
/** ierrors in an RX block, oerrors in a TX block. */
const K_ERRORS = 2;
const K_NOMBUF = 3;
const SHARED_BYTES = CNT_OFF + MAX_QUEUES * Q_STRIDE * 8;

export interface AfPacketOptions {
  iface: string;
  /** Default rx/tx queue count when configure() does not say. */
  queues: number;
  qdiscBypass: boolean;
  frameSize: number;
  blockSize: number;
  /** Default ring size (frames per ring) when configure() does not say. */
  frames: number;
  /** Fanout group id, or undefined for one the kernel picks (unique). */
  fanout: number | undefined;
  /** TX frames with a virtio_net_hdr asking the kernel for a linear copy (see PacketSocket.vnet); default on. */
  vnetHdr: boolean;
}

/** What an af_packet port's handle carries (PortHandle.state); plain, structured-cloneable data. */
export interface AfPacketHandleState {
  options: AfPacketOptions;
  ifindex: number;
  /** The port's shared memory: live word, TX limit, counters (see SHARED_BYTES). */
  shared: SharedArrayBuffer;
  /** The start this handle belongs to: the view works while the port's live word holds it. */
  generation: number;
  fanout: number | undefined;
  /** Socket q: RX queue q and TX queue q. */
  queues: SocketHandle[];
}

/** The smallest power-of-two multiple of the page size that holds one frame. */
export function defaultBlockSize(frameSize: number): number {
  let b = PAGE;
  while (b < frameSize) b *= 2;
  return b;
}

function copyFrame(dst8: Uint8Array, dst32: Uint32Array, dstVa: number, d: number,
  src8: Uint8Array, src32: Uint32Array, srcVa: number, s: number, len: number): void {
  if (len <= SMALL_COPY && ((d | s) & 3) === 0) {
    let di = d >> 2;
    let si = s >> 2;
    const end = si + (len >> 2);
    while (si < end) dst32[di++] = src32[si++]!;
    let db = di << 2;
    let sb = si << 2;
    const tail = s + len;
    while (sb < tail) dst8[db++] = src8[sb++]!;
  } else {
    raw.memcpy((dstVa + d) as Pointer, (srcVa + s) as Pointer, len);
  }
}

export class AfPacketPort extends PortBase {
  readonly iface: string;
  readonly ifindex: number;
  readonly geometry: RingGeometry;
  private readonly opts: AfPacketOptions;
  /** Holds the promiscuous membership; also proves at open that we may use AF_PACKET. */
  private ctlFd: number;
  private promisc = false;
  /** Socket q serves RX queue q and TX queue q; empty while stopped. */
  private socks: PacketSocket[] = [];
  private rxCount = 0;
  private txCount = 0;
  /** Queue counts of the last configuration, for stats (kept after close). */
  private statRx = 0;
  private statTx = 0;
  private pool: Mempool | undefined;
  /** Kicks of sockets already closed (so that counts survive stop/start). */
  private kicksDone = 0;
  private kickErrorsDone = 0;
  private fanoutId: number | undefined;
  private readonly shared: SharedArrayBuffer;
  /** Control words (C_LIVE, C_TX_MAX, C_PROMISC) and the counters, over `shared`. */
  private readonly ctl: Int32Array;
  private readonly missed: BigInt64Array;
  private readonly cnt: Float64Array;
  /** The generation of this start (the data path runs while ctl[C_LIVE] holds it); -1 before the first. */
  private gen = -1;
  private starts = 0;

  /** Use openPort("af_packet:…") (or the driver's open); workers use attachPort(handle), which passes `attach`. */
  constructor(spec: string, opts: AfPacketOptions, attach?: AfPacketHandleState) {
    super(spec, "af_packet", opts.iface, attach !== undefined);
    this.opts = opts;
    this.iface = opts.iface;
    this.geometry = { frameSize: opts.frameSize, blockSize: opts.blockSize };
    if (attach) {
      this.ifindex = attach.ifindex;
      this.shared = attach.shared;
      this.ctlFd = -1;
    } else {
      this.ifindex = netdevIndex(opts.iface);
      requireUp(opts.iface);
      this.shared = new SharedArrayBuffer(SHARED_BYTES);
      this.ctlFd = packetSocket(`${spec}`);
    }
    this.ctl = new Int32Array(this.shared, 0, CTL_WORDS);
    this.missed = new BigInt64Array(this.shared, MISSED_OFF, 1);
    this.cnt = new Float64Array(this.shared, CNT_OFF, MAX_QUEUES * Q_STRIDE);
  }

  /** A worker's view of a port another thread of this process opened and started (see attachHandle). */
  static fromHandle(h: PortHandle<AfPacketHandleState>, pool: Mempool): AfPacketPort {
    const s = h.state;
    if (!s || !(s.shared instanceof SharedArrayBuffer) || !Array.isArray(s.queues)) {
      throw new BdkError(`attachPort(${h.spec}): not an af_packet port handle`, "pass what port.handle() returned in the owner thread");
    }
    const port = new AfPacketPort(h.spec, s.options, s);
    port.config = { ...h.config, pool };
    port.pool = pool;
    port.rxCount = port.statRx = h.config.rxQueues;
    port.txCount = port.statTx = h.config.txQueues;
    port.socks = s.queues.map((q) => PacketSocket.attach(q));
    port.gen = s.generation;
    port.fanoutId = s.fanout;
    port.started = h.started;
    return port;
  }

  /**
   * The structured-cloneable handle a worker of this process passes to attachPort (src/ethdev/attach.ts). The
   * port must be started: its queues (sockets and rings) exist only then, and a handle is good for that start.
   */
  handle(): PortHandle<AfPacketHandleState> {
    this.assertOwner("handle");
    const cfg = this.cfg;
    if (!this.isLive()) {
      throw new BdkError(`${this.name}: handle() of a port that is not started`,
        "call start() first: the queues a worker uses (sockets and rings) exist only while the port is started; hand out new handles after each start()");
    }
    const { pool, ...config } = cfg;
    return {
      module: import.meta.url,
      driver: "af_packet",
      spec: this.spec,
      name: this.name,
      config,
      pool: pool.handle(),
      started: true,
      state: {
        options: { ...this.opts },
        ifindex: this.ifindex,
        shared: this.shared,
        generation: this.gen,
        fanout: this.fanoutId,
        queues: this.socks.map((s) => s.handle()),
      },
    };
  }

  /** True while the start this object belongs to is live (for the owner: while started). */
  private isLive(): boolean {
    return Atomics.load(this.ctl, C_LIVE) === this.gen;
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
    this.assertOwner("configure");
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
    // As PortBase does with its own arrays: a new configuration counts packets and bytes from 0.
    const cnt = this.cnt;
    for (let q = 0; q < MAX_QUEUES; q++) {
      for (const k of [RXC + K_PKTS, RXC + K_BYTES, TXC + K_PKTS, TXC + K_BYTES]) cnt[q * Q_STRIDE + k] = 0;
    }
    this.statRx = this.cfg.rxQueues;
    this.statTx = this.cfg.txQueues;
  }

  override close(): void {
    if (this.isView) {
      // A view only drops its references: the owner keeps the sockets, the rings and the counters.
      if (this.closed) return;
      for (const s of this.socks) s.close(); // attached sockets: forgets them, closes nothing
      this.socks = [];
      this.gen = -1;
      this.started = false;
      this.config = undefined;
      this.pool = undefined;
      this.rxCount = 0;
      this.txCount = 0;
      this.closed = true;
      return;
    }
    super.close();
  }

  protected setup(config: ResolvedPortConfig): void {
    const g = this.geometry;
    const perBlock = Math.floor(g.blockSize / g.frameSize);
    for (const [what, n] of [["rxRingSize", config.rxRingSize], ["txRingSize", config.txRingSize]] as const) {
      if (n % perBlock !== 0) {
        throw new BdkError(`${this.name}: ${what} ${n} is not a multiple of the ${perBlock} frames a ${g.blockSize}-byte block holds`,
          "use a larger ring or a smaller block_size");
      }
    }
    if (config.mtu !== undefined) this.setMtu(config.mtu);
    const mtu = netdevMtu(this.iface);
    // An interface MTU above what fits (lo has 65536) is not an error: frames that do not fit are dropped and
    // counted (ierrors), as a NIC drops frames above its buffer size. Say so once.
    const problem = this.mtuProblem(mtu, config.pool);
    if (problem) warnOnce(`af_packet:mtu:${this.iface}`, `${problem.message}; longer frames will be dropped and counted as ierrors`);
    this.pool = config.pool;
    this.rxCount = config.rxQueues;
    this.txCount = config.txQueues;
    Atomics.store(this.ctl, C_TX_MAX, Math.min(g.frameSize - TX_DATA_OFFSET, mtu + 18));
    this.setPromiscuous(config.promiscuous);
  }

  /** Why frames of this MTU would not fit the rings or the pool, with the fix; undefined when they do. */
  private mtuProblem(mtu: number, pool: Mempool | undefined): BdkError | undefined {
    const room = this.geometry.frameSize - RX_DATA_OFFSET;
    if (mtu + 14 > room) {
      return new BdkError(`${this.name}: MTU ${mtu} frames do not fit ${this.geometry.frameSize}-byte ring frames (${room} bytes of data)`,
        mtu + 18 + RX_DATA_OFFSET <= 65536 ? `open with frame_size=${nextFrameSize(mtu + 18 + RX_DATA_OFFSET)} or lower the MTU` : "lower the MTU (`ip link set … mtu 1500`)");
    }
    if (pool && mtu + 14 > pool.dataRoom) {
      return new BdkError(`${this.name}: MTU ${mtu} frames do not fit the pool's ${pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${mtu + 18}`);
    }
    return undefined;
  }

  protected teardown(): void {
    this.pool = undefined;
    this.rxCount = 0;
    this.txCount = 0;
  }

  protected onStart(): void {
    const cfg = this.cfg;
    const n = Math.max(cfg.rxQueues, cfg.txQueues);
    const socks: PacketSocket[] = [];
    try {
      requireUp(this.iface);
      Atomics.store(this.ctl, C_TX_MAX, Math.min(this.geometry.frameSize - TX_DATA_OFFSET, netdevMtu(this.iface) + 18));
      const fanout = cfg.rxQueues > 1 || this.opts.fanout !== undefined;
      let group = this.opts.fanout;
      for (let q = 0; q < n; q++) {
        const s = new PacketSocket({
          name: `${this.iface} queue ${q}`,
          ifindex: this.ifindex,
          geometry: this.geometry,
          rxFrames: q < cfg.rxQueues ? cfg.rxRingSize : 0,
          txFrames: q < cfg.txQueues ? cfg.txRingSize : 0,
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
    this.gen = ++this.starts;
    Atomics.store(this.ctl, C_LIVE, this.gen);
  }

  protected onStop(): void {
    // Views see the port stopped from here on (their bursts return 0); the workers should be stopped already.
    Atomics.store(this.ctl, C_LIVE, 0);
    const socks = this.socks;
    this.socks = [];
    for (const s of socks) {
      try {
        s.drain(DRAIN_MS);
        this.addMissed(s.takeDrops());
        this.kicksDone += s.kicks;
        this.kickErrorsDone += s.kickErrors;
      } finally {
        s.close();
      }
    }
    this.fanoutId = undefined;
  }

  protected release(): void {
    const fd = this.ctlFd;
    if (fd < 0) return;
    this.ctlFd = -1;
    try {
      if (this.promisc) this.membership(PACKET_DROP_MEMBERSHIP, fd);
    } catch {
      // the interface may be gone; closing the socket drops the membership anyway
    } finally {
      this.promisc = false;
      Atomics.store(this.ctl, C_PROMISC, 0);
      close(fd);
    }
  }

  // ---- the hot path ------------------------------------------------------------------------------

  rxBurst(queue: number, burst: Burst): number {
    burst.count = 0;
    if (!(queue >= 0 && queue < this.rxCount)) return this.badQueue(queue, "rx");
    if (Atomics.load(this.ctl, C_LIVE) !== this.gen) return 0; // not started (for a view: the owner stopped)
    const s = this.socks[queue]!;
    const u32 = s.u32;
    const off = s.rxOff;
    const mask = s.rxMask;
    const heads = s.state;
    let head = heads[S_RX_HEAD]!;
    // How many frames are ready (up to the burst's capacity)?
    let ready = 0;
    const cap = burst.capacity;
    while (ready < cap && (Atomics.load(u32, off[(head + ready) & mask]! >> 2) & TP_STATUS_USER) !== 0) ready++;
    if (ready === 0) return 0;
    const pool = this.pool!;
    const bufs = burst.bufs;
    let have = ready;
    if (pool.allocBulk(bufs, 0, ready) === 0) {
      have = 0;
      while (have < ready) {
        const b = pool.alloc();
        if (b < 0) break;
        bufs[have++] = b;
      }
      // Frames we cannot take stay in the ring; when it fills, the kernel drops (imissed).
      this.cnt[queue * Q_STRIDE + RXC + K_NOMBUF]! += ready - have;
    }
    const u8 = s.u8;
    const u16 = s.u16;
    const ringVa = s.va;
    const bytes = pool.bytes;
    const words = pool.arena.u32;
    const poolVa = pool.arena.va;
    const lens = pool.len;
    const ports = pool.port;
    const flags = pool.flags;
    const room = pool.dataRoom;
    const id = this.id;
    let out = 0;
    let nbytes = 0;
    let errors = 0;
    for (let k = 0; k < have; k++) {
      const f = off[head]!;
      const w = f >> 2;
      const status = u32[w + H32_STATUS]!;
      const snap = u32[w + H32_SNAPLEN]!;
      const b = bufs[out]!;
      const dst = pool.offset(b);
      if ((status & TP_STATUS_VLAN_VALID) === 0) {
        if (snap < u32[w + H32_LEN]! || snap > room) {
          errors++; // truncated by the ring (a GSO/GRO super-frame, or a frame above the MTU) or too big for a buffer
        } else {
          copyFrame(bytes, words, poolVa, dst, u8, u32, ringVa, f + u16[(f >> 1) + H16_MAC]!, snap);
          lens[b] = snap;
          ports[b] = id;
          if (status & TP_STATUS_CSUM_VALID) flags[b] = BUF_L4_CSUM_GOOD;
          nbytes += snap;
          out++;
        }
      } else {
        const n = this.rxVlan(s, f, status, pool, b, dst);
        if (n === 0) errors++;
        else {
          nbytes += n;
          out++;
        }
      }
      Atomics.store(u32, w + H32_STATUS, TP_STATUS_KERNEL);
      head = (head + 1) & mask;
    }
    heads[S_RX_HEAD] = head;
    // Buffers allocated for frames that turned out unusable go back.
    for (let k = out; k < have; k++) pool.free(bufs[k]!);
    const cnt = this.cnt;
    const c = queue * Q_STRIDE + RXC;
    if (errors !== 0) cnt[c + K_ERRORS]! += errors;
    burst.count = out;
    cnt[c + K_PKTS]! += out;
    cnt[c + K_BYTES]! += nbytes;
    return out;
  }

  /** A frame whose VLAN tag the kernel took out (tp_vlan_tci): put it back, as it was on the wire. Returns the length, or 0 when it does not fit. */
  private rxVlan(s: PacketSocket, f: number, status: number, pool: Mempool, b: number, dst: number): number {
    const snap = s.u32[(f >> 2) + H32_SNAPLEN]!;
    if (snap < s.u32[(f >> 2) + H32_LEN]! || snap + 4 > pool.dataRoom || snap < 12) return 0;
    const src = f + s.u16[(f >> 1) + H16_MAC]!;
    const tci = s.u16[(f >> 1) + H16_VLAN_TCI]!;
    const tpid = (status & TP_STATUS_VLAN_TPID_VALID) !== 0 && s.u16[(f >> 1) + H16_VLAN_TPID]! !== 0 ? s.u16[(f >> 1) + H16_VLAN_TPID]! : 0x8100;
    const bytes = pool.bytes;
    for (let i = 0; i < 12; i++) bytes[dst + i] = s.u8[src + i]!;
    bytes[dst + 12] = tpid >> 8;
    bytes[dst + 13] = tpid & 0xff;
    bytes[dst + 14] = tci >> 8;
    bytes[dst + 15] = tci & 0xff;
    copyFrame(bytes, pool.arena.u32, pool.arena.va, dst + 16, s.u8, s.u32, s.va, src + 12, snap - 12);
    pool.len[b] = snap + 4;
    pool.port[b] = this.id;
    return snap + 4;
  }

  txBurst(queue: number, burst: Burst, start = 0): number {
    if (!(queue >= 0 && queue < this.txCount)) return this.badQueue(queue, "tx");
    const end = burst.count;
    if (Atomics.load(this.ctl, C_LIVE) !== this.gen || end <= start) return 0; // not started (for a view: the owner stopped)
    const s = this.socks[queue]!;
    const u8 = s.u8;
    const u16 = s.u16;
    const u32 = s.u32;
    const off = s.txOff;
    const dataOff = s.txDataOff;
    const vnetHalf = s.txVnetHalf;
    const mask = s.txMask;
    const ringVa = s.va;
    const heads = s.state;
    let head = heads[S_TX_HEAD]!;
    const pool = this.pool!;
    const bytes = pool.bytes;
    const words = pool.arena.u32;
    const poolVa = pool.arena.va;
    const lens = pool.len;
    const bufs = burst.bufs;
    const max = this.ctl[C_TX_MAX]!;
    let i = start;
    let sent = 0;
    let nbytes = 0;
    let errors = 0;
    let retried = false;
    while (i < end) {
      const b = bufs[i]!;
      const len = lens[b]!;
      if (len < 14 || len > max) {
        // The kernel would refuse it: drop it here, counted, instead of in the ring.
        pool.free(b);
        errors++;
        i++;
        continue;
      }
      const f = off[head]!;
      const w = f >> 2;
      let st = Atomics.load(u32, w + H32_STATUS) & TP_STATUS_TX_OWNER_MASK;
      if (st !== 0 && (st & TP_STATUS_WRONG_FORMAT) === 0 && s.needKick && !retried) {
        // The ring is full of frames an earlier kick could not send (ENOBUFS, link down): kick again, once.
        retried = true;
        s.kick();
        st = Atomics.load(u32, w + H32_STATUS) & TP_STATUS_TX_OWNER_MASK;
      }
      if (st !== 0) {
        if ((st & TP_STATUS_WRONG_FORMAT) === 0) break; // the kernel still owns the next slot: the ring is full
        errors++; // a frame the kernel refused earlier (PACKET_LOSS should prevent it): reclaim the slot
      }
      copyFrame(u8, u32, ringVa, f + dataOff, bytes, words, poolVa, pool.offset(b), len);
      if (vnetHalf >= 0) {
        const h = (f >> 1) + vnetHalf;
        u16[h] = 0; // flags, gso_type: no offload
        u16[h + 1] = len; // hdr_len: copy all of it into the skb
        u32[w + H32_LEN] = len + VNET_HDR_LEN;
      } else {
        u32[w + H32_LEN] = len;
      }
      Atomics.store(u32, w + H32_STATUS, TP_STATUS_SEND_REQUEST);
      head = (head + 1) & mask;
      pool.free(b); // the copy is in the ring: the buffer is the pool's again
      nbytes += len;
      sent++;
      i++;
    }
    heads[S_TX_HEAD] = head;
    // One kick per burst. A refused kick (the device queue full: ENOBUFS; the link down: ENETDOWN) leaves its
    // frames queued in the ring; the next burst's kick sends them (or the retry above, if the ring filled up).
    if (sent !== 0) s.kick();
    const cnt = this.cnt;
    const c = queue * Q_STRIDE + TXC;
    if (errors !== 0) cnt[c + K_ERRORS]! += errors;
    cnt[c + K_PKTS]! += sent;
    cnt[c + K_BYTES]! += nbytes;
    return i - start;
  }

  private badQueue(queue: number, dir: "rx" | "tx"): number {
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
    checkQueue(this.name, queue, dir === "rx" ? this.rxCount : this.txCount, dir);
    return 0;
  }

  // ---- beyond the bursts ----------------------------------------------------------------------------

  /**
   * Sleeps until RX queue `queue` has a frame or `timeoutMs` pass (-1: no limit); true when one is ready.
   * For apps that would rather sleep than spin when idle. No system call when a frame is already waiting.
   */
  rxWait(queue: number, timeoutMs: number): boolean {
    checkQueue(this.name, queue, this.rxCount, "rx");
    this.requireLive();
    return this.socks[queue]!.wait(timeoutMs);
  }

  private requireLive(): void {
    if (this.isLive()) return;
    throw new BdkError(`${this.name}: port is not started`,
      this.isView ? "the thread that opened the port starts it; a view works between that thread's start() and stop()" : "call start() first");
  }

  /** The sockets while this start is live (a view's stay in its list after the owner stopped, closed). */
  private liveSocks(): PacketSocket[] {
    return this.isLive() ? this.socks : [];
  }

  /** sendto kicks: of TX queue `queue` since start, or of all queues since open. One per txBurst that queued frames. */
  txKicks(queue?: number): number {
    if (queue !== undefined) {
      checkQueue(this.name, queue, this.txCount, "tx");
      return this.liveSocks()[queue]?.kicks ?? 0;
    }
    let n = this.kicksDone;
    for (const s of this.liveSocks()) n += s.kicks;
    return n;
  }

  /**
   * Kicks TX queue `queue` when frames wait in its ring after a refused kick (an app that stops sending calls
   * it to get them out; stop() drains the rings itself). True when nothing waits any more or the kernel took
   * them; false when it still refuses (the link is down), and the frames stay queued.
   */
  txFlush(queue: number): boolean {
    checkQueue(this.name, queue, this.txCount, "tx");
    const s = this.liveSocks()[queue];
    if (!s || !s.needKick) return true;
    // A socket error left by a link-down is reported once, by the first call after it: one more try.
    return s.kick() || s.kick();
  }

  /** Kicks the kernel refused (ENOBUFS when the device queue is full, ENETDOWN …); the frames stay queued and go at the next kick. */
  txKickErrors(): number {
    let n = this.kickErrorsDone;
    for (const s of this.liveSocks()) n += s.kickErrors;
    return n;
  }

  /** The socket of queue q (for an app's own epoll); -1 while stopped. */
  queueFd(queue: number): number {
    return this.liveSocks()[queue]?.fd ?? -1;
  }

  /** The fanout group the RX queues share (undefined with one queue and no fanout=). */
  get fanoutGroup(): number | undefined {
    return this.fanoutId;
  }

  /** TX ring frames per state, per queue: for diagnostics and tests. */
  txRingState(queue: number): { available: number; pending: number; wrongFormat: number } {
    checkQueue(this.name, queue, this.txCount, "tx");
    this.requireLive();
    return this.socks[queue]!.txStatusCounts();
  }

  /** The whole port's counters, whichever thread made the bursts (they live in shared memory). */
  override stats(): PortStats {
    // PACKET_STATISTICS resets the kernel's counters on every read: fold them into ours.
    for (const s of this.liveSocks()) this.addMissed(s.takeDrops());
    const st = emptyStats();
    const cnt = this.cnt;
    for (let q = 0; q < MAX_QUEUES; q++) {
      const r = q * Q_STRIDE + RXC;
      const t = q * Q_STRIDE + TXC;
      st.ipackets += cnt[r + K_PKTS]!;
      st.ibytes += cnt[r + K_BYTES]!;
      st.ierrors += cnt[r + K_ERRORS]!;
      st.rxNoMbuf += cnt[r + K_NOMBUF]!;
      st.opackets += cnt[t + K_PKTS]!;
      st.obytes += cnt[t + K_BYTES]!;
      st.oerrors += cnt[t + K_ERRORS]!;
    }
    st.imissed = Number(Atomics.load(this.missed, 0));
    return st;
  }

  override queueStats(queue: number, dir: "rx" | "tx"): QueueStats {
    checkQueue(this.name, queue, dir === "rx" ? this.statRx : this.statTx, dir);
    const c = queue * Q_STRIDE + (dir === "rx" ? RXC : TXC);
    const pkts = this.cnt[c + K_PKTS]!;
    const bytes = this.cnt[c + K_BYTES]!;
    return dir === "rx" ? { ipackets: pkts, ibytes: bytes, opackets: 0, obytes: 0 } : { ipackets: 0, ibytes: 0, opackets: pkts, obytes: bytes };
  }

  override resetStats(): void {
    for (const s of this.liveSocks()) s.takeDrops();
    this.cnt.fill(0);
    Atomics.store(this.missed, 0, 0n);
    super.resetStats();
  }

  private addMissed(n: number): void {
    if (n !== 0) Atomics.add(this.missed, 0, BigInt(n));
  }

  /** The interface's link; on a view, down as well once the owner stopped the port. */
  link(): LinkStatus {
    this.assertOpen();
    const info = netdevInfo(this.iface);
    const up = netdevLinkUp(info) && (!this.isView || this.isLive());
    return { up, speedMbps: up ? info.speedMbps : 0, fullDuplex: info.fullDuplex };
  }

  macAddress(): string {
    this.assertOpen();
    return netdevMac(this.iface);
  }

  setMacAddress(mac: string): void {
    this.assertOwner("setMacAddress");
    this.assertOpen();
    setNetdevMac(this.iface, mac);
  }

  /** Whether this port holds the interface in promiscuous mode (others, e.g. tcpdump, may hold it too: see interfacePromiscuous). */
  promiscuous(): boolean {
    return this.isView ? Atomics.load(this.ctl, C_PROMISC) !== 0 : this.promisc;
  }

  setPromiscuous(on: boolean): void {
    this.assertOwner("setPromiscuous");
    this.assertOpen();
    if (on === this.promisc) return;
    this.membership(on ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, this.ctlFd);
    this.promisc = on;
    Atomics.store(this.ctl, C_PROMISC, on ? 1 : 0);
  }

  /** True when the kernel says the interface is promiscuous, whoever asked for it. */
  interfacePromiscuous(): boolean {
    return netdevPromiscuous(this.iface);
  }

  private membership(op: number, fd: number): void {
    const r = raw.setsockopt(fd, SOL_PACKET, op, packetMreq(this.ifindex, PACKET_MR_PROMISC), 16);
    if (r !== 0) {
      throw new BdkError(`${this.name}: ${op === PACKET_ADD_MEMBERSHIP ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP"} (promiscuous) failed`,
        "check that the interface still exists (`ip link`)");
    }
  }

  mtu(): number {
    this.assertOpen();
    return netdevMtu(this.iface);
  }

  setMtu(mtu: number): void {
    this.assertOwner("setMtu");
    this.assertOpen();
    const max = this.capabilities().maxFrameSize - 18;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) {
      throw new BdkError(`${this.name}: MTU ${mtu} is out of range for ${this.geometry.frameSize}-byte ring frames`,
        `this port supports 68..${max}; for more, open it with a larger frame_size (e.g. frame_size=${nextFrameSize(mtu + 18 + RX_DATA_OFFSET)})`);
    }
    const problem = this.mtuProblem(mtu, this.pool);
    if (problem) throw problem;
    setNetdevMtu(this.iface, mtu);
    Atomics.store(this.ctl, C_TX_MAX, Math.min(this.geometry.frameSize - TX_DATA_OFFSET, mtu + 18));
  }
}

/** A frame size (multiple of 16, power of two up to 64 KiB) that holds `bytes`. */
function nextFrameSize(bytes: number): number {
  let f = 2048;
  while (f < bytes) f *= 2;
  return f;
}

/** The attach entry point (PortHandle.module points here): a worker's view of an af_packet port of this process. */
export function attachHandle(h: PortHandle, pool: Mempool): AfPacketPort {
  if (h.driver !== "af_packet") throw new BdkError(`attachHandle: a ${h.driver} handle given to the af_packet driver`, "use attachPort(handle) from src/ethdev/attach.ts");
  return AfPacketPort.fromHandle(h as PortHandle<AfPacketHandleState>, pool);
}
