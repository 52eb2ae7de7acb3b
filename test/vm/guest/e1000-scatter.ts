// Scattered RX and chained TX (run by test/vm/nics.test.ts on a crossed wire). Arguments: BIG SMALL. BIG
// (16 KiB buffers) sends 9014-byte test frames to SMALL, whose 2 KiB buffers take them as chains
// (RX_OFFLOAD_SCATTER, MTU 9000); SMALL sends each chain back as it came (multi-segment TX) and BIG checks
// the bytes.
import { Burst, Mempool, openPort, RX_OFFLOAD_SCATTER, TX_OFFLOAD_MULTI_SEGS } from "../../../src/index.ts";
import { testFrame, writeTestFrame } from "./frames.ts";
import { bdk, report } from "./lib.ts";

const [BIG, SMALL] = process.argv.slice(2) as [string, string];
report("bind", bdk("devbind", "--bind", "vfio-pci", BIG, SMALL, "--force").code);
const big = Mempool.create({ count: 1024, dataRoom: 16384, name: "big" });
const small = Mempool.create({ count: 2048, name: "small" });
const b = openPort(BIG, { pool: big, mtu: 9000 });
const s = openPort(SMALL, { pool: small, mtu: 9000, rxOffloads: RX_OFFLOAD_SCATTER, txOffloads: TX_OFFLOAD_MULTI_SEGS });
b.start();
s.start();
await Bun.sleep(1500); // QEMU's receive hold after RCTL is written
const N = 20;
const chains: { segs: number; pktLen: number; ok: boolean }[] = [];
const back: { len: number; ok: boolean }[] = [];
const burst = new Burst(32);
/** Polls `p` until a burst comes (or 5 s pass). */
async function receive(p: typeof b): Promise<number> {
  const until = Date.now() + 5000;
  for (;;) {
    const n = p.rxQueue(0).burst(burst);
    if (n > 0 || Date.now() > until) return n;
    await Bun.sleep(2);
  }
}
// One frame at a time: QEMU's UDP wire drops datagrams once its socket buffer (≈200 KB) is full.
for (let i = 0; i < N; i++) {
  burst.count = big.allocBulk(burst.bufs, 0, 1);
  big.len[burst.bufs[0]!] = writeTestFrame(i, big.bytes, big.offset(burst.bufs[0]!), 9014);
  burst.freeFrom(big, b.txQueue(0).burst(burst));
  // SMALL takes it as a chain, checks it, and sends it back as it came.
  if ((await receive(s)) === 0) break;
  const head = burst.bufs[0]!;
  const bytes = new Uint8Array(small.packetLength(head));
  let at = 0;
  for (let seg = head; seg >= 0; seg = small.next[seg]!) {
    bytes.set(small.bytes.subarray(small.offset(seg), small.offset(seg) + small.len[seg]!), at);
    at += small.len[seg]!;
  }
  const want = testFrame(i, 9014);
  chains.push({ segs: small.nbSegs[head]!, pktLen: small.packetLength(head), ok: bytes.length === want.length && bytes.every((x, k) => x === want[k]) });
  burst.count = 1;
  let off = 0;
  while (off < 1) off += s.txQueue(0).burst(burst, off);
  burst.count = 0;
  // BIG gets a whole frame back.
  if ((await receive(b)) === 0) break;
  const x = burst.bufs[0]!;
  const got = big.bytes.subarray(big.offset(x), big.offset(x) + big.len[x]!);
  back.push({ len: big.len[x]!, ok: got.length === want.length && got.every((v, k) => v === want[k]) });
  burst.freeFrom(big, 0);
}
await Bun.sleep(200);
b.close();
s.close();
small.flushCache();
big.flushCache();
report("scatter", { chains, back, leaked: [small.inUse(), big.inUse()] });
