// Exploration: bind the e1000 and e1000e to vfio-pci, open both, and move frames e1000 → e1000e over a
// crossed wire (the rig's udp=A:B / udp=B:A netdevs). Prints @@ lines.
import { Burst, Mempool, openPort } from "../../../src/index.ts";
import { bdk, report } from "./lib.ts";

const A = "0000:00:02.0";
const B = "0000:00:03.0";
report("bind", bdk("devbind", "--bind", "vfio-pci", A, B, "--force"));
const pool = Mempool.create({ count: 4096, name: "smoke" });
const t0 = performance.now();
const a = openPort(A, { pool, rxRingSize: 256, txRingSize: 256 });
const b = openPort(B, { pool, rxRingSize: 256, txRingSize: 256 });
report("open", { ms: performance.now() - t0, a: a.driver, b: b.driver, macA: a.macAddress(), macB: b.macAddress() });
a.start();
b.start();
const until = Date.now() + 5000;
while ((!a.link().up || !b.link().up) && Date.now() < until) Bun.sleepSync(20);
report("link", { a: a.link(), b: b.link(), ms: performance.now() - t0 });
Bun.sleepSync(1200); // QEMU holds receive for a second after RCTL is written
const tx = new Burst(32);
const rx = new Burst(32);
let sent = 0;
let got = 0;
const N = 2000;
const end = Date.now() + 20000;
while (got < N && Date.now() < end) {
  if (sent < N && sent - got < 128) {
    tx.count = pool.allocBulk(tx.bufs, 0, Math.min(32, N - sent));
    for (let i = 0; i < tx.count; i++) {
      const x = tx.bufs[i]!;
      const off = pool.offset(x);
      pool.bytes.fill(0xff, off, off + 6);
      pool.bytes.fill(0x02, off + 6, off + 12);
      pool.bytes[off + 12] = 0x88;
      pool.bytes[off + 13] = 0xb5;
      pool.len[x] = 60 + (i % 4);
    }
    const took = a.txQueue(0).burst(tx);
    sent += took;
    tx.freeFrom(pool, took);
  }
  const n = b.rxQueue(0).burst(rx);
  got += n;
  rx.freeFrom(pool, 0);
}
report("moved", { sent, got, ms: performance.now() - t0, statsA: a.stats(), statsB: b.stats() });
report("xstats", b.xstats().filter((x) => x.value !== 0));
a.close();
b.close();
pool.flushCache();
report("end", { inUse: pool.inUse() });
