// pktgen's options: the command-line table, the programmatic PktgenOptions, and resolveOptions(), which
// checks everything that can be checked before a port is opened and turns text into numbers. Every
// refusal is one line naming the option and the fix (a UsageError).
import { net, parseHttpAddress, type Port } from "../../src/index.ts";
import { checkCores, parseArgs, parseCoreList, portResource, strictNumber, UsageError } from "../common/args.ts";
import { MIN_FRAME_V4, MIN_FRAME_V6 } from "./payload.ts";

const { parseIpv4, parseIpv6Into, parseMac } = net;

/** Largest frame size, CRC included (a 9000-byte MTU jumbo frame). */
export const MAX_SIZE = 9018;
/** The simple IMIX: 7 × 64, 4 × 594, 1 × 1518 (sizes with CRC). */
export const IMIX_SIZES = [64, 594, 1518] as const;
export const IMIX_WEIGHTS = [7, 4, 1] as const;
/** The IMIX order within one cycle of 12 (spread out, not 7 small frames in a row). */
const IMIX_ORDER = [0, 1, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1];

export const CLI_OPTIONS = {
  tx: { type: "string", value: "SPEC", help: "port to send on (or give it as the first positional argument)" },
  rx: { type: "string", value: "SPEC", help: "port to receive on in the same loop: counts loss, duplicates, reordering, latency" },
  "rx-only": { type: "string", value: "SPEC", help: "only receive on SPEC (another process sends)" },
  ipv6: { type: "bool", help: "send IPv6/UDP instead of IPv4/UDP" },
  size: { type: "string", value: "N|A-B", help: "frame size in bytes with the 4-byte CRC (DPDK's count): 64, or a range 64-1518 stepped per frame (default 64; 82 with --ipv6)" },
  imix: { type: "bool", help: "simple IMIX: 64/594/1518-byte frames in the ratio 7:4:1 (82 instead of 64 with --ipv6)" },
  rate: { type: "string", value: "RATE", help: "frames per second (1000000, 500kpps, 1Mpps), bit rate of the frames with CRC (100Mbps, 10Gbps), or share of link speed on the wire (50%) (default: unlimited)" },
  count: { type: "int", min: 1, value: "N", help: "stop after N frames (with --rx-only: after N received) (default: no limit)" },
  duration: { type: "number", min: 0, value: "S", help: "stop after S seconds (0: no limit; the default)" },
  "src-mac": { type: "string", value: "MAC[-MAC]", help: "source MAC or range (default: the TX port's MAC)" },
  "dst-mac": { type: "string", value: "MAC[-MAC]", help: "destination MAC or range (default 02:00:00:00:00:01)" },
  "src-ip": { type: "string", value: "IP[-IP]", help: "source address or range (default 198.18.0.1; with --ipv6 2001:2::1)" },
  "dst-ip": { type: "string", value: "IP[-IP]", help: "destination address or range (default 198.19.0.1; with --ipv6 2001:2:0:1::1)" },
  "src-port": { type: "string", value: "P[-P]", help: "UDP source port or range (default 1024)" },
  "dst-port": { type: "string", value: "P[-P]", help: "UDP destination port or range (default 1024)" },
  burst: { type: "int", default: 32, min: 1, max: 4096, value: "N", help: "frames per txBurst/rxBurst" },
  pcap: { type: "string", value: "FILE", help: "replay this capture's frames, in order, instead of generating" },
  loop: { type: "int", min: 0, value: "N", help: "with --pcap only: times to replay the file (0: no limit, until --count/--duration/Ctrl-C; default 1)" },
  "drain-ms": { type: "int", default: 500, min: 0, max: 600000, value: "MS", help: "after TX ends, wait up to MS for frames still in flight" },
  interval: { type: "number", default: 1, min: 0, max: 86400, value: "S", help: "seconds between live stats lines on stderr (0: none)" },
  stream: { type: "int", min: 0, max: 65535, value: "ID", help: "stream id written in every frame (default: random per run; with --cores, worker w sends stream ID+w); with --rx-only: count only this stream" },
  cores: { type: "string", value: "LIST", help: "worker cores, e.g. 0,1 or 0-3: one pinned worker per core; worker w sends on TX queue w a 1/N share of --rate and --count as stream ID+w (the ranges dealt round-robin: worker w builds frames w, w+N …), and polls RX queues w, w+N … (default: everything in the main thread)" },
  queues: { type: "int", min: 1, max: 1024, value: "N", help: "RX queues on the RX port (the main thread polls them all; with --cores the workers share them), spread by its RSS when it has one (vary --src-port or --src-ip so that flows differ); reordering is counted within each queue, since frames of one stream on different queues are not comparable (default 1)" },
  json: { type: "bool", help: "print the result as one JSON object on stdout" },
  live: { type: "bool", default: true, help: "on a terminal, one screen redrawn in place every --interval instead of stats lines (--no-live: lines)" },
  telemetry: { type: "bool", help: "serve telemetry on a Unix socket: bdk telemetry PID (docs/telemetry.md)" },
  "telemetry-http": { type: "string", value: "[ADDR:]PORT", help: "also serve /metrics (Prometheus), /api and the live page over HTTP on PORT (on 127.0.0.1 unless ADDR is given; 0 picks a free port); implies --telemetry" },
} as const;

export type RateUnit = "pps" | "bps" | "percent";

/** How runPktgen is told what to do: the CLI's values, or ports and numbers from code. */
export interface PktgenOptions {
  /** Port to send on: a spec ("ring:a", "af_packet:veth0") or an open Port (configured or not; left open). */
  tx?: string | Port;
  /** Port to receive on in the same loop; the same spec/Port as tx means one port that sends and receives. */
  rx?: string | Port;
  ipv6?: boolean;
  /** Frame size with CRC: 64, or "64-1518" (stepped per frame), or [64, 1518]. */
  size?: number | string | [number, number];
  imix?: boolean;
  /** pps as a number; or text: "1Mpps", "500kpps", "100Mbps", "50%". */
  rate?: number | string;
  count?: number;
  /** Seconds. */
  duration?: number;
  srcMac?: string;
  dstMac?: string;
  srcIp?: string;
  dstIp?: string;
  srcPort?: number | string;
  dstPort?: number | string;
  burst?: number;
  pcap?: string;
  loop?: number;
  drainMs?: number;
  /** Seconds between onStats calls (0: none). Default 1. */
  interval?: number;
  streamId?: number;
  /** Worker cores ("0,1", "0-3" or [0, 1]): one pinned worker per core, each with its own TX queue and stream. Default: none (the main thread). */
  cores?: string | readonly number[];
  /** RX queues on the RX port (default 1). */
  queues?: number;
  /** For the CLI: print JSON. runPktgen ignores it. */
  json?: boolean;
  /** For the CLI: a live screen on a terminal (default true), telemetry, telemetry over HTTP ("[ADDR:]PORT"). runPktgen ignores them. */
  live?: boolean;
  telemetry?: boolean;
  telemetryHttp?: string;
  /** For the CLI: --help was given. */
  help?: boolean;
}

/** A range of integer values stepped per packet: start, start+1, … start+count-1, start, … */
export interface ValueRange {
  start: number;
  count: number;
}

export interface Rate {
  unit: RateUnit;
  /** pps, bit/s, or percent (0..100]. */
  value: number;
  text: string;
}

/** Everything checked and converted. */
export interface ResolvedOptions {
  tx: string | Port | undefined;
  rx: string | Port | undefined;
  ipv6: boolean;
  /** Frame lengths WITHOUT the CRC, one per packet, cycled. */
  sizes: Uint16Array;
  sizeText: string;
  rate: Rate | undefined;
  count: number;
  durationNs: number;
  srcMac: ValueRange | undefined;
  dstMac: ValueRange;
  srcIp: ValueRange;
  dstIp: ValueRange;
  /** IPv6: the upper 96 bits of the source / destination (the range covers the low 32). */
  srcIp6: Uint8Array;
  dstIp6: Uint8Array;
  srcPort: ValueRange;
  dstPort: ValueRange;
  burst: number;
  pcap: string | undefined;
  loop: number;
  drainMs: number;
  interval: number;
  streamId: number;
  /** Worker cores ([]: the main thread does everything). */
  cores: number[];
  /** The text --cores was given as, for messages ("0,1"). */
  coresText: string;
  queues: number;
}

const CMD = "pktgen";

function usage(what: string, fix: string): UsageError {
  return new UsageError(`${CMD}: ${what}`, fix);
}

/** Parses the command line into PktgenOptions, checking every value (throws UsageError). */
export function parsePktgenArgs(argv: readonly string[]): PktgenOptions {
  const o = parseArgs(CMD, CLI_OPTIONS, argv);
  if (o.help) return { help: true };
  const pos = o._;
  let tx = o.tx as string | undefined;
  if (pos.length > 0) {
    if (tx !== undefined || pos.length > 1) {
      throw usage(`unexpected argument${pos.length > 1 ? "s" : ""} ${pos.map((p) => `"${p}"`).join(" ")}`, "give one TX port, as --tx SPEC or as the first argument");
    }
    tx = pos[0];
  }
  const rxOnly = o["rx-only"] as string | undefined;
  const rx = o.rx as string | undefined;
  if (rxOnly !== undefined && (tx !== undefined || rx !== undefined)) {
    throw usage("--rx-only cannot be combined with --tx or --rx", "use --tx SPEC --rx SPEC to send and receive in one process, or --rx-only SPEC alone");
  }
  if (rxOnly === undefined && tx === undefined) {
    throw usage(rx !== undefined ? "--rx without --tx" : "missing --tx", "give the port to send on: bdk pktgen --tx af_packet:veth0 (or --rx-only SPEC to only receive)");
  }
  if (tx !== undefined && rx !== undefined) {
    const note = samePortNote(tx, rx);
    if (note) console.error(note);
  }
  const opts: PktgenOptions = {
    tx,
    rx: rxOnly ?? rx,
    ipv6: o.ipv6,
    size: o.size as string | undefined,
    imix: o.imix,
    rate: o.rate as string | undefined,
    count: o.count as number | undefined,
    duration: o.duration as number | undefined,
    srcMac: o["src-mac"] as string | undefined,
    dstMac: o["dst-mac"] as string | undefined,
    srcIp: o["src-ip"] as string | undefined,
    dstIp: o["dst-ip"] as string | undefined,
    srcPort: o["src-port"] as string | undefined,
    dstPort: o["dst-port"] as string | undefined,
    burst: o.burst,
    pcap: o.pcap as string | undefined,
    loop: o.loop as number | undefined,
    drainMs: o["drain-ms"],
    interval: o.interval,
    streamId: o.stream as number | undefined,
    cores: o.cores as string | undefined,
    queues: o.queues as number | undefined,
    json: o.json,
    live: o.live,
    telemetry: o.telemetry,
    telemetryHttp: o["telemetry-http"] as string | undefined,
  };
  if (opts.telemetryHttp !== undefined) parseHttpAddress(opts.telemetryHttp, "pktgen: --telemetry-http");
  resolveOptions(opts); // every check that needs no port, now
  return opts;
}

/**
 * --tx and --rx naming the same thing. Ring: the two ends of one link, pktgen's loopback (nothing to say).
 * af_packet: one interface that sends and receives, allowed, with a note (undefined for anything else it
 * returns). Any other port twice is refused: two separate ports, nothing sent on one arrives on the other
 * (null, pcap), or a device that opens once (PCI).
 */
export function samePortNote(tx: string, rx: string): string | undefined {
  const a = portResource(tx);
  const b = portResource(rx);
  if (a && b && a.key === b.key) {
    if (a.kind === "ring") return undefined;
    if (a.kind === "af_packet") {
      return `${CMD}: note: --tx and --rx are one ${a.what}: it sends and receives there; this process does not see its own frames, ` +
        "only what comes back from the link (a forwarder or reflector on the far side)";
    }
    throw usage(`--tx and --rx are the same ${a.what} ("${tx}", "${rx}")`,
      a.kind === "pci" ? "a PCI device opens once: receive on another port, or drop --rx" : "give each its own file, or drop --rx");
  }
  if (!a && !b && tx.trim() === rx.trim()) {
    throw usage(`--tx and --rx are both "${tx}": two separate ports, and nothing sent on one arrives on the other`,
      "receive on a port the frames reach (ring:NAME twice is a link; af_packet:IFACE twice sends and receives on one interface), or drop --rx");
  }
  return undefined;
}

/** Checks and converts options (throws UsageError naming the option). */
export function resolveOptions(o: PktgenOptions): ResolvedOptions {
  if (o === null || typeof o !== "object") throw usage("options must be an object", "e.g. { tx: \"ring:a\", count: 1000 }");
  if (o.tx === undefined && o.rx === undefined) throw usage("missing --tx", "give the port to send on: --tx SPEC (or --rx-only SPEC to only receive)");
  const ipv6 = o.ipv6 === true;
  const pcap = o.pcap;
  if (pcap !== undefined) {
    if (typeof pcap !== "string" || pcap === "") throw usage("--pcap needs a file name", "e.g. --pcap trace.pcap");
    if (o.tx === undefined) throw usage("--pcap without a TX port", "give --tx SPEC to replay the file on");
    if (o.size !== undefined || o.imix) throw usage("--pcap replays the file's frames as they are", "drop --size/--imix (the file decides the sizes)");
    if (ipv6) throw usage("--pcap replays the file's frames as they are", "drop --ipv6");
  } else if (o.loop !== undefined) {
    throw usage("--loop without --pcap", "--loop N replays a --pcap file N times: give --pcap FILE, or drop --loop (--count and --duration limit generated traffic)");
  }
  const minSize = ipv6 ? MIN_FRAME_V6 : MIN_FRAME_V4;
  let sizes: number[];
  let sizeText: string;
  if (o.imix) {
    if (o.size !== undefined) throw usage("--size and --imix both given", "give one of them");
    sizes = IMIX_ORDER.map((i) => (ipv6 && IMIX_SIZES[i] === 64 ? MIN_FRAME_V6 : IMIX_SIZES[i]!));
    sizeText = ipv6 ? `imix (${MIN_FRAME_V6}/594/1518 7:4:1)` : "imix (64/594/1518 7:4:1)";
  } else {
    const [lo, hi] = parseSize(o.size ?? minSize, minSize, ipv6);
    sizes = [];
    for (let s = lo; s <= hi; s++) sizes.push(s);
    sizeText = lo === hi ? `${lo}` : `${lo}-${hi}`;
  }
  const rate = o.rate === undefined ? undefined : parseRate(o.rate);
  const count = o.count ?? 0;
  if (!Number.isInteger(count) || count < 0) throw usage(`--count ${o.count} is not a whole number of frames`, "give --count N with N ≥ 1 (or leave it out: unlimited)");
  const duration = o.duration ?? 0;
  if (typeof duration !== "number" || !Number.isFinite(duration) || duration < 0) throw usage(`--duration ${o.duration} is out of range`, "give seconds > 0, e.g. --duration 10");
  const burst = o.burst ?? 32;
  if (!Number.isInteger(burst) || burst < 1 || burst > 4096) throw usage(`--burst ${o.burst} is out of range`, "give 1..4096 (32 is DPDK's default)");
  const loop = o.loop ?? 1;
  if (!Number.isInteger(loop) || loop < 0) throw usage(`--loop ${o.loop} is out of range`, "give 0 (forever) or a count ≥ 1");
  const drainMs = o.drainMs ?? 500;
  if (typeof drainMs !== "number" || !(drainMs >= 0)) throw usage(`--drain-ms ${o.drainMs} is out of range`, "give milliseconds ≥ 0");
  const interval = o.interval ?? 1;
  if (typeof interval !== "number" || !(interval >= 0)) throw usage(`--interval ${o.interval} is out of range`, "give seconds ≥ 0 (0: no live stats)");
  let streamId = o.streamId;
  if (streamId === undefined) streamId = 1 + Math.floor(Math.random() * 65535);
  else if (!Number.isInteger(streamId) || streamId < 0 || streamId > 65535) throw usage(`--stream ${streamId} is out of range`, "give 0..65535");

  const { cores, coresText } = resolveCores(o.cores);
  const queues = o.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > 1024) throw usage(`--queues ${o.queues} is out of range`, "give 1..1024 RX queues (the RX port may take fewer)");
  if (queues > 1 && o.rx === undefined) {
    throw usage(`--queues ${queues} without a port to receive on`, "--queues sets the RX port's queues: give --rx SPEC (or --rx-only SPEC), or drop --queues");
  }
  if (cores.length > 0) {
    if (pcap !== undefined) throw usage("--pcap with --cores: a capture replays in order, in one thread", "drop --cores (or generate frames instead of --pcap)");
    if (o.tx === undefined && cores.length > queues) {
      throw usage(`--cores ${coresText} starts ${cores.length} receiving workers for ${queues} RX queue(s)`, `give --queues ${cores.length} (one or more per worker), or fewer cores`);
    }
  }

  const srcIp6 = new Uint8Array(16);
  const dstIp6 = new Uint8Array(16);
  let srcIp: ValueRange;
  let dstIp: ValueRange;
  if (ipv6) {
    srcIp = parseIp6Range("--src-ip", o.srcIp ?? "2001:2::1", srcIp6);
    dstIp = parseIp6Range("--dst-ip", o.dstIp ?? "2001:2:0:1::1", dstIp6);
  } else {
    srcIp = parseIp4Range("--src-ip", o.srcIp ?? "198.18.0.1");
    dstIp = parseIp4Range("--dst-ip", o.dstIp ?? "198.19.0.1");
  }
  return {
    tx: o.tx,
    rx: o.rx,
    ipv6,
    sizes: Uint16Array.from(sizes.map((s) => s - 4)),
    sizeText,
    rate,
    count,
    durationNs: duration * 1e9,
    srcMac: o.srcMac === undefined ? undefined : parseMacRange("--src-mac", o.srcMac),
    dstMac: parseMacRange("--dst-mac", o.dstMac ?? "02:00:00:00:00:01"),
    srcIp,
    dstIp,
    srcIp6,
    dstIp6,
    srcPort: parsePortRange("--src-port", o.srcPort ?? 1024),
    dstPort: parsePortRange("--dst-port", o.dstPort ?? 1024),
    burst,
    pcap,
    loop,
    drainMs,
    interval,
    streamId,
    cores,
    coresText,
    queues,
  };
}

/** --cores as text or numbers: well-formed, and cores this process may run on (like l2fwd's). */
function resolveCores(v: string | readonly number[] | undefined): { cores: number[]; coresText: string } {
  if (v === undefined || (Array.isArray(v) && v.length === 0)) return { cores: [], coresText: "" };
  let cores: number[];
  if (typeof v === "string") cores = parseCoreList(CMD, v);
  else if (Array.isArray(v) && v.every((c) => Number.isInteger(c) && c >= 0 && c < 1024)) cores = [...v];
  else throw usage(`--cores ${JSON.stringify(v)} is not a list of cores`, "give core numbers 0..1023, e.g. [0, 1] or \"0-3\"");
  checkCores(CMD, cores);
  return { cores, coresText: typeof v === "string" ? v : cores.join(",") };
}

/** "64" / "64-1518" / 64 / [64, 1518] → [lo, hi] with CRC, checked. */
export function parseSize(v: number | string | [number, number], min: number, ipv6: boolean): [number, number] {
  let lo: number;
  let hi: number;
  if (typeof v === "number") lo = hi = v;
  else if (Array.isArray(v)) [lo, hi] = v;
  else {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(String(v));
    if (!m) throw usage(`--size "${v}" is malformed`, "give a frame size in bytes with CRC (64) or a range (64-1518)");
    lo = Number(m[1]);
    hi = m[2] === undefined ? lo : Number(m[2]);
  }
  const why = ipv6 ? `IPv6/UDP with the ${MIN_FRAME_V6 - 66}-byte pktgen payload needs ${MIN_FRAME_V6}` : `Ethernet's minimum is ${MIN_FRAME_V4}`;
  for (const s of [lo, hi]) {
    if (!Number.isInteger(s)) throw usage(`--size ${s} is not a whole number of bytes`, `give ${min}..${MAX_SIZE}`);
    if (s < min) throw usage(`--size ${s} is too small (${why} bytes with CRC)`, `give ${min}..${MAX_SIZE}`);
    if (s > MAX_SIZE) throw usage(`--size ${s} is too large (jumbo frames go up to ${MAX_SIZE} bytes with CRC)`, `give ${min}..${MAX_SIZE}`);
  }
  if (hi < lo) throw usage(`--size range ${lo}-${hi} runs backwards`, `write ${hi}-${lo}`);
  return [lo, hi];
}

const RATE_FIX = "write frames per second (1000000, 500kpps, 1Mpps), a bit rate of frames with CRC (100Mbps, 10Gbps) or a share of the link speed (50%)";

/** "1Mpps" / "500kpps" / "1000000" / "100Mbps" / "50%" / a number (pps). */
export function parseRate(v: number | string): Rate {
  const text = String(v);
  let unit: RateUnit;
  let value: number;
  if (typeof v === "number") {
    unit = "pps";
    value = v;
  } else {
    // The number in the command line's one grammar (a plain decimal), then the unit.
    const m = /^(.*?)(%|pps|kpps|mpps|gpps|bps|kbps|mbps|gbps|kbit\/s|mbit\/s|gbit\/s|k|m)?$/i.exec(text);
    const n = m ? strictNumber(m[1]!) : undefined;
    if (!m || n === undefined) throw usage(`--rate "${text}" is malformed`, RATE_FIX);
    const u = (m[2] ?? "pps").toLowerCase();
    switch (u) {
      case "%": unit = "percent"; value = n; break;
      case "pps": unit = "pps"; value = n; break;
      case "k": case "kpps": unit = "pps"; value = n * 1e3; break;
      case "m": case "mpps": unit = "pps"; value = n * 1e6; break;
      case "gpps": unit = "pps"; value = n * 1e9; break;
      case "bps": unit = "bps"; value = n; break;
      case "kbps": case "kbit/s": unit = "bps"; value = n * 1e3; break;
      case "mbps": case "mbit/s": unit = "bps"; value = n * 1e6; break;
      case "gbps": case "gbit/s": unit = "bps"; value = n * 1e9; break;
      default: throw usage(`--rate "${text}" is malformed`, RATE_FIX);
    }
  }
  if (!Number.isFinite(value) || value <= 0) throw usage(`--rate ${text} is out of range`, "give a rate above 0 (or leave --rate out: unlimited)");
  if (unit === "percent" && value > 100) throw usage(`--rate ${text} is out of range`, "give a share of the link speed in (0, 100]%");
  if (unit === "pps" && value > 1e9) throw usage(`--rate ${text} is out of range`, "give at most 1Gpps (1000000000)");
  if (unit === "bps" && value > 1e12) throw usage(`--rate ${text} is out of range`, "give at most 1000Gbps");
  if (unit === "bps" && value < 64 * 8) throw usage(`--rate ${text} is out of range`, "give at least 512bps (one 64-byte frame a second)");
  return { unit, value, text };
}

/** Splits "A-B" (a single "-", or for MACs written with "-" the middle one) into its ends. */
function splitRange(text: string, mac: boolean): [string, string] {
  const dashes = text.split("-").length - 1;
  if (dashes === 0 || (mac && dashes === 5)) return [text, text];
  if (dashes === 1) {
    const [a, b] = text.split("-") as [string, string];
    return [a, b];
  }
  if (mac && dashes === 11) {
    const parts = text.split("-");
    return [parts.slice(0, 6).join("-"), parts.slice(6).join("-")];
  }
  return [text, ""];
}

function rangeOf(opt: string, text: string, lo: number, hi: number, fmt: string): ValueRange {
  if (hi < lo) throw usage(`${opt} range "${text}" runs backwards`, `write it as ${fmt}`);
  return { start: lo, count: hi - lo + 1 };
}

export function parseMacRange(opt: string, text: string): ValueRange {
  const [a, b] = splitRange(text.trim(), true);
  const num = (s: string): number => {
    let m: Uint8Array;
    try {
      m = parseMac(s);
    } catch {
      throw usage(`${opt} "${text}" is not a MAC address or range`, `write it like 02:00:00:00:00:01 or 02:00:00:00:00:01-02:00:00:00:00:10`);
    }
    let v = 0;
    for (let i = 0; i < 6; i++) v = v * 256 + m[i]!;
    return v;
  };
  const r = rangeOf(opt, text, num(a), num(b), "LOW-HIGH");
  if (opt === "--src-mac" && Math.floor(r.start / 0x010000000000) % 2 === 1) {
    throw usage(`${opt} ${text} is a multicast address`, "a source MAC must be unicast (first byte even)");
  }
  return r;
}

export function parseIp4Range(opt: string, text: string): ValueRange {
  const [a, b] = splitRange(text.trim(), false);
  const num = (s: string): number => {
    try {
      return parseIpv4(s);
    } catch {
      throw usage(`${opt} "${text}" is not an IPv4 address or range`, "write it like 198.18.0.1 or 198.18.0.1-198.18.0.254 (give --ipv6 for IPv6 addresses)");
    }
  };
  return rangeOf(opt, text, num(a), num(b), "LOW-HIGH");
}

/** An IPv6 range: both ends share the upper 96 bits (written to `upper`); the range is over the low 32. */
export function parseIp6Range(opt: string, text: string, upper: Uint8Array): ValueRange {
  const [a, b] = splitRange(text.trim(), false);
  const ea = new Uint8Array(16);
  const eb = new Uint8Array(16);
  try {
    parseIpv6Into(a, ea);
    parseIpv6Into(b, eb);
  } catch {
    throw usage(`${opt} "${text}" is not an IPv6 address or range`, "write it like 2001:2::1 or 2001:2::1-2001:2::ff");
  }
  for (let i = 0; i < 12; i++) {
    if (ea[i] !== eb[i]) throw usage(`${opt} range "${text}" spans more than the last 32 bits`, "give two addresses that differ only in their last two groups");
  }
  upper.set(ea.subarray(0, 12), 0);
  const lo = ((ea[12]! << 24) | (ea[13]! << 16) | (ea[14]! << 8) | ea[15]!) >>> 0;
  const hi = ((eb[12]! << 24) | (eb[13]! << 16) | (eb[14]! << 8) | eb[15]!) >>> 0;
  return rangeOf(opt, text, lo, hi, "LOW-HIGH");
}

export function parsePortRange(opt: string, v: number | string): ValueRange {
  const text = String(v);
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(text);
  if (!m) throw usage(`${opt} "${text}" is not a UDP port or range`, `write it like 1024 or 1024-1087`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535) throw usage(`${opt} ${text} is out of range`, "UDP ports are 0..65535");
  return rangeOf(opt, text, lo, hi, "LOW-HIGH");
}
