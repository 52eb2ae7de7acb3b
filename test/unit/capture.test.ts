// `bdk capture`: what a port receives, in a pcap file that tcpdump reads back with the same frames.
import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetLab } from "../../apps/common/netlab.ts";
import { PcapWriter, readPcap } from "../../drivers/pcap/file.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "bdk-capture-"));

function tcpdumpHex(file: string): string[] {
  const r = Bun.spawnSync(["tcpdump", "-r", file, "-nn", "-xx"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tcpdump -r ${file} failed: ${r.stderr.toString()} (run scripts/setup.sh)`);
  // One string of hex per packet.
  return r.stdout.toString().split(/\n(?=\S)/).filter(Boolean)
    .map((p) => p.split("\n").slice(1).map((l) => l.replace(/^\s*0x[0-9a-f]+:\s*/, "").replace(/\s+/g, "")).join(""));
}

test("frames from a replayed file come out byte for byte, as tcpdump reads them", () => {
  const input = join(dir, "in.pcap");
  const w = new PcapWriter(input);
  const frame = new Uint8Array(200);
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < frame.length; j++) frame[j] = (i * 7 + j) & 0xff;
    w.frame(frame, 0, 60 + i * 7);
  }
  w.close();
  const out = join(dir, "out.pcap");
  const r = Bun.spawnSync([`${ROOT}bin/bdk`, "capture", `pcap:in=${input}`, "-w", out, "-c", "20"], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toContain("20 frames written");
  expect(r.exitCode).toBe(0);
  expect(tcpdumpHex(out)).toEqual(tcpdumpHex(input));
  expect(readPcap(out).records.length).toBe(20);
});

test("frames the kernel sends on a veth are captured from the peer end (root)", async () => {
  const lab = new NetLab(`bdkt${process.pid}c`);
  try {
    const ns = lab.namespace("a");
    lab.veth([ns, "c0"], [ns, "c1"]);
    lab.exec(ns, ["ip", "addr", "add", "192.0.2.1/24", "dev", "c0"]);
    const out = join(dir, "veth.pcap");
    const cap = Bun.spawn([...lab.prefix(ns), `${ROOT}bin/bdk`, "capture", "af_packet:c1", "-w", out, "-c", "3", "--duration", "20"], { stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(1500);
    // Pings to an unanswered address: the kernel sends ARP requests out of c0, which c1 receives.
    Bun.spawnSync([...lab.prefix(ns), "ping", "-c", "3", "-i", "0.3", "-W", "1", "192.0.2.9"], { stdout: "ignore", stderr: "ignore" });
    expect(await cap.exited).toBe(0);
    const text = Bun.spawnSync(["tcpdump", "-r", out, "-nn", "-e"], { stdout: "pipe" }).stdout.toString();
    expect(text.trim().split("\n").length).toBe(3);
    expect(text).toContain("ethertype ARP (0x0806), length 42: Request who-has 192.0.2.9 tell 192.0.2.1");
  } finally {
    lab.destroy();
  }
}, 60000);
