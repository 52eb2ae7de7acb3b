// The conformance suite (suite.ts) against every software port: ring, null, pcap and af_packet (over a veth
// pair this test makes and removes; root only).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPort, PcapWriter } from "../../src/index.ts";
import { TestNet } from "../helpers/netns.ts";
import { conformance } from "./suite.ts";

let ringLinks = 0;
conformance({
  name: "ring",
  open: () => {
    const name = `conformance${ringLinks++}`;
    return { tx: openPort(`ring:${name}`), rx: openPort(`ring:${name}`) };
  },
  loopback: true,
  attachable: true,
});

conformance({
  name: "null",
  open: () => {
    const p = openPort("null");
    return { tx: p, rx: p };
  },
  loopback: false,
  attachable: true,
});

conformance({
  name: "pcap",
  open: () => {
    const dir = mkdtempSync(join(tmpdir(), "bdk-conf-"));
    const file = join(dir, "in.pcap");
    const w = new PcapWriter(file);
    const frame = new Uint8Array(60).fill(0xff, 0, 6);
    for (let i = 0; i < 10; i++) w.frame(frame, 0, frame.length);
    w.close();
    writeFileSync(join(dir, "unused"), "");
    const p = openPort(`pcap:in=${file},loop=0`);
    return { tx: p, rx: p, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  },
  loopback: false,
  attachable: false,
});

if (process.getuid?.() === 0) {
  conformance({
    name: "af_packet",
    open: () => {
      const net = new TestNet();
      const v = net.vethPair();
      return { tx: openPort(`af_packet:${v.a}`), rx: openPort(`af_packet:${v.b}`), cleanup: () => net.cleanup() };
    },
    loopback: true,
    attachable: true,
    frames: 200_000,
  });
}
