// The kernel's AF_XDP and BPF interfaces (include/uapi/linux/if_xdp.h, include/uapi/linux/bpf.h,
// include/uapi/linux/if_link.h): option numbers, flags, and the layouts of the structs we pass or read.
// x86-64 / little-endian; written from the uapi headers, offsets in bytes.

export const AF_XDP = 44;
export const SOCK_RAW = 3;
export const SOL_XDP = 283;
export const MSG_DONTWAIT = 0x40;

// Socket options (level SOL_XDP).
export const XDP_MMAP_OFFSETS = 1;
export const XDP_RX_RING = 2;
export const XDP_TX_RING = 3;
export const XDP_UMEM_REG = 4;
export const XDP_UMEM_FILL_RING = 5;
export const XDP_UMEM_COMPLETION_RING = 6;
export const XDP_STATISTICS = 7;
export const XDP_OPTIONS = 8;
export const XDP_OPTIONS_ZEROCOPY = 1;

// sockaddr_xdp.sxdp_flags
export const XDP_SHARED_UMEM = 1 << 0;
export const XDP_COPY = 1 << 1;
export const XDP_ZEROCOPY = 1 << 2;
export const XDP_USE_NEED_WAKEUP = 1 << 3;

/** xdp_umem_reg.flags: chunks may start anywhere (our pool's stride need not be a power of two). */
export const XDP_UMEM_UNALIGNED_CHUNK_FLAG = 1 << 0;
/** The ring's flags word: the kernel wants a syscall to make progress (sendto for TX, recvfrom/poll for the fill ring). */
export const XDP_RING_NEED_WAKEUP = 1 << 0;

/** Where a frame's data starts in a chunk the kernel filled: XDP_PACKET_HEADROOM (umem headroom 0). */
export const XDP_PACKET_HEADROOM = 256;
/** The smallest chunk the kernel accepts (XDP_UMEM_MIN_CHUNK_SIZE), and the largest without multi-buffer (PAGE_SIZE). */
export const MIN_CHUNK = 2048;
export const MAX_CHUNK = 4096;

// mmap page offsets of the four rings.
export const XDP_PGOFF_RX_RING = 0;
export const XDP_PGOFF_TX_RING = 0x80000000;
export const XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
export const XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

/**
 * struct xdp_mmap_offsets: four struct xdp_ring_offset { u64 producer, consumer, desc, flags } (rx, tx, fr, cr).
 * Read as u32 pairs: word 8·ring + 2·field is the low half.
 */
export const MMAP_OFFSETS_BYTES = 128;
export const RING_RX = 0, RING_TX = 1, RING_FILL = 2, RING_COMP = 3;
export const OFF_PRODUCER = 0, OFF_CONSUMER = 1, OFF_DESC = 2, OFF_FLAGS = 3;

/** struct xdp_desc { u64 addr; u32 len; u32 options; }: 16 bytes, four u32 words (addr lo, addr hi, len, options). */
export const DESC_BYTES = 16;
/** Fill and completion entries: one u64 address each. */
export const ADDR_BYTES = 8;
/** In an unaligned-mode address, the data offset lives in the top 16 bits (XSK_UNALIGNED_BUF_OFFSET_SHIFT = 48). */
export const UNALIGNED_OFFSET_SHIFT_HI = 16;

/** struct sockaddr_xdp: u16 family, u16 flags, u32 ifindex, u32 queue_id, u32 shared_umem_fd. */
export function sockaddrXdp(ifindex: number, queue: number, flags: number): Uint32Array {
  const a = new Uint32Array(4);
  a[0] = AF_XDP | (flags << 16);
  a[1] = ifindex;
  a[2] = queue;
  return a;
}

/** struct xdp_umem_reg (v2 with tx_metadata_len, 32 bytes): u64 addr, u64 len, u32 chunk_size, u32 headroom, u32 flags, u32 tx_metadata_len. */
export function umemReg(addr: number, len: number, chunkSize: number, headroom: number, flags: number): Uint32Array {
  const r = new Uint32Array(8);
  r[0] = addr % 4294967296;
  r[1] = Math.floor(addr / 4294967296);
  r[2] = len % 4294967296;
  r[3] = Math.floor(len / 4294967296);
  r[4] = chunkSize;
  r[5] = headroom;
  r[6] = flags;
  return r;
}

/** struct xdp_statistics: six u64 (rx_dropped, rx_invalid_descs, tx_invalid_descs, rx_ring_full, rx_fill_ring_empty_descs, tx_ring_empty_descs). */
export const XDP_STATS_WORDS = 12;
export const ST_RX_DROPPED = 0, ST_RX_INVALID = 1, ST_TX_INVALID = 2, ST_RX_RING_FULL = 3, ST_RX_FILL_EMPTY = 4, ST_TX_RING_EMPTY = 5;

// ---- BPF (include/uapi/linux/bpf.h) -------------------------------------------------------------

export const SYS_BPF = 321; // x86-64
export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_MAP_DELETE_ELEM = 3;
export const BPF_PROG_LOAD = 5;
export const BPF_OBJ_GET_INFO_BY_FD = 15;
export const BPF_LINK_CREATE = 28;

export const BPF_MAP_TYPE_XSKMAP = 17;
export const BPF_PROG_TYPE_XDP = 6;
export const BPF_XDP = 37; // enum bpf_attach_type

// XDP attach flags (if_link.h)
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;

// XDP actions
export const XDP_PASS = 2;

/** struct xdp_md: the context's u32 fields: data, data_end, data_meta, ingress_ifindex, rx_queue_index. */
export const XDP_MD_RX_QUEUE_INDEX = 16;

/** bpf_redirect_map: helper 51. */
export const BPF_FUNC_redirect_map = 51;

/** struct bpf_prog_info: id is the u32 at offset 4 (after type); name[16] at 64. */
export const PROG_INFO_BYTES = 256;
export const PROG_INFO_ID = 1; // u32 word
