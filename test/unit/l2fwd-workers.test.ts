// l2fwd with three pinned workers (two of them sharing a core) on two ring ports: 10 M pktgen frames spread
// over three RX queues, each worker owning its queues through handles and counting into its own block.
// What l2fwd reports must equal what pktgen's receiver counts, exactly.
import { expect, test } from "bun:test";
import { parseL2fwdArgs, runL2fwd } from "../../apps/l2fwd.ts";
import { FrameGenerator } from "../../apps/pktgen/generator.ts";
import { parsePktgenArgs, resolveOptions } from "../../apps/pktgen.ts";
import { Receiver } from "../../apps/pktgen/receiver.ts";
import { Burst, Mempool, monotonicNs, openPort } from "../../src/index.ts";

const FRAMES = 10_000_000;

test("l2fwd --cores 0,1,0 over ring ports: 10 M frames, l2fwd's counts equal the pktgen receiver's", async () => {
  const pool = Mempool.create({ count: 32768, name: "l2fwd3" });
  const config = { pool, rxQueues: 3, txQueues: 3, rxRingSize: 4096 };
  const gen = openPort("ring:l2fwd3-in", config);
  const fwdIn = openPort("ring:l2fwd3-in", config);
  const fwdOut = openPort("ring:l2fwd3-out", config);
  const sink = openPort("ring:l2fwd3-out", config);
  for (const p of [gen, fwdIn, fwdOut, sink]) p.start();
  let done = false;
  try {
    const o = parseL2fwdArgs(["ring:l2fwd3-in", "ring:l2fwd3-out", "--cores", "0,1,0", "--port-queues", "3", "--no-mac-updating", "--period", "0", "--link-wait", "0"]);
    const l2fwd = runL2fwd(o, { ports: [fwdIn, fwdOut], shouldStop: () => done, log: () => {} });

    const source = new FrameGenerator(resolveOptions(parsePktgenArgs(["--tx", "ring:x", "--size", "64"])), gen.macAddress());
    const receiver = new Receiver(-1);
    const txqs = [0, 1, 2].map((q) => gen.txQueue(q));
    const rxqs = [0, 1, 2].map((q) => sink.rxQueue(q));
    const burst = new Burst(32);
    let sent = 0;
    let received = 0;
    let rounds = 0;
    let lastArrival = Date.now();
    const until = Date.now() + 150_000;
    // Until everything arrived, or everything was sent and forwarded and nothing more came for 200 ms (what
    // l2fwd dropped when this thread was too slow to drain the sink is in its dropped count).
    const finished = (): boolean => received === FRAMES ||
      (sent === FRAMES && fwdIn.stats().ipackets === FRAMES && Date.now() - lastArrival > 200);
    while (!finished() && Date.now() < until) {
      if (sent < FRAMES && sent - received < 8192) {
        const n = Math.min(32, FRAMES - sent);
        if (pool.allocBulk(burst.bufs, 0, n) === n) {
          burst.count = n;
          source.fill(pool, burst.bufs, n, monotonicNs());
          const took = txqs[(sent >> 5) % 3]!.burst(burst); // flows over three queues: three workers busy
          sent += took;
          burst.freeFrom(pool, took);
        }
      }
      for (const q of rxqs) {
        const n = q.burst(burst);
        if (n === 0) continue;
        receiver.process(pool, burst.bufs, n, monotonicNs());
        received += n;
        lastArrival = Date.now();
        burst.freeFrom(pool, 0);
      }
      if ((++rounds & 4095) === 0) await Bun.sleep(0); // l2fwd's control loop shares this thread
    }
    done = true;
    const r = await l2fwd;
    const rx = receiver.result();
    expect(sent).toBe(FRAMES);
    expect(r.workers.length).toBe(3);
    expect(r.workers.map((w) => w.core)).toEqual([0, 1, 0]);
    // l2fwd's counters (three padded blocks summed) against the receiver's count, exactly.
    expect(r.ports[0]!.rx).toBe(FRAMES);
    expect(r.ports[1]!.tx).toBe(rx.received);
    expect(rx.received + r.ports[1]!.dropped).toBe(FRAMES);
    expect(rx.duplicated).toBe(0);
    expect(received).toBe(rx.received);
    expect(fwdIn.stats().ipackets).toBe(FRAMES);
    expect(fwdOut.stats().opackets).toBe(rx.received);
    // Every RX queue of the input port was worked by someone.
    for (let q = 0; q < 3; q++) expect(fwdIn.queueStats(q, "rx").packets).toBeGreaterThan(0);
  } finally {
    done = true;
    for (const p of [gen, fwdIn, fwdOut, sink]) p.close();
    pool.flushCache();
    expect(pool.inUse()).toBe(0);
    pool.destroy();
  }
}, 180_000);
