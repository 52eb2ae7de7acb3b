// The `null` software port, for benchmarks: RX makes frames out of nothing, TX frees what it is given.
//
// mode=source: rxBurst allocates buffers from the pool and fills each with a fixed `size`-byte
//   Ethernet/IPv4/UDP frame (one template copy per buffer); txBurst takes nothing.
// mode=sink:   rxBurst returns nothing; txBurst frees every buffer it is offered and counts it.
// mode=both:   both (the default).
// The link is up while the port is started; RX that finds the pool empty counts rxNoMbuf.
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import { checkQueue, type Burst, type LinkStatus, type PortCapabilities, type ResolvedPortConfig } from "../../src/ethdev/port.ts";
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

export class NullPort extends SoftPortBase {
  readonly frameSize: number;
  readonly mode: NullMode;
  private readonly source: boolean;
  private readonly sink: boolean;
  private template!: Uint8Array;
  /** The template's whole 32-bit words (frames up to 256 bytes; larger ones use one set() per packet). */
  private words: Uint32Array | undefined;
  private poolWords: Uint32Array | undefined;
  private pool: Mempool | undefined;
  private queuesRx = 0;
  private queuesTx = 0;
  private rxNoMbuf = 0;

  constructor(spec: string, size: number, mode: NullMode) {
    super(spec, "null", `null${mode === "both" ? "" : `:${mode}`}`, "02:00:00:00:00:01");
    this.frameSize = size;
    this.mode = mode;
    this.source = mode !== "sink";
    this.sink = mode !== "source";
    this.mac = `02:00:00:00:${((this.id >> 8) & 0xff).toString(16).padStart(2, "0")}:${(this.id & 0xff).toString(16).padStart(2, "0")}`;
    this.setTemplate();
  }

  protected override onMacChange(): void {
    this.setTemplate();
  }

  private setTemplate(): void {
    this.template = nullFrame(this.frameSize, this.mac);
    const nw = this.frameSize >>> 2;
    this.words = this.frameSize <= 256 ? new Uint32Array(this.template.buffer.slice(0, nw * 4)) : undefined;
  }

  capabilities(): PortCapabilities {
    return { ...CAPS };
  }

  protected setup(config: ResolvedPortConfig): void {
    if (this.source && this.frameSize > config.pool.dataRoom) {
      throw new BdkError(`${this.name}: frames of ${this.frameSize} bytes do not fit the pool's ${config.pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${this.frameSize}, or give a smaller size=`);
    }
    this.pool = config.pool;
    const bytes = config.pool.bytes;
    this.poolWords = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.queuesRx = config.rxQueues;
    this.queuesTx = config.txQueues;
  }

  protected teardown(): void {
    this.pool = undefined;
    this.poolWords = undefined;
    this.queuesRx = 0;
    this.queuesTx = 0;
  }

  protected onStart(): void {}
  protected onStop(): void {}
  protected release(): void {}

  rxBurst(queue: number, burst: Burst): number {
    if (!(queue >= 0 && queue < this.queuesRx)) return this.badQueue(queue, "rx");
    burst.count = 0;
    if (!this.source || !this.started) return 0;
    const pool = this.pool!;
    const bufs = burst.bufs;
    let n = burst.capacity;
    if (pool.allocBulk(bufs, 0, n) === 0) {
      // Not a whole burst left: take what there is, one by one.
      let k = 0;
      for (; k < n; k++) {
        const b = pool.alloc();
        if (b < 0) break;
        bufs[k] = b;
      }
      this.rxNoMbuf += n - k;
      n = k;
      if (n === 0) return 0;
    }
    const len = pool.len;
    const portOf = pool.port;
    const size = this.frameSize;
    const base = pool.bufBase + pool.headroom; // allocation set dataOff = headroom
    const stride = pool.stride;
    const id = this.id;
    const words = this.words;
    if (words !== undefined && (base & 3) === 0) {
      // Word copies beat a TypedArray.set call per packet for small frames; the tail (size % 4) byte by byte.
      const u32 = this.poolWords!;
      const bytes = pool.bytes;
      const tpl = this.template;
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
      const bytes = pool.bytes;
      const tpl = this.template;
      for (let i = 0; i < n; i++) {
        const b = bufs[i]!;
        bytes.set(tpl, base + b * stride);
        len[b] = size;
        portOf[b] = id;
      }
    }
    burst.count = n;
    this.rxPackets[queue]! += n;
    this.rxBytes[queue]! += n * size;
    return n;
  }

  txBurst(queue: number, burst: Burst, start = 0): number {
    if (!(queue >= 0 && queue < this.queuesTx)) return this.badQueue(queue, "tx");
    const end = burst.count;
    if (!this.sink || !this.started || end <= start) return 0;
    const pool = this.pool!;
    const len = pool.len;
    const bufs = burst.bufs;
    let bytes = 0;
    for (let i = start; i < end; i++) {
      const b = bufs[i]!;
      bytes += len[b]!;
      pool.free(b);
    }
    this.txPackets[queue]! += end - start;
    this.txBytes[queue]! += bytes;
    return end - start;
  }

  override stats() {
    const s = super.stats();
    s.rxNoMbuf += this.rxNoMbuf;
    return s;
  }

  override resetStats(): void {
    super.resetStats();
    this.rxNoMbuf = 0;
  }

  link(): LinkStatus {
    return { up: this.started, speedMbps: 0, fullDuplex: true };
  }

  private badQueue(queue: number, dir: "rx" | "tx"): never {
    if (!this.config) throw new BdkError(`${this.name}: port is not configured`, "call configure({ pool, … }) first");
    checkQueue(this.name, queue, dir === "rx" ? this.queuesRx : this.queuesTx, dir);
    throw new BdkError(`${this.name}: ${dir} queue ${queue} is not set up`, "configure the port again");
  }
}
