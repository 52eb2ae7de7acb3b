/**
 * Fuzzing the pcap reader (drivers/pcap/file.ts): parsePcap, PcapReader (in memory and streaming from a
 * file, across buffer refills), readPcap.
 *
 * Inputs: files encoded here from a model (both byte orders, both precisions, any snaplen and link type),
 * files written by the project's PcapWriter, both mutated (bit flips, boundary values in length fields,
 * inserted / deleted bytes, truncation), and random bytes. Oracles: only PcapError escapes; a file that parses
 * is tiled exactly by its records (24-byte header, then 16-byte record headers each followed by its
 * bytes: nothing read past the end, nothing skipped); a model's file parses back to the model; every reader
 * (whole file, in-memory stream, file stream with any buffer size) gives the same records or the same error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  PCAP_MAX_RECORD_LEN,
  PcapError,
  PcapReader,
  PcapWriter,
  parsePcap,
  readPcap,
  type PcapFile,
  type PcapReaderOptions,
} from "../../drivers/pcap/file.ts";
import { check, fc, mutatedBytes, outcome, prop, toHex, type FuzzFamily, type FuzzTarget, type Tally } from "./harness.ts";

// ---- an independent encoder ----------------------------------------------------------------------------

export interface ModelRecord {
  sec: number;
  frac: number;
  data: Uint8Array;
  origLen: number;
}

export interface PcapModel {
  bigEndian: boolean;
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  /** The whole 32-bit field (upper bits: FCS flags). */
  linkField: number;
  records: ModelRecord[];
}

function put32(b: Uint8Array, o: number, v: number, be: boolean): void {
  for (let i = 0; i < 4; i++) b[o + (be ? 3 - i : i)] = Math.floor(v / 2 ** (8 * i)) & 0xff;
}
function put16(b: Uint8Array, o: number, v: number, be: boolean): void {
  b[o + (be ? 1 : 0)] = v & 0xff;
  b[o + (be ? 0 : 1)] = (v >>> 8) & 0xff;
}

export function encodePcap(m: PcapModel): Uint8Array {
  const size = 24 + m.records.reduce((a, r) => a + 16 + r.data.length, 0);
  const b = new Uint8Array(size);
  put32(b, 0, m.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, m.bigEndian);
  put16(b, 4, m.versionMajor, m.bigEndian);
  put16(b, 6, m.versionMinor, m.bigEndian);
  put32(b, 8, 0, m.bigEndian);
  put32(b, 12, 0, m.bigEndian);
  put32(b, 16, m.snaplen, m.bigEndian);
  put32(b, 20, m.linkField, m.bigEndian);
  let p = 24;
  for (const r of m.records) {
    put32(b, p, r.sec, m.bigEndian);
    put32(b, p + 4, r.frac, m.bigEndian);
    put32(b, p + 8, r.data.length, m.bigEndian);
    put32(b, p + 12, r.origLen, m.bigEndian);
    b.set(r.data, p + 16);
    p += 16 + r.data.length;
  }
  return b;
}

const u32 = fc.nat({ max: 0xffffffff });

function modelArb(maxRecords: number, dataArb: fc.Arbitrary<Uint8Array>): fc.Arbitrary<PcapModel> {
  return fc
    .record({
      bigEndian: fc.boolean(),
      nanosecond: fc.boolean(),
      versionMajor: fc.oneof(fc.constant(2), fc.integer({ min: 0, max: 0xffff })),
      versionMinor: fc.oneof(fc.constant(4), fc.integer({ min: 0, max: 0xffff })),
      snapKind: fc.constantFrom("max", "zero", "exact", "262144", "random"),
      snapExtra: fc.integer({ min: 0, max: 0xffff }),
      linkField: fc.oneof(fc.constantFrom(LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, 101, 276, 0), u32),
      records: fc.array(
        fc.record({
          sec: u32,
          fracRaw: u32,
          data: dataArb,
          origExtra: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1 << 20 })),
        }),
        { maxLength: maxRecords },
      ),
    })
    .map((m) => {
      const biggest = m.records.reduce((a, r) => Math.max(a, r.data.length), 0);
      const snaplen = m.snapKind === "max" ? 262144 : m.snapKind === "zero" ? 0 : m.snapKind === "exact" ? biggest : m.snapKind === "262144" ? 262144 : biggest + m.snapExtra;
      return {
        bigEndian: m.bigEndian,
        nanosecond: m.nanosecond,
        versionMajor: m.versionMajor,
        versionMinor: m.versionMinor,
        snaplen,
        linkField: m.linkField,
        records: m.records.map((r) => ({
          sec: r.sec,
          frac: m.nanosecond ? r.fracRaw % 1_000_000_000 : r.fracRaw % 1_000_000,
          data: r.data,
          origLen: Math.min(0xffffffff, r.data.length + r.origExtra),
        })),
      };
    });
}

const smallModels = modelArb(6, fc.uint8Array({ maxLength: 90 }));

// ---- oracles ------------------------------------------------------------------------------------------

interface Parsed {
  header: PcapFile["header"];
  records: { at: number; len: number; origLen: number; sec: number; nsec: number; hex?: string }[];
}

/** A parse result or its error message, for comparing readers. */
type Result = { ok: true; parsed: Parsed } | { ok: false; message: string };

function viaParsePcap(t: Tally, bytes: Uint8Array, name: string, opts?: PcapReaderOptions): Result {
  const r = outcome(t, `parsePcap(${bytes.length} bytes)`, () => parsePcap(bytes, name, opts));
  if (!r.ok) return { ok: false, message: errorLine(r.error, t) };
  const f = r.value;
  t.hit(f.records.length > 1 ? "parsed, 2+ records" : "parsed");
  return {
    ok: true,
    parsed: {
      header: f.header,
      records: f.records.map((rec) => ({ at: rec.data.byteOffset - bytes.byteOffset, len: rec.data.length, origLen: rec.origLen, sec: rec.sec, nsec: rec.nsec })),
    },
  };
}

/** Streams `reader` to its end; records carry their bytes (the reader's buffer changes under them). */
function drain(t: Tally, what: string, open: () => PcapReader, digest: (b: Uint8Array) => string = toHex): Result {
  const r = outcome(t, what, () => {
    const reader = open();
    const records: Parsed["records"] = [];
    try {
      while (reader.next()) {
        records.push({
          at: reader.recordOffset + 16,
          len: reader.caplen,
          origLen: reader.origLen,
          sec: reader.sec,
          nsec: reader.nsec,
          hex: digest(reader.data.subarray(reader.offset, reader.offset + reader.caplen)),
        });
        check(reader.count === records.length, "PcapReader.count is not the record number");
        check(reader.offset + reader.caplen <= reader.data.length, "a record runs past the reader's buffer");
      }
    } finally {
      reader.close();
    }
    return { header: reader.header, records };
  });
  return r.ok ? { ok: true, parsed: r.value } : { ok: false, message: errorLine(r.error) };
}

function errorLine(e: Error, t?: Tally): string {
  check(e instanceof PcapError, () => `not a PcapError: ${e.name}: ${e.message}`);
  check(!e.message.includes("\n"), () => `a PcapError of more than one line: ${JSON.stringify(e.message)}`);
  const kind = /bufferSize|truncated|exceeds the 256 KiB|exceeds the file's snaplen|pcapng|bad magic|link type|cannot read/.exec(e.message);
  t?.hit(kind ? `"${kind[0]}"` : "other error");
  return e.message;
}

/** A parsed file is tiled exactly by its records: no byte read past the end, none skipped. */
function checkTiling(bytes: Uint8Array, p: Parsed): void {
  let at = 24;
  for (const [i, r] of p.records.entries()) {
    check(r.at === at + 16, () => `record #${i + 1} at byte ${r.at}, expected ${at + 16}`);
    check(r.len <= PCAP_MAX_RECORD_LEN && (p.header.snaplen === 0 || r.len <= p.header.snaplen), `record #${i + 1}: ${r.len} bytes, over the limits`);
    check(r.nsec >= 0 && r.sec >= 0 && r.sec <= 0xffffffff, `record #${i + 1}: timestamp ${r.sec}.${r.nsec}`);
    at += 16 + r.len;
  }
  check(at === bytes.length, () => `records end at byte ${at} of ${bytes.length}`);
}

function withBytes(bytes: Uint8Array, p: Parsed, digest: (b: Uint8Array) => string = toHex): Parsed {
  return { header: p.header, records: p.records.map((r) => ({ ...r, hex: digest(bytes.subarray(r.at, r.at + r.len)) })) };
}

/** The result without record positions (readPcap's records are views into a buffer whose offset is unknown). */
function unplaced(r: Result): Result {
  return r.ok ? { ok: true, parsed: { header: r.parsed.header, records: r.parsed.records.map(({ at: _at, ...rest }) => ({ ...rest, at: 0 })) } } : r;
}

function sameResult(what: string, a: Result, b: Result): void {
  check(Bun.deepEquals(a, b, true), () => `${what}: results differ:\n  ${JSON.stringify(a).slice(0, 600)}\n  ${JSON.stringify(b).slice(0, 600)}`);
}

// ---- files ----------------------------------------------------------------------------------------------

let dir = "";
let writerSeeds: Uint8Array[] = [];
let fileNo = 0;

function setup(): void {
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  dir = mkdtempSync(join(base, "bdk-fuzz-pcap-"));
  mkdirSync(join(dir, "a-directory"));
  writeFileSync(join(dir, "empty.pcap"), new Uint8Array(0));
  // Files from the project's writer: microsecond and nanosecond, cut at a small snaplen, another link type.
  const frames = [new Uint8Array(60).fill(0x11), new Uint8Array(1514).fill(0x22), new Uint8Array(0), new Uint8Array(61).fill(0x33)];
  writerSeeds = [];
  for (const [i, opts] of [{}, { nanosecond: true }, { snaplen: 64 }, { linkType: LINKTYPE_LINUX_SLL, nanosecond: true }].entries()) {
    const path = join(dir, `writer-${i}.pcap`);
    const w = new PcapWriter(path, opts);
    frames.forEach((f, k) => w.frameAt(f, 0, f.length, 1_700_000_000 + k, 123_456_789 + k));
    w.close();
    writerSeeds.push(new Uint8Array(readFileSync(path)));
  }
}

function teardown(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
}

function scratchFile(bytes: Uint8Array): string {
  const path = join(dir, `case-${fileNo++ % 4}.pcap`);
  writeFileSync(path, bytes);
  return path;
}

const fileSeeds = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 3, arbitrary: smallModels.map(encodePcap) }, { weight: 1, arbitrary: fc.constantFrom(...writerSeeds) });

/** Mutated model and writer files, random bytes behind a valid magic, random bytes. */
const fileArb = (): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 8, arbitrary: mutatedBytes(fileSeeds()) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d", "0a0d0d0a"), fc.uint8Array({ maxLength: 120 })).map(([m, rest]) => {
      const b = new Uint8Array(4 + rest.length);
      for (let i = 0; i < 4; i++) b[i] = parseInt(m.slice(2 * i, 2 * i + 2), 16);
      b.set(rest, 4);
      return b;
    }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }) },
  );

// ---- targets -------------------------------------------------------------------------------------------

const roundTrip: FuzzTarget = {
  name: "parsePcap(model file) = model",
  property: (t: Tally) =>
    prop([smallModels], (m) => {
      const bytes = encodePcap(m);
      const r = viaParsePcap(t, bytes, "<model>");
      check(r.ok, () => `a valid file was refused: ${(r as { message: string }).message}`);
      const h = r.parsed.header;
      check(h.bigEndian === m.bigEndian && h.nanosecond === m.nanosecond && h.snaplen === m.snaplen, "header fields");
      check(h.versionMajor === m.versionMajor && h.versionMinor === m.versionMinor && h.linkType === (m.linkField & 0xffff), "header version / link type");
      checkTiling(bytes, r.parsed);
      check(r.parsed.records.length === m.records.length, "record count");
      r.parsed.records.forEach((rec, i) => {
        const want = m.records[i]!;
        check(rec.len === want.data.length && rec.origLen === want.origLen && rec.sec === want.sec, `record #${i + 1}: lengths / seconds`);
        check(rec.nsec === (m.nanosecond ? want.frac : want.frac * 1000), `record #${i + 1}: nsec ${rec.nsec} for fraction ${want.frac}`);
        check(toHex(bytes.subarray(rec.at, rec.at + rec.len)) === toHex(want.data), `record #${i + 1}: bytes`);
      });
    }),
};

const mutated: FuzzTarget = {
  name: "parsePcap / PcapReader.fromBytes (mutated and random files)",
  property: (t: Tally) =>
    prop([fileArb(), fc.option(fc.constantFrom(LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, 0, 0xffff, 1 << 20))], (bytes, expect) => {
      const opts = expect === null ? undefined : { expectLinkType: expect };
      const whole = viaParsePcap(t, bytes, "<fuzz>", opts);
      if (whole.ok) checkTiling(bytes, whole.parsed);
      const stream = drain(t, "PcapReader.fromBytes", () => PcapReader.fromBytes(bytes, "<fuzz>", opts));
      sameResult("parsePcap vs PcapReader.fromBytes", whole.ok ? { ok: true, parsed: withBytes(bytes, whole.parsed) } : whole, stream);
    }),
};

const files: FuzzTarget = {
  name: "readPcap / PcapReader.open (mutated files on disk, odd paths, any bufferSize)",
  property: (t: Tally) =>
    prop(
      [
        fc.oneof({ weight: 9, arbitrary: fileArb().map((b) => ({ bytes: b, special: undefined })) }, { weight: 1, arbitrary: fc.constantFrom("a-directory", "empty.pcap", "missing.pcap", "", "a-directory/../empty.pcap", "nul\u0000byte").map((s) => ({ bytes: undefined, special: s })) }),
        fc.option(fc.oneof(fc.integer({ min: -10, max: 1 << 21 }), fc.constantFrom(NaN, Infinity, -Infinity, 0.5, 262184.5, 2 ** 31, 2 ** 53))),
      ],
      ({ bytes, special }, bufferSize) => {
        const path = special === undefined ? scratchFile(bytes!) : join(dir, special);
        const whole = (() => {
          const r = outcome(t, `readPcap(${path})`, () => readPcap(path));
          if (!r.ok) return { ok: false as const, message: errorLine(r.error) };
          const records = r.value.records.map((rec) => ({ at: 0, len: rec.data.length, origLen: rec.origLen, sec: rec.sec, nsec: rec.nsec, hex: toHex(rec.data) }));
          return { ok: true as const, parsed: { header: r.value.header, records } };
        })();
        if (bytes) {
          const mem = viaParsePcap(t, bytes, path);
          sameResult("readPcap vs parsePcap", whole, unplaced(mem.ok ? { ok: true, parsed: withBytes(bytes, mem.parsed) } : mem));
        }
        const opts = bufferSize === null ? undefined : { bufferSize };
        const stream = drain(t, `PcapReader.open(${path}, ${JSON.stringify(opts)})`, () => PcapReader.open(path, opts));
        if (stream.ok || !/bufferSize/.test(stream.message)) sameResult(`readPcap vs PcapReader.open(bufferSize ${bufferSize})`, whole, unplaced(stream));
        else check(bufferSize !== null && !(Number.isInteger(bufferSize) && bufferSize <= 2 ** 30), `bufferSize ${bufferSize} refused: ${stream.message}`);
      },
    ),
};

/** Big records: files larger than the streaming reader's buffer, so that it refills and moves its window. */
const bigModels = modelArb(
  5,
  fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 100 }) },
    { weight: 2, arbitrary: fc.integer({ min: 60_000, max: PCAP_MAX_RECORD_LEN }) },
    { weight: 1, arbitrary: fc.constant(PCAP_MAX_RECORD_LEN) },
  ).map((n) => new Uint8Array(n).fill(n & 0xff)),
);

/** The streaming reader's smallest buffer (one maximal record, its header and the file header). */
const READER_MIN_BUFFER = PCAP_MAX_RECORD_LEN + 16 + 24;

const streaming: FuzzTarget = {
  name: "PcapReader.open across buffer refills (big mutated files)",
  property: (t: Tally) =>
    prop([mutatedBytes(bigModels.map(encodePcap), 3)], (bytes) => {
      if (bytes.length > READER_MIN_BUFFER) t.hit("file larger than the reader's buffer");
      const path = scratchFile(bytes);
      const mem = viaParsePcap(t, bytes, path);
      if (mem.ok) checkTiling(bytes, mem.parsed);
      // Records are compared by position, lengths and a hash of their bytes (they are up to 256 KiB each).
      const stream = drain(t, "PcapReader.open(big file)", () => PcapReader.open(path), hash);
      sameResult("parsePcap vs PcapReader.open (big file)", mem.ok ? { ok: true, parsed: withBytes(bytes, mem.parsed, hash) } : mem, stream);
    }),
};

function hash(b: Uint8Array): string {
  return `${b.length}:${Bun.hash.crc32(b)}`;
}

export const family: FuzzFamily = {
  name: "pcap",
  setup,
  teardown,
  targets: [roundTrip, mutated, files, streaming],
};
