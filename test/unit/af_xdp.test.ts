// af_xdp against the kernel, over veth pairs in namespaces these tests make and remove (root only): exact bytes
// both ways checked with tcpdump on the peer; kernel ARP/ICMP through `bdk l2fwd af_xdp:a af_xdp:b`; frames on
// a queue no socket is bound to stay with the kernel; the refusals, each one line with its fix; 50 open/close
// cycles and a SIGKILL mid-run leave no XDP program, fd or mapping; nothing retained per frame over a million;
// bdk capture; two queues, two pinned workers, 1 M sequence-numbered frames, 0 lost. No timing asserts.
import { afterAll, describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpus } from "node:os";
import { spawn } from "bun";
import { AfXdpError, AfXdpPort, attachedXdpProgram } from "../../drivers/af_xdp/index.ts";
import { redirectProgram } from "../../drivers/af_xdp/bpf.ts";
import { BdkError, Burst, Mempool, openPort, type Port } from "../../src/index.ts";
import { isRoot } from "../../src/sys/libc.ts";
import { Capture, execIn, ip, linkStat, readPcap, run, sendRawFrames, TestNet } from "../helpers/netns.ts";

process.env.BDK_AF_XDP_QUIET = "1";
const ROOT = `${import.meta.dir}/../..`;
const BDK = `${ROOT}/bin/bdk`;
const ETHERTYPE = 0x88b5;
/** Every CPU of the machine as a sysfs CPU mask ("3" on two). */
const ALL_CPUS = ((2 ** cpus().length) - 1).toString(16); // local experimental: no kernel answers it

const nets: TestNet[] = [];
afterAll(() => {
  for (const n of nets) n.cleanup();
});

function net(): TestNet {
  const n = new TestNet();
  nets.push(n);
  return n;
}

/** What `ip link` shows of an interface's XDP program: undefined when it has none. */
function xdpOf(iface: string, ns?: string): unknown {
  const out = JSON.parse(run(ns ? ["ip", "-n", ns, "-j", "-d", "link", "show", "dev", iface] : ["ip", "-j", "-d", "link", "show", "dev", iface]).stdout) as { xdp?: unknown }[];
  return out[0]!.xdp;
}

/** A frame of `len` bytes to `dst` from `src`, EtherType 0x88b5, payload from `seed`. */
function frame(len: number, seed: number, dst = "ff:ff:ff:ff:ff:ff", src = "02:00:00:00:00:01"): Uint8Array {
  const f = new Uint8Array(len);
  dst.split(":").forEach((h, i) => (f[i] = parseInt(h, 16)));
  src.split(":").forEach((h, i) => (f[6 + i] = parseInt(h, 16)));
  f[12] = ETHERTYPE >> 8;
  f[13] = ETHERTYPE & 0xff;
  for (let i = 14; i < len; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Mappings of this process: a ring left mapped would add its own line. */
function mappings(): number {
  return readFileSync("/proc/self/maps", "utf8").split("\n").length;
}

function sendAll(port: Port, pool: Mempool, frames: readonly Uint8Array[]): number {
  const burst = new Burst(32);
  let sent = 0;
  for (let i = 0; i < frames.length;) {
    burst.count = 0;
    while (burst.count < 32 && i < frames.length) {
      const b = pool.take();
      pool.len[b] = frames[i]!.length;
      pool.bytes.set(frames[i]!, pool.offset(b));
      burst.push(b);
      i++;
    }
    let at = 0;
    for (let tries = 0; at < burst.count && tries < 10000; tries++) at += port.txQueue(0).burst(burst, at);
    sent += at;
    burst.freeFrom(pool, at);
  }
  return sent;
}

async function receive(port: Port, pool: Mempool, want: number, ms = 5000): Promise<Uint8Array[]> {
  const burst = new Burst(32);
  const got: Uint8Array[] = [];
  const until = Date.now() + ms;
  while (got.length < want && Date.now() < until) {
    const n = port.rxQueue(0).burst(burst);
    for (let i = 0; i < n; i++) {
      const b = burst.bufs[i]!;
      const off = pool.offset(b);
      const bytes = pool.bytes.slice(off, off + pool.len[b]!);
      if (bytes[12] === ETHERTYPE >> 8 && bytes[13] === (ETHERTYPE & 0xff)) got.push(bytes);
    }
    burst.freeFrom(pool, 0);
    if (n === 0) await Bun.sleep(1);
  }
  return got;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await Bun.sleep(20);
  }
  return true;
}

test("the redirect program: five instructions, encoded as the kernel reads them (no root needed)", () => {
  const p = redirectProgram(7);
  const hex = Array.from(p, (b) => b.toString(16).padStart(2, "0")).join("");
  expect(hex).toBe(
    "6112100000000000" + // r2 = *(u32 *)(r1 + 16): ctx->rx_queue_index
    "1811000007000000" + "0000000000000000" + // r1 = map fd 7 (ld_imm64, BPF_PSEUDO_MAP_FD)
    "b703000002000000" + // r3 = XDP_PASS
    "8500000033000000" + // call bpf_redirect_map (51)
    "9500000000000000", // exit
  );
});

test("bad af_xdp specs are refused before anything is opened, naming what is accepted (no root needed)", () => {
  const refused = (spec: string): string => {
    try {
      openPort(spec).close();
    } catch (e) {
      expect(e).toBeInstanceOf(BdkError);
      return (e as Error).message;
    }
    throw new Error(`${spec} was not refused`);
  };
  expect(refused("af_xdp:")).toContain("iface");
  expect(refused("af_xdp:lo,queues=0")).toContain("queues=0 is out of range");
  expect(refused("af_xdp:lo,queue=-1")).toContain("queue=");
  expect(refused("af_xdp:lo,queue=5000")).toContain("queue=5000 is out of range");
  expect(refused("af_xdp:lo,frames=100")).toContain("power of two");
  expect(refused("af_xdp:lo,zerocopy=maybe")).toContain("zerocopy=auto, on or off");
  expect(refused("af_xdp:lo,mode=turbo")).toContain("mode=native or mode=generic");
  expect(refused("af_xdp:no-such-if0")).toContain("no-such-if0");
});

describe.skipIf(!isRoot())("af_xdp on veth", () => {
  test("exact bytes both ways: 300 frames of 60..1514 bytes to tcpdump on the peer, and from the peer", async () => {
    const v = net().vethPair({ nsB: true });
    const pool = Mempool.create({ count: 4096, name: "xdp-bytes" });
    const port = openPort(`af_xdp:${v.a}`, { pool });
    port.start();
    try {
      const sizes = Array.from({ length: 300 }, (_, i) => 60 + ((i * 97) % (1514 - 60 + 1)));
      const out = sizes.map((n, i) => frame(n, i, "02:00:00:00:00:02", v.macA));
      // A 64 MiB capture buffer: tcpdump drops from its ring when frames come faster than it writes them.
      const cap = await Capture.start(v.b, v.nsB, ["-B", "65536", "ether", "proto", String(ETHERTYPE)]);
      expect(sendAll(port, pool, out)).toBe(out.length);
      expect((port as AfXdpPort).txFlush(0, 2000)).toBe(true);
      const seen = await cap.stop(300);
      expect(linkStat(v.b, "rx_packets", v.nsB)).toBe(out.length);
      expect(seen.length).toBe(out.length);
      for (let i = 0; i < out.length; i++) expect(seen[i]).toEqual(out[i]!);
      // The other way: the peer writes raw frames, the port hands them over byte for byte.
      const back = sizes.map((n, i) => frame(n, 1000 + i, v.macA, "02:00:00:00:00:03"));
      expect(sendRawFrames(v.b, back, v.nsB)).toBe(back.length);
      const got = await receive(port, pool, back.length);
      expect(got.length).toBe(back.length);
      for (let i = 0; i < back.length; i++) expect(got[i]).toEqual(back[i]!);
      expect(port.stats().opackets).toBe(out.length);
    } finally {
      port.close();
    }
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  });

  test("refusals: each one line naming the problem and the fix; nothing left on the interface", async () => {
    const n = net();
    const v = n.vethPair();
    const pool = Mempool.create({ count: 4096, name: "xdp-refusal" });
    const refusal = (spec: string): AfXdpError | BdkError => {
      let p: Port | undefined;
      try {
        p = openPort(spec);
        p.configure({ pool });
        p.start();
      } catch (e) {
        p?.close();
        expect(e).toBeInstanceOf(BdkError);
        expect((e as Error).message).not.toContain("\n");
        return e as BdkError;
      }
      p.close();
      throw new Error(`${spec} was not refused`);
    };
    const q = refusal(`af_xdp:${v.a},queue=3`);
    expect(q).toBeInstanceOf(AfXdpError);
    expect((q as AfXdpError).reason).toBe("queue");
    expect(q.message).toContain("has 1 RX queue");
    const zc = refusal(`af_xdp:${v.a},zerocopy=on`);
    expect((zc as AfXdpError).reason).toBe("zerocopy");
    expect(zc.message).toContain("zerocopy=auto");
    expect((refusal(`af_xdp:${v.a},mode=generic,zerocopy=on`) as AfXdpError).reason).toBe("zerocopy");
    expect(refusal(`af_xdp:${v.a},mode=fast`).message).toContain("mode=native or mode=generic");
    expect(refusal(`af_xdp:${v.a},frames=1000`).message).toContain("power of two");
    // A pool whose buffers are smaller than AF_XDP's smallest chunk: refused at configure, the port closed again.
    const small = Mempool.create({ count: 1024, dataRoom: 1024, headroom: 0, name: "xdp-small" });
    try {
      openPort(`af_xdp:${v.a}`, { pool: small });
      throw new Error("a pool of 1024-byte buffers was not refused");
    } catch (e) {
      expect(e).toBeInstanceOf(AfXdpError);
      expect((e as AfXdpError).reason).toBe("pool");
      expect((e as Error).message).toContain("headroom + dataRoom ≥ 2048");
    }
    expect(xdpOf(v.a)).toBeUndefined();
    small.destroy();
    // Two ports on one interface in one process.
    const first = openPort(`af_xdp:${v.a}`);
    try {
      const twice = refusal(`af_xdp:${v.a},queue=0`);
      expect((twice as AfXdpError).reason).toBe("busy");
      expect(twice.message).toContain("queues=N");
    } finally {
      first.close();
    }
    // A program that is not ours: another process holds the interface.
    const holder = spawn([process.execPath, "-e",
      `import { openPort } from "${ROOT}/src/index.ts"; const p = openPort("af_xdp:${v.a}"); console.log("open"); await Bun.sleep(30000);`],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, BDK_AF_XDP_QUIET: "1" } });
    try {
      expect(await waitFor(() => xdpOf(v.a) !== undefined, 10000)).toBe(true);
      const id = (attachedXdpProgram(Number(readFileSync(`/sys/class/net/${v.a}/ifindex`, "utf8"))))!.id;
      const busy = refusal(`af_xdp:${v.a}`);
      expect((busy as AfXdpError).reason).toBe("busy");
      expect(busy.message).toContain(`already has an XDP program (id ${id}`);
      expect(busy.message).toContain("xdp off");
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
    expect(await waitFor(() => xdpOf(v.a) === undefined, 5000)).toBe(true);
    // Without CAP_NET_ADMIN / CAP_BPF (root, but the capabilities dropped from the bounding set).
    const denied = run(["setpriv", "--bounding-set", "-net_admin,-bpf,-sys_admin,-net_raw,-perfmon", "--inh-caps", "-all", "--",
      process.execPath, `${ROOT}/src/cli/main.ts`, "capture", `af_xdp:${v.a}`, "-w", "/dev/null", "-c", "1"], { allowFail: true });
    expect(denied.code).not.toBe(0);
    const line = denied.stderr.trim().split("\n").filter((l) => l.includes("af_xdp"));
    expect(line.length).toBe(1);
    expect(line[0]).toContain("CAP_NET_ADMIN");
    expect(line[0]).toContain("setcap");
    expect(xdpOf(v.a)).toBeUndefined();
  }, 30000);

  test("50 open/start/stop/close cycles leave no XDP program, no fd, no mapping, every buffer back", () => {
    const v = net().vethPair();
    const pool = Mempool.create({ count: 4096, name: "xdp-cycles" });
    // One cycle first: the JIT, libc symbols and lazy module state are not a leak.
    const once = (): void => {
      const p = openPort(`af_xdp:${v.a}`, { pool });
      p.start();
      expect(xdpOf(v.a)).toBeDefined();
      p.stop();
      p.close();
    };
    once();
    const fds = fdCount();
    const maps = mappings();
    for (let i = 0; i < 50; i++) once();
    expect(xdpOf(v.a)).toBeUndefined();
    expect(fdCount()).toBe(fds);
    expect(mappings()).toBe(maps);
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  }, 60000);

  test("SIGKILL mid-run (bdk l2fwd forwarding): the kernel drops the program with the process", async () => {
    const n = net();
    const v1 = n.vethPair({ nsB: true, addrB: "192.0.2.1/24" });
    const v2 = n.vethPair({ nsB: true, addrB: "192.0.2.2/24" });
    const fwd = spawn([BDK, "l2fwd", `af_xdp:${v1.a}`, `af_xdp:${v2.a}`, "--no-mac-updating", "-T", "0"], { stdout: "pipe", stderr: "pipe" });
    try {
      expect(await waitFor(() => xdpOf(v1.a) !== undefined && xdpOf(v2.a) !== undefined, 15000)).toBe(true);
      // Traffic while it dies: a ping flood through the forwarder.
      const flood = spawn(["ip", "netns", "exec", v1.nsB!, "ping", "-f", "-c", "2000", "-W", "1", "192.0.2.2"], { stdout: "ignore", stderr: "ignore" });
      await Bun.sleep(300);
      fwd.kill("SIGKILL");
      await fwd.exited;
      flood.kill("SIGKILL");
      await flood.exited;
    } finally {
      fwd.kill("SIGKILL");
    }
    expect(fwd.signalCode).toBe("SIGKILL");
    expect(await waitFor(() => xdpOf(v1.a) === undefined && xdpOf(v2.a) === undefined, 5000)).toBe(true);
    expect(readdirSync("/proc").includes(String(fwd.pid))).toBe(false);
  }, 30000);

  test("ping through `bdk l2fwd af_xdp:a af_xdp:b`: kernel ARP and ICMP forwarded", async () => {
    const n = net();
    const v1 = n.vethPair({ nsB: true, addrB: "192.0.2.1/24" });
    const v2 = n.vethPair({ nsB: true, addrB: "192.0.2.2/24" });
    const fwd = spawn([BDK, "l2fwd", `af_xdp:${v1.a}`, `af_xdp:${v2.a}`, "--no-mac-updating", "-T", "0", "--json"], { stdout: "pipe", stderr: "pipe" });
    let ping;
    try {
      expect(await waitFor(() => xdpOf(v1.a) !== undefined && xdpOf(v2.a) !== undefined, 15000)).toBe(true);
      await Bun.sleep(300); // the sockets are bound after the program is attached
      ping = execIn(v1.nsB, ["ping", "-c", "5", "-i", "0.2", "-W", "2", "192.0.2.2"], { allowFail: true });
    } finally {
      fwd.kill("SIGINT");
    }
    await fwd.exited;
    expect(ping!.stdout).toContain("5 received");
    const summary = JSON.parse(await new Response(fwd.stdout).text()) as { ports: { rx: number; tx: number }[] };
    // Each side saw at least the ARP exchange and the five ICMP messages (its own direction).
    expect(summary.ports[0]!.rx).toBeGreaterThanOrEqual(6);
    expect(summary.ports[1]!.rx).toBeGreaterThanOrEqual(6);
    expect(xdpOf(v1.a)).toBeUndefined();
  }, 30000);

  test("an idle `bdk l2fwd --cores 1` sleeps on the XDP sockets (RxWaiter) and forwards the first ping after", async () => {
    const n = net();
    const v1 = n.vethPair({ nsB: true, addrB: "192.0.2.1/24" });
    const v2 = n.vethPair({ nsB: true, addrB: "192.0.2.2/24" });
    const fwd = spawn([BDK, "l2fwd", `af_xdp:${v1.a}`, `af_xdp:${v2.a}`, "--no-mac-updating", "--cores", "1", "-T", "0"], { stdout: "pipe", stderr: "pipe" });
    try {
      expect(await waitFor(() => xdpOf(v1.a) !== undefined && xdpOf(v2.a) !== undefined, 15000)).toBe(true);
      await Bun.sleep(1000);
      // CPU time (user + system, clock ticks) of the whole process over 3 s of silence: a polling worker would burn 300.
      const ticks = (): number => {
        const f = readFileSync(`/proc/${fwd.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        return Number(f[11]) + Number(f[12]);
      };
      const t0 = ticks();
      await Bun.sleep(3000);
      expect(ticks() - t0).toBeLessThan(60);
      const ping = execIn(v1.nsB, ["ping", "-c", "3", "-i", "0.3", "-W", "2", "192.0.2.2"], { allowFail: true });
      expect(ping.stdout).toContain("3 received");
    } finally {
      fwd.kill("SIGINT");
      await fwd.exited;
    }
  }, 40000);

  test("frames of a queue no socket is bound to stay with the kernel (2-queue veth, port on queue 0)", async () => {
    const n = net();
    const qa = `bdkq${process.pid % 10000}a`;
    const qb = `bdkq${process.pid % 10000}b`;
    const ns = n.addNetns();
    ip("link", "add", qa, "numrxqueues", "2", "numtxqueues", "2", "type", "veth", "peer", "name", qb, "numrxqueues", "2", "numtxqueues", "2");
    n.links.push([qa, undefined]);
    ip("link", "set", qb, "netns", ns);
    ip("addr", "add", "198.51.100.1/24", "dev", qa);
    ip("link", "set", qa, "up");
    ip("-n", ns, "addr", "add", "198.51.100.2/24", "dev", qb);
    ip("-n", ns, "link", "set", qb, "up");
    // The peer's kernel sends everything on one TX queue (XPS: every CPU mapped to it), which a veth delivers on
    // the RX queue of the same number.
    const steer = (queue: number): void => {
      for (const q of [0, 1]) {
        execIn(ns, ["sh", "-c", `echo ${q === queue ? ALL_CPUS : "0"} > /sys/class/net/${qb}/queues/tx-${q}/xps_cpus`]);
      }
    };
    steer(1);
    const pool = Mempool.create({ count: 4096, name: "xdp-pass" });
    const port = openPort(`af_xdp:${qa},queue=0`, { pool });
    port.start();
    try {
      expect(xdpOf(qa)).toBeDefined();
      const kept = execIn(ns, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.51.100.1"], { allowFail: true });
      expect(kept.stdout).toContain("3 received"); // queue 1: XDP_PASS, the host's stack answered
      expect(port.stats().ipackets).toBe(0);
      steer(0);
      execIn(ns, ["ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.1"], { allowFail: true });
      const burst = new Burst(32);
      let got = 0;
      for (let i = 0; i < 100; i++) {
        got += port.rxQueue(0).burst(burst);
        burst.freeFrom(pool, 0);
      }
      expect(got).toBeGreaterThanOrEqual(3); // queue 0: bdk's (the kernel never saw them)
    } finally {
      port.close();
    }
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  }, 30000);

  test("hot path: a million frames a → b over the veth leave nothing behind per frame", () => {
    const v = net().vethPair();
    const pool = Mempool.create({ count: 8192, hugepages: "never", name: "xdp-hot" });
    const a = openPort(`af_xdp:${v.a}`, { pool });
    const b = openPort(`af_xdp:${v.b}`, { pool });
    a.start();
    b.start();
    const burst = new Burst(32);
    const txq = a.txQueue(0);
    const rxq = b.rxQueue(0);
    const run1 = (frames: number): number => {
      let got = 0;
      let inFlight = 0;
      while (got < frames) {
        if (inFlight < 512) {
          burst.count = pool.allocBulk(burst.bufs, 0, 32);
          for (let i = 0; i < burst.count; i++) {
            const x = burst.bufs[i]!;
            pool.len[x] = 60;
            const o = pool.offset(x);
            pool.bytes.fill(0xff, o, o + 6);
            pool.bytes[o + 12] = ETHERTYPE >> 8;
            pool.bytes[o + 13] = ETHERTYPE & 0xff;
          }
          const t = txq.burst(burst);
          inFlight += t;
          burst.freeFrom(pool, t);
        }
        const n = rxq.burst(burst);
        got += n;
        inFlight -= n;
        burst.freeFrom(pool, 0);
      }
      return got;
    };
    run1(100_000); // the JIT compiles the loop
    Bun.gc(true);
    const before = heapStats().objectCount;
    const moved = run1(1_000_000);
    Bun.gc(true);
    const grown = heapStats().objectCount - before;
    expect(moved).toBeGreaterThanOrEqual(1_000_000);
    expect(grown).toBeLessThan(1000);
    a.close();
    b.close();
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  }, 60000);

  test("bdk capture on an af_xdp port writes what the interface receives", async () => {
    const v = net().vethPair({ nsB: true });
    const dir = mkdtempSync(join(tmpdir(), "bdk-xdp-cap-"));
    const file = join(dir, "cap.pcap");
    const cap = spawn([BDK, "capture", `af_xdp:${v.a}`, "-w", file, "-c", "20"], { stdout: "pipe", stderr: "pipe" });
    try {
      const frames = Array.from({ length: 20 }, (_, i) => frame(60 + i * 50, i, v.macA));
      expect(await waitFor(() => xdpOf(v.a) !== undefined, 10000)).toBe(true);
      await Bun.sleep(300); // the socket is bound after the program is attached
      sendRawFrames(v.b, frames, v.nsB);
      expect(await cap.exited).toBe(0);
      expect(readPcap(new Uint8Array(readFileSync(file))).map((r) => r.data)).toEqual(frames);
    } finally {
      cap.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);

  test("two queues, two pinned workers: 1 M sequence-numbered frames, 0 lost, both queues used", () => {
    const n = net();
    const qa = `bdkw${process.pid % 10000}a`;
    const qb = `bdkw${process.pid % 10000}b`;
    ip("link", "add", qa, "numrxqueues", "2", "numtxqueues", "2", "type", "veth", "peer", "name", qb, "numrxqueues", "2", "numtxqueues", "2");
    n.links.push([qa, undefined]);
    ip("link", "set", qa, "up");
    ip("link", "set", qb, "up");
    const r = run([BDK, "pktgen", "--tx", `af_xdp:${qa},queues=2`, "--rx", `af_xdp:${qb},queues=2`, "--cores", "0,1", "--queues", "2",
      "--count", "1000000", "--rate", "200kpps", "--interval", "0", "--json"], { allowFail: true });
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { txPackets: number; rx: { received: number; lost: number; duplicated: number; queues: { packets: number }[] } };
    expect(res.txPackets).toBe(1_000_000);
    expect(res.rx.received).toBe(1_000_000);
    expect(res.rx.lost).toBe(0);
    expect(res.rx.duplicated).toBe(0);
    expect(res.rx.queues.length).toBe(2);
    for (const q of res.rx.queues) expect(q.packets).toBeGreaterThan(0);
    expect(xdpOf(qa)).toBeUndefined();
  }, 120000);
});
