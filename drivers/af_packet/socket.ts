// One AF_PACKET socket of a port: SOCK_RAW bound to the interface, with an mmap'd TPACKET_V2 RX ring, TX
// ring, or both in one mapping (RX first, TX right after it, as the kernel lays them out).
//
// Why TPACKET_V2 for both directions and not V3 for RX:
// - V2 gives every frame its own status word: RX hands frames back one by one as it copies them, TX claims
//   them one by one, and both rings share one mmap and one code shape.
// - V3 fills whole blocks and gives a block to user space only when it is full or when its retire timer
//   fires (milliseconds): at low rates that timer is the latency. V3 wins on capture of many small frames
//   (fewer cache lines of status), which is not what a forwarding port does; and V3 has no TX ring of its own.
import { BdkError, warnOnce } from "../../src/sys/errors.ts";
import { E } from "../../src/sys/errno.ts";
import { SysError } from "../../src/sys/errno.ts";
import {
  arrayBufferAt, bind, check, close, errno, getsockopt, MAP_SHARED, mmap, munmap, PROT_READ, PROT_WRITE, raw,
  setsockopt, setsockoptInt, socket, strerror,
} from "../../src/sys/libc.ts";
import {
  AF_PACKET, ETH_P_ALL_BE, MSG_DONTWAIT, PACKET_FANOUT, PACKET_FANOUT_FLAG_IGNORE_OUTGOING, PACKET_FANOUT_FLAG_UNIQUEID,
  PACKET_FANOUT_HASH, PACKET_IGNORE_OUTGOING, PACKET_LOSS, PACKET_QDISC_BYPASS, PACKET_RESERVE, PACKET_RX_RING,
  PACKET_STATISTICS, PACKET_TX_HAS_OFF, PACKET_TX_RING, PACKET_VERSION, PACKET_VNET_HDR, rxReserve, SOCK_RAW, SOL_PACKET,
  sockaddrLl, TP_STATUS_SEND_REQUEST, TP_STATUS_TX_OWNER_MASK, TP_STATUS_USER, TPACKET_STATS_WORDS, TPACKET_V2, tpacketReq,
  TX_DATA_OFFSET, VNET_HDR_LEN, H16_MAC,
} from "./uapi.ts";
import { fast } from "../../src/sys/libc.ts";

const SOL_SOCKET = 1;
const SO_ERROR = 4;

export const NOT_ROOT_FIX = "run as root, or give the binary the capability: `setcap cap_net_raw,cap_net_admin+ep $(readlink -f $(which bun))`";

/** Frame and block sizes shared by every ring of a port. */
export interface RingGeometry {
  frameSize: number;
  blockSize: number;
}

export interface SocketOptions {
  name: string;
  ifindex: number;
  geometry: RingGeometry;
  /** RX ring frames, or 0 for a socket that only transmits (it is then bound with protocol 0: it receives nothing). */
  rxFrames: number;
  /** TX ring frames, or 0 for a socket that only receives. */
  txFrames: number;
  qdiscBypass: boolean;
  /** Put a virtio_net_hdr in front of TX frames (see `vnet` below); falls back without when the kernel refuses. */
  vnetHdr: boolean;
}

/** Opens an AF_PACKET socket; EPERM/EACCES become the one-line "needs root" error. */
export function packetSocket(what: string): number {
  try {
    return socket(AF_PACKET, SOCK_RAW, 0, what);
  } catch (e) {
    if (e instanceof SysError && (e.errno === E.EPERM || e.errno === E.EACCES)) {
      throw new BdkError(`${what}: AF_PACKET needs root or CAP_NET_RAW`, NOT_ROOT_FIX);
    }
    throw e;
  }
}

/** Byte offsets of every frame of a ring that starts at `base`: blocks hold floor(block / frame) frames, the rest of a block is unused. */
function frameOffsets(base: number, frames: number, g: RingGeometry): Uint32Array {
  const perBlock = Math.floor(g.blockSize / g.frameSize);
  const offs = new Uint32Array(frames);
  for (let i = 0; i < frames; i++) offs[i] = base + Math.floor(i / perBlock) * g.blockSize + (i % perBlock) * g.frameSize;
  return offs;
}

export function ringBytes(frames: number, g: RingGeometry): number {
  const perBlock = Math.floor(g.blockSize / g.frameSize);
  return (frames / perBlock) * g.blockSize;
}

// The words a queue's data path reads and writes, in a SharedArrayBuffer of the socket, so that the owner's
// queue and a worker's queue attached from its handle (PacketSocket.attach) use the same ones. RX queue q and
// TX queue q are one socket but may be used by two threads: the RX words and the TX words sit on cache lines
// of their own. (Kicks are counted in the TX queue's counter block: see rxtx.ts.)
const STATE_BYTES = 256;
/** Int32 index: the next RX frame to look at. */
export const S_RX_HEAD = 0;
/** Int32 indexes (byte 128 on): the next TX frame to fill; 1 when the last kick was refused; its errno. */
export const S_TX_HEAD = 32;
const S_NEED_KICK = 33;
const S_LAST_ERRNO = 34;

/** What a worker needs to use a socket another thread of this process made: fds and addresses are process-wide. */
export interface SocketHandle {
  opts: SocketOptions;
  fd: number;
  va: number;
  mapLen: number;
  vnet: boolean;
  txDataOff: number;
  txVnetHalf: number;
  /** The ring heads and the kick state (see S_RX_HEAD), shared. */
  state: SharedArrayBuffer;
}

export class PacketSocket {
  fd: number;
  /** The mapping: address, length, and views of it. */
  readonly va: number;
  readonly mapLen: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;

  /** RX frame offsets (bytes from the mapping's start) and the ring mask; the next frame to look at is state[S_RX_HEAD]. */
  readonly rxOff: Uint32Array;
  readonly rxMask: number;
  readonly txOff: Uint32Array;
  readonly txMask: number;
  /**
   * The ring heads (S_RX_HEAD, S_TX_HEAD) over shared memory: whichever thread uses the queue reads and writes
   * them (one thread per queue at a time; a hand-over goes through a message or an Atomics store).
   */
  readonly state: Int32Array;

  /**
   * TX frames carry a virtio_net_hdr whose hdr_len asks the kernel to copy the whole frame into the skb.
   * Without it, tpacket_snd attaches the frame's ring pages to the skb as zero-copy fragments, and a veth (or
   * anything that loops the skb back into a receive path) must then copy them into freshly allocated pages
   * (skb_copy_ubufs): a page allocation, a copy and a free per frame. Measured on veth: 1.33 → 0.95 µs of
   * kernel time per 64-byte frame.
   */
  readonly vnet: boolean;
  /** Where TX frame data starts (bytes from the frame start), and where its virtio_net_hdr starts (in u16 units from the frame start; -1 without). */
  readonly txDataOff: number;
  readonly txVnetHalf: number;

  get lastKickErrno(): number {
    return this.state[S_LAST_ERRNO]!;
  }

  /** The last kick was refused: frames may wait in the ring for the next one. */
  get needKick(): boolean {
    return this.state[S_NEED_KICK] !== 0;
  }

  /** True for a worker's object (attach): close() then forgets the socket and leaves the fd and the mapping alone. */
  readonly attached: boolean;
  private readonly statsBuf = new Uint32Array(TPACKET_STATS_WORDS);
  private readonly errBuf = new Int32Array(1);
  private readonly errLen = new Uint32Array(1);
  private closed = false;

  /** This thread's object over a socket that another thread of the process made (see SocketHandle). */
  static attach(h: SocketHandle): PacketSocket {
    return new PacketSocket(h.opts, h);
  }

  /** Makes the socket and its rings; with `from`, builds this thread's object over an existing one instead (use attach()). */
  constructor(readonly opts: SocketOptions, from?: SocketHandle) {
    const { geometry: g, rxFrames, txFrames } = opts;
    this.attached = from !== undefined;
    const m: SocketHandle & { tpMac?: number } = from ?? this.make();
    this.fd = m.fd;
    this.va = m.va;
    this.mapLen = m.mapLen;
    this.vnet = m.vnet;
    this.txDataOff = m.txDataOff;
    this.txVnetHalf = m.txVnetHalf;
    this.state = new Int32Array(m.state);
    const buf = arrayBufferAt(m.va, m.mapLen);
    this.u8 = new Uint8Array(buf);
    this.u16 = new Uint16Array(buf);
    this.u32 = new Uint32Array(buf);
    this.rxOff = frameOffsets(0, rxFrames, g);
    this.rxMask = rxFrames - 1;
    this.txOff = frameOffsets(rxFrames > 0 ? ringBytes(rxFrames, g) : 0, txFrames, g);
    this.txMask = txFrames - 1;
    // With PACKET_TX_HAS_OFF the kernel reads where the data starts from each TX frame's tp_mac; it never
    // writes that field, so once is enough. (The ring comes zeroed: the header's other fields stay 0.)
    const tpMac = from ? 0 : m.tpMac ?? 0;
    if (tpMac !== 0) for (let i = 0; i < txFrames; i++) this.u16[(this.txOff[i]! >> 1) + H16_MAC] = tpMac;
  }

  /** Opens the socket, sets it up, maps its rings and binds it; tpMac: where TX data starts when PACKET_TX_HAS_OFF is on, else 0. */
  private make(): SocketHandle & { tpMac: number } {
    const opts = this.opts;
    const { name, geometry: g, rxFrames, txFrames } = opts;
    const what = `af_packet ${name}`;
    const fd = packetSocket(what);
    this.fd = fd;
    let va = 0;
    let len = 0;
    let hasOff = false;
    let vnetAt = TX_DATA_OFFSET;
    try {
      setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2, `${what}: PACKET_VERSION TPACKET_V2`);
      // Options that shape the rings must come before them.
      let vnet = false;
      if (txFrames > 0 && opts.vnetHdr) {
        vnet = this.optional(PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", "TX frames go as zero-copy fragments, which a veth copies again (slower; kernel < 4.6)");
        // With the 10-byte header at 34 the frame starts at 44, a multiple of 4, as it does in the pool.
        if (vnet) hasOff = this.optional(PACKET_TX_HAS_OFF, 1, "PACKET_TX_HAS_OFF", "TX frames start unaligned (a little slower)");
      }
      if (hasOff) vnetAt = TX_DATA_OFFSET + 2;
      if (rxFrames > 0) {
        setsockoptInt(fd, SOL_PACKET, PACKET_RESERVE, rxReserve(vnet), `${what}: PACKET_RESERVE`);
        this.optional(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", "the port may receive the frames it sends (kernel < 4.20)");
      }
      if (txFrames > 0) {
        // A frame the kernel refuses (too long for the MTU) is skipped instead of stopping the TX ring for good
        // (without PACKET_LOSS the kernel's ring head stays on it, marked WRONG_FORMAT, and nothing after it goes out).
        setsockoptInt(fd, SOL_PACKET, PACKET_LOSS, 1, `${what}: PACKET_LOSS`);
        if (opts.qdiscBypass) this.optional(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", "TX goes through the qdisc layer (slower; kernel < 3.14)");
      }
      const rxLen = rxFrames > 0 ? ringBytes(rxFrames, g) : 0;
      const txLen = txFrames > 0 ? ringBytes(txFrames, g) : 0;
      const hint = "the kernel could not allocate the ring: use fewer frames (frames=, rxRingSize/txRingSize) or a smaller frame_size";
      if (rxFrames > 0) setsockopt(fd, SOL_PACKET, PACKET_RX_RING, tpacketReq(g.blockSize, rxLen / g.blockSize, g.frameSize, rxFrames), `${what}: PACKET_RX_RING ${rxFrames} × ${g.frameSize}`, hint);
      if (txFrames > 0) setsockopt(fd, SOL_PACKET, PACKET_TX_RING, tpacketReq(g.blockSize, txLen / g.blockSize, g.frameSize, txFrames), `${what}: PACKET_TX_RING ${txFrames} × ${g.frameSize}`, hint);
      len = rxLen + txLen;
      va = mmap(len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, `${what}: packet rings`);
      // Bind last: a socket made with protocol 0 receives nothing until now, so no frame of another interface
      // lands in the ring first. A TX-only socket stays at protocol 0 and never receives.
      bind(fd, sockaddrLl(opts.ifindex, rxFrames > 0 ? ETH_P_ALL_BE : 0), `${what}: bind to ifindex ${opts.ifindex}`);
      return {
        opts: this.opts, fd, va, mapLen: len, vnet,
        txDataOff: vnet ? vnetAt + VNET_HDR_LEN : TX_DATA_OFFSET,
        txVnetHalf: vnet ? vnetAt >> 1 : -1,
        state: new SharedArrayBuffer(STATE_BYTES),
        tpMac: hasOff ? vnetAt : 0,
      };
    } catch (e) {
      if (va) munmap(va, len);
      close(fd);
      this.fd = -1;
      throw e;
    }
  }

  /** Plain, structured-cloneable data for PacketSocket.attach in a worker of this process. */
  handle(): SocketHandle {
    return {
      opts: { ...this.opts, geometry: { ...this.opts.geometry } },
      fd: this.fd,
      va: this.va,
      mapLen: this.mapLen,
      vnet: this.vnet,
      txDataOff: this.txDataOff,
      txVnetHalf: this.txVnetHalf,
      state: this.state.buffer as SharedArrayBuffer,
    };
  }

  /** Sets an option a kernel may not know; warns once and returns false when it does not. */
  private optional(opt: number, value: number, label: string, consequence: string): boolean {
    const r = raw.setsockopt(this.fd, SOL_PACKET, opt, new Int32Array([value]), 4);
    if (r === 0) return true;
    const e = errno();
    if (e === E.EINVAL || e === 92 /* ENOPROTOOPT */) warnOnce(`af_packet:${label}`, `this kernel does not support ${label} (${strerror(e)}): ${consequence}`);
    else check(r, "setsockopt", `af_packet ${this.opts.name}: ${label}`);
    return false;
  }

  /**
   * Joins fanout group `id` in hash mode (frames of one flow always reach the same socket). With `unique`, the
   * kernel picks an unused id (this socket must be the group's first); the id is returned for the others.
   */
  joinFanout(id: number, unique: boolean): number {
    const what = `af_packet ${this.opts.name}: PACKET_FANOUT`;
    const tryJoin = (flags: number): number => {
      const v = (unique ? 0 : id) | ((PACKET_FANOUT_HASH | flags | (unique ? PACKET_FANOUT_FLAG_UNIQUEID : 0)) << 16);
      return raw.setsockopt(this.fd, SOL_PACKET, PACKET_FANOUT, new Int32Array([v]), 4);
    };
    // The group's own hook decides about outgoing frames, so ask it to ignore them too (kernel ≥ 6.9); else without.
    let r = tryJoin(PACKET_FANOUT_FLAG_IGNORE_OUTGOING);
    if (r !== 0 && errno() === E.EINVAL) r = tryJoin(0);
    if (r !== 0) {
      const e = errno();
      const hint = e === E.EINVAL
        ? `fanout group ${id} already exists with other settings (another program uses it): give another fanout=<id>`
        : undefined;
      check(r, "setsockopt", `${what} group ${unique ? "(new)" : id}`, hint);
    }
    if (!unique) return id;
    const out = new Uint32Array(1);
    getsockopt(this.fd, SOL_PACKET, PACKET_FANOUT, out, `${what} (read id)`);
    return out[0]! & 0xffff;
  }

  /** Drops since the last call (the kernel resets its counters when read). */
  takeDrops(): number {
    if (this.fd < 0 || this.rxOff.length === 0) return 0;
    const lenBuf = new Uint32Array([this.statsBuf.byteLength]);
    if (raw.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, this.statsBuf, lenBuf) !== 0) return 0;
    return this.statsBuf[1]!;
  }

  /**
   * Reads and clears the socket's pending error (SO_ERROR), returning it (0: none). When the interface goes
   * down the kernel leaves ENETDOWN on every packet socket bound to it, and poll reports the socket readable
   * (EPOLLERR) until someone reads it: an RxWaiter over it would wake at once, for ever, even after the link
   * came back. A kick reads it too (sendto fails once with it). No allocation.
   */
  clearError(): number {
    this.errLen[0] = 4;
    if (raw.getsockopt(this.fd, SOL_SOCKET, SO_ERROR, this.errBuf, this.errLen) !== 0) return 0;
    return this.errBuf[0]!;
  }

  /** True when the next RX frame is ready: one load of its status word, no system call. */
  rxReady(): boolean {
    return this.rxOff.length > 0 && (Atomics.load(this.u32, this.rxOff[this.state[S_RX_HEAD]!]! >> 2) & TP_STATUS_USER) !== 0;
  }

  /**
   * Tells the kernel to send every frame marked SEND_REQUEST. Returns false when it refused (errno kept, and
   * needKick set until a kick succeeds). The TX queue counts the kicks (rxtx.ts).
   */
  kick(): boolean {
    if (fast.sendto(this.fd, null, 0, MSG_DONTWAIT, null, 0) >= 0) {
      this.state[S_NEED_KICK] = 0;
      return true;
    }
    this.state[S_NEED_KICK] = 1;
    this.state[S_LAST_ERRNO] = errno();
    return false;
  }

  /** TX frames the kernel has not finished with (SEND_REQUEST or SENDING). */
  txPending(): number {
    let n = 0;
    const u32 = this.u32;
    const off = this.txOff;
    for (let i = 0; i < off.length; i++) if ((Atomics.load(u32, off[i]! >> 2) & (TP_STATUS_SEND_REQUEST | 2)) !== 0) n++;
    return n;
  }

  /** TX frames whose status is neither available nor ours: for tests and diagnostics. */
  txStatusCounts(): { available: number; pending: number; wrongFormat: number } {
    let available = 0, pending = 0, wrongFormat = 0;
    for (let i = 0; i < this.txOff.length; i++) {
      const s = this.u32[this.txOff[i]! >> 2]! & TP_STATUS_TX_OWNER_MASK;
      if (s === 0) available++;
      else if (s & 4) wrongFormat++;
      else pending++;
    }
    return { available, pending, wrongFormat };
  }

  /** Closes the socket and unmaps its rings; on a worker's object (attach) only forgets them. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.attached) {
      this.fd = -1;
      return;
    }
    try {
      munmap(this.va, this.mapLen);
    } finally {
      const fd = this.fd;
      this.fd = -1;
      close(fd);
    }
  }
}
