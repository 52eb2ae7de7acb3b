/**
 * Classic libpcap files (not pcapng): https://www.tcpdump.org/manpages/pcap-savefile.5.html
 *
 * ```
 * file header (24 bytes): magic u32 | version 2.4 (u16 u16) | thiszone i32 | sigfigs u32 | snaplen u32 | linktype u32
 * record header (16 bytes): ts_sec u32 | ts_usec or ts_nsec u32 | incl_len u32 | orig_len u32, then incl_len bytes
 * ```
 * Magic a1b2c3d4 means microsecond timestamps, a1b23c4d nanosecond ones; the byte order of the
 * magic as stored is the byte order of every field. We write little-endian and read both orders.
 *
 * `PcapWriter` is a buffered streaming writer for capture loops: `frame()` copies the bytes into its
 * file buffer and allocates nothing. `PcapReader` streams records through a cursor (its fields
 * describe the current record); `readPcap` loads a whole file (setup time, e.g. for replay).
 * Every problem with a file is a `PcapError` (a `BdkError`: a user error) with one line: the file,
 * what is wrong, the fix.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { BdkError } from "../../src/sys/errors.ts";

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
export const PCAP_FILE_HDR_LEN = 24;
export const PCAP_RECORD_HDR_LEN = 16;
/** Largest record we accept (and tcpdump's default snaplen): 256 KiB. */
export const PCAP_MAX_RECORD_LEN = 262144;
export const PCAP_DEFAULT_SNAPLEN = 262144;

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

const LINKTYPE_NAMES: Record<number, string> = {
  0: "NULL (BSD loopback)",
  1: "ETHERNET",
  101: "RAW (IP without link header)",
  105: "IEEE802_11",
  113: "LINUX_SLL (Linux cooked capture)",
  127: "IEEE802_11_RADIOTAP",
  228: "IPV4",
  229: "IPV6",
  276: "LINUX_SLL2 (Linux cooked capture v2)",
};

/** "ETHERNET", "LINUX_SLL (Linux cooked capture)", … or "unknown". */
export function linkTypeName(linkType: number): string {
  return LINKTYPE_NAMES[linkType] ?? "unknown";
}

/**
 * A problem with a pcap file: `message` is one line naming the file, the problem and the fix,
 * "what — fix" (`fix` holds the fix alone, as in every BdkError).
 */
export class PcapError extends BdkError {
  override name = "PcapError";
  constructor(
    readonly file: string,
    what: string,
    fix: string,
  ) {
    super(what, fix);
    this.message = `${what} — ${fix}`;
  }
}

/** What the 24-byte file header says. */
export interface PcapHeader {
  /** The magic as a number read in the file's own byte order: PCAP_MAGIC_USEC or PCAP_MAGIC_NSEC. */
  magic: number;
  /** Timestamps' fraction is nanoseconds (magic a1b23c4d) rather than microseconds. */
  nanosecond: boolean;
  /** The file is big-endian (written on a big-endian host). */
  bigEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  linkType: number;
  /** `linkTypeName(linkType)`. */
  linkTypeName: string;
}

/** One record of a loaded file. */
export interface PcapRecord {
  /** Captured bytes: a view into the loaded file (no copy). */
  data: Uint8Array;
  /** Length on the wire (>= data.length when the capture was cut at snaplen). */
  origLen: number;
  /** Timestamp seconds since the epoch. */
  sec: number;
  /** Timestamp fraction in nanoseconds (microsecond files are scaled by 1000). */
  nsec: number;
}

/** A loaded file. */
export interface PcapFile {
  path: string;
  header: PcapHeader;
  records: PcapRecord[];
}

export interface PcapReadOptions {
  /**
   * Refuse files of another link type with a PcapError (e.g. LINKTYPE_ETHERNET for replay onto a
   * port). Default: accept any and report it in `header.linkType`.
   */
  expectLinkType?: number;
}

// ---- byte helpers -------------------------------------------------------------------------------

function rd32(b: Uint8Array, o: number, be: boolean): number {
  return be
    ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
    : ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0;
}

function rd16(b: Uint8Array, o: number, be: boolean): number {
  return be ? (b[o] << 8) | b[o + 1] : (b[o + 1] << 8) | b[o];
}

function wr32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** The largest `bufferSize` a reader or writer takes: 1 GiB. */
export const PCAP_MAX_BUFFER_SIZE = 1 << 30;

/**
 * The size of a reader's or writer's buffer: `given` (or `dflt` when absent), raised to `min`. A PcapError
 * when `given` is not a whole number or is above 1 GiB (NaN would otherwise make an empty buffer, Infinity
 * a RangeError, and a huge one an allocation failure reported as an unreadable file).
 */
function bufferSizeOf(path: string, who: string, given: number | undefined, dflt: number, min: number): number {
  if (given === undefined) return Math.max(dflt, min);
  if (typeof given !== "number" || !Number.isInteger(given) || given > PCAP_MAX_BUFFER_SIZE) {
    throw new PcapError(
      path,
      `${who} for "${path}": bufferSize ${String(given)} is not a whole number of bytes up to ${PCAP_MAX_BUFFER_SIZE} (1 GiB)`,
      `leave bufferSize out (default ${dflt}) or give a whole number of bytes`,
    );
  }
  return Math.max(given, min);
}

function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}

const CONVERT_HINT =
  "if it is pcapng (Wireshark's default), convert it: `tcpdump -r in.pcapng -w out.pcap` or `editcap -F pcap in.pcapng out.pcap`";

/** Parses and checks the 24-byte file header at `bytes[0..avail)`. */
function parseFileHeader(path: string, bytes: Uint8Array, avail: number, opts: PcapReadOptions | undefined): PcapHeader {
  if (avail < PCAP_FILE_HDR_LEN) {
    throw new PcapError(
      path,
      `pcap file "${path}" is truncated: ${avail} bytes, shorter than the 24-byte pcap file header`,
      `the file is empty or was cut short; capture it again`,
    );
  }
  const le = rd32(bytes, 0, false);
  let bigEndian: boolean;
  let nanosecond: boolean;
  if (le === PCAP_MAGIC_USEC || le === PCAP_MAGIC_NSEC) {
    bigEndian = false;
    nanosecond = le === PCAP_MAGIC_NSEC;
  } else {
    const be = rd32(bytes, 0, true);
    if (be === PCAP_MAGIC_USEC || be === PCAP_MAGIC_NSEC) {
      bigEndian = true;
      nanosecond = be === PCAP_MAGIC_NSEC;
    } else {
      const shown = `${hex8(be)} (bytes ${bytes[0].toString(16).padStart(2, "0")} ${bytes[1].toString(16).padStart(2, "0")} ${bytes[2].toString(16).padStart(2, "0")} ${bytes[3].toString(16).padStart(2, "0")})`;
      if (be === 0x0a0d0d0a) {
        throw new PcapError(
          path,
          `"${path}" is not a pcap file: magic ${shown} is a pcapng section header, and pcapng is not supported`,
          `convert it with \`tcpdump -r in.pcapng -w out.pcap\` or \`editcap -F pcap in.pcapng out.pcap\``,
        );
      }
      throw new PcapError(
        path,
        `"${path}" is not a pcap file: bad magic ${shown}, expected a1b2c3d4 (microsecond) or a1b23c4d (nanosecond) ` +
          `in either byte order`,
        CONVERT_HINT,
      );
    }
  }
  const linkType = rd32(bytes, 20, bigEndian);
  const header: PcapHeader = {
    magic: nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC,
    nanosecond,
    bigEndian,
    versionMajor: rd16(bytes, 4, bigEndian),
    versionMinor: rd16(bytes, 6, bigEndian),
    snaplen: rd32(bytes, 16, bigEndian),
    // The upper 16 bits may carry FCS flags (pcap-savefile(5)): the link type is the low 16.
    linkType: linkType & 0xffff,
    linkTypeName: linkTypeName(linkType & 0xffff),
  };
  if (opts?.expectLinkType !== undefined && header.linkType !== opts.expectLinkType) {
    throw new PcapError(
      path,
      `pcap file "${path}" has link type ${header.linkType} (${header.linkTypeName}), expected ` +
        `${opts.expectLinkType} (${linkTypeName(opts.expectLinkType)})`,
      `capture on an Ethernet interface (not \`-i any\`, which writes Linux cooked headers)`,
    );
  }
  return header;
}

// ---- reader -------------------------------------------------------------------------------------

export interface PcapReaderOptions extends PcapReadOptions {
  /**
   * Read buffer size for a file: a whole number of bytes up to 1 GiB (default 1 MiB; at least one maximal
   * record is always held, so smaller sizes are raised). Anything else is a PcapError.
   */
  bufferSize?: number;
}

/**
 * Streaming reader. `next()` advances to the next record and returns false at the end of the file;
 * the current record is then `data[offset .. offset + caplen)` with `origLen`, `sec`, `nsec`.
 * `data` is the reader's buffer: copy the bytes out before the next `next()` if you keep them.
 * Opening a path streams it in chunks; `PcapReader.fromBytes` reads a file already in memory.
 */
export class PcapReader {
  readonly path: string;
  readonly header: PcapHeader;
  /** Buffer holding the current record. */
  data: Uint8Array;
  /** Offset of the current record's bytes in `data`. */
  offset = 0;
  /** Captured length of the current record. */
  caplen = 0;
  /** Original (wire) length of the current record. */
  origLen = 0;
  /** Timestamp of the current record: seconds since the epoch and nanoseconds. */
  sec = 0;
  nsec = 0;
  /** Records read so far (the current record's 1-based number, as Wireshark counts frames). */
  count = 0;
  /** File offset of the current record's 16-byte header. */
  recordOffset = 0;

  private fd: number;
  private start: number;
  private end: number;
  /** File offset of data[0]. */
  private base = 0;
  private eof: boolean;

  private constructor(path: string, fd: number, data: Uint8Array, end: number, eof: boolean, opts?: PcapReadOptions) {
    this.path = path;
    this.fd = fd;
    this.data = data;
    this.end = end;
    this.eof = eof;
    this.start = PCAP_FILE_HDR_LEN;
    this.header = parseFileHeader(path, data, end, opts);
  }

  /** Opens `path` for streaming. Throws PcapError when the file cannot be read or is not a pcap. */
  static open(path: string, opts?: PcapReaderOptions): PcapReader {
    const size = bufferSizeOf(path, "pcap reader", opts?.bufferSize, 1 << 20, PCAP_MAX_RECORD_LEN + PCAP_RECORD_HDR_LEN + PCAP_FILE_HDR_LEN);
    let fd: number;
    try {
      fd = openSync(path, "r");
      if (fstatSync(fd).isDirectory()) {
        closeSync(fd);
        throw Object.assign(new Error("EISDIR: it is a directory"), { code: "EISDIR" });
      }
    } catch (e) {
      throw unreadable(path, e);
    }
    try {
      const data = new Uint8Array(size);
      let end = 0;
      let eof = false;
      while (end < PCAP_FILE_HDR_LEN) {
        const n = readSync(fd, data, end, data.length - end, null);
        if (n === 0) {
          eof = true;
          break;
        }
        end += n;
      }
      return new PcapReader(path, fd, data, end, eof, opts);
    } catch (e) {
      closeSync(fd);
      if (e instanceof PcapError) throw e;
      throw unreadable(path, e);
    }
  }

  /** A reader over a whole file already in memory (`name` is used in error messages). */
  static fromBytes(bytes: Uint8Array, name: string = "<memory>", opts?: PcapReadOptions): PcapReader {
    return new PcapReader(name, -1, bytes, bytes.length, true, opts);
  }

  /** Makes `need` bytes available from `start`; false when the file ends first. */
  private fill(need: number): boolean {
    while (this.end - this.start < need) {
      if (this.eof || this.fd < 0) return false;
      if (this.data.length - this.start < need) {
        this.data.copyWithin(0, this.start, this.end);
        this.base += this.start;
        this.end -= this.start;
        this.start = 0;
      }
      let n: number;
      try {
        n = readSync(this.fd, this.data, this.end, this.data.length - this.end, null);
      } catch (e) {
        this.close();
        throw unreadable(this.path, e);
      }
      if (n === 0) this.eof = true;
      this.end += n;
    }
    return true;
  }

  /** Advances to the next record; false at the end of the file (the file is then closed). */
  next(): boolean {
    const recNo = this.count + 1;
    if (!this.fill(PCAP_RECORD_HDR_LEN)) {
      const left = this.end - this.start;
      if (left === 0) {
        this.close();
        return false;
      }
      const at = this.base + this.start;
      this.close();
      throw new PcapError(
        this.path,
        `pcap file "${this.path}" is truncated at record #${recNo} (byte offset ${at}): only ${left} of the ` +
          `16-byte record header`,
        `the capture was cut short (killed before it flushed?); capture it again`,
      );
    }
    const d = this.data;
    const s = this.start;
    const be = this.header.bigEndian;
    const caplen = rd32(d, s + 8, be);
    const at = this.base + s;
    const snaplen = this.header.snaplen;
    if (caplen > PCAP_MAX_RECORD_LEN) {
      this.close();
      throw new PcapError(
        this.path,
        `pcap file "${this.path}" is corrupt at record #${recNo} (byte offset ${at}): captured length ${caplen} ` +
          `exceeds the 256 KiB (${PCAP_MAX_RECORD_LEN}) limit`,
        `the file is damaged; re-capture it (\`tcpdump -s 262144\`)`,
      );
    }
    if (snaplen !== 0 && caplen > snaplen) {
      this.close();
      throw new PcapError(
        this.path,
        `pcap file "${this.path}" is corrupt at record #${recNo} (byte offset ${at}): captured length ${caplen} ` +
          `exceeds the file's snaplen ${snaplen}`,
        `the file is damaged or the writer is broken; re-capture it`,
      );
    }
    if (!this.fill(PCAP_RECORD_HDR_LEN + caplen)) {
      const left = this.end - this.start - PCAP_RECORD_HDR_LEN;
      this.close();
      throw new PcapError(
        this.path,
        `pcap file "${this.path}" is truncated at record #${recNo} (byte offset ${at}): the record header says ` +
          `${caplen} bytes but only ${left} remain`,
        `the capture was cut short (killed before it flushed?); capture it again`,
      );
    }
    // fill() may have moved the window: re-read the header from the current start.
    const h = this.start;
    const frac = rd32(this.data, h + 4, be);
    this.sec = rd32(this.data, h, be);
    this.nsec = this.header.nanosecond ? frac : frac * 1000;
    this.caplen = caplen;
    this.origLen = rd32(this.data, h + 12, be);
    this.offset = h + PCAP_RECORD_HDR_LEN;
    this.recordOffset = at;
    this.count = recNo;
    this.start = h + PCAP_RECORD_HDR_LEN + caplen;
    return true;
  }

  /** Closes the file (idempotent; `next()` does it at the end of the file or on an error). */
  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
    this.eof = true;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function unreadable(path: string, e: unknown): PcapError {
  const err = e as { code?: string; message?: string };
  const why = err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "it is a directory" : err.code === "EACCES" ? "permission denied" : (err.message ?? String(e));
  return new PcapError(path, `cannot read pcap file "${path}": ${why}`, "check the path and that you may read it");
}

/**
 * Loads a whole pcap file (setup time: replay loads a file once). Records are views into the
 * file's bytes. Throws PcapError on any problem.
 */
export function readPcap(path: string, opts?: PcapReadOptions): PcapFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw unreadable(path, e);
  }
  return parsePcap(bytes, path, opts);
}

/** Parses a pcap file held in memory (`name` is used in error messages). */
export function parsePcap(bytes: Uint8Array, name: string = "<memory>", opts?: PcapReadOptions): PcapFile {
  const r = PcapReader.fromBytes(bytes, name, opts);
  const records: PcapRecord[] = [];
  while (r.next()) {
    records.push({
      data: bytes.subarray(r.offset, r.offset + r.caplen),
      origLen: r.origLen,
      sec: r.sec,
      nsec: r.nsec,
    });
  }
  return { path: name, header: r.header, records };
}

// ---- writer -------------------------------------------------------------------------------------

export interface PcapWriterOptions {
  /** Nanosecond timestamps (magic a1b23c4d). Default false: microseconds (a1b2c3d4), what every tool reads. */
  nanosecond?: boolean;
  /** Frames longer than this are cut (orig_len keeps the wire length). Default 262144. */
  snaplen?: number;
  /** Default LINKTYPE_ETHERNET. */
  linkType?: number;
  /** File buffer size: a whole number of bytes up to 1 GiB (default 1 MiB; at least 4096). Anything else is a PcapError. */
  bufferSize?: number;
  /** Append to an existing file instead of truncating it (the header is not written again). */
  append?: boolean;
}

/**
 * Buffered streaming writer. `frame()` copies one frame into the file buffer (no allocation) and
 * writes the buffer to the file when it is full; `flush()` / `close()` write what is left.
 */
export class PcapWriter {
  readonly path: string;
  readonly nanosecond: boolean;
  readonly snaplen: number;
  readonly linkType: number;
  /** Frames written (buffered ones included). */
  frames = 0;
  /** Captured bytes written (record headers excluded). */
  bytes = 0;

  private fd: number;
  private buf: Uint8Array;
  private pos = 0;
  // Wall clock at open, split so that "now" stays exact in a double: seconds, ns within that second,
  // and the monotonic clock reading at that moment.
  private readonly baseSec: number;
  private readonly baseNsec: number;
  private readonly baseMono: number;

  constructor(path: string, opts?: PcapWriterOptions) {
    this.path = path;
    this.nanosecond = opts?.nanosecond ?? false;
    this.snaplen = opts?.snaplen ?? PCAP_DEFAULT_SNAPLEN;
    this.linkType = opts?.linkType ?? LINKTYPE_ETHERNET;
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1 || this.snaplen > PCAP_MAX_RECORD_LEN) {
      throw new PcapError(path, `pcap writer for "${path}": snaplen ${this.snaplen} is out of range`, `use 1..${PCAP_MAX_RECORD_LEN}`);
    }
    this.buf = new Uint8Array(bufferSizeOf(path, "pcap writer", opts?.bufferSize, 1 << 20, 4096));
    const ms = Date.now();
    this.baseMono = Bun.nanoseconds();
    this.baseSec = Math.floor(ms / 1000);
    this.baseNsec = (ms % 1000) * 1e6;
    try {
      this.fd = openSync(path, opts?.append ? "a" : "w");
    } catch (e) {
      const err = e as { code?: string; message?: string };
      throw new PcapError(
        path,
        `cannot write pcap file "${path}": ${err.code ?? err.message ?? String(e)}`,
        "check that the directory exists and is writable",
      );
    }
    if (opts?.append && fstatSync(this.fd).size > 0) {
      this.checkAppendTarget(path);
    } else {
      const b = this.buf;
      wr32le(b, 0, this.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC);
      b[4] = 2;
      b[5] = 0;
      b[6] = 4;
      b[7] = 0;
      wr32le(b, 8, 0); // thiszone
      wr32le(b, 12, 0); // sigfigs
      wr32le(b, 16, this.snaplen);
      wr32le(b, 20, this.linkType);
      this.pos = PCAP_FILE_HDR_LEN;
    }
  }

  /** Appending must continue a little-endian file of the same precision and link type. */
  private checkAppendTarget(path: string): void {
    let header: PcapHeader;
    try {
      const r = PcapReader.open(path);
      header = r.header;
      r.close();
    } catch (e) {
      closeSync(this.fd);
      this.fd = -1;
      throw e;
    }
    const want = `${this.nanosecond ? "nanosecond" : "microsecond"} little-endian link type ${this.linkType}`;
    const have = `${header.nanosecond ? "nanosecond" : "microsecond"} ${header.bigEndian ? "big" : "little"}-endian link type ${header.linkType}`;
    if (want !== have) {
      closeSync(this.fd);
      this.fd = -1;
      throw new PcapError(path, `cannot append to pcap file "${path}": it is ${have}, this writer makes ${want}`, "write a new file");
    }
  }

  /** Same as `new PcapWriter(path, opts)`. */
  static open(path: string, opts?: PcapWriterOptions): PcapWriter {
    return new PcapWriter(path, opts);
  }

  /**
   * Appends the frame `bytes[off .. off+len)`. `timeNs` is nanoseconds since the epoch; omitted,
   * the frame is stamped "now". (A double holds epoch nanoseconds only to ~256 ns; for exact
   * stamps use `frameAt`.)
   */
  frame(bytes: Uint8Array, off: number, len: number, timeNs?: number): void {
    let sec: number;
    let nsec: number;
    if (timeNs === undefined) {
      const t = this.baseNsec + (Bun.nanoseconds() - this.baseMono);
      const whole = Math.floor(t / 1e9);
      sec = this.baseSec + whole;
      nsec = t - whole * 1e9;
    } else {
      sec = Math.floor(timeNs / 1e9);
      nsec = timeNs - sec * 1e9;
      if (nsec < 0) nsec = 0;
      else if (nsec > 999999999) nsec = 999999999;
    }
    this.frameAt(bytes, off, len, sec, nsec, len);
  }

  /**
   * Appends the frame `bytes[off .. off+len)` stamped `sec` + `nsec` (0..999999999, truncated to
   * microseconds in a microsecond file). `origLen` is the wire length when `len` was already cut.
   */
  frameAt(bytes: Uint8Array, off: number, len: number, sec: number, nsec: number, origLen: number = len): void {
    if (this.fd < 0) throw new PcapError(this.path, `pcap writer for "${this.path}" is closed`, "open a new PcapWriter");
    const cap = len > this.snaplen ? this.snaplen : len;
    if (this.pos + PCAP_RECORD_HDR_LEN + cap > this.buf.length) this.flush();
    const b = this.buf;
    let p = this.pos;
    wr32le(b, p, sec);
    wr32le(b, p + 4, this.nanosecond ? nsec : Math.floor(nsec / 1000));
    wr32le(b, p + 8, cap);
    wr32le(b, p + 12, origLen);
    p += PCAP_RECORD_HDR_LEN;
    if (p + cap <= b.length) {
      // A plain loop: `set(subarray())` would allocate a view per frame.
      let i = 0;
      const cap8 = cap & ~7;
      while (i < cap8) {
        b[p + i] = bytes[off + i];
        b[p + i + 1] = bytes[off + i + 1];
        b[p + i + 2] = bytes[off + i + 2];
        b[p + i + 3] = bytes[off + i + 3];
        b[p + i + 4] = bytes[off + i + 4];
        b[p + i + 5] = bytes[off + i + 5];
        b[p + i + 6] = bytes[off + i + 6];
        b[p + i + 7] = bytes[off + i + 7];
        i += 8;
      }
      while (i < cap) {
        b[p + i] = bytes[off + i];
        i++;
      }
      this.pos = p + cap;
    } else {
      // A frame bigger than the whole buffer: write the header, then the bytes straight from the caller.
      this.pos = p;
      this.flush();
      this.writeAll(bytes, off, cap);
    }
    this.frames++;
    this.bytes += cap;
  }

  private writeAll(b: Uint8Array, off: number, len: number): void {
    let done = 0;
    try {
      while (done < len) done += writeSync(this.fd, b, off + done, len - done);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      throw new PcapError(this.path, `cannot write pcap file "${this.path}": ${err.code ?? err.message}`, "check free space and permissions");
    }
  }

  /** Writes buffered frames to the file. */
  flush(): void {
    if (this.pos > 0 && this.fd >= 0) {
      this.writeAll(this.buf, 0, this.pos);
      this.pos = 0;
    }
  }

  /** Flushes and closes the file (idempotent). */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
