// Receive filters and VLAN offloads of a chip port (run by test/vm/nic-suites.ts on a crossed wire: what
// one NIC sends, the other receives). Arguments: SENDER RECEIVER. For each filter setting of the receiver,
// the sender sends seven frames (ids 1..7) and the receiver reports which ids arrived:
//   1 unicast to the receiver   2 unicast to another MAC   3 broadcast   4 multicast 01:00:5e:00:00:fb
//   5 multicast 01:00:5e:00:00:fc   6 to the receiver, VLAN 100   7 to the receiver, VLAN 200
// A third argument prefixes the report names (two runs in one guest).
import { offloadFrame } from "./frames.ts";
import {
  Burst, Mempool, net, openPort, RX_OFFLOAD_IPV4_CKSUM, RX_OFFLOAD_TCP_CKSUM, RX_OFFLOAD_UDP_CKSUM, BUF_IP_CSUM_MASK, BUF_L4_CSUM_MASK, RX_OFFLOAD_VLAN_FILTER, RX_OFFLOAD_VLAN_STRIP, TX_OFFLOAD_VLAN_INSERT, TX_VLAN, BUF_VLAN_STRIPPED,
  type Port, type PortConfig,
} from "../../../src/index.ts";
import { bdk, report } from "./lib.ts";

const [S, R, prefix = ""] = process.argv.slice(2) as [string, string, string?];
const say = (name: string, value: unknown): void => report(`${prefix}${name}`, value);
report("bind", bdk("devbind", "--bind", "vfio-pci", S, R, "--force").code);
const pool = Mempool.create({ count: 2048, name: "filters" });
const hold = (): Promise<void> => Bun.sleep(1300); // QEMU holds receive for a second after RCTL is written

const macBytes = (mac: string): number[] => mac.split(":").map((x) => parseInt(x, 16));

function frame(id: number, dst: string, vid?: number): Uint8Array {
  const f = new Uint8Array(64);
  f.set(macBytes(dst), 0);
  f.set([0x02, 0, 0, 0, 0, 0x55], 6);
  let at = 12;
  if (vid !== undefined) {
    f.set([0x81, 0x00, vid >> 8, vid & 0xff], 12);
    at = 16;
  }
  f.set([0x88, 0xb5, 0xbd, id], at);
  return f;
}

function send(s: Port, frames: Uint8Array[], tag?: number): void {
  const burst = new Burst(32);
  burst.count = pool.allocBulk(burst.bufs, 0, frames.length);
  frames.forEach((f, i) => {
    const b = burst.bufs[i]!;
    pool.bytes.set(f, pool.offset(b));
    pool.len[b] = f.length;
    if (tag !== undefined) {
      pool.txOffload[b] = TX_VLAN;
      pool.vlanTci[b] = tag;
    }
  });
  const took = s.txQueue(0).burst(burst);
  burst.freeFrom(pool, took);
}

/** What arrived within `ms`: each frame's id, length, stripped tag and first tag bytes. */
async function receive(r: Port, ms = 700): Promise<{ id: number; len: number; strippedVid?: number; tagInFrame?: number }[]> {
  const out: { id: number; len: number; strippedVid?: number; tagInFrame?: number }[] = [];
  const burst = new Burst(32);
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const n = r.rxQueue(0).burst(burst);
    for (let i = 0; i < n; i++) {
      const b = burst.bufs[i]!;
      const o = pool.offset(b);
      const tagged = pool.bytes[o + 12] === 0x81 && pool.bytes[o + 13] === 0x00;
      const at = tagged ? o + 16 : o + 12;
      if (pool.bytes[at] !== 0x88 || pool.bytes[at + 1] !== 0xb5 || pool.bytes[at + 2] !== 0xbd) continue;
      out.push({
        id: pool.bytes[at + 3]!, len: pool.len[b]!,
        ...((pool.flags[b]! & BUF_VLAN_STRIPPED) !== 0 ? { strippedVid: pool.vlanTci[b]! & 0xfff } : {}),
        ...(tagged ? { tagInFrame: ((pool.bytes[o + 14]! << 8) | pool.bytes[o + 15]!) & 0xfff } : {}),
      });
    }
    burst.freeFrom(pool, 0);
    if (n === 0) await Bun.sleep(5);
  }
  return out;
}

const s = openPort(S, { pool });
s.start();
let r = openPort(R, { pool });
r.start();
const mac = r.macAddress();
const seven = (): Uint8Array[] => [
  frame(1, mac), frame(2, "02:00:00:00:99:99"), frame(3, "ff:ff:ff:ff:ff:ff"), frame(4, "01:00:5e:00:00:fb"),
  frame(5, "01:00:5e:00:00:fc"), frame(6, mac, 100), frame(7, mac, 200),
];
async function phase(name: string, setup: () => void): Promise<void> {
  setup();
  await hold();
  await receive(r, 50); // nothing stale
  send(s, seven());
  say(name, await receive(r));
}
const until = Date.now() + 5000;
while ((!s.link().up || !r.link().up) && Date.now() < until) await Bun.sleep(20);

await phase("promiscuous", () => r.setPromiscuous(true));
await phase("plain", () => r.setPromiscuous(false));
await phase("allmulti", () => r.setAllMulticast(true));
await phase("mclist", () => {
  r.setAllMulticast(false);
  r.setMulticastAddresses(["01:00:5e:00:00:fb"]);
});

function reconfigure(config: Partial<PortConfig>): void {
  r.close();
  r = openPort(R, { pool, promiscuous: false, ...config });
  r.start();
}
await phase("vlan-filter-strip", () => {
  reconfigure({ rxOffloads: RX_OFFLOAD_VLAN_FILTER | RX_OFFLOAD_VLAN_STRIP });
  r.setVlanFilter(100, true);
});
await phase("vlan-keep", () => reconfigure({}));
// RX checksum status: good UDP, good TCP, a bad IPv4 header sum, a bad UDP sum; flags as the NIC reports them.
reconfigure({ promiscuous: true, rxOffloads: RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM });
await hold();
{
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) {
    const f = new Uint8Array(128);
    const { len } = offloadFrame(i === 3 ? 2 : i, f, 0, net, true);
    if (i === 2) f[14 + 10] ^= 0xff; // IPv4 header checksum
    if (i === 3) f[14 + 20 + 6] ^= 0xff; // UDP checksum
    if (i === 3) f[14 + 5] = 3; // IP id: tell it apart from frame 2
    if (i === 3) net.ipv4UpdateChecksum(f, 14);
    frames.push(f.subarray(0, len));
  }
  send(s, frames);
  const got: { id: number; ip: number; l4: number }[] = [];
  const burst = new Burst(32);
  const until = Date.now() + 700;
  while (Date.now() < until) {
    const n = r.rxQueue(0).burst(burst);
    for (let i = 0; i < n; i++) {
      const b = burst.bufs[i]!;
      const o = pool.offset(b);
      if (pool.bytes[o + 12] !== 0x08 || pool.bytes[o + 13] !== 0x00) continue;
      got.push({ id: pool.bytes[o + 19]!, ip: pool.flags[b]! & BUF_IP_CSUM_MASK, l4: pool.flags[b]! & BUF_L4_CSUM_MASK });
    }
    burst.freeFrom(pool, 0);
    if (n === 0) await Bun.sleep(5);
  }
  say("rx-csum", got);
}
// TX VLAN insert: the sender tags an untagged frame; the receiver keeps tags.
s.close();
let refused = "";
try {
  openPort(S, { pool, txOffloads: TX_OFFLOAD_VLAN_INSERT }).close();
} catch (e) {
  refused = (e as Error).message;
}
say("insert-without-strip", refused || "(accepted)");
const tagger = openPort(S, { pool, rxOffloads: RX_OFFLOAD_VLAN_STRIP, txOffloads: TX_OFFLOAD_VLAN_INSERT });
tagger.start();
await hold();
send(tagger, [frame(1, mac)], 300);
say("vlan-insert", await receive(r));
tagger.close();
r.close();
say("done", true);
