// The pktgen payload: 16 bytes right after the UDP header, all big-endian, then zero filler to the frame's end.
//
//   offset  size  field
//   0       2     magic 0xBD4B ("bdk")
//   2       2     stream id (random per run: a receiver tells this run's frames from stray ones; with
//                 --cores N, worker w sends stream id + w (modulo 2^16) with sequence numbers of its own,
//                 so that a receiver checks each worker's stream on its own)
//   4       4     sequence number (0, 1, 2, … modulo 2^32, per stream)
//   8       4     TX timestamp, high 32 bits  } CLOCK_MONOTONIC nanoseconds (monotonicNs()), read once per
//   12      4     TX timestamp, low 32 bits   } TX burst: the same clock in every process of the machine
//   16      …     zero filler
//
// Over IPv4 the payload starts at byte 42 of the frame (14 Ethernet + 20 IPv4 + 8 UDP); a 64-byte frame
// (60 bytes without CRC) has 18 payload bytes: the 16 above and 2 of filler. Over IPv6 it starts at 62,
// so the smallest IPv6 frame that holds it is 78 bytes without CRC, 82 with.

export const PKTGEN_MAGIC = 0xbd4b;
export const PAYLOAD_LEN = 16;
export const PAYLOAD_OFF_V4 = 14 + 20 + 8;
export const PAYLOAD_OFF_V6 = 14 + 40 + 8;
/** Smallest frame sizes, CRC included. */
export const MIN_FRAME_V4 = 64;
export const MIN_FRAME_V6 = PAYLOAD_OFF_V6 + PAYLOAD_LEN + 4;

export const P_MAGIC = 0;
export const P_STREAM = 2;
export const P_SEQ = 4;
export const P_TS_HI = 8;
export const P_TS_LO = 12;
