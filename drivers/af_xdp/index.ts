// `af_xdp:IFACE[,queue=N][,queues=N][,mode=native|generic][,zerocopy=auto|on|off][,frames=N]`: a kernel network
// interface as a port through XDP sockets, frames in the mempool's own buffers. The files, one concern each:
// port.ts (the port: lifecycle, link, events, stats), rxtx.ts (the RX and TX queues: the bursts, and attachQueue
// for workers), xsk.ts (one XDP socket: UMEM over the pool, rings), bpf.ts (the XSKMAP, the redirect program,
// the BPF link, the refusals), uapi.ts (the kernel's constants and structs). How it works: docs/af_xdp.md.
import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef } from "../../src/ethdev/driver.ts";
import { isPowerOfTwo } from "../../src/ethdev/port.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { checkIfName } from "../../src/sys/netdev.ts";
import { AfXdpPort, DEFAULT_FRAMES, MAX_QUEUES, MAX_RING, MIN_RING } from "./port.ts";
import type { AfXdpOptions } from "./rxtx.ts";
import { SysError } from "../../src/sys/errno.ts";
import { close, socket } from "../../src/sys/libc.ts";
import { createXskMap, loadXdpProgram, redirectProgram } from "./bpf.ts";
import { AF_XDP, SOCK_RAW } from "./uapi.ts";

export { AfXdpPort, interfaceRxQueues } from "./port.ts";
export { AfXdpRxQueue, AfXdpTxQueue, attachQueue } from "./rxtx.ts";
export type { AfXdpOptions, AfXdpQueueState } from "./rxtx.ts";
export { AfXdpError, attachedXdpProgram, type AfXdpRefusal } from "./bpf.ts";

function withSpec<T>(spec: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BdkError && !e.message.startsWith(spec)) {
      const what = e.fix !== undefined ? e.message.slice(0, e.message.length - e.fix.length - 2) : e.message;
      const err = new BdkError(`${spec}: ${what}`, e.fix);
      Object.setPrototypeOf(err, Object.getPrototypeOf(e));
      Object.assign(err, { reason: (e as { reason?: string }).reason });
      throw err;
    }
    throw e;
  }
}

export const driver: DriverDef = {
  kind: "af_xdp",
  usage: "af_xdp:IFACE[,queue=N,queues=N,mode=native|generic,zerocopy=auto|on|off,frames=N] — a kernel interface through XDP sockets, frames in the pool's buffers (root, or CAP_NET_ADMIN + CAP_NET_RAW + CAP_BPF)",
  positional: "iface",
  params: {
    iface: { type: "string", required: true, help: "the interface (`ip link` lists them)" },
    queue: { type: "int", help: "the interface's first RX/TX queue this port binds (default 0); the others stay with the kernel" },
    queues: { type: "int", help: `queue pairs, one XDP socket each, on interface queues queue..queue+queues-1 (1..${MAX_QUEUES}, default 1)` },
    mode: { type: "string", help: "native (the driver runs XDP) or generic (the kernel does, after the skb is built); default: native when the driver has it" },
    zerocopy: { type: "string", help: "auto (zero-copy when the driver can, else copy: the default), on (refused when it cannot), off" },
    frames: { type: "int", help: `descriptors per ring, a power of two ${MIN_RING}..${MAX_RING} (default ${DEFAULT_FRAMES}; rxRingSize/txRingSize override)` },
  },
  open(params, spec) {
    return withSpec(spec, () => {
      const iface = String(params.iface);
      checkIfName(iface);
      const int = (key: string, dflt: number): number => (params[key] === undefined ? dflt : Number(params[key]));
      const queue = int("queue", 0);
      if (queue < 0 || queue > 1023) throw new BdkError(`queue=${queue} is out of range`, "give 0..1023 (an interface's queue index)");
      const queues = int("queues", 1);
      if (queues < 1 || queues > MAX_QUEUES) throw new BdkError(`queues=${queues} is out of range`, `give 1..${MAX_QUEUES}`);
      const frames = int("frames", DEFAULT_FRAMES);
      if (!isPowerOfTwo(frames) || frames < MIN_RING || frames > MAX_RING) {
        throw new BdkError(`frames=${frames} is not a power of two in ${MIN_RING}..${MAX_RING}`, "use 512, 1024, 2048 …");
      }
      const mode = params.mode === undefined ? undefined : String(params.mode);
      if (mode !== undefined && mode !== "native" && mode !== "generic") throw new BdkError(`mode=${mode} is not a mode`, "give mode=native or mode=generic");
      const zc = params.zerocopy === undefined ? "auto" : String(params.zerocopy);
      if (zc !== "auto" && zc !== "on" && zc !== "off") throw new BdkError(`zerocopy=${zc} is not a choice`, "give zerocopy=auto, on or off");
      const opts: AfXdpOptions = { iface, queue, queues, mode, zeroCopy: zc, frames };
      return new AfXdpPort(spec, opts);
    });
  },
};

registerDriver(driver);

/**
 * Why af_xdp ports cannot be opened here (no XDP sockets, no bpf(2), no permission), or undefined when they
 * can: an AF_XDP socket, an XSKMAP and the redirect program are made and closed again. For callers that pick a
 * port type (the demo).
 */
export function afXdpUnavailable(): string | undefined {
  const fds: number[] = [];
  try {
    fds.push(socket(AF_XDP, SOCK_RAW, 0, "AF_XDP probe"));
    const map = createXskMap("af_xdp probe", 1);
    fds.push(map);
    fds.push(loadXdpProgram("af_xdp probe", redirectProgram(map)));
    return undefined;
  } catch (e) {
    if (e instanceof SysError && e.errno === 97) return "this kernel has no XDP sockets (CONFIG_XDP_SOCKETS)";
    if (e instanceof SysError && (e.errno === 1 || e.errno === 13)) return "AF_XDP needs CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF";
    return (e as Error).message;
  } finally {
    for (const fd of fds.reverse()) close(fd);
  }
}
