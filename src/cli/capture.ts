// `bdk capture PORT -w FILE [-c N]`: what a port receives, written to a pcap file (tcpdump -r reads it).
// The loop polls the port's RX queue objects and, when none has frames, sleeps on an RxWaiter over them.
import { helpText, parseArgs, UsageError } from "../../apps/common/args.ts";
import { Burst, Mempool, monotonicNs, onStopSignal, openPort, PcapWriter, RxWaiter, type Port, type RxQueue } from "../index.ts";

const OPTIONS = {
  write: { type: "string", alias: "w", value: "FILE", help: "pcap file to write" },
  count: { type: "int", alias: "c", default: 0, min: 0, value: "N", help: "stop after N frames (0: no limit)" },
  duration: { type: "number", default: 0, min: 0, value: "S", help: "stop after S seconds (0: no limit)" },
  ns: { type: "bool", help: "nanosecond timestamps" },
  promiscuous: { type: "bool", default: true, help: "receive frames for any MAC" },
  quiet: { type: "bool", alias: "q", help: "no summary line" },
} as const;

const SYNOPSIS = "PORT -w FILE [-c N] [--duration S]";

/** How long one sleep on the waiter lasts at most (ms): stop requests and the deadline are seen this often. */
const WAIT_MS = 20;

export async function main(args: string[]): Promise<number> {
  const o = parseArgs("capture", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk capture", SYNOPSIS, OPTIONS));
    return 0;
  }
  if (o._.length !== 1) throw new UsageError(`capture: give exactly one port (got ${o._.length})`, `usage: bdk capture ${SYNOPSIS}`);
  if (!o.write) throw new UsageError("capture: no output file", "give -w FILE");
  const pool = Mempool.create({ count: 4096, name: "capture" });
  let port: Port | undefined;
  let writer: PcapWriter | undefined;
  let stop = false;
  const removeSignal = onStopSignal(() => {
    stop = true;
  });
  let frames = 0;
  let waiter: RxWaiter | undefined;
  try {
    port = openPort(o._[0]!, { pool, promiscuous: o.promiscuous });
    port.start();
    // The output file is made only once the port works: a port that cannot open leaves no empty file behind.
    writer = new PcapWriter(o.write, { nanosecond: o.ns });
    // The queue objects (and the waiter over their fds) exist once the port is started.
    const queues: RxQueue[] = [];
    for (let q = 0; q < port.config!.rxQueues; q++) queues.push(port.rxQueue(q));
    waiter = new RxWaiter(queues);
    const burst = new Burst(32);
    const deadline = o.duration > 0 ? performance.now() + o.duration * 1000 : Infinity;
    // Wall-clock timestamps for the file, from one monotonic reading per burst.
    const wallOffsetNs = Date.now() * 1e6 - monotonicNs();
    const limit = o.count;
    while (!stop && (limit === 0 || frames < limit) && performance.now() < deadline) {
      let got = 0;
      for (let q = 0; q < queues.length && (limit === 0 || frames < limit); q++) {
        const n = queues[q]!.burst(burst);
        if (n === 0) continue;
        got += n;
        const t = monotonicNs() + wallOffsetNs;
        const take = limit === 0 ? n : Math.min(n, limit - frames);
        for (let i = 0; i < take; i++) {
          const b = burst.bufs[i]!;
          writer.frame(pool.bytes, pool.offset(b), pool.len[b]!, t);
        }
        frames += take;
        burst.freeFrom(pool, 0);
      }
      if (got === 0) waiter.wait(Math.max(0, Math.min(WAIT_MS, deadline - performance.now())));
      await Bun.sleep(0);
    }
  } finally {
    removeSignal();
    waiter?.close();
    try {
      writer?.close();
    } finally {
      port?.close();
      pool.destroy();
    }
  }
  if (!o.quiet) console.error(`capture: ${frames} frames written to ${o.write}`);
  return 0;
}
