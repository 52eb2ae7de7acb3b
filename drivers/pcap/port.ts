// The pcap port: RX replays a capture file's frames (in order, `loop` times), TX appends frames to a file.
// Replay loads the file once; each frame is then one copy from a view made at load time. The file and its
// writer belong to the thread that opened the port: its queues cannot be handed to a worker.
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import type { Burst } from "../../src/ethdev/burst.ts";
import { C_BYTES, C_NOMBUF, C_PACKETS } from "../../src/ethdev/counters.ts";
import type { LinkStatus, PortCapabilities, ResolvedPortConfig } from "../../src/ethdev/port.ts";
import { RxQueueBase, TxQueueBase, type QueueIdentity } from "../../src/ethdev/queue-base.ts";
import { LINKTYPE_ETHERNET, PcapWriter, readPcap } from "./file.ts";
import { BdkError } from "../../src/sys/errors.ts";

export interface PcapPortOptions {
  in?: string;
  out?: string;
  /** Times to replay `in` (0: forever). */
  loop: number;
  nanosecond: boolean;
}

const MAX_FRAME = 9018;

function notAttachable(spec: string): never {
  throw new BdkError(`${spec}: a pcap port's queues cannot be handed to a worker (the file belongs to the thread that opened it)`,
    "burst on it in that thread, or put a ring: port between it and the worker");
}

/** RX: the next frames of the file, each copied into a fresh buffer. */
class PcapRxQueue extends RxQueueBase {
  constructor(ident: QueueIdentity, private readonly port: PcapPort) {
    super(ident);
  }

  burst(burst: Burst): number {
    burst.count = 0;
    const port = this.port;
    if (!port.started) return 0;
    const pool = this.pool;
    const id = this.portId;
    let n = 0;
    let bytes = 0;
    while (n < burst.capacity) {
      const frame = port.nextFrame();
      if (frame === undefined) break;
      const buf = pool.alloc();
      if (buf < 0) {
        port.unread();
        this.cnt[C_NOMBUF]!++;
        break;
      }
      pool.bytes.set(frame, pool.offset(buf));
      pool.len[buf] = frame.length;
      pool.port[buf] = id;
      burst.bufs[n++] = buf;
      bytes += frame.length;
    }
    burst.count = n;
    this.cnt[C_PACKETS]! += n;
    this.cnt[C_BYTES]! += bytes;
    return n;
  }

  ready(): boolean {
    return this.port.started && this.port.remaining() > 0;
  }

  protected handleState(): never {
    return notAttachable(this.ident.spec);
  }
}

/** TX: appends each frame to the out= file (when there is one) and frees the buffer. */
class PcapTxQueue extends TxQueueBase {
  constructor(ident: QueueIdentity, private readonly port: PcapPort) {
    super(ident);
  }

  burst(burst: Burst, start = 0): number {
    const pool = this.pool;
    const n = burst.count - start;
    if (n <= 0 || !this.port.started) return 0;
    const writer = this.port.writer;
    let bytes = 0;
    for (let i = start; i < burst.count; i++) {
      const buf = burst.bufs[i]!;
      const len = pool.len[buf]!;
      if (writer) writer.frame(pool.bytes, pool.offset(buf), len);
      bytes += len;
      pool.free(buf);
    }
    this.cnt[C_PACKETS]! += n;
    this.cnt[C_BYTES]! += bytes;
    return n;
  }

  protected handleState(): never {
    return notAttachable(this.ident.spec);
  }
}

export class PcapPort extends SoftPortBase {
  private readonly frames: Uint8Array[] = [];
  private next = 0;
  private loopsDone = 0;
  /** The out= file while started (the TX queue writes through it). */
  writer: PcapWriter | undefined;

  constructor(spec: string, private readonly opts: PcapPortOptions) {
    super(spec, "pcap", opts.in ?? opts.out ?? "pcap", "02:00:00:00:ca:9e");
    if (!opts.in && !opts.out) throw new BdkError(`port spec "${spec}": a pcap port needs in=FILE, out=FILE or both`, "e.g. pcap:in=trace.pcap or pcap:out=capture.pcap");
    if (opts.in) {
      const file = readPcap(opts.in, { expectLinkType: LINKTYPE_ETHERNET });
      for (const r of file.records) {
        if (r.data.length > MAX_FRAME) throw new BdkError(`${opts.in}: a ${r.data.length}-byte frame is larger than ${MAX_FRAME}`, "replay files of Ethernet frames up to jumbo size");
        this.frames.push(r.data);
      }
    }
  }

  capabilities(): PortCapabilities {
    return { maxRxQueues: 1, maxTxQueues: 1, minRingSize: 1, maxRingSize: 65536, rss: false, maxFrameSize: MAX_FRAME };
  }

  protected setup(config: ResolvedPortConfig): void {
    const big = this.frames.reduce((m, f) => Math.max(m, f.length), 0);
    const room = config.rxPools[0]!.dataRoom;
    if (big > room) {
      throw new BdkError(`${this.opts.in}: holds a ${big}-byte frame, larger than the pool's ${room}-byte buffers`, `create the pool with dataRoom ≥ ${big}`);
    }
    this.rxqs.push(new PcapRxQueue(this.queueIdentity(import.meta.url, "rx", 0), this));
    this.txqs.push(new PcapTxQueue(this.queueIdentity(import.meta.url, "tx", 0), this));
  }

  protected teardown(): void {}

  protected onStart(): void {
    if (this.opts.out && !this.writer) this.writer = new PcapWriter(this.opts.out, { nanosecond: this.opts.nanosecond });
  }

  protected onStop(): void {
    this.writer?.flush();
  }

  protected release(): void {
    this.writer?.close();
    this.writer = undefined;
  }

  /** Frames left to replay (Infinity when looping forever). */
  remaining(): number {
    if (this.frames.length === 0) return 0;
    if (this.opts.loop === 0) return Infinity;
    return (this.opts.loop - this.loopsDone) * this.frames.length - this.next;
  }

  /** The next frame to replay, or undefined when every loop is done. */
  nextFrame(): Uint8Array | undefined {
    if (this.frames.length === 0 || (this.opts.loop !== 0 && this.loopsDone >= this.opts.loop)) return undefined;
    const frame = this.frames[this.next]!;
    if (++this.next === this.frames.length) {
      this.next = 0;
      this.loopsDone++;
    }
    return frame;
  }

  /** Puts the last frame back (no buffer was free for it). */
  unread(): void {
    if (this.next === 0) {
      this.next = this.frames.length - 1;
      this.loopsDone--;
    } else {
      this.next--;
    }
  }

  link(): LinkStatus {
    return { up: this.started, speedMbps: 0, fullDuplex: true };
  }
}
