// How many Mpps one af_packet port sends on a veth pair, burst 32, 64-byte frames, the peer in a namespace and
// counted by the kernel (/sys/class/net/B/statistics/rx_packets) — the setup of DPDK's testpmd txonly figure
// on net_af_packet in shared/notes/anchors.md (0.78 Mpps here). Root only; not a test.
//
//   bun bench/af_packet-tx.ts [seconds=5] [runs=3] [extra spec args, e.g. frames=1024]
import { Burst } from "../src/ethdev/port.ts";
import { Mempool } from "../src/mem/mempool.ts";
import { openPort } from "../src/index.ts";
import { linkStat, withVethPair } from "../test/helpers/netns.ts";
import type { AfPacketPort } from "../drivers/af_packet/index.ts";

const seconds = Number(process.argv[2] ?? 5);
const runs = Number(process.argv[3] ?? 3);
const extra = process.argv[4] ? `,${process.argv[4]}` : "";
const FRAME = 64;
const BURST = 32;

function frame(dst: string, src: string): Uint8Array {
  const f = new Uint8Array(FRAME);
  f.set(dst.split(":").map((x) => parseInt(x, 16)), 0);
  f.set(src.split(":").map((x) => parseInt(x, 16)), 6);
  f.set([0x08, 0x00, 0x45, 0, 0, FRAME - 14, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], 12);
  f.set([0x04, 0x00, 0x04, 0x00, 0, FRAME - 34, 0, 0], 34);
  return f;
}

function sendFor(port: AfPacketPort, pool: Mempool, tpl: Uint8Array, ms: number): { sent: number; kicks: number } {
  const txq = port.txQueue(0); // a hot loop holds the queue: no lookup per burst
  const burst = new Burst(BURST);
  const bytes = pool.bytes;
  const len = pool.len;
  const kicks0 = port.txKicks();
  let sent = 0;
  const until = performance.now() + ms;
  let iter = 0;
  while (true) {
    if ((++iter & 63) === 0 && performance.now() >= until) break;
    if (pool.allocBulk(burst.bufs, 0, BURST) === 0) continue;
    for (let k = 0; k < BURST; k++) {
      const b = burst.bufs[k]!;
      bytes.set(tpl, pool.offset(b));
      len[b] = FRAME;
    }
    burst.count = BURST;
    const n = txq.burst(burst);
    sent += n;
    burst.freeFrom(pool, n);
  }
  return { sent, kicks: port.txKicks() - kicks0 };
}

const pool = Mempool.create({ count: 8192, hugepages: "never", name: "measure-tx" });
await withVethPair(async ({ a, b, nsB, macA }) => {
  const spec = `af_packet:${a}${extra}`;
  const port = openPort(spec) as AfPacketPort;
  try {
    port.configure({ pool, promiscuous: false });
    port.start();
    // As testpmd's txonly: to 02:00:00:00:00:00 (its default peer address for port 0), not to B's own MAC, so
    // that the peer's stack drops the frame as soon as it sees it is for another host.
    const tpl = frame("02:00:00:00:00:00", macA);
    sendFor(port, pool, tpl, 500); // warm-up: JIT tiers, ring pages
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const rx0 = linkStat(b, "rx_packets", nsB);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const { sent, kicks } = sendFor(port, pool, tpl, seconds * 1000);
      const cpu = process.cpuUsage(cpu0);
      const dt = (performance.now() - t0) / 1000;
      await Bun.sleep(50);
      const rx = linkStat(b, "rx_packets", nsB) - rx0;
      rates.push(rx / dt / 1e6);
      console.log(`run ${r + 1}: port sent ${(sent / dt / 1e6).toFixed(3)} Mpps (${(sent / kicks).toFixed(1)} frames/kick), ` +
        `peer ${b} counted ${(rx / dt / 1e6).toFixed(3)} Mpps; CPU per frame: user ${(cpu.user * 1000 / sent).toFixed(0)} ns, ` +
        `system ${(cpu.system * 1000 / sent).toFixed(0)} ns; on CPU ${(((cpu.user + cpu.system) / 1e6 / dt) * 100).toFixed(0)} % of the time`);
    }
    rates.sort((x, y) => x - y);
    console.log(`median ${rates[Math.floor(rates.length / 2)]!.toFixed(3)} Mpps at the peer (${spec}, burst ${BURST}, ${FRAME}-byte frames); ` +
      `DPDK testpmd txonly net_af_packet here: 0.78 Mpps`);
    console.log(port.stats());
  } finally {
    port.close();
  }
}, { nsB: true });
pool.destroy();
