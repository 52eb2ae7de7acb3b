// TCP segmentation offload (run by test/vm/igb.test.ts; NIC 0 on the host's tapA, whose tcpdump captures).
// Argument: the NIC's PCI address. Sends one TCP segment of 65 495 payload bytes (the largest an IPv4
// header can describe) as a chain of 2 KiB buffers with TX_TCP_SEG and an MSS of 1448: the NIC cuts it into
// 46 frames, each with its own IP length, IP checksum, TCP sequence number and TCP checksum.
import {
  Burst, Mempool, net, openPort, TX_IP_CKSUM, TX_IPV4, TX_OFFLOAD_IPV4_CKSUM, TX_OFFLOAD_MULTI_SEGS, TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_TCP_TSO,
  TX_TCP_CKSUM, TX_TCP_SEG,
} from "../../../src/index.ts";
import { bdk, report, waitSignal } from "./lib.ts";

export const TSO_PAYLOAD = 65_495;
export const TSO_MSS = 1448;
export const TSO_SEQ = 1_000_000;
/** Payload byte k of the test segment. */
export const tsoByte = (k: number): number => (k * 7 + (k >>> 8)) & 0xff;

if (import.meta.main) {
  const [A] = process.argv.slice(2) as [string];
  report("bind", bdk("devbind", "--bind", "vfio-pci", A, "--force").code);
  const pool = Mempool.create({ count: 1024, name: "tso" });
  const port = openPort(A, { pool, txOffloads: TX_OFFLOAD_TCP_TSO | TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_TCP_CKSUM | TX_OFFLOAD_MULTI_SEGS });
  port.start();
  const until = Date.now() + 5000;
  while (!port.link().up && Date.now() < until) await Bun.sleep(20);
  report("tso-ready", { mac: port.macAddress() });
  await waitSignal("capturing", 60_000);

  // The head buffer: Ethernet, IPv4 and TCP headers. IP checksum 0 and the TCP checksum field holding the
  // pseudo-header sum without the length, as DPDK asks for TSO (the NIC adds each segment's length).
  const head = pool.alloc();
  const o = pool.offset(head);
  const bytes = pool.bytes;
  bytes.fill(0xff, o, o + 6);
  bytes.set(net.parseMac(port.macAddress()), o + 6);
  bytes[o + 12] = 0x08;
  bytes[o + 13] = 0x00;
  net.ipv4Write(bytes, o + 14, 0, 40 + TSO_PAYLOAD, 7, 0x4000, 64, 6, 0xc0000201, 0xc0000202);
  bytes[o + 24] = 0;
  bytes[o + 25] = 0;
  net.tcpWrite(bytes, o + 34, 40000, 5001, TSO_SEQ, 0, 0x18, 65535);
  const seed = net.checksumFold(net.ipv4PseudoSum(bytes, o + 14, 6, 0));
  bytes[o + 50] = seed >> 8;
  bytes[o + 51] = seed & 0xff;
  pool.len[head] = 54;
  // The payload in 2 KiB segments chained to it.
  for (let k = 0; k < TSO_PAYLOAD; ) {
    const seg = pool.alloc();
    const n = Math.min(2048, TSO_PAYLOAD - k);
    const so = pool.offset(seg);
    for (let i = 0; i < n; i++) bytes[so + i] = tsoByte(k + i);
    pool.len[seg] = n;
    pool.chainAppend(head, seg);
    k += n;
  }
  pool.txOffload[head] = TX_TCP_SEG | TX_TCP_CKSUM | TX_IP_CKSUM | TX_IPV4;
  pool.l2Len[head] = 14;
  pool.l3Len[head] = 20;
  pool.l4Len[head] = 20;
  pool.tsoSegsz[head] = TSO_MSS;
  const burst = new Burst(1);
  burst.push(head);
  const segs = pool.nbSegs[head]!;
  const sent = port.txQueue(0).burst(burst);
  burst.freeFrom(pool, sent);
  await Bun.sleep(1000);
  report("tso", { sent, segs, stats: port.stats() });
  port.close();
  pool.flushCache();
  report("tso-leak", pool.inUse());
  report("done", true);
}
