// What the owner of an af_packet port and the workers that took its queues share: the port's options, one
// SharedArrayBuffer of control words for the life of the port, and the plain data a queue handle carries.
// The counters are not here: they live in PortBase's per-queue blocks (src/ethdev/counters.ts).
import type { SocketHandle } from "./socket.ts";

export const MIN_RING = 64;
export const MAX_RING = 65536;
export const MAX_QUEUES = 16;
export const DEFAULT_FRAME_SIZE = 2048;
export const DEFAULT_FRAMES = 512;
const PAGE = 4096;

export interface AfPacketOptions {
  iface: string;
  /** Default rx/tx queue count when configure() does not say. */
  queues: number;
  qdiscBypass: boolean;
  frameSize: number;
  blockSize: number;
  /** Default ring size (frames per ring) when configure() does not say. */
  frames: number;
  /** Fanout group id, or undefined for one the kernel picks (unique). */
  fanout: number | undefined;
  /** TX frames with a virtio_net_hdr asking the kernel for a linear copy (see PacketSocket.vnet); default on. */
  vnetHdr: boolean;
}

/** The smallest power-of-two multiple of the page size that holds one frame. */
export function defaultBlockSize(frameSize: number): number {
  let b = PAGE;
  while (b < frameSize) b *= 2;
  return b;
}

// The port's control words (Int32, one cache line; a worker's queues see the same memory):
//   W_LIVE    the generation of the current start while started, else 0. A queue bursts only while it holds the
//             generation the queue was bound to (for a worker's queue: the start its handle came from).
//   W_TX_MAX  the longest frame the kernel takes on TX: min(ring frame room, MTU + 18).
export const W_LIVE = 0;
export const W_TX_MAX = 1;
const CTL_WORDS = 16;

/** The port's control words, in memory a worker's queues share. */
export function createShared(): SharedArrayBuffer {
  return new SharedArrayBuffer(CTL_WORDS * 4);
}

/** What an af_packet queue's handle carries (QueueHandle.state): plain, structured-cloneable data. */
export interface AfPacketQueueState {
  options: AfPacketOptions;
  ifindex: number;
  /** The port's control words (see W_LIVE). */
  shared: SharedArrayBuffer;
  /** The start this handle belongs to: the worker's queue works while the port's live word holds it. */
  generation: number;
  /** Socket q: RX queue q and TX queue q (fds and ring addresses are process-wide). */
  socket: SocketHandle;
}
