// The af_packet queues: RX queue q and TX queue q are socket q's two TPACKET_V2 rings (socket.ts), one
// object each. The port builds them at configure; they get their socket at start (bind) and lose it at stop,
// so a burst on a stopped port returns 0: it runs only while the port's live word (shared.ts) holds the
// generation of the start the queue was bound to.
//
// Frames are copied: out of the kernel's RX ring into mempool buffers, and out of mempool buffers into the TX
// ring; the kernel owns its rings, the app owns the pool. Hot path (burst): typed-array views over the ring
// for the header words, no allocation, no closure, no BigInt, no DataView. RX makes no system call at all;
// TX makes one (the sendto kick) per burst. Frames up to 128 bytes are copied a 32-bit word at a time in JS;
// longer ones (and unaligned ones) with libc memcpy through bun:ffi, which is 2–3× faster past that size and
// allocates nothing.
//
// Workers: `port.rxQueue(q).handle()` (once the port is started) is plain data a worker thread of this process
// passes to attachRxQueue (src/ethdev/queue.ts), which calls attachQueue below. It carries the socket's fd,
// the ring mapping's address and geometry (fds and addresses are process-wide: the worker builds its own
// typed-array views of the same ring memory) and a SharedArrayBuffer with the ring heads; plus the port's
// control words (live word, TX length limit). The counters are the port's per-queue blocks, so the owner's
// stats() include the workers' bursts. One thread per queue at a time: RX queue q and TX queue q are separate
// queues (one socket, two rings, two heads on cache lines of their own), so they may go to two threads; the
// owner must not burst on a queue a worker uses. A handle is good for one start: the owner stops the workers
// before it stops, reconfigures or closes the port (that closes the sockets and unmaps the rings); a worker's
// queue that bursts after the owner's stop() only sees the port stopped (bursts return 0, ready() false), and
// a new start() needs new handles.
import type { Pointer } from "bun:ffi";
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_DRIVER0, C_ERRORS, C_MISSED, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import { checkHandleDriver, type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import { BUF_L4_CSUM_GOOD, type Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { raw, usleep } from "../../src/sys/libc.ts";
import { W_LIVE, W_TX_MAX, type AfPacketQueueState } from "./shared.ts";
import { PacketSocket, S_RX_HEAD, S_TX_HEAD } from "./socket.ts";
import {
  H16_MAC, H16_VLAN_TCI, H16_VLAN_TPID, H32_LEN, H32_SNAPLEN, H32_STATUS, TP_STATUS_CSUM_VALID, TP_STATUS_KERNEL,
  TP_STATUS_SEND_REQUEST, TP_STATUS_TX_OWNER_MASK, TP_STATUS_USER, TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID,
  TP_STATUS_WRONG_FORMAT, VNET_HDR_LEN,
} from "./uapi.ts";

/** The module a queue handle names (QueueHandle.module): it exports attachQueue. */
export const QUEUE_MODULE = import.meta.url;

/** TX counter slots of the driver's own: sendto kicks, and kicks the kernel refused (they survive stop/start). */
export const C_KICKS = C_DRIVER0;
export const C_KICK_ERRORS = C_DRIVER0 + 1;

/**
 * Frames up to this many bytes are copied by the JS word loop; longer ones by memcpy. Measured (bench/rules.bench.ts,
 * README "Hot-path rules, measured"): the word loop 7.8 ns at 64 B, 11.3 at 96, 15.4 at 128; memcpy a flat ≈10.5 ns
 * up to 256 B. The crossover lies between 64 and 96 bytes (this was 128, taken on faith).
 */
const SMALL_COPY = 80;

/** What every queue of a port knows about it, in the owner and in a worker. */
export type PortFacts = Pick<AfPacketQueueState, "options" | "ifindex" | "shared">;

export function copyFrame(dst8: Uint8Array, dst32: Uint32Array, dstVa: number, d: number,
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

/**
 * A frame whose VLAN tag the kernel took out (tp_vlan_tci): put it back, as it was on the wire, into buffer b
 * at byte `dst`. Returns the length, or 0 when it does not fit.
 */
export function rxVlan(s: PacketSocket, f: number, status: number, pool: Mempool, b: number, dst: number, portId: number): number {
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
  pool.port[b] = portId;
  return snap + 4;
}

function notStarted(ident: QueueIdentity, dir: string): BdkError {
  return new BdkError(`${ident.spec}: handle() of ${dir} queue ${ident.queueId} of a port that is not started`,
    "call start() first: a queue's socket and rings exist only while the port is started, and a handle is good for one start (hand out new ones after each start())");
}

/** RX queue q: copies what the kernel put in socket q's RX ring into buffers of the queue's pool. */
export class AfPacketRxQueue extends RxQueueBase {
  private readonly ctl: Int32Array;
  private sock: PacketSocket | undefined;
  /** The start this queue belongs to (the port's live word holds it while that start lasts); -1 while unbound. */
  private gen = -1;

  constructor(ident: QueueIdentity, private readonly facts: PortFacts) {
    super(ident);
    this.ctl = new Int32Array(facts.shared);
  }

  /** Gives the queue socket `s` for the start `generation` (the owner's start, attachQueue); bind(undefined) at stop. */
  bind(s: PacketSocket | undefined, generation: number): void {
    this.sock = s;
    this.gen = s ? generation : -1;
  }

  /** True while the start this queue was bound to lasts. */
  get live(): boolean {
    return this.sock !== undefined && Atomics.load(this.ctl, W_LIVE) === this.gen;
  }

  /** The queue's socket while live. */
  get socket(): PacketSocket | undefined {
    return this.live ? this.sock : undefined;
  }

  burst(burst: Burst): number {
    burst.count = 0;
    if (Atomics.load(this.ctl, W_LIVE) !== this.gen) return 0; // not started (for a worker: the owner stopped)
    const s = this.sock!;
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
    const pool = this.pool;
    const cnt = this.cnt;
    const bufs = burst.bufs;
    // Frames we cannot take a buffer for stay in the ring; when it fills, the kernel drops (imissed).
    const have = pool.allocUpTo(bufs, 0, ready);
    if (have !== ready) cnt[C_NOMBUF]! += ready - have;
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
    const id = this.portId;
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
        const n = rxVlan(s, f, status, pool, b, dst, id);
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
    if (errors !== 0) cnt[C_ERRORS]! += errors;
    burst.count = out;
    cnt[C_PACKETS]! += out;
    cnt[C_BYTES]! += nbytes;
    return out;
  }

  /** The head slot's status word: no system call. */
  ready(): boolean {
    return Atomics.load(this.ctl, W_LIVE) === this.gen && this.sock!.rxReady();
  }

  /**
   * The socket while live, else -1. The kernel makes a packet socket readable whenever its RX ring holds a
   * frame for us, so there is nothing to arm: enableInterrupt stays a no-op.
   */
  override eventFd(): number {
    return this.live ? this.sock!.fd : -1;
  }

  /**
   * After a sleep that found no frame here: clear a socket error a link-down left (SO_ERROR, one system call),
   * without which the socket stays readable (EPOLLERR) and every later wait would return at once, for ever.
   * Queues that have a frame make no call; a busy worker does not sleep at all.
   */
  override disableInterrupt(): void {
    const s = this.sock;
    if (s !== undefined && Atomics.load(this.ctl, W_LIVE) === this.gen && !s.rxReady()) s.clearError();
  }

  /**
   * Adds the kernel's drops on this queue's socket (PACKET_STATISTICS, which resets on read) to its missed
   * counter. The owner's thread only (stats(), and stop() between clearing the live word and closing the
   * socket: hence the bound socket, not `socket`): the C_MISSED slot has that one writer.
   */
  foldDrops(): void {
    const s = this.sock;
    if (s) this.cnt[C_MISSED]! += s.takeDrops();
  }

  /** Reads and forgets the kernel's drops (resetStats). */
  discardDrops(): void {
    this.sock?.takeDrops();
  }

  protected handleState(): AfPacketQueueState {
    if (!this.live) throw notStarted(this.ident, "RX");
    return { ...this.facts, generation: this.gen, socket: this.sock!.handle() };
  }
}

/** TX queue q: copies buffers into socket q's TX ring and kicks the kernel once per burst. */
export class AfPacketTxQueue extends TxQueueBase {
  private readonly ctl: Int32Array;
  private sock: PacketSocket | undefined;
  private gen = -1;

  constructor(ident: QueueIdentity, private readonly facts: PortFacts) {
    super(ident);
    this.ctl = new Int32Array(facts.shared);
  }

  bind(s: PacketSocket | undefined, generation: number): void {
    this.sock = s;
    this.gen = s ? generation : -1;
  }

  get live(): boolean {
    return this.sock !== undefined && Atomics.load(this.ctl, W_LIVE) === this.gen;
  }

  get socket(): PacketSocket | undefined {
    return this.live ? this.sock : undefined;
  }

  burst(burst: Burst, start = 0): number {
    const end = burst.count;
    if (Atomics.load(this.ctl, W_LIVE) !== this.gen || end <= start) return 0; // not started (for a worker: the owner stopped)
    const s = this.sock!;
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
    const pool = this.pool;
    const bytes = pool.bytes;
    const words = pool.arena.u32;
    const poolVa = pool.arena.va;
    const lens = pool.len;
    const bufs = burst.bufs;
    const max = this.ctl[W_TX_MAX]!;
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
        this.kick(s);
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
    if (sent !== 0) this.kick(s);
    const cnt = this.cnt;
    if (errors !== 0) cnt[C_ERRORS]! += errors;
    cnt[C_PACKETS]! += sent;
    cnt[C_BYTES]! += nbytes;
    return i - start;
  }

  /** One sendto, counted in this queue's block (C_KICKS, C_KICK_ERRORS). */
  private kick(s: PacketSocket): boolean {
    const cnt = this.cnt;
    cnt[C_KICKS]!++;
    if (s.kick()) return true;
    cnt[C_KICK_ERRORS]!++;
    return false;
  }

  /**
   * Kicks when frames wait in the ring after a refused kick. True when nothing waits any more or the kernel
   * took them; false when it still refuses (the link is down), and the frames stay queued.
   */
  flush(): boolean {
    const s = this.socket;
    if (!s || !s.needKick) return true;
    // A socket error left by a link-down is reported once, by the first call after it: one more try.
    return this.kick(s) || this.kick(s);
  }

  /**
   * Kicks until the TX ring is empty or `ms` pass: what was accepted goes out before the socket closes. Returns
   * what is still pending. The owner's stop() calls it after clearing the live word: it uses the bound socket.
   */
  drain(ms: number): number {
    const s = this.sock;
    if (!s || s.txOff.length === 0) return 0;
    const until = performance.now() + ms;
    let pending = s.txPending();
    while (pending > 0 && performance.now() < until) {
      this.kick(s);
      usleep(200);
      pending = s.txPending();
    }
    return pending;
  }

  /** TX ring frames per state: for diagnostics and tests. */
  ringState(): { available: number; pending: number; wrongFormat: number } {
    const s = this.socket;
    if (!s) throw new BdkError(`${this.ident.spec}: TX queue ${this.queueId} has no ring: the port is not started`, "call start() first");
    return s.txStatusCounts();
  }

  protected handleState(): AfPacketQueueState {
    if (!this.live) throw notStarted(this.ident, "TX");
    return { ...this.facts, generation: this.gen, socket: this.sock!.handle() };
  }
}

/** The attach entry point (QueueHandle.module points here): a worker's object for a queue of an af_packet port of this process. */
export function attachQueue(h: QueueHandle, pool: Mempool): AfPacketRxQueue | AfPacketTxQueue {
  checkHandleDriver(h, "af_packet");
  const s = h.state as AfPacketQueueState | undefined;
  if (!s || !(s.shared instanceof SharedArrayBuffer) || !s.socket || !(s.socket.state instanceof SharedArrayBuffer)) {
    throw new BdkError(`attachQueue(${h.spec}): not an af_packet queue handle`, `pass what port.${h.dir}Queue(q).handle() returned in the thread that opened the port`);
  }
  // A handle of an earlier start names a socket that is closed and a ring that is unmapped: refuse it before
  // building views of that memory.
  if (Atomics.load(new Int32Array(s.shared), W_LIVE) !== s.generation) {
    throw new BdkError(`attach${h.dir === "rx" ? "Rx" : "Tx"}Queue(${h.spec}): the port was stopped since this handle was made`,
      "a handle is good for one start: take new ones after start(), and stop the workers before stopping the port");
  }
  const ident = identityFrom(h, pool);
  const facts: PortFacts = { options: s.options, ifindex: s.ifindex, shared: s.shared };
  const q = h.dir === "rx" ? new AfPacketRxQueue(ident, facts) : new AfPacketTxQueue(ident, facts);
  q.bind(PacketSocket.attach(s.socket), s.generation);
  return q;
}
