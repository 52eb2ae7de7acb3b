// The pcap port: RX replays a capture file's frames (in order, `loop` times), TX appends frames to a file.
// Replay loads the file once; each frame is then one copy from a view made at load time.
import { SoftPortBase } from "../../src/ethdev/soft.ts";
import type { Burst, LinkStatus, PortCapabilities } from "../../src/ethdev/port.ts";
import { checkQueue } from "../../src/ethdev/port.ts";
import { LINKTYPE_ETHERNET, PcapWriter, readPcap } from "../../src/net/pcap.ts";
import { BdkError } from "../../src/sys/errors.ts";

export interface PcapPortOptions {
  in?: string;
  out?: string;
  /** Times to replay `in` (0: forever). */
  loop: number;
  nanosecond: boolean;
}

const MAX_FRAME = 9018;

export class PcapPort extends SoftPortBase {
  private readonly frames: Uint8Array[] = [];
  private next = 0;
  private loopsDone = 0;
  private writer: PcapWriter | undefined;

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

  protected setup(): void {
    const big = this.frames.reduce((m, f) => Math.max(m, f.length), 0);
    if (big > this.cfg.pool.dataRoom) {
      throw new BdkError(`${this.opts.in}: holds a ${big}-byte frame, larger than the pool's ${this.cfg.pool.dataRoom}-byte buffers`, `create the pool with dataRoom ≥ ${big}`);
    }
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

  rxBurst(queue: number, burst: Burst): number {
    checkQueue(this.name, queue, 1, "rx");
    burst.count = 0;
    if (!this.started || this.frames.length === 0) return 0;
    const pool = this.cfg.pool;
    let n = 0;
    let bytes = 0;
    while (n < burst.capacity && (this.opts.loop === 0 || this.loopsDone < this.opts.loop)) {
      const buf = pool.alloc();
      if (buf < 0) {
        this.extra.rxNoMbuf++;
        break;
      }
      const frame = this.frames[this.next]!;
      pool.bytes.set(frame, pool.offset(buf));
      pool.len[buf] = frame.length;
      burst.bufs[n++] = buf;
      bytes += frame.length;
      if (++this.next === this.frames.length) {
        this.next = 0;
        this.loopsDone++;
      }
    }
    burst.count = n;
    this.rxPackets[0]! += n;
    this.rxBytes[0]! += bytes;
    return n;
  }

  txBurst(queue: number, burst: Burst, start = 0): number {
    checkQueue(this.name, queue, 1, "tx");
    const pool = this.cfg.pool;
    const n = burst.count - start;
    if (n <= 0) return 0;
    let bytes = 0;
    for (let i = start; i < burst.count; i++) {
      const buf = burst.bufs[i]!;
      const len = pool.len[buf]!;
      if (this.writer) this.writer.frame(pool.bytes, pool.offset(buf), len);
      bytes += len;
      pool.free(buf);
    }
    this.txPackets[0]! += n;
    this.txBytes[0]! += bytes;
    return n;
  }

  link(): LinkStatus {
    return { up: this.started, speedMbps: 0, fullDuplex: true };
  }

}
