// `af_packet:IFACE[,queues=N,frames=N,frame_size=N,block_size=N,qdisc_bypass=0|1,fanout=ID,vnet_hdr=0|1]`: a kernel
// network interface as a port, through AF_PACKET sockets with mmap'd TPACKET_V2 rings. The files, one concern
// each: port.ts (the port: lifecycle, link, events, stats), rxtx.ts (the RX and TX queues: the bursts, and
// attachQueue for workers), socket.ts (one socket and its rings), shared.ts (options and what the owner shares
// with workers), src/sys/netlink.ts (link events, shared with af_xdp), uapi.ts (the kernel's constants and structs).
import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef } from "../../src/ethdev/driver.ts";
import { isPowerOfTwo } from "../../src/ethdev/port.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { checkIfName } from "../../src/sys/netdev.ts";
import { AfPacketPort } from "./port.ts";
import { DEFAULT_FRAME_SIZE, DEFAULT_FRAMES, defaultBlockSize, MAX_QUEUES, MAX_RING, MIN_RING, type AfPacketOptions } from "./shared.ts";
import { RX_DATA_OFFSET } from "./uapi.ts";

export { AfPacketPort } from "./port.ts";
export { AfPacketRxQueue, AfPacketTxQueue, attachQueue } from "./rxtx.ts";
export type { AfPacketOptions, AfPacketQueueState } from "./shared.ts";

const MIN_FRAME_SIZE = 256;
const MAX_FRAME_SIZE = 65536;

/** Re-throws a BdkError with the spec in front, so that the one line says which port it was about. */
function withSpec<T>(spec: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof BdkError && !e.message.startsWith(spec)) {
      const what = e.fix !== undefined ? e.message.slice(0, e.message.length - e.fix.length - 2) : e.message;
      throw new BdkError(`${spec}: ${what}`, e.fix);
    }
    throw e;
  }
}

export const driver: DriverDef = {
  kind: "af_packet",
  usage: "af_packet:IFACE[,queues=N,frames=N,frame_size=N,block_size=N,qdisc_bypass=0|1,fanout=ID,vnet_hdr=0|1] — a kernel interface through AF_PACKET rings (root or CAP_NET_RAW)",
  positional: "iface",
  params: {
    iface: { type: "string", required: true, help: "the interface (`ip link` lists them)" },
    queues: { type: "int", help: `RX/TX queue pairs, one socket each, spread by PACKET_FANOUT hash (1..${MAX_QUEUES}, default 1)` },
    frames: { type: "int", help: `frames per ring, a power of two ${MIN_RING}..${MAX_RING} (default ${DEFAULT_FRAMES}; rxRingSize/txRingSize override)` },
    frame_size: { type: "int", help: `bytes per ring frame, a multiple of 16, ${MIN_FRAME_SIZE}..${MAX_FRAME_SIZE} (default ${DEFAULT_FRAME_SIZE}; frames up to frame_size - ${RX_DATA_OFFSET} bytes)` },
    block_size: { type: "int", help: "bytes per ring block, a power-of-two multiple of 4096 holding at least one frame (default: the smallest)" },
    qdisc_bypass: { type: "bool", help: "TX straight to the driver, skipping the qdisc layer (default 1)" },
    fanout: { type: "int", help: "PACKET_FANOUT group id 1..65535 for the RX queues (default: a fresh one per port)" },
    vnet_hdr: { type: "bool", help: "TX through a virtio_net_hdr that makes the kernel copy each frame once instead of attaching ring pages (default 1: faster on veth)" },
  },
  open(params, spec) {
    return withSpec(spec, () => {
      const iface = String(params.iface);
      checkIfName(iface);
      const int = (key: string, dflt: number): number => (params[key] === undefined ? dflt : Number(params[key]));
      const queues = int("queues", 1);
      if (queues < 1 || queues > MAX_QUEUES) throw new BdkError(`queues=${queues} is out of range`, `give 1..${MAX_QUEUES}`);
      const frames = int("frames", DEFAULT_FRAMES);
      if (!isPowerOfTwo(frames) || frames < MIN_RING || frames > MAX_RING) {
        throw new BdkError(`frames=${frames} is not a power of two in ${MIN_RING}..${MAX_RING}`, "use 256, 512, 1024 …");
      }
      const frameSize = int("frame_size", DEFAULT_FRAME_SIZE);
      if (frameSize % 16 !== 0 || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) {
        throw new BdkError(`frame_size=${frameSize} is not a multiple of 16 in ${MIN_FRAME_SIZE}..${MAX_FRAME_SIZE}`, `use 2048 (MTU 1500) or 16384 (jumbo frames)`);
      }
      const blockSize = int("block_size", defaultBlockSize(frameSize));
      if (!isPowerOfTwo(blockSize) || blockSize < 4096 || blockSize < frameSize || blockSize > 1 << 22) {
        throw new BdkError(`block_size=${blockSize} is not a power of two from 4096 (and from frame_size=${frameSize}) to 4194304`,
          `use ${defaultBlockSize(frameSize)}`);
      }
      const fanout = params.fanout === undefined ? undefined : Number(params.fanout);
      if (fanout !== undefined && (fanout < 1 || fanout > 0xffff)) throw new BdkError(`fanout=${fanout} is out of range`, "give a group id 1..65535");
      const opts: AfPacketOptions = {
        iface, queues, frames, frameSize, blockSize, fanout,
        qdiscBypass: params.qdisc_bypass === undefined ? true : Boolean(params.qdisc_bypass),
        vnetHdr: params.vnet_hdr === undefined ? true : Boolean(params.vnet_hdr),
      };
      return new AfPacketPort(spec, opts);
    });
  },
};

registerDriver(driver);
