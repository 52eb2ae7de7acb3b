// `bdk capture PORT -w FILE [-c N]`: what a port receives, written to a pcap file (tcpdump -r reads it).
import { helpText, parseArgs, UsageError } from "../../apps/common/args.ts";
import { onStopSignal } from "../lcore/signals.ts";
import { openPort } from "../index.ts";
import { Burst } from "../ethdev/port.ts";
import { Mempool } from "../mem/mempool.ts";
import { PcapWriter } from "../../drivers/pcap/file.ts";
import { monotonicNs } from "../sys/libc.ts";

const OPTIONS = {
  write: { type: "string", alias: "w", value: "FILE", help: "pcap file to write" },
  count: { type: "int", alias: "c", default: 0, min: 0, value: "N", help: "stop after N frames (0: no limit)" },
  duration: { type: "number", default: 0, min: 0, value: "S", help: "stop after S seconds (0: no limit)" },
  ns: { type: "bool", help: "nanosecond timestamps" },
  promiscuous: { type: "bool", default: true, help: "receive frames for any MAC" },
  quiet: { type: "bool", alias: "q", help: "no summary line" },
} as const;

const SYNOPSIS = "PORT -w FILE [-c N] [--duration S]";

export async function main(args: string[]): Promise<number> {
  const o = parseArgs("capture", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk capture", SYNOPSIS, OPTIONS));
    return 0;
  }
  if (o._.length !== 1) throw new UsageError(`capture: give exactly one port (got ${o._.length})`, `usage: bdk capture ${SYNOPSIS}`);
  if (!o.write) throw new UsageError("capture: no output file", "give -w FILE");
  const pool = Mempool.create({ count: 4096, name: "capture" });
  const port = openPort(o._[0]!, { pool, promiscuous: o.promiscuous });
  const writer = new PcapWriter(o.write, { nanosecond: o.ns });
  let stop = false;
  const removeSignal = onStopSignal(() => {
    stop = true;
  });
  let frames = 0;
  try {
    port.start();
    const burst = new Burst(32);
    const deadline = o.duration > 0 ? performance.now() + o.duration * 1000 : Infinity;
    // Wall-clock timestamps for the file, from one monotonic reading per burst.
    const wallOffsetNs = Date.now() * 1e6 - monotonicNs();
    while (!stop && (o.count === 0 || frames < o.count) && performance.now() < deadline) {
      const n = port.rxBurst(0, burst);
      if (n === 0) {
        if (port.rxWait) port.rxWait(0, 20);
        else await Bun.sleep(1);
        await Bun.sleep(0);
        continue;
      }
      const t = monotonicNs() + wallOffsetNs;
      const take = o.count === 0 ? n : Math.min(n, o.count - frames);
      for (let i = 0; i < take; i++) {
        const b = burst.bufs[i]!;
        writer.frame(pool.bytes, pool.offset(b), pool.len[b]!, t);
      }
      frames += take;
      burst.freeFrom(pool, 0);
      await Bun.sleep(0);
    }
  } finally {
    removeSignal();
    writer.close();
    port.close();
    pool.destroy();
  }
  if (!o.quiet) console.error(`capture: ${frames} frames written to ${o.write}`);
  return 0;
}
