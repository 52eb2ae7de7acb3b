import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, truncateSync, writeFileSync, appendFileSync } from "node:fs";
import { ETHERTYPE_IPV4, etherType } from "../../src/net/ether.ts";
import { IPPROTO_UDP, ipv4Proto } from "../../src/net/ipv4.ts";
import { udpDstPort } from "../../src/net/udp.ts";
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  PCAP_MAGIC_NSEC,
  PCAP_MAGIC_USEC,
  PcapError,
  PcapReader,
  PcapWriter,
  parsePcap,
  readPcap,
} from "../../drivers/pcap/file.ts";
import { hex, prng, requireTool, run, tcpdumpRead, tempDir, toHex } from "./net/tools.ts";
import { ARP_REQUEST, ICMP4, ICMP6, TCP4, UDP4, UDP6 } from "./net/vectors.ts";

const tmp = tempDir();
afterAll(() => tmp.remove());

/** Test frames: the vectors plus random ones at edge sizes (odd, minimum, MTU, jumbo). */
function testFrames(): Uint8Array[] {
  const rnd = prng(42);
  const frames = [UDP4, UDP6, TCP4, ICMP4, ICMP6, ARP_REQUEST].map(hex);
  for (const len of [60, 61, 64, 127, 1514, 9014]) {
    const f = new Uint8Array(len);
    for (let i = 0; i < len; i++) f[i] = rnd() & 0xff;
    f.set(hex("020000000002020000000001 88b5"), 0); // local experimental EtherType
    frames.push(f);
  }
  return frames;
}

/** Timestamps with every digit distinct so that unit mistakes show. */
const SEC0 = 1700000000;
const NSEC0 = 123456789;

function writeFrames(path: string, frames: Uint8Array[], nanosecond: boolean, pool = new Uint8Array(65536)): void {
  const w = new PcapWriter(path, { nanosecond });
  // Frames sit at odd offsets of one big buffer, as in a mempool.
  let off = 3;
  frames.forEach((f, i) => {
    if (off + f.length > pool.length) off = 3;
    pool.set(f, off);
    w.frameAt(pool, off, f.length, SEC0 + i, NSEC0 + i * 1000 + i);
    off += f.length + 7;
  });
  expect(w.frames).toBe(frames.length);
  expect(w.bytes).toBe(frames.reduce((a, f) => a + f.length, 0));
  w.close();
}

/** Both readers (whole file and streaming) must fail on `path` with a PcapError saying all of `words`. */
function expectPcapError(path: string, ...words: (string | RegExp)[]): string {
  const messages: string[] = [];
  for (const read of [() => readPcap(path), () => {
    const r = PcapReader.open(path);
    while (r.next());
  }]) {
    let err: unknown;
    try {
      read();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PcapError);
    const e = err as PcapError;
    expect(e.file).toBe(path);
    expect(e.message).toContain(path);
    expect(e.message).not.toContain("\n");
    for (const w of words) {
      if (typeof w === "string") expect(e.message).toContain(w);
      else expect(e.message).toMatch(w);
    }
    messages.push(e.message);
  }
  expect(messages[0]).toBe(messages[1]!);
  return messages[0]!;
}

describe("pcap writer → tcpdump", () => {
  for (const nanosecond of [false, true]) {
    const unit = nanosecond ? "ns" : "µs";
    test(`${unit} file: tcpdump -r -xx shows exactly our packets and timestamps`, () => {
      const frames = testFrames();
      const path = tmp.path(`roundtrip-${unit}.pcap`);
      writeFrames(path, frames, nanosecond);
      const bytes = readFileSync(path);
      expect(bytes.readUInt32LE(0)).toBe(nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC);

      const dumped = tcpdumpRead(path, nanosecond);
      expect(dumped.length).toBe(frames.length);
      dumped.forEach((d, i) => {
        expect(toHex(d.bytes)).toBe(toHex(frames[i]!));
        const frac = nanosecond ? String(NSEC0 + i * 1000 + i).padStart(9, "0") : String(Math.floor((NSEC0 + i * 1000 + i) / 1000)).padStart(6, "0");
        expect(d.ts).toBe(`${SEC0 + i}.${frac}`);
      });
      expect(dumped[0]!.summary).toContain("IP 10.0.0.1.1234 > 10.0.0.2.5678: UDP, length 11");
      expect(dumped[1]!.summary).toContain("IP6 fd00::1.1000 > fd00::2.2000: UDP, length 9");

      // And our own reader agrees, timestamps in ns (µs files scaled, sub-µs digits dropped).
      const file = readPcap(path);
      expect(file.header).toMatchObject({ nanosecond, bigEndian: false, versionMajor: 2, versionMinor: 4, snaplen: 262144, linkType: 1, linkTypeName: "ETHERNET" });
      expect(file.records.length).toBe(frames.length);
      file.records.forEach((r, i) => {
        expect(toHex(r.data)).toBe(toHex(frames[i]!));
        expect(r.origLen).toBe(frames[i]!.length);
        expect(r.sec).toBe(SEC0 + i);
        const ns = NSEC0 + i * 1000 + i;
        expect(r.nsec).toBe(nanosecond ? ns : Math.floor(ns / 1000) * 1000);
      });
    });
  }

  test("snaplen cuts long frames and keeps the wire length; tcpdump agrees", () => {
    const path = tmp.path("snap.pcap");
    const w = new PcapWriter(path, { snaplen: 128 });
    const f = new Uint8Array(1000).map((_, i) => i & 0xff);
    w.frame(f, 0, 1000, 5_000_000_123);
    w.frame(f, 0, 100, 6_000_000_000);
    w.close();
    const file = readPcap(path);
    expect(file.header.snaplen).toBe(128);
    expect(file.records.map((r) => [r.data.length, r.origLen, r.sec, r.nsec])).toEqual([
      [128, 1000, 5, 0],
      [100, 100, 6, 0],
    ]);
    const dumped = tcpdumpRead(path);
    expect(dumped.map((d) => d.bytes.length)).toEqual([128, 100]);
    expect(toHex(dumped[0]!.bytes)).toBe(toHex(f.subarray(0, 128)));
  });

  test("frame() without a time stamps now; timeNs splits exactly into seconds and ns", () => {
    const path = tmp.path("now.pcap");
    const w = new PcapWriter(path, { nanosecond: true });
    const f = hex(UDP4);
    const before = Date.now();
    w.frame(f, 0, f.length);
    const after = Date.now();
    w.frame(f, 0, f.length, 1_000_000_123);
    w.close();
    const [now, fixed] = readPcap(path).records;
    const ms = now!.sec * 1000 + Math.floor(now!.nsec / 1e6);
    expect(ms).toBeGreaterThanOrEqual(before - 1);
    expect(ms).toBeLessThanOrEqual(after + 1);
    expect([fixed!.sec, fixed!.nsec]).toEqual([1, 123]);
  });

  test("a frame bigger than the file buffer is written straight through, in order", () => {
    const path = tmp.path("bigframe.pcap");
    const w = new PcapWriter(path, { bufferSize: 4096 });
    const small = hex(ICMP4);
    const big = new Uint8Array(20000).map((_, i) => (i * 7) & 0xff);
    w.frame(small, 0, small.length, 1e9);
    w.frame(big, 0, big.length, 2e9);
    w.frame(small, 0, small.length, 3e9);
    w.close();
    const recs = readPcap(path).records;
    expect(recs.map((r) => r.sec)).toEqual([1, 2, 3]);
    expect(toHex(recs[1]!.data)).toBe(toHex(big));
    expect(toHex(recs[2]!.data)).toBe(ICMP4);
    expect(tcpdumpRead(path).length).toBe(3);
  });

  test("append adds records without a second file header; close is idempotent; writing after close fails", () => {
    const path = tmp.path("append.pcap");
    const f = hex(TCP4);
    const w1 = new PcapWriter(path);
    w1.frame(f, 0, f.length, 1e9);
    w1.close();
    w1.close();
    expect(() => w1.frame(f, 0, f.length)).toThrow(PcapError);
    const w2 = new PcapWriter(path, { append: true });
    w2.frame(f, 0, f.length, 2e9);
    w2.close();
    expect(readPcap(path).records.map((r) => r.sec)).toEqual([1, 2]);
    expect(statSync(path).size).toBe(24 + 2 * (16 + f.length));
    expect(() => new PcapWriter(path, { append: true, nanosecond: true })).toThrow(
      /cannot append to pcap file .*it is microsecond little-endian link type 1, this writer makes nanosecond little-endian link type 1/,
    );
    expect(statSync(path).size).toBe(24 + 2 * (16 + f.length));
  });

  test("unwritable path and bad snaplen give PcapError", () => {
    expect(() => new PcapWriter("/nonexistent-dir/x.pcap")).toThrow(
      /cannot write pcap file "\/nonexistent-dir\/x.pcap": ENOENT .*directory exists and is writable/,
    );
    expect(() => new PcapWriter(tmp.path("s.pcap"), { snaplen: 0 })).toThrow(/snaplen 0 is out of range/);
    expect(() => new PcapWriter(tmp.path("s.pcap"), { snaplen: 300000 })).toThrow(PcapError);
  });
});

describe("pcap reader", () => {
  test("reads a file tcpdump -w captured on lo (UDP datagrams from Bun's udpSocket)", async () => {
    const tcpdump = requireTool("tcpdump");
    const path = tmp.path("captured.pcap");
    // A bound receiver: datagrams to a closed port would come back as ICMP errors on the sender.
    let received = 0;
    const receiver = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void received++ } });
    const port = receiver.port;
    const proc = Bun.spawn([tcpdump, "-i", "lo", "-n", "-U", "-c", "5", "-w", path, `udp and dst port ${port}`], {
      stdout: "ignore",
      stderr: "pipe",
    });
    let stderr = "";
    try {
      // Wait until tcpdump says it is listening (bounded).
      const reader = proc.stderr.getReader();
      const deadline = Date.now() + 10_000;
      while (!stderr.includes("listening on") && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
        if (!chunk || chunk.done) break;
        stderr += new TextDecoder().decode(chunk.value);
      }
      reader.releaseLock();
      expect(stderr).toContain("listening on lo");

      const sock = await Bun.udpSocket({});
      let sent = 0;
      let exited = false;
      proc.exited.then(() => (exited = true));
      const stop = Date.now() + 10_000;
      while (!exited && Date.now() < stop) {
        sock.send(`bdk-capture-${sent++}`, port, "127.0.0.1");
        await Bun.sleep(20);
      }
      sock.close();
      await Bun.sleep(50);
      expect(received).toBe(sent);
      expect(await Promise.race([proc.exited, Bun.sleep(5_000).then(() => "timeout")])).toBe(0);
      expect(sent).toBeGreaterThanOrEqual(5);
    } finally {
      receiver.close();
      if (proc.exitCode === null) proc.kill();
    }

    const file = readPcap(path);
    expect(file.header.linkType).toBe(LINKTYPE_ETHERNET);
    expect(file.records.length).toBe(5);
    const dumped = tcpdumpRead(path);
    expect(dumped.length).toBe(5);
    file.records.forEach((r, i) => {
      expect(toHex(r.data)).toBe(toHex(dumped[i]!.bytes));
      expect(etherType(r.data, 0)).toBe(ETHERTYPE_IPV4);
      expect(ipv4Proto(r.data, 14)).toBe(IPPROTO_UDP);
      expect(udpDstPort(r.data, 34)).toBe(port);
      expect(new TextDecoder().decode(r.data.subarray(42))).toMatch(/^bdk-capture-\d+$/);
    });
    // The streaming reader sees the same.
    const s = PcapReader.open(path);
    let n = 0;
    while (s.next()) {
      expect(toHex(s.data.subarray(s.offset, s.offset + s.caplen))).toBe(toHex(file.records[n]!.data));
      n++;
    }
    expect(n).toBe(5);
  }, 30_000);

  test("streaming reader over a 3 MB file crosses buffer refills and equals the whole-file reader", () => {
    const path = tmp.path("big.pcap");
    const rnd = prng(1234);
    const w = new PcapWriter(path, { nanosecond: true, bufferSize: 100_000 });
    const pool = new Uint8Array(1 << 16);
    for (let i = 0; i < pool.length; i++) pool[i] = rnd() & 0xff;
    const expected: [number, number][] = [];
    for (let i = 0; i < 3000; i++) {
      const len = i % 100 === 0 ? 9000 + (rnd() % 5000) : 60 + (rnd() % 1455);
      const off = rnd() % (pool.length - len);
      expected.push([off, len]);
      w.frameAt(pool, off, len, i, i);
    }
    w.close();
    const whole = readPcap(path);
    const r = PcapReader.open(path);
    let i = 0;
    while (r.next()) {
      const [off, len] = expected[i]!;
      expect(r.caplen).toBe(len);
      expect(r.count).toBe(i + 1);
      expect(r.sec).toBe(i);
      expect(r.nsec).toBe(i);
      const got = r.data.subarray(r.offset, r.offset + r.caplen);
      if (toHex(got) !== toHex(pool.subarray(off, off + len))) throw new Error(`record ${i + 1} differs`);
      expect(whole.records[i]!.data.length).toBe(len);
      i++;
    }
    expect(i).toBe(3000);
    expect(r.next()).toBe(false);
    // Record offsets are file offsets.
    expect(r.recordOffset).toBe(statSync(path).size - 16 - expected[2999]![1]);
  });

  for (const nanosecond of [false, true]) {
    test(`big-endian ${nanosecond ? "ns" : "µs"} file written by hand is read (and tcpdump agrees)`, () => {
      const frames = [hex(UDP4), hex(ARP_REQUEST), hex(ICMP6)];
      const parts: Uint8Array[] = [];
      const head = new DataView(new ArrayBuffer(24));
      head.setUint32(0, nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, false);
      head.setUint16(4, 2, false);
      head.setUint16(6, 4, false);
      head.setUint32(16, 65535, false);
      head.setUint32(20, 1, false);
      parts.push(new Uint8Array(head.buffer));
      frames.forEach((f, i) => {
        const rh = new DataView(new ArrayBuffer(16));
        rh.setUint32(0, 1600000000 + i, false);
        rh.setUint32(4, nanosecond ? 987654321 : 987654, false);
        rh.setUint32(8, f.length, false);
        rh.setUint32(12, f.length + 100, false);
        parts.push(new Uint8Array(rh.buffer), f);
      });
      const path = tmp.path(`be-${nanosecond}.pcap`);
      writeFileSync(path, Buffer.concat(parts));
      expect(toHex(readFileSync(path).subarray(0, 4))).toBe(nanosecond ? "a1b23c4d" : "a1b2c3d4");

      const file = readPcap(path);
      expect(file.header).toMatchObject({ bigEndian: true, nanosecond, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 1 });
      expect(file.records.map((r) => toHex(r.data))).toEqual(frames.map(toHex));
      expect(file.records.map((r) => [r.sec, r.nsec, r.origLen])).toEqual(
        frames.map((f, i) => [1600000000 + i, 987654321 - (nanosecond ? 0 : 321), f.length + 100]),
      );
      const dumped = tcpdumpRead(path, nanosecond);
      expect(dumped.map((d) => toHex(d.bytes))).toEqual(frames.map(toHex));
      expect(dumped[0]!.ts).toBe(nanosecond ? "1600000000.987654321" : "1600000000.987654");
    });
  }

  test("other link types are accepted and reported; expectLinkType refuses them", () => {
    const path = tmp.path("sll.pcap");
    const w = new PcapWriter(path, { linkType: LINKTYPE_LINUX_SLL });
    const f = new Uint8Array(40);
    w.frame(f, 0, 40, 0);
    w.close();
    const file = readPcap(path);
    expect(file.header.linkType).toBe(113);
    expect(file.header.linkTypeName).toBe("LINUX_SLL (Linux cooked capture)");
    expect(file.records.length).toBe(1);
    expect(run([requireTool("tcpdump"), "-r", path]).stderr).toContain("link-type LINUX_SLL");
    expect(() => readPcap(path, { expectLinkType: LINKTYPE_ETHERNET })).toThrow(
      /has link type 113 \(LINUX_SLL .*expected 1 \(ETHERNET\).*not `-i any`/,
    );
    expect(() => PcapReader.open(path, { expectLinkType: LINKTYPE_ETHERNET })).toThrow(PcapError);
  });

  test("parsePcap reads bytes in memory; records are views into them", () => {
    const path = tmp.path("mem.pcap");
    writeFrames(path, testFrames(), false);
    const bytes = new Uint8Array(readFileSync(path));
    const file = parsePcap(bytes, "mem");
    expect(file.records.length).toBe(12);
    expect(file.records[0]!.data.buffer).toBe(bytes.buffer);
  });
});

describe("malformed pcap files give one clear PcapError line", () => {
  function goodFile(name: string, frames = [hex(UDP4), hex(TCP4), hex(ICMP4)]): string {
    const path = tmp.path(name);
    const w = new PcapWriter(path, { snaplen: 1000 });
    frames.forEach((f, i) => w.frame(f, 0, f.length, i * 1e9));
    w.close();
    return path;
  }

  test("not a pcap: shows the magic, says pcapng is not supported and how to convert", () => {
    const path = tmp.path("text.txt");
    writeFileSync(path, "hello, this is not a capture file at all\n");
    expectPcapError(path, "is not a pcap file", "bad magic 68656c6c (bytes 68 65 6c 6c)", "pcapng", "`tcpdump -r in.pcapng -w out.pcap`");
  });

  test("pcapng (made by editcap) is named as such, and the suggested conversion works", () => {
    const src = goodFile("for-ng.pcap");
    const ng = tmp.path("capture.pcapng");
    const r = run([requireTool("editcap"), "-F", "pcapng", src, ng]);
    expect(r.exitCode).toBe(0);
    expectPcapError(ng, "magic 0a0d0d0a", "pcapng is not supported", "`tcpdump -r in.pcapng -w out.pcap`", "editcap -F pcap");
    const back = tmp.path("converted.pcap");
    expect(run([requireTool("tcpdump"), "-r", ng, "-w", back]).exitCode).toBe(0);
    expect(readPcap(back).records.map((x) => toHex(x.data))).toEqual([UDP4, TCP4, ICMP4]);
  });

  test("empty and truncated file header", () => {
    const empty = tmp.path("empty.pcap");
    writeFileSync(empty, "");
    expectPcapError(empty, "is truncated: 0 bytes, shorter than the 24-byte pcap file header");
    const short = goodFile("short.pcap");
    truncateSync(short, 10);
    expectPcapError(short, "is truncated: 10 bytes, shorter than the 24-byte pcap file header", "capture it again");
  });

  test("truncated record data names the record and its byte offset", () => {
    const path = goodFile("cut.pcap");
    const size = statSync(path).size;
    truncateSync(path, size - 5);
    const at = 24 + 16 + UDP4.length / 2 + 16 + TCP4.length / 2;
    const icmpLen = ICMP4.length / 2;
    expectPcapError(path, `is truncated at record #3 (byte offset ${at})`, `header says ${icmpLen} bytes but only ${icmpLen - 5} remain`);
  });

  test("truncated record header names the record and its byte offset", () => {
    const path = goodFile("cut-header.pcap");
    const size = statSync(path).size;
    appendFileSync(path, new Uint8Array(7));
    expectPcapError(path, `is truncated at record #4 (byte offset ${size}): only 7 of the 16-byte record header`);
  });

  test("record longer than the snaplen", () => {
    const path = goodFile("oversnap.pcap");
    const bytes = readFileSync(path);
    // Record #2's incl_len (little-endian) at 24 + 16 + len(UDP4) + 8 → 1200 > snaplen 1000.
    const at = 24 + 16 + UDP4.length / 2;
    bytes.writeUInt32LE(1200, at + 8);
    writeFileSync(path, Buffer.concat([bytes, new Uint8Array(1200)]));
    expectPcapError(path, `corrupt at record #2 (byte offset ${at})`, "captured length 1200 exceeds the file's snaplen 1000");
  });

  test("record longer than 256 KiB", () => {
    const path = goodFile("huge.pcap");
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(0xffffffff, 16); // snaplen: as large as it gets
    bytes.writeUInt32LE(300000, 24 + 8); // record #1 incl_len
    writeFileSync(path, bytes);
    expectPcapError(path, "corrupt at record #1 (byte offset 24)", "captured length 300000 exceeds the 256 KiB (262144) limit");
  });

  test("unreadable: missing file, directory", () => {
    expectPcapError("/nonexistent-dir/none.pcap", 'cannot read pcap file "/nonexistent-dir/none.pcap": no such file', "check the path");
    expectPcapError(tmp.dir, "cannot read pcap file", "it is a directory");
  });
});

describe("buffer sizes (found by the fuzzer)", () => {
  test("a bufferSize that is not a whole number is refused by name, not read as an empty buffer", () => {
    // Fuzz: PcapReader.open(valid file, { bufferSize: NaN }) made a 0-byte buffer and reported the valid file
    // as "truncated: 0 bytes"; Infinity threw a RangeError reported as an unreadable file.
    const path = tmp.path("buffer-size.pcap");
    writeFrames(path, [hex(UDP4), hex(TCP4)], false);
    for (const bad of [NaN, Infinity, -Infinity, 0.5, 2 ** 31]) {
      let err: unknown;
      try {
        PcapReader.open(path, { bufferSize: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PcapError);
      expect((err as Error).message).toContain(`bufferSize ${bad} is not a whole number of bytes up to 1073741824 (1 GiB)`);
      expect(() => new PcapWriter(tmp.path("w.pcap"), { bufferSize: bad })).toThrow(PcapError);
    }
    // Whole numbers below the minimum are raised to it, as documented.
    for (const ok of [-1, 0, 1, 262184, 1 << 20]) {
      const r = PcapReader.open(path, { bufferSize: ok });
      let n = 0;
      while (r.next()) n++;
      expect(n).toBe(2);
    }
  });
});
