// One XDP socket of a port: socket(AF_XDP), its own UMEM registered over the mempool's buffer memory, the four
// rings (fill, completion, RX, TX) mmap'd, bound to one queue of the interface.
//
// The UMEM is the pool's buffers themselves: it starts at the pool's buffer 0 (page-aligned in the arena) and
// covers every buffer, so a UMEM address is `b × stride + offset` for buffer b. The pool's stride (headroom +
// data room, a multiple of 128) need not be a power of two, so the UMEM is registered in unaligned-chunk mode
// (XDP_UMEM_UNALIGNED_CHUNK_FLAG): a fill address is any buffer's first byte, and the kernel writes the frame
// XDP_PACKET_HEADROOM (256) bytes into it. Every socket of every af_xdp port registers its own UMEM over the
// same memory, so a buffer received on one port can be sent on any port of the pool as it is: no copy in user
// space, whatever the port (in copy mode the kernel copies between its skb and the buffer; in zero-copy mode
// the NIC DMAs straight into it).
//
// Ownership: a buffer is the kernel's from the moment it is put in the fill or TX ring until it comes back on
// the RX or completion ring. The socket keeps one byte per pool buffer for each direction (`rxOwned`,
// `txOwned`, shared memory so that the owner can see what a worker's queue handed over): the owner's stop
// closes the socket and gives back to the pool whatever the kernel still held (a fill entry it took but never
// used, a TX frame it never completed), so none is lost and none is freed twice.
//
// Ring indices are free-running u32 counters (producer and consumer), the entry being index & (size - 1);
// the producer of a ring we fill (fill, TX) and the consumer of a ring we drain (RX, completion) are ours and
// authoritative in the shared mapping, so a worker that attaches finds them there.
import { SysError } from "../../src/sys/errno.ts";
import { BdkError } from "../../src/sys/errors.ts";
import {
  arrayBufferAt, bind, close, getsockopt, MAP_POPULATE, MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, setsockopt, setsockoptInt, socket, usleep,
} from "../../src/sys/libc.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { AfXdpError, CAP_FIX } from "./bpf.ts";
import {
  ADDR_BYTES, AF_XDP, DESC_BYTES, MAX_CHUNK, MIN_CHUNK, MMAP_OFFSETS_BYTES, OFF_CONSUMER, OFF_DESC, OFF_FLAGS, OFF_PRODUCER, RING_COMP,
  RING_FILL, RING_RX, RING_TX, SOCK_RAW, sockaddrXdp, SOL_XDP, umemReg, XDP_COPY, XDP_MMAP_OFFSETS, XDP_OPTIONS, XDP_OPTIONS_ZEROCOPY,
  XDP_PGOFF_RX_RING, XDP_PGOFF_TX_RING, XDP_RX_RING, XDP_STATISTICS, XDP_STATS_WORDS, XDP_TX_RING, XDP_UMEM_COMPLETION_RING,
  XDP_UMEM_FILL_RING, XDP_UMEM_PGOFF_COMPLETION_RING, XDP_UMEM_PGOFF_FILL_RING, XDP_UMEM_REG, XDP_UMEM_UNALIGNED_CHUNK_FLAG,
  XDP_USE_NEED_WAKEUP, XDP_ZEROCOPY,
} from "./uapi.ts";

const E_PERM = 1, E_ACCES = 13, E_AFNOSUPPORT = 97, E_OPNOTSUPP = 95, E_INVAL = 22, E_BUSY = 16, E_NOMEM = 12;

export type ZeroCopy = "auto" | "on" | "off";

/** A mapped ring: the u32 words of its producer, consumer, flags and first entry in `u32` (a view of the mapping). */
export interface RingHandle {
  va: number;
  len: number;
  size: number;
  prod: number;
  cons: number;
  flags: number;
  desc: number;
}

/** What a worker needs to build its own object over the same socket (fds and addresses are process-wide). */
export interface XskHandle {
  fd: number;
  queue: number;
  zeroCopy: boolean;
  rx: RingHandle | undefined;
  tx: RingHandle | undefined;
  fill: RingHandle;
  comp: RingHandle;
  rxOwned: SharedArrayBuffer;
  txOwned: SharedArrayBuffer;
  /** The UMEM's first byte as an offset in the pool's arena (the pool's buffer 0). */
  umemBase: number;
  stride: number;
  chunk: number;
}

export class Ring {
  readonly u32: Uint32Array;
  readonly mask: number;
  constructor(readonly h: RingHandle) {
    this.u32 = new Uint32Array(arrayBufferAt(h.va, h.len));
    this.mask = h.size - 1;
  }
}

export interface XskOptions {
  name: string;
  iface: string;
  ifindex: number;
  queue: number;
  pool: Mempool;
  /** Ring sizes (powers of two); 0 for a direction the socket does not serve. */
  rxSize: number;
  txSize: number;
  zeroCopy: ZeroCopy;
  /** The port's XDP mode: zero-copy needs native. */
  native: boolean;
}

/** The chunk size a pool allows (its stride, at most a page), or why it cannot back a UMEM. */
export function chunkFor(pool: Mempool): number {
  const chunk = Math.min(pool.stride, MAX_CHUNK);
  if (chunk < MIN_CHUNK) {
    throw new AfXdpError("pool", `the pool "${pool.name}"'s ${pool.stride}-byte buffers are smaller than AF_XDP's ${MIN_CHUNK}-byte chunks`,
      `create the pool with headroom + dataRoom ≥ ${MIN_CHUNK} (the defaults, 128 + 2048, fit)`);
  }
  if (pool.count * pool.stride > 0xffffffff) {
    throw new AfXdpError("pool", `the pool "${pool.name}" spans ${pool.count * pool.stride} bytes; an af_xdp port addresses at most 4 GiB of buffers`, "use a smaller pool");
  }
  return chunk;
}

function xskError(what: string, e: unknown, iface: string): unknown {
  if (!(e instanceof SysError)) return e;
  if (e.errno === E_AFNOSUPPORT) return new AfXdpError("no-xsk", `${what}: this kernel has no XDP sockets (AF_XDP)`, "use a kernel built with CONFIG_XDP_SOCKETS=y (Linux ≥ 4.18), or af_packet:" + iface);
  if (e.errno === E_PERM || e.errno === E_ACCES) return new AfXdpError("permission", `${what}: AF_XDP sockets need CAP_NET_RAW (and CAP_NET_ADMIN, CAP_BPF for the program)`, CAP_FIX);
  if (e.errno === E_NOMEM) return new AfXdpError("kernel", `${what}: registering the UMEM failed (ENOMEM: locked-memory limit)`, "raise `ulimit -l` or run as root");
  return e;
}

export class XdpSocket {
  readonly fd: number;
  readonly queue: number;
  readonly zeroCopy: boolean;
  readonly rx: Ring | undefined;
  readonly tx: Ring | undefined;
  readonly fill: Ring;
  readonly comp: Ring;
  readonly rxOwned: Uint8Array;
  readonly txOwned: Uint8Array;
  readonly umemBase: number;
  readonly stride: number;
  readonly chunk: number;
  private readonly h: XskHandle;
  private closed = false;
  /** A worker's object (attach): close() forgets, the owner's closes. */
  readonly attached: boolean;
  private readonly stats = new Uint32Array(XDP_STATS_WORDS);

  static open(o: XskOptions): XdpSocket {
    return new XdpSocket(XdpSocket.create(o));
  }

  static attach(h: XskHandle): XdpSocket {
    return new XdpSocket(h, true);
  }

  private constructor(h: XskHandle, attached = false) {
    this.h = h;
    this.attached = attached;
    this.fd = h.fd;
    this.queue = h.queue;
    this.zeroCopy = h.zeroCopy;
    this.rx = h.rx ? new Ring(h.rx) : undefined;
    this.tx = h.tx ? new Ring(h.tx) : undefined;
    this.fill = new Ring(h.fill);
    this.comp = new Ring(h.comp);
    this.rxOwned = new Uint8Array(h.rxOwned);
    this.txOwned = new Uint8Array(h.txOwned);
    this.umemBase = h.umemBase;
    this.stride = h.stride;
    this.chunk = h.chunk;
  }

  private static create(o: XskOptions): XskHandle {
    const what = `${o.name}`;
    const pool = o.pool;
    const chunk = chunkFor(pool);
    let fd: number;
    try {
      fd = socket(AF_XDP, SOCK_RAW, 0, `${what}: AF_XDP socket`);
    } catch (e) {
      throw xskError(what, e, o.iface);
    }
    const maps: { va: number; len: number }[] = [];
    try {
      // The UMEM: the pool's buffers, from buffer 0 (page-aligned) to the end of the last page holding one.
      const umemBase = pool.bufBase;
      const umemLen = Math.ceil((pool.count * pool.stride) / 4096) * 4096;
      try {
        setsockopt(fd, SOL_XDP, XDP_UMEM_REG, umemReg(pool.arena.va + umemBase, umemLen, chunk, 0, XDP_UMEM_UNALIGNED_CHUNK_FLAG),
          `${what}: XDP_UMEM_REG (${umemLen} bytes, ${chunk}-byte unaligned chunks)`);
      } catch (e) {
        if (e instanceof SysError && e.errno === E_INVAL) {
          throw new AfXdpError("kernel", `${what}: the kernel refused the pool's memory as a UMEM (EINVAL: unaligned chunks need Linux ≥ 5.4)`, "use af_packet:" + o.iface);
        }
        throw xskError(what, e, o.iface);
      }
      const fillSize = Math.max(o.rxSize, 64);
      const compSize = Math.max(o.txSize, 64);
      setsockoptInt(fd, SOL_XDP, XDP_UMEM_FILL_RING, fillSize, `${what}: fill ring of ${fillSize}`);
      setsockoptInt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, compSize, `${what}: completion ring of ${compSize}`);
      if (o.rxSize > 0) setsockoptInt(fd, SOL_XDP, XDP_RX_RING, o.rxSize, `${what}: RX ring of ${o.rxSize}`);
      if (o.txSize > 0) setsockoptInt(fd, SOL_XDP, XDP_TX_RING, o.txSize, `${what}: TX ring of ${o.txSize}`);
      const offs = new Uint32Array(MMAP_OFFSETS_BYTES / 4);
      getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offs, `${what}: XDP_MMAP_OFFSETS`);
      const map = (ring: number, pgoff: number, size: number, entry: number, label: string): RingHandle => {
        const off = (field: number): number => offs[ring * 8 + field * 2]!;
        const len = off(OFF_DESC) + size * entry;
        const va = mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff, `${what}: ${label} ring`);
        maps.push({ va, len });
        return { va, len, size, prod: off(OFF_PRODUCER) / 4, cons: off(OFF_CONSUMER) / 4, flags: off(OFF_FLAGS) / 4, desc: off(OFF_DESC) / 4 };
      };
      const fill = map(RING_FILL, XDP_UMEM_PGOFF_FILL_RING, fillSize, ADDR_BYTES, "fill");
      const comp = map(RING_COMP, XDP_UMEM_PGOFF_COMPLETION_RING, compSize, ADDR_BYTES, "completion");
      const rx = o.rxSize > 0 ? map(RING_RX, XDP_PGOFF_RX_RING, o.rxSize, DESC_BYTES, "RX") : undefined;
      const tx = o.txSize > 0 ? map(RING_TX, XDP_PGOFF_TX_RING, o.txSize, DESC_BYTES, "TX") : undefined;
      // Bind: zero-copy asked (on), refused (off), or the kernel's choice (auto: zero-copy when the driver can, else copy).
      if (o.zeroCopy === "on" && !o.native) {
        throw new AfXdpError("zerocopy", `${what}: zero-copy needs native XDP, and the port runs generic XDP`, "use mode=native on a driver with AF_XDP zero-copy, or zerocopy=auto");
      }
      const modeFlag = o.zeroCopy === "on" ? XDP_ZEROCOPY : o.zeroCopy === "off" || !o.native ? XDP_COPY : 0;
      // A socket closed a moment ago (our own, at the last stop) frees its queue in deferred kernel work: EBUSY
      // until then. Retry for up to a second before calling the queue taken.
      const until = performance.now() + 1000;
      try {
        for (;;) {
          try {
            bind(fd, sockaddrXdp(o.ifindex, o.queue, modeFlag | XDP_USE_NEED_WAKEUP), `${what}: bind to ${o.iface} queue ${o.queue}`);
            break;
          } catch (e) {
            if (!(e instanceof SysError && e.errno === E_BUSY && performance.now() < until)) throw e;
            usleep(2000);
          }
        }
      } catch (e) {
        if (e instanceof SysError && o.zeroCopy === "on" && (e.errno === E_OPNOTSUPP || e.errno === E_INVAL)) {
          throw new AfXdpError("zerocopy", `${what}: the driver of ${o.iface} cannot do AF_XDP zero-copy (${e.errno === E_OPNOTSUPP ? "EOPNOTSUPP" : "EINVAL"})`,
            "use zerocopy=auto (copy mode when the driver cannot) or zerocopy=off");
        }
        if (e instanceof SysError && e.errno === E_BUSY) {
          throw new AfXdpError("busy", `${what}: queue ${o.queue} of ${o.iface} already has an XDP socket (EBUSY)`, "another AF_XDP program holds it: stop it, or pick another queue= ");
        }
        if (e instanceof SysError && e.errno === E_INVAL) {
          throw new AfXdpError("queue", `${what}: the kernel refused to bind queue ${o.queue} of ${o.iface} (EINVAL)`, `check the queue count (\`ethtool -l ${o.iface}\`)`);
        }
        throw xskError(what, e, o.iface);
      }
      const opt = new Uint32Array(1);
      let zeroCopy = false;
      try {
        getsockopt(fd, SOL_XDP, XDP_OPTIONS, opt, `${what}: XDP_OPTIONS`);
        zeroCopy = (opt[0]! & XDP_OPTIONS_ZEROCOPY) !== 0;
      } catch {
        zeroCopy = o.zeroCopy === "on";
      }
      return {
        fd, queue: o.queue, zeroCopy, rx, tx, fill, comp,
        rxOwned: new SharedArrayBuffer(pool.count), txOwned: new SharedArrayBuffer(pool.count),
        umemBase, stride: pool.stride, chunk,
      };
    } catch (e) {
      for (const m of maps) munmap(m.va, m.len);
      close(fd);
      throw e;
    }
  }

  handle(): XskHandle {
    return this.h;
  }

  /** Cumulative XDP_STATISTICS of the socket as numbers (rx_dropped, rx_invalid, tx_invalid, rx_ring_full, fill_empty, tx_ring_empty). */
  readStats(out: Float64Array): boolean {
    try {
      getsockopt(this.fd, SOL_XDP, XDP_STATISTICS, this.stats, "XDP_STATISTICS");
    } catch {
      return false;
    }
    for (let i = 0; i < 6; i++) out[i] = this.stats[2 * i]! + this.stats[2 * i + 1]! * 4294967296;
    return true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the socket and unmaps its rings (the owner's object); a worker's object only forgets them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.attached) return;
    const h = this.h;
    for (const r of [h.rx, h.tx, h.fill, h.comp]) if (r) munmap(r.va, r.len);
    close(h.fd);
  }
}

export function checkRingSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 64 || n > 65536 || (n & (n - 1)) !== 0) {
    throw new BdkError(`${what} ${n} is not a power of two in 64..65536`, "use 512, 1024, 2048 …");
  }
}
