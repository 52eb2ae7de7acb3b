// The XDP side of an af_xdp port, through bpf(2) and netlink: the XSKMAP (queue index → XDP socket), the
// program that redirects a queue's frames to its socket, assembled here from five BPF instructions, and the
// BPF link that attaches it to the interface. A link belongs to its fd: when the process ends (exit, crash,
// SIGKILL) the kernel closes the fd, drops the link and detaches the program. Nothing is pinned in bpffs.
//
// The program (what libxdp's default program does on kernels ≥ 5.3):
//
//   r2 = *(u32 *)(r1 + 16)         ; ctx->rx_queue_index
//   r1 = XSKMAP fd (ld_imm64, BPF_PSEUDO_MAP_FD)
//   r3 = XDP_PASS                  ; bpf_redirect_map's fallback when the map has no socket at that index
//   call bpf_redirect_map
//   exit
//
// So a frame on a queue with a bound socket goes to the socket; any other frame goes on to the kernel's
// stack as if no program were there (the machine keeps its ARP, SSH …).
import { ptr } from "bun:ffi";
import { BdkError } from "../../src/sys/errors.ts";
import { close, errno, raw, socket, strerror } from "../../src/sys/libc.ts";
import {
  BPF_FUNC_redirect_map, BPF_LINK_CREATE, BPF_MAP_CREATE, BPF_MAP_DELETE_ELEM, BPF_MAP_TYPE_XSKMAP, BPF_MAP_UPDATE_ELEM,
  BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_LOAD, BPF_PROG_TYPE_XDP, BPF_XDP, PROG_INFO_BYTES, PROG_INFO_ID, SYS_BPF, XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE, XDP_MD_RX_QUEUE_INDEX, XDP_PASS,
} from "./uapi.ts";

const E_PERM = 1, E_BUSY = 16, E_EXIST = 17, E_INVAL = 22, E_OPNOTSUPP = 95, E_NOSYS = 38;

/** Why something about XDP was refused, with the fix; `reason` lets callers and tests tell the cases apart. */
export class AfXdpError extends BdkError {
  constructor(readonly reason: AfXdpRefusal, what: string, fix: string) {
    super(what, fix);
    this.name = "AfXdpError";
  }
}

export type AfXdpRefusal = "no-xsk" | "permission" | "busy" | "queue" | "zerocopy" | "mode" | "pool" | "verifier" | "kernel";

export const CAP_FIX = "run as root, or give bun the capabilities: `setcap cap_net_admin,cap_net_raw,cap_bpf+ep $(readlink -f $(which bun))`";

/** bpf(cmd, attr): the fd or 0 on success, else -errno. */
function bpf(cmd: number, attr: Uint8Array): number {
  const r = Number(raw.syscall(SYS_BPF, cmd, attr, attr.byteLength));
  return r < 0 ? -errno() : r;
}

function attrOf(bytes: number): { u8: Uint8Array; u32: Uint32Array } {
  const u8 = new Uint8Array(bytes);
  return { u8, u32: new Uint32Array(u8.buffer) };
}

function setU64(u32: Uint32Array, word: number, v: number): void {
  u32[word] = v % 4294967296;
  u32[word + 1] = Math.floor(v / 4294967296);
}

function setName(u8: Uint8Array, at: number, name: string): void {
  const b = new TextEncoder().encode(name.slice(0, 15));
  u8.set(b, at);
}

function permissionError(what: string): AfXdpError {
  return new AfXdpError("permission", `${what}: not permitted (AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF)`, CAP_FIX);
}

/** An XSKMAP of `entries` slots (one per RX queue of the interface). Returns its fd. */
export function createXskMap(what: string, entries: number): number {
  const { u8, u32 } = attrOf(128);
  u32[0] = BPF_MAP_TYPE_XSKMAP;
  u32[1] = 4; // key: the queue index
  u32[2] = 4; // value: the socket's fd
  u32[3] = entries;
  setName(u8, 28, "bdk_xsks");
  const r = bpf(BPF_MAP_CREATE, u8);
  if (r >= 0) return r;
  if (-r === E_PERM) throw permissionError(`${what}: bpf(BPF_MAP_CREATE)`);
  if (-r === E_NOSYS) throw new AfXdpError("no-xsk", `${what}: this kernel has no bpf(2) system call`, "use a kernel built with CONFIG_BPF_SYSCALL, or af_packet:IFACE");
  if (-r === E_INVAL) throw new AfXdpError("no-xsk", `${what}: this kernel cannot make an XSKMAP (${strerror(-r)})`, "use a kernel with CONFIG_XDP_SOCKETS (≥ 5.4), or af_packet:IFACE");
  throw new AfXdpError("kernel", `${what}: bpf(BPF_MAP_CREATE, XSKMAP) failed: ${strerror(-r)}`, "check `ulimit -l` (older kernels charge BPF maps to RLIMIT_MEMLOCK)");
}

/** Puts socket `sockFd` at index `queue` of the map (frames of that queue go to it from now on). */
export function xskMapSet(mapFd: number, queue: number, sockFd: number, what: string): void {
  const key = new Uint32Array([queue]);
  const value = new Uint32Array([sockFd]);
  const { u8, u32 } = attrOf(32);
  u32[0] = mapFd;
  setU64(u32, 2, ptr(key));
  setU64(u32, 4, ptr(value));
  const r = bpf(BPF_MAP_UPDATE_ELEM, u8);
  if (r < 0) throw new AfXdpError("kernel", `${what}: XSKMAP update for queue ${queue} failed: ${strerror(-r)}`, "the socket must be bound to that queue of this interface");
}

/** Removes index `queue` (its frames pass to the kernel again). Quiet when it was not there. */
export function xskMapDelete(mapFd: number, queue: number): void {
  const key = new Uint32Array([queue]);
  const { u8, u32 } = attrOf(32);
  u32[0] = mapFd;
  setU64(u32, 2, ptr(key));
  bpf(BPF_MAP_DELETE_ELEM, u8);
}

/** struct bpf_insn: u8 code, u8 dst:4 | src:4 << 4, s16 off, s32 imm. */
function insn(out: Uint8Array, at: number, code: number, dst: number, src: number, off: number, imm: number): void {
  const v = new DataView(out.buffer, out.byteOffset + at * 8, 8);
  v.setUint8(0, code);
  v.setUint8(1, (dst & 0xf) | ((src & 0xf) << 4));
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
}

const BPF_LDX_MEM_W = 0x61, BPF_LD_IMM_DW = 0x18, BPF_ALU64_MOV_K = 0xb7, BPF_JMP_CALL = 0x85, BPF_JMP_EXIT = 0x95;
const BPF_PSEUDO_MAP_FD = 1;

/** The redirect program's instructions for the map `mapFd` (see the top of this file). */
export function redirectProgram(mapFd: number): Uint8Array {
  const p = new Uint8Array(6 * 8);
  insn(p, 0, BPF_LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0);
  insn(p, 1, BPF_LD_IMM_DW, 1, BPF_PSEUDO_MAP_FD, 0, mapFd);
  insn(p, 2, 0, 0, 0, 0, 0); // the second half of the 64-bit immediate
  insn(p, 3, BPF_ALU64_MOV_K, 3, 0, 0, XDP_PASS);
  insn(p, 4, BPF_JMP_CALL, 0, 0, 0, BPF_FUNC_redirect_map);
  insn(p, 5, BPF_JMP_EXIT, 0, 0, 0, 0);
  return p;
}

/** Loads `insns` as an XDP program; a refusal shows the verifier's log. Returns the program's fd. */
export function loadXdpProgram(what: string, insns: Uint8Array, name = "bdk_xsk_redir"): number {
  const license = new TextEncoder().encode("GPL\0");
  const log = new Uint8Array(64 * 1024);
  const load = (logLevel: number, attachType: number): number => {
    const { u8, u32 } = attrOf(128);
    u32[0] = BPF_PROG_TYPE_XDP;
    u32[1] = insns.byteLength / 8;
    setU64(u32, 2, ptr(insns));
    setU64(u32, 4, ptr(license));
    u32[6] = logLevel;
    u32[7] = logLevel ? log.byteLength : 0;
    if (logLevel) setU64(u32, 8, ptr(log));
    setName(u8, 48, name);
    u32[17] = attachType;
    return bpf(BPF_PROG_LOAD, u8);
  };
  let r = load(0, BPF_XDP);
  if (r === -E_INVAL) r = load(0, 0); // a kernel that predates expected_attach_type for XDP
  if (r >= 0) return r;
  if (-r === E_PERM) throw permissionError(`${what}: bpf(BPF_PROG_LOAD)`);
  // Load again with the verifier's log to say why.
  const again = load(1, BPF_XDP);
  if (again >= 0) return again;
  const end = log.indexOf(0);
  const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim().split("\n").slice(-12).join(" | ");
  throw new AfXdpError("verifier", `${what}: the kernel refused the XDP program: ${strerror(-again)}; verifier log: ${text || "(empty)"}`,
    "this kernel may lack bpf_redirect_map's fallback action (needs ≥ 5.3): use af_packet:IFACE");
}

export type XdpMode = "native" | "generic";

/**
 * Attaches program `progFd` to interface `ifindex` through a BPF link, in `mode` (or native, else generic,
 * when mode is undefined). Returns the link's fd and the mode it got.
 */
export function attachXdpLink(what: string, iface: string, ifindex: number, progFd: number, mode: XdpMode | undefined): { fd: number; mode: XdpMode } {
  const create = (m: XdpMode): number => {
    const { u8, u32 } = attrOf(64);
    u32[0] = progFd;
    u32[1] = ifindex;
    u32[2] = BPF_XDP;
    u32[3] = m === "native" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
    return bpf(BPF_LINK_CREATE, u8);
  };
  const tries: XdpMode[] = mode ? [mode] : ["native", "generic"];
  let r = 0;
  for (const m of tries) {
    r = create(m);
    if (r >= 0) return { fd: r, mode: m };
    if (-r !== E_OPNOTSUPP) break;
  }
  if (-r === E_PERM) throw permissionError(`${what}: bpf(BPF_LINK_CREATE) on ${iface}`);
  if (-r === E_BUSY || -r === E_EXIST) {
    const prog = attachedXdpProgram(ifindex);
    throw new AfXdpError("busy", `${what}: interface ${iface} already has an XDP program${prog ? ` (id ${prog.id}${prog.mode ? `, ${prog.mode}` : ""})` : ""}, not ours`,
      `remove it if it is stale (\`ip link set dev ${iface} xdp off\`, or stop the program that attached it), or use af_packet:${iface}`);
  }
  if (-r === E_OPNOTSUPP && mode === "native") {
    throw new AfXdpError("mode", `${what}: the driver of ${iface} has no native XDP`, `use mode=generic (or leave mode out: native when the driver has it, else generic)`);
  }
  if (-r === E_INVAL) {
    throw new AfXdpError("kernel", `${what}: the kernel refused to attach XDP to ${iface} (${strerror(-r)}; BPF links for XDP need Linux ≥ 5.9, native XDP may need a smaller MTU)`,
      "try mode=generic, lower the MTU, or use af_packet:" + iface);
  }
  throw new AfXdpError("kernel", `${what}: bpf(BPF_LINK_CREATE) on ${iface} failed: ${strerror(-r)}`, "check `ip link show " + iface + "`");
}

/** The kernel's id of the program behind `fd` (BPF_OBJ_GET_INFO_BY_FD). */
export function progId(fd: number): number {
  const info = new Uint32Array(PROG_INFO_BYTES / 4);
  const { u8, u32 } = attrOf(16);
  u32[0] = fd;
  u32[1] = PROG_INFO_BYTES;
  setU64(u32, 2, ptr(info));
  return bpf(BPF_OBJ_GET_INFO_BY_FD, u8) < 0 ? 0 : info[PROG_INFO_ID]!;
}

// ---- What XDP program an interface has (netlink RTM_GETLINK, IFLA_XDP) ----------------------------

const AF_NETLINK = 16, NETLINK_ROUTE = 0, SOCK_RAW_NL = 3, RTM_GETLINK = 18, NLM_F_REQUEST = 1, NLMSG_ERROR = 2;
const IFLA_XDP = 43, IFLA_XDP_ATTACHED = 2, IFLA_XDP_PROG_ID = 4;
const XDP_ATTACHED_MODES = ["", "native", "generic", "offloaded", "multiple"];

/** The XDP program attached to interface `ifindex` of this namespace, or undefined when there is none. */
export function attachedXdpProgram(ifindex: number): { id: number; mode: string } | undefined {
  let fd: number;
  try {
    fd = socket(AF_NETLINK, SOCK_RAW_NL, NETLINK_ROUTE, "netlink route socket (XDP query)");
  } catch {
    return undefined;
  }
  try {
    const req = new Uint8Array(32);
    const w = new Uint32Array(req.buffer);
    w[0] = 32; // nlmsg_len
    w[1] = RTM_GETLINK | (NLM_F_REQUEST << 16);
    w[2] = 1; // seq
    new Int32Array(req.buffer)[5] = ifindex; // ifinfomsg.ifi_index (family 0 at byte 16)
    if (Number(raw.sendto(fd, req, 32, 0, null, 0)) !== 32) return undefined;
    const buf = new Uint8Array(65536);
    const n = Number(raw.recv(fd, buf, buf.byteLength, 0));
    if (n < 32) return undefined;
    const v = new DataView(buf.buffer, 0, n);
    if (v.getUint16(4, true) === NLMSG_ERROR) return undefined;
    const len = Math.min(v.getUint32(0, true), n);
    for (let at = 32; at + 4 <= len;) {
      const alen = v.getUint16(at, true);
      const type = v.getUint16(at + 2, true) & 0x3fff;
      if (alen < 4) break;
      if (type === IFLA_XDP) {
        let mode = 0;
        let id = 0;
        for (let a = at + 4; a + 4 <= at + alen;) {
          const l = v.getUint16(a, true);
          const t = v.getUint16(a + 2, true);
          if (l < 4) break;
          if (t === IFLA_XDP_ATTACHED) mode = v.getUint8(a + 4);
          if (t === IFLA_XDP_PROG_ID) id = v.getUint32(a + 4, true);
          a += (l + 3) & ~3;
        }
        return mode === 0 ? undefined : { id, mode: XDP_ATTACHED_MODES[mode] ?? `mode ${mode}` };
      }
      at += (alen + 3) & ~3;
    }
    return undefined;
  } finally {
    close(fd);
  }
}
