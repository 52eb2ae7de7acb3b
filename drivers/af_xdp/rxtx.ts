// The af_xdp queues: RX queue q and TX queue q share socket q (xsk.ts), one object each. The port builds them
// at configure; they get their socket at start (bind) and lose it at stop: a burst runs only while the port's
// live word holds the generation of the start the queue was bound to.
//
// No copy in user space: RX hands the app the very buffers the kernel wrote (their index is the UMEM address
// divided by the pool's stride), TX gives the kernel the app's buffers and frees them when the completion ring
// says they are done. Hot path: typed-array views over the rings, no allocation, closure, BigInt or DataView;
// RX makes no system call unless the kernel asks for a wake-up of its fill ring (zero-copy drivers with
// need_wakeup), TX at most one sendto per burst and only when the TX ring's flags ask for it.
//
// Workers: `port.rxQueue(q).handle()` carries the socket's fd, ring addresses and ownership bytes (all
// process-wide or shared); attachQueue below builds the worker's views. One thread per queue.
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_DRIVER0, C_ERRORS, C_MISSED, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import { checkHandleDriver, type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { errno, fast, usleep } from "../../src/sys/libc.ts";
import { MSG_DONTWAIT, XDP_RING_NEED_WAKEUP } from "./uapi.ts";
import { XdpSocket, type XskHandle } from "./xsk.ts";

export const QUEUE_MODULE = import.meta.url;

/** RX: fill-ring wake-ups (recvfrom); TX: sendto kicks, and kicks the kernel refused. */
export const C_WAKEUPS = C_DRIVER0;
export const C_KICKS = C_DRIVER0;
export const C_KICK_ERRORS = C_DRIVER0 + 1;

// The port's control words (Int32 in a SharedArrayBuffer; workers' queues see the same memory).
export const W_LIVE = 0;
export const W_TX_MAX = 1;

export interface AfXdpOptions {
  iface: string;
  /** The interface queue of RX/TX queue 0; queue i is interface queue `queue + i`. */
  queue: number;
  queues: number;
  mode: "native" | "generic" | undefined;
  zeroCopy: "auto" | "on" | "off";
  frames: number;
}

export interface AfXdpQueueState {
  shared: SharedArrayBuffer;
  generation: number;
  socket: XskHandle;
}

const TWO_32 = 4294967296;
const EAGAIN = 11, EBUSY = 16, ENOBUFS = 105;

function notStarted(ident: QueueIdentity, dir: string): BdkError {
  return new BdkError(`${ident.spec}: handle() of ${dir} queue ${ident.queueId} of a port that is not started`,
    "call start() first: a queue's XDP socket exists only while the port is started, and a handle is good for one start");
}

/** RX queue q: frames the kernel put on socket q's RX ring, in the pool's own buffers; refills the fill ring. */
export class AfXdpRxQueue extends RxQueueBase {
  private readonly ctl: Int32Array;
  private sock: XdpSocket | undefined;
  private gen = -1;
  /** Scratch for fill-ring refills (a ring's worth of buffer indices). */
  private scratch = new Uint32Array(0);

  constructor(ident: QueueIdentity, shared: SharedArrayBuffer) {
    super(ident);
    this.ctl = new Int32Array(shared);
  }

  /** The socket's XDP_STATISTICS as last read by foldDrops (owner only). */
  readonly kernel = new Float64Array(6);
  /** Kernel drops of this socket already added to the missed counter. */
  private folded = 0;

  bind(s: XdpSocket | undefined, generation: number): void {
    this.sock = s;
    this.gen = s ? generation : -1;
    this.folded = 0;
    this.kernel.fill(0);
    if (s && this.scratch.length < s.fill.h.size) this.scratch = new Uint32Array(s.fill.h.size);
  }

  get live(): boolean {
    return this.sock !== undefined && Atomics.load(this.ctl, W_LIVE) === this.gen;
  }

  get socket(): XdpSocket | undefined {
    return this.live ? this.sock : undefined;
  }

  /** Puts as many pool buffers in the fill ring as it has room for (the owner's start; then every burst). */
  refill(count = false): number {
    const s = this.sock!;
    const fill = s.fill;
    const u32 = fill.u32;
    const h = fill.h;
    const prod = u32[h.prod]!;
    const room = h.size - ((prod - Atomics.load(u32, h.cons)) >>> 0);
    if (room === 0) return 0;
    const pool = this.pool;
    const bufs = this.scratch;
    const got = pool.allocUpTo(bufs, 0, room);
    if (count && got !== room) this.cnt[C_NOMBUF]! += room - got;
    if (got === 0) return 0;
    const owned = s.rxOwned;
    const stride = s.stride;
    const mask = fill.mask;
    const desc = h.desc;
    for (let k = 0; k < got; k++) {
      const b = bufs[k]!;
      const w = desc + (((prod + k) & mask) << 1);
      u32[w] = b * stride; // the buffer's first byte: the kernel writes the frame 256 bytes in
      u32[w + 1] = 0;
      owned[b] = 1;
    }
    Atomics.store(u32, h.prod, (prod + got) >>> 0);
    if ((Atomics.load(u32, h.flags) & XDP_RING_NEED_WAKEUP) !== 0) {
      this.cnt[C_WAKEUPS]!++;
      fast.recv(s.fd, null, 0, MSG_DONTWAIT);
    }
    return got;
  }

  burst(burst: Burst): number {
    burst.count = 0;
    if (Atomics.load(this.ctl, W_LIVE) !== this.gen) return 0;
    const s = this.sock!;
    const rx = s.rx!;
    const u32 = rx.u32;
    const h = rx.h;
    const cons = u32[h.cons]!;
    const avail = (Atomics.load(u32, h.prod) - cons) >>> 0;
    if (avail === 0) {
      // Nothing new: top the fill ring up if an earlier refill found the pool short (else it could run dry for good).
      const f = s.fill;
      if (((f.u32[f.h.prod]! - Atomics.load(f.u32, f.h.cons)) >>> 0) < f.h.size) this.refill();
      return 0;
    }
    const n = avail < burst.capacity ? avail : burst.capacity;
    const pool = this.pool;
    const lens = pool.len;
    const offs = pool.dataOff;
    const ports = pool.port;
    const owned = s.rxOwned;
    const bufs = burst.bufs;
    const stride = s.stride;
    const mask = rx.mask;
    const desc = h.desc;
    const id = this.portId;
    let nbytes = 0;
    for (let k = 0; k < n; k++) {
      const w = desc + (((cons + k) & mask) << 2);
      const hi = u32[w + 1]!;
      // Unaligned mode: the low 48 bits are the chunk's address, the top 16 the data's offset in it.
      const addr = u32[w]! + (hi & 0xffff) * TWO_32 + (hi >>> 16);
      const b = Math.floor(addr / stride);
      const len = u32[w + 2]!;
      owned[b] = 0;
      offs[b] = addr - b * stride;
      lens[b] = len;
      ports[b] = id;
      bufs[k] = b;
      nbytes += len;
    }
    Atomics.store(u32, h.cons, (cons + n) >>> 0);
    burst.count = n;
    const cnt = this.cnt;
    cnt[C_PACKETS]! += n;
    cnt[C_BYTES]! += nbytes;
    this.refill(true);
    return n;
  }

  ready(): boolean {
    if (Atomics.load(this.ctl, W_LIVE) !== this.gen) return false;
    const rx = this.sock!.rx!;
    return Atomics.load(rx.u32, rx.h.prod) !== rx.u32[rx.h.cons];
  }

  /**
   * Adds the kernel's drops on this queue's socket since the last fold to its missed counter: frames lost for
   * want of a fill-ring buffer or of RX-ring room (XDP_STATISTICS rx_dropped + rx_ring_full, cumulative per
   * socket). The owner's thread only (stats(), and stop() before it closes the socket), so C_MISSED has one writer.
   */
  foldDrops(discard = false): void {
    const s = this.sock;
    if (!s || s.isClosed || !s.readStats(this.kernel)) return;
    const lost = this.kernel[0]! + this.kernel[3]!;
    if (lost > this.folded) {
      if (!discard) this.cnt[C_MISSED]! += lost - this.folded;
      this.folded = lost;
    }
  }

  /** The socket: the kernel makes it readable (poll/epoll) when the RX ring holds a frame. */
  override eventFd(): number {
    return this.live ? this.sock!.fd : -1;
  }

  protected handleState(): AfXdpQueueState {
    if (!this.live) throw notStarted(this.ident, "RX");
    return { shared: this.ctl.buffer as SharedArrayBuffer, generation: this.gen, socket: this.sock!.handle() };
  }
}

/** TX queue q: the app's buffers on socket q's TX ring; freed when the completion ring hands them back. */
export class AfXdpTxQueue extends TxQueueBase {
  private readonly ctl: Int32Array;
  private sock: XdpSocket | undefined;
  private gen = -1;

  constructor(ident: QueueIdentity, shared: SharedArrayBuffer) {
    super(ident);
    this.ctl = new Int32Array(shared);
  }

  bind(s: XdpSocket | undefined, generation: number): void {
    this.sock = s;
    this.gen = s ? generation : -1;
  }

  get live(): boolean {
    return this.sock !== undefined && Atomics.load(this.ctl, W_LIVE) === this.gen;
  }

  /** Frees what the kernel finished sending (the completion ring). Returns how many. */
  complete(s: XdpSocket): number {
    const comp = s.comp;
    const u32 = comp.u32;
    const h = comp.h;
    const cons = u32[h.cons]!;
    const n = (Atomics.load(u32, h.prod) - cons) >>> 0;
    if (n === 0) return 0;
    const pool = this.pool;
    const owned = s.txOwned;
    const stride = s.stride;
    const mask = comp.mask;
    const desc = h.desc;
    for (let k = 0; k < n; k++) {
      const w = desc + (((cons + k) & mask) << 1);
      const b = Math.floor((u32[w]! + (u32[w + 1]! & 0xffff) * TWO_32) / stride);
      owned[b] = 0;
      pool.free(b);
    }
    Atomics.store(u32, h.cons, (cons + n) >>> 0);
    return n;
  }

  burst(burst: Burst, start = 0): number {
    const end = burst.count;
    if (Atomics.load(this.ctl, W_LIVE) !== this.gen || end <= start) return 0;
    const s = this.sock!;
    this.complete(s);
    const tx = s.tx!;
    const u32 = tx.u32;
    const h = tx.h;
    const prod = u32[h.prod]!;
    const room = h.size - ((prod - Atomics.load(u32, h.cons)) >>> 0);
    const pool = this.pool;
    const lens = pool.len;
    const offs = pool.dataOff;
    const owned = s.txOwned;
    const bufs = burst.bufs;
    const stride = s.stride;
    const mask = tx.mask;
    const desc = h.desc;
    const max = this.ctl[W_TX_MAX]!;
    let i = start;
    let put = 0;
    let nbytes = 0;
    let errors = 0;
    while (i < end && put < room) {
      const b = bufs[i]!;
      const len = lens[b]!;
      const off = offs[b]!;
      if (len < 14 || len > max || off + len > stride) {
        // The kernel would refuse it (a runt, above the MTU, past the chunk): drop it here, counted.
        pool.free(b);
        errors++;
        i++;
        continue;
      }
      const w = desc + (((prod + put) & mask) << 2);
      u32[w] = b * stride + off;
      u32[w + 1] = 0;
      u32[w + 2] = len;
      u32[w + 3] = 0;
      owned[b] = 1;
      nbytes += len;
      put++;
      i++;
    }
    if (put !== 0) Atomics.store(u32, h.prod, (prod + put) >>> 0);
    // One kick per burst at most, and only when the kernel asks (copy mode always does: sendto is what sends) and
    // the ring holds frames it has not taken: this burst's, or an earlier burst's that a kick left behind (copy
    // mode sends one batch per call, and stops early when the socket's send buffer is full: EAGAIN).
    if ((put !== 0 || Atomics.load(u32, h.cons) !== prod) && (Atomics.load(u32, h.flags) & XDP_RING_NEED_WAKEUP) !== 0) this.kick(s);
    const cnt = this.cnt;
    if (errors !== 0) cnt[C_ERRORS]! += errors;
    cnt[C_PACKETS]! += put;
    cnt[C_BYTES]! += nbytes;
    return i - start;
  }

  private kick(s: XdpSocket): void {
    const cnt = this.cnt;
    cnt[C_KICKS]!++;
    if (fast.sendto(s.fd, null, 0, MSG_DONTWAIT, null, 0) >= 0) return;
    const e = errno();
    // EAGAIN / EBUSY: the kernel sent what it could this time (copy mode sends a batch per call); ENOBUFS: the
    // device queue is full. The frames stay in the ring for the next kick. Anything else (ENETDOWN …) counts.
    if (e !== EAGAIN && e !== EBUSY && e !== ENOBUFS) cnt[C_KICK_ERRORS]!++;
  }

  /**
   * Kicks until the kernel has taken every frame of the TX ring, or `ms` pass: for an app that stops sending and
   * wants what it queued on the wire now (the next burst would send it too). True when the ring is empty.
   */
  flush(ms = 100): boolean {
    const s = this.sock;
    if (!s || !s.tx || Atomics.load(this.ctl, W_LIVE) !== this.gen) return true;
    const tx = s.tx;
    const until = performance.now() + ms;
    while (Atomics.load(tx.u32, tx.h.cons) !== tx.u32[tx.h.prod]) {
      if (performance.now() >= until) return false;
      this.complete(s);
      this.kick(s);
      if (Atomics.load(tx.u32, tx.h.cons) !== tx.u32[tx.h.prod]) usleep(100);
    }
    this.complete(s);
    return true;
  }

  /** Frames on the TX ring the kernel has not taken, and taken but not completed. */
  pending(): number {
    const s = this.sock;
    if (!s) return 0;
    let n = 0;
    for (let b = 0; b < s.txOwned.length; b++) n += s.txOwned[b]!;
    return n;
  }

  /** Kicks and reaps until everything sent has completed or `ms` pass (the owner's stop, after clearing the live word). */
  drain(ms: number): void {
    const s = this.sock;
    if (!s || !s.tx) return;
    const until = performance.now() + ms;
    for (;;) {
      this.complete(s);
      if (this.pending() === 0 || performance.now() >= until) return;
      const tx = s.tx;
      if (Atomics.load(tx.u32, tx.h.prod) !== Atomics.load(tx.u32, tx.h.cons)) this.kick(s);
      usleep(200);
    }
  }

  protected handleState(): AfXdpQueueState {
    if (!this.live) throw notStarted(this.ident, "TX");
    return { shared: this.ctl.buffer as SharedArrayBuffer, generation: this.gen, socket: this.sock!.handle() };
  }
}

/** The attach entry point (QueueHandle.module points here): a worker's object for a queue of an af_xdp port of this process. */
export function attachQueue(h: QueueHandle, pool: Mempool): AfXdpRxQueue | AfXdpTxQueue {
  checkHandleDriver(h, "af_xdp");
  const s = h.state as AfXdpQueueState | undefined;
  if (!s || !(s.shared instanceof SharedArrayBuffer) || !s.socket || !(s.socket.rxOwned instanceof SharedArrayBuffer)) {
    throw new BdkError(`attachQueue(${h.spec}): not an af_xdp queue handle`, `pass what port.${h.dir}Queue(q).handle() returned in the thread that opened the port`);
  }
  if (Atomics.load(new Int32Array(s.shared), W_LIVE) !== s.generation) {
    throw new BdkError(`attach${h.dir === "rx" ? "Rx" : "Tx"}Queue(${h.spec}): the port was stopped since this handle was made`,
      "a handle is good for one start: take new ones after start(), and stop the workers before stopping the port");
  }
  const ident = identityFrom(h, pool);
  const q = h.dir === "rx" ? new AfXdpRxQueue(ident, s.shared) : new AfXdpTxQueue(ident, s.shared);
  q.bind(XdpSocket.attach(s.socket), s.generation);
  return q;
}
