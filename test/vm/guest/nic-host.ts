// Two chip ports against the host kernel (run by test/vm/nic-suites.ts; the host side captures, pings and
// generates). Arguments: the two NICs' PCI addresses; NIC 0 is wired to the host's tapA (namespace A),
// NIC 1 to tapB (namespace B).
//   1. TX: 10 000 test frames of mixed sizes (60..1514) leave NIC 0, then 100 jumbo frames of 9000 bytes
//      with MTU 9000; the host's tcpdump checks them byte for byte.
//   2. Forwarding: `bdk l2fwd` between the two while the host pings across and streams
//      sequence-numbered frames; stopped when the host says so, its JSON summary reported.
import {
  Burst, Mempool, net, openPort, TX_IP_CKSUM, TX_OFFLOAD_IPV4_CKSUM, TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_UDP_CKSUM, TX_TCP_CKSUM, TX_UDP_CKSUM,
  type Port,
} from "../../../src/index.ts";
import { offloadFrame, writeTestFrame } from "./frames.ts";
import { bdk, BUN, PROJECT, report, waitSignal } from "./lib.ts";

const [A, B] = process.argv.slice(2) as [string, string];
report("bind", bdk("devbind", "--bind", "vfio-pci", A, B, "--force").code);

async function waitUp(p: Port): Promise<void> {
  const until = Date.now() + 5000;
  while (!p.link().up && Date.now() < until) await Bun.sleep(20);
  await Bun.sleep(1200); // QEMU holds receive for a second after RCTL is written
}

/**
 * Sends frames made by `make(i, buffer)` until all `count` went; returns how many. Paced at 32 frames per
 * millisecond or so: the host's TAP hands what it gets to a backlog of 1000 frames that a busy host drains
 * late (frames beyond it are dropped before tcpdump sees them), and this test is about bytes, not speed.
 */
async function send(p: Port, pool: Mempool, count: number, make: (i: number, b: number) => void): Promise<number> {
  const txq = p.txQueue(0);
  const burst = new Burst(32);
  let sent = 0;
  const until = Date.now() + 120_000;
  while (sent < count && Date.now() < until) {
    const n = pool.allocBulk(burst.bufs, 0, Math.min(32, count - sent));
    if (n === 0) continue;
    burst.count = n;
    for (let k = 0; k < n; k++) make(sent + k, burst.bufs[k]!);
    let off = 0;
    while (off < n && Date.now() < until) off += txq.burst(burst, off);
    burst.freeFrom(pool, off);
    sent += off;
    await Bun.sleep(1);
  }
  return sent;
}

// ---- 1. TX to the host ----
{
  const pool = Mempool.create({ count: 2048, dataRoom: 16384, name: "tx" });
  const a = openPort(A, { pool, txRingSize: 256, rxRingSize: 256, txOffloads: TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_UDP_CKSUM | TX_OFFLOAD_TCP_CKSUM });
  a.start();
  await waitUp(a);
  const sent = await send(a, pool, 10_000, (i, b) => {
    pool.len[b] = writeTestFrame(i, pool.bytes, pool.offset(b));
  });
  a.setMtu(9000);
  const jumbo = await send(a, pool, 100, (i, b) => {
    pool.len[b] = writeTestFrame(10_000 + i, pool.bytes, pool.offset(b), 9000);
  });
  // Checksum offload: IPv4 header sums zeroed, L4 fields holding the pseudo-header sum; the NIC fills both.
  const offloaded = await send(a, pool, 40, (i, b) => {
    const f = offloadFrame(i, pool.bytes, pool.offset(b), net);
    pool.len[b] = f.len;
    pool.txOffload[b] = TX_IP_CKSUM | (f.l4 === "tcp" ? TX_TCP_CKSUM : TX_UDP_CKSUM);
    pool.l2Len[b] = 14;
    pool.l3Len[b] = 20;
  });
  // Let the last descriptors go out before closing.
  await Bun.sleep(500);
  report("tx", { offloaded, sent, jumbo, stats: a.stats(), hwTxPackets: a.xstats().find((x) => x.name === "tx_good_packets_hw")?.value });
  a.close();
  pool.flushCache();
  report("tx-leak", pool.inUse());
  pool.destroy();
}

// ---- 2. l2fwd between the two NICs ----
{
  const fw = Bun.spawn([BUN, `${PROJECT}/apps/l2fwd.ts`, A, B, "--no-mac-updating", "--period", "0", "--link-wait", "5", "--json", "--ring-size", "512",
    "--mtu", "9000", "--pool", "2048"],
    { cwd: PROJECT, stdout: "pipe", stderr: "pipe" });
  let err = "";
  const pump = (async () => {
    for await (const chunk of fw.stderr) {
      err += new TextDecoder().decode(chunk);
      if (/<-> port 1/.test(err) && !err.includes("@@sent-ready")) {
        err += "@@sent-ready";
        await Bun.sleep(1500); // RCTL's hold
        report("fwd-ready", true);
      }
    }
  })();
  await waitSignal("fwd-done", 240_000);
  fw.kill("SIGINT");
  const out = await new Response(fw.stdout).text();
  const code = await fw.exited;
  await pump;
  report("fwd", { code, summary: JSON.parse(out.trim().split("\n").pop() ?? "null"), err: err.replace("@@sent-ready", "").split("\n").slice(-8) });
}
report("done", true);
