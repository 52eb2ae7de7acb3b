// The `null` software port, for benchmarks: RX makes frames out of nothing, TX frees what it is given.
//
// mode=source: an RX burst allocates buffers from the pool and fills each with a fixed `size`-byte
//   Ethernet/IPv4/UDP frame (one template copy per buffer); TX takes nothing.
// mode=sink:   RX returns nothing; TX frees every buffer it is offered and counts it.
// mode=both:   both (the default).
// The link is up while the port is started; RX that finds the pool empty counts rxNoMbuf. Queues can be
// handed to workers (attachQueue); a worker's source keeps the MAC it had when the handle was made.
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import type { LinkStatus, PortCapabilities, ResolvedPortConfig } from "../../src/ethdev/port.ts";
import { checkHandleDriver, type QueueHandle } from "../../src/ethdev/queue.ts";
import { identityFrom, RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";

export type NullMode = "source" | "sink" | "both";
export const NULL_MODES: readonly NullMode[] = ["source", "sink", "both"];
export const MIN_FRAME = 14;
export const MAX_FRAME = 9018;

const CAPS: PortCapabilities = {
  maxRxQueues: 16,
  maxTxQueues: 16,
  minRingSize: 1,
  maxRingSize: 65536,
  rss: false,
  maxFrameSize: MAX_FRAME,
};

/** The frame a null source sends: to 02:00:00:00:00:02 from `mac`, IPv4 198.18.0.1 → 198.18.0.2, UDP 1024 → 1024, payload 0, 1, 2 … */
export function nullFrame(size: number, mac: string): Uint8Array {
  const f = new Uint8Array(size);
  const full = new Uint8Array(Math.max(size, 42));
  full.set([0x02, 0, 0, 0, 0, 0x02], 0);
  full.set(mac.split(":").map((x) => parseInt(x, 16)), 6);
  full[12] = 0x08;
  full[13] = 0x00;
  const ipLen = Math.max(size, 42) - 14;
  const ip = 14;
  full.set([0x45, 0, ipLen >> 8, ipLen & 0xff, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], ip);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (full[ip + i]! << 8) | full[ip + i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const csum = ~sum & 0xffff;
  full[ip + 10] = csum >> 8;
  full[ip + 11] = csum & 0xff;
  const udp = 34;
  const udpLen = ipLen - 20;
  full.set([0x04, 0x00, 0x04, 0x00, udpLen >> 8, udpLen & 0xff, 0, 0], udp); // checksum 0: none (IPv4 allows it)
  for (let i = 42; i < full.length; i++) full[i] = (i - 42) & 0xff;
  f.set(full.subarray(0, size));
  return f;
}

/** The null port's shared state: its live word (1 while started), seen by queues in any thread. */
interface NullState {
  ctl: SharedArrayBuffer;
  size: number;
  mac: string;
  source: boolean;
  sink: boolean;
}

/** RX: a source makes `size`-byte copies of one template frame into fresh buffers. */
export class NullRxQueue extends RxQueueBase {
  private readonly live: Int32Array;
  private template: Uint8Array;
  /** The template's whole 32-bit words (frames up to 256 bytes; larger ones use one set() per packet). */
  private words: Uint32Array | undefined;
  private readonly poolWords: Uint32Array;

  constructor(ident: QueueIdentity, private readonly state: NullState) {
    super(ident);
    this.live = new Int32Array(state.ctl);
    const bytes = this.pool.bytes;
    this.poolWords = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.template = nullFrame(state.size, state.mac);
    this.setMac(state.mac);
  }

  /** The owner rebuilds its queues' template when the MAC changes. */
  setMac(mac: string): void {
    this.state.mac = mac;
    this.template = nullFrame(this.state.size, mac);
    const nw = this.state.size >>> 2;
    this.words = this.state.size <= 256 ? new Uint32Array(this.template.buffer.slice(0, nw * 4)) : undefined;
  }

  burst(burst: Burst): number {
    burst.count = 0;
    if (!this.state.source || this.live[0] === 0) return 0;
    const pool = this.pool;
    const bufs = burst.bufs;
    // Not a whole burst left: take what there is.
    const n = pool.allocUpTo(bufs, 0, burst.capacity);
    if (n !== burst.capacity) {
      this.cnt[C_NOMBUF]! += burst.capacity - n;
      if (n === 0) return 0;
    }
    const len = pool.len;
    const portOf = pool.port;
    const size = this.state.size;
    const base = pool.bufBase + pool.headroom; // allocation set dataOff = headroom
    const stride = pool.stride;
    const id = this.portId;
    const words = this.words;
    const bytes = pool.bytes;
    const tpl = this.template;
    if (words !== undefined && (base & 3) === 0) {
      // Word copies beat a TypedArray.set call per packet for small frames; the tail (size % 4) byte by byte.
      const u32 = this.poolWords;
      const nw = words.length;
      for (let i = 0; i < n; i++) {
        const b = bufs[i]!;
        const at = base + b * stride;
        const w = at >>> 2;
        for (let k = 0; k < nw; k++) u32[w + k] = words[k]!;
        for (let k = nw << 2; k < size; k++) bytes[at + k] = tpl[k]!;
        len[b] = size;
        portOf[b] = id;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const b = bufs[i]!;
        bytes.set(tpl, base + b * stride);
        len[b] = size;
        portOf[b] = id;
      }
    }
    burst.count = n;
    this.cnt[C_PACKETS]! += n;
    this.cnt[C_BYTES]! += n * size;
    return n;
  }

  /** A source always has a frame for a started port. */
  ready(): boolean {
    return this.state.source && this.live[0] !== 0;
  }

  protected handleState(): NullState {
    return { ...this.state };
  }
}

/** TX: a sink frees what it is offered and counts it. */
export class NullTxQueue extends TxQueueBase {
  private readonly live: Int32Array;

  constructor(ident: QueueIdentity, private readonly state: NullState) {
    super(ident);
    this.live = new Int32Array(state.ctl);
  }

  burst(burst: Burst, start = 0): number {
    const end = burst.count;
    if (!this.state.sink || this.live[0] === 0 || end <= start) return 0;
    const pool = this.pool;
    const len = pool.len;
    const bufs = burst.bufs;
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const b = bufs[i]!;
      bytes += len[b]!;
      pool.free(b);
    }
    this.cnt[C_PACKETS]! += end - start;
    this.cnt[C_BYTES]! += bytes;
    return end - start;
  }

  protected handleState(): NullState {
    return { ...this.state };
  }
}

export class NullPort extends SoftPortBase {
  readonly frameSize: number;
  readonly mode: NullMode;
  private readonly source: boolean;
  private readonly sink: boolean;
  private readonly ctl = new SharedArrayBuffer(4);

  constructor(spec: string, size: number, mode: NullMode) {
    super(spec, "null", `null${mode === "both" ? "" : `:${mode}`}`, "02:00:00:00:00:01");
    this.frameSize = size;
    this.mode = mode;
    this.source = mode !== "sink";
    this.sink = mode !== "source";
    this.mac = `02:00:00:00:${((this.id >> 8) & 0xff).toString(16).padStart(2, "0")}:${(this.id & 0xff).toString(16).padStart(2, "0")}`;
  }

  protected override onMacChange(): void {
    for (const q of this.rxqs) (q as NullRxQueue).setMac(this.mac);
  }

  capabilities(): PortCapabilities {
    return { ...CAPS };
  }

  protected setup(config: ResolvedPortConfig): void {
    for (const pool of config.rxPools) {
      if (this.source && this.frameSize > pool.dataRoom) {
        throw new BdkError(`${this.name}: frames of ${this.frameSize} bytes do not fit the pool's ${pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${this.frameSize}, or give a smaller size=`);
      }
    }
    const state = (): NullState => ({ ctl: this.ctl, size: this.frameSize, mac: this.mac, source: this.source, sink: this.sink });
    for (let q = 0; q < config.rxQueues; q++) this.rxqs.push(new NullRxQueue(this.queueIdentity(import.meta.url, "rx", q), state()));
    for (let q = 0; q < config.txQueues; q++) this.txqs.push(new NullTxQueue(this.queueIdentity(import.meta.url, "tx", q), state()));
  }

  protected teardown(): void {}

  protected onStart(): void {
    Atomics.store(new Int32Array(this.ctl), 0, 1);
  }

  protected onStop(): void {
    Atomics.store(new Int32Array(this.ctl), 0, 0);
  }

  protected release(): void {}

  link(): LinkStatus {
    return { up: this.started, speedMbps: 0, fullDuplex: true };
  }
}

/** The attach entry point (QueueHandle.module points here): a worker's object for a null port's queue. */
export function attachQueue(h: QueueHandle, pool: Mempool): NullRxQueue | NullTxQueue {
  checkHandleDriver(h, "null");
  const ident = identityFrom(h, pool);
  const state = h.state as NullState;
  return h.dir === "rx" ? new NullRxQueue(ident, state) : new NullTxQueue(ident, state);
}
