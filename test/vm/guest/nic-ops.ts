// Chip port operations (run by test/vm/nic-suites.ts with both NICs on UDP wires the host watches):
//   1. bad input: ring sizes, queue counts, MTU and offloads the chip refuses (past the limits its
//      capabilities state), RSS of a port without it, one clear error each;
//   2. 100 open/configure/start/stop/close cycles leave no fd, mapping or buffer behind;
//   3. l2fwd with a pinned worker: the host pulls NIC 0's cable (QMP set_link) and plugs it back, l2fwd
//      reports both events and forwards again; idle, it sleeps on the RX interrupt (CPU over 10 s); the first
//      frame after the idle period is forwarded; SIGINT prints the summary and releases the devices, which
//      the next open takes at once.
import { readFileSync } from "node:fs";
import { Mempool, openPort, RX_OFFLOAD_NAMES, TX_OFFLOAD_NAMES, type OpenOptions, type PortCapabilities } from "../../../src/index.ts";
import { bdk, BUN, fdCount, mapsCount, PROJECT, report, waitSignal } from "./lib.ts";

const [A, B] = process.argv.slice(2) as [string, string];
report("bind", bdk("devbind", "--bind", "vfio-pci", A, B, "--force").code);
const pool = Mempool.create({ count: 2048, name: "ops" });

// ---- 1. bad input ----
function refusal(addr: string, options: OpenOptions): string {
  try {
    openPort(addr, { pool, ...options }).close();
    return "(accepted)";
  } catch (e) {
    return (e as Error).message;
  }
}
function capabilities(addr: string): PortCapabilities {
  const p = openPort(addr, { pool });
  const c = p.info();
  p.close();
  return c;
}
/** The first offload of `names` that `has` lacks. */
const lacking = (names: Readonly<Record<number, string>>, has: number): number => Number(Object.keys(names).find((bit) => (has & Number(bit)) === 0) ?? 0);
const [capA, capB] = [capabilities(A), capabilities(B)];
const rxLacks = lacking(RX_OFFLOAD_NAMES, capA.rxOffloads ?? 0);
const txLacks = lacking(TX_OFFLOAD_NAMES, capA.txOffloads ?? 0);
report("bad", {
  ringSmall: refusal(A, { rxRingSize: 4 }),
  ringBig: refusal(A, { txRingSize: 8192 }),
  queues: refusal(B, { rxQueues: capB.maxRxQueues + 1 }),
  mtuA: refusal(A, { mtu: capA.maxFrameSize - 17 }),
  mtuB: refusal(B, { mtu: capB.maxFrameSize - 17 }),
  mtuPool: refusal(A, { mtu: 9000 }),
  offload: txLacks !== 0 ? refusal(A, { txOffloads: txLacks }) : refusal(A, { rxOffloads: rxLacks }),
  rss: capA.rss ? "(has RSS)" : refusal(A, { rss: {} }),
  vectors: refusal(`${A},vectors=99`, {}),
});

// Flow control stays at the chip's default and is reported.
{
  const p = openPort(A, { pool });
  report("flow-control", p.xstats().filter((x) => x.name.startsWith("flow_control")).map((x) => x.name));
  p.close();
}

// ---- 2. cycles ----
{
  // A few first: the runtime's own first-use mappings (JIT, heap growth) are not the driver's.
  for (let i = 0; i < 5; i++) openPort(A, { pool, rxRingSize: 64, txRingSize: 64 }).close();
  const fds = fdCount();
  const maps = mapsCount();
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    const p = openPort(i % 2 === 0 ? A : B, { pool, rxRingSize: 64, txRingSize: 64 });
    p.start();
    p.stop();
    p.close();
  }
  pool.flushCache();
  report("cycles", { fds: [fds, fdCount()], maps: [maps, mapsCount()], inUse: pool.inUse(), ms: performance.now() - t0 });
}

// ---- 3. l2fwd: link flap, idle, SIGINT ----
{
  const fw = Bun.spawn([BUN, `${PROJECT}/apps/l2fwd.ts`, A, B, "--cores", "1", "--period", "0", "--link-wait", "5", "--json"],
    { cwd: PROJECT, stdout: "pipe", stderr: "pipe" });
  let err = "";
  let ready = false;
  const pump = (async () => {
    for await (const chunk of fw.stderr) {
      err += new TextDecoder().decode(chunk);
      if (!ready && /<-> port 1/.test(err)) {
        ready = true;
        await Bun.sleep(1500); // QEMU's RCTL hold
        report("fwd-ready", true);
      }
    }
  })();
  await waitSignal("flap-done", 120_000);
  // Idle: what l2fwd (all its threads) used of the CPU over 10 s, from /proc.
  const ticks = (): number => {
    const f = readFileSync(`/proc/${fw.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  };
  const t0 = ticks();
  const w0 = performance.now();
  await Bun.sleep(10_000);
  const cpu = ((ticks() - t0) / 100) / ((performance.now() - w0) / 1000);
  report("idle", { cpu });
  await waitSignal("first-frame-done", 60_000);
  fw.kill("SIGINT");
  const out = await new Response(fw.stdout).text();
  const code = await fw.exited;
  await pump;
  const summary = JSON.parse(out.trim().split("\n").pop() ?? "null");
  // Released: a new open takes both devices at once.
  const t1 = performance.now();
  let reopen = "ok";
  try {
    openPort(A, { pool }).close();
    openPort(B, { pool }).close();
  } catch (e) {
    reopen = (e as Error).message;
  }
  report("fwd", { code, summary, reopen, reopenMs: performance.now() - t1, log: err.split("\n").filter((l) => /link/.test(l)) });
}
report("done", true);
