/*
 * The C twin of bench/nic-model.ts: the same work as bdk's burst code, as a plain C loop, for the ratio
 * bdk/C that issue 10 steers by. Never part of the product; bench/line-rate.ts builds it with `gcc -O2`
 * into a temporary directory and runs it as a child process that prints one JSON object per cell.
 *
 * What is the same as the TypeScript side, line for line where it matters:
 *  - memory: every region mmap'd MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE on 4 KiB pages, as DmaArena
 *    with hugepages "never"; the mempool's struct-of-arrays layout (src/mem/mempool.ts layoutFor), its
 *    per-handle LIFO cache in front of a lock-free MPMC index ring (src/mem/ring.ts), the state byte that
 *    catches double frees, and the five stores of claim(); the rings laid out as layoutRings does.
 *  - the drivers' burst functions transliterated from drivers/intel/adv-rxtx.ts (AdvRxQueue, AdvTxQueue)
 *    and drivers/e1000/rxtx.ts (E1000RxQueue legacy, E1000eRxQueue extended, E1000TxQueue): the live
 *    generation check, the DD scan, one bulk refill, the per-packet metadata, the error / scatter / offload
 *    branches (not taken here, as in the TS run), counters added once per burst, one tail write per burst.
 *  - the NIC model's steps (nicRx / nicTx) and its calibration (doorbell simulated, cost subtracted).
 * What is C's own: no bounds checks, the compiler's freedom, and the tail written as C drivers write it
 * (DPDK's rte_write32 on x86: a compiler barrier and a plain store). -DSEQCST_TAIL makes it a seq_cst store
 * (an xchg, as JS's Atomics.store is) to see what that costs. The burst functions are noinline: a C driver
 * sits behind a function pointer (DPDK's rx_pkt_burst, ixy's rx_batch).
 *
 * Usage: l2fwd FORMAT MODE BURSTS SECONDS WARMUP RING POOL
 *   FORMAT adv | legacy | extended; MODE rx | tx | l2fwd; BURSTS a comma-separated list.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static void die(const char *what) {
  fprintf(stderr, "l2fwd baseline: %s\n", what);
  exit(1);
}

/* ---- memory ---------------------------------------------------------------------------------------- */

static uint64_t next_iova = 0x200000; /* IovaSpace: 2 MiB-aligned IOVAs from the first MiB up */

typedef struct {
  uint8_t *base;
  size_t size;
  uint64_t iova;
} arena_t;

static arena_t arena_create(size_t size) {
  arena_t a;
  a.size = (size + 4095) & ~(size_t)4095;
  a.base = mmap(NULL, a.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (a.base == MAP_FAILED) die("mmap failed");
  a.iova = next_iova;
  next_iova += (a.size + 0x1fffff) & ~(uint64_t)0x1fffff;
  return a;
}

static void arena_free(arena_t *a) { munmap(a->base, a->size); }

static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* ---- IndexRing (src/mem/ring.ts), MPMC; JS Atomics are seq_cst, so these are too ------------------- */

enum { PROD_HEAD = 0, PROD_TAIL = 16, CONS_HEAD = 32, CONS_TAIL = 48, CAPACITY = 64, FLAGS = 65, HEADER_WORDS = 80 };

typedef struct {
  int32_t *h;
  uint32_t *slots;
  uint32_t capacity, mask;
} ring_t;

static void ring_init(ring_t *r, uint8_t *at, uint32_t capacity) {
  r->h = (int32_t *)at;
  memset(r->h, 0, HEADER_WORDS * 4);
  r->h[CAPACITY] = (int32_t)capacity;
  r->capacity = capacity;
  r->mask = capacity - 1;
  r->slots = (uint32_t *)(at + HEADER_WORDS * 4);
}

static uint32_t ring_enqueue(ring_t *r, const uint32_t *src, uint32_t n, int all) {
  int32_t *h = r->h;
  int32_t head;
  uint32_t k;
  for (;;) {
    head = __atomic_load_n(&h[PROD_HEAD], __ATOMIC_SEQ_CST);
    uint32_t free_ = r->capacity - (uint32_t)(head - __atomic_load_n(&h[CONS_TAIL], __ATOMIC_SEQ_CST));
    k = n <= free_ ? n : all ? 0 : free_;
    if (k == 0) return 0;
    if (__atomic_compare_exchange_n(&h[PROD_HEAD], &head, (int32_t)(head + k), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
  }
  for (uint32_t i = 0; i < k; i++) r->slots[(head + i) & r->mask] = src[i];
  while (__atomic_load_n(&h[PROD_TAIL], __ATOMIC_SEQ_CST) != head) {}
  __atomic_store_n(&h[PROD_TAIL], (int32_t)(head + k), __ATOMIC_SEQ_CST);
  return k;
}

static uint32_t ring_dequeue(ring_t *r, uint32_t *dst, uint32_t n, int all) {
  int32_t *h = r->h;
  int32_t head;
  uint32_t k;
  for (;;) {
    head = __atomic_load_n(&h[CONS_HEAD], __ATOMIC_SEQ_CST);
    uint32_t avail = (uint32_t)(__atomic_load_n(&h[PROD_TAIL], __ATOMIC_SEQ_CST) - head);
    k = n <= avail ? n : all ? 0 : avail;
    if (k == 0) return 0;
    if (__atomic_compare_exchange_n(&h[CONS_HEAD], &head, (int32_t)(head + k), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) break;
  }
  for (uint32_t i = 0; i < k; i++) dst[i] = r->slots[(head + i) & r->mask];
  while (__atomic_load_n(&h[CONS_TAIL], __ATOMIC_SEQ_CST) != head) {}
  __atomic_store_n(&h[CONS_TAIL], (int32_t)(head + k), __ATOMIC_SEQ_CST);
  return k;
}

/* ---- the mempool (src/mem/mempool.ts) -------------------------------------------------------------- */

enum { STATE_FREE = 0, STATE_LONE = 1, STATE_HEAD = 2, STATE_SEGMENT = 3 };

typedef struct {
  arena_t arena;
  uint32_t count, headroom, stride;
  uint8_t *bytes;
  size_t bufBase;
  uint16_t *len, *dataOff, *port, *vlanTci, *l3Len, *tsoSegsz, *nbSegs;
  uint32_t *flags, *rssHash, *packetType, *txOffload, *pktLen, *dmaLo, *dmaHi;
  uint8_t *l2Len, *l4Len, *state;
  int32_t *next;
  ring_t ring;
  uint32_t *cache;
  uint32_t cacheSize, cacheCap, cacheLen;
} pool_t;

static uint32_t next_pow2(uint32_t n) {
  uint32_t p = 2;
  while (p < n) p *= 2;
  return p;
}

static void pool_create(pool_t *p, uint32_t count) {
  const uint32_t dataRoom = 2048, headroom = 128, cacheSize = 256;
  size_t at = 0;
#define TAKE(bytes, a) (at = align_up(at, (a)), at += (bytes), at - (bytes))
  size_t oLen = TAKE(count * 2, 64), oDataOff = TAKE(count * 2, 64), oPort = TAKE(count * 2, 64), oFlags = TAKE(count * 4, 64);
  size_t oRss = TAKE(count * 4, 64), oVlan = TAKE(count * 2, 64), oPtype = TAKE(count * 4, 64), oTxOff = TAKE(count * 4, 64);
  size_t oL2 = TAKE(count, 64), oL3 = TAKE(count * 2, 64), oL4 = TAKE(count, 64), oTso = TAKE(count * 2, 64);
  size_t oNext = TAKE(count * 4, 64), oNbSegs = TAKE(count * 2, 64), oPktLen = TAKE(count * 4, 64);
  size_t oLo = TAKE(count * 4, 64), oHi = TAKE(count * 4, 64), oState = TAKE(count, 64);
  uint32_t ringCap = next_pow2(count + 1);
  size_t oRing = TAKE((HEADER_WORDS + ringCap) * 4, 64);
  uint32_t stride = (uint32_t)align_up(headroom + dataRoom, 128);
  size_t oBufs = TAKE((size_t)count * stride, 4096);
#undef TAKE
  p->arena = arena_create(at);
  uint8_t *b = p->arena.base;
  p->count = count;
  p->headroom = headroom;
  p->stride = stride;
  p->bytes = b;
  p->bufBase = oBufs;
  p->len = (uint16_t *)(b + oLen);
  p->dataOff = (uint16_t *)(b + oDataOff);
  p->port = (uint16_t *)(b + oPort);
  p->flags = (uint32_t *)(b + oFlags);
  p->rssHash = (uint32_t *)(b + oRss);
  p->vlanTci = (uint16_t *)(b + oVlan);
  p->packetType = (uint32_t *)(b + oPtype);
  p->txOffload = (uint32_t *)(b + oTxOff);
  p->l2Len = b + oL2;
  p->l3Len = (uint16_t *)(b + oL3);
  p->l4Len = b + oL4;
  p->tsoSegsz = (uint16_t *)(b + oTso);
  p->next = (int32_t *)(b + oNext);
  p->nbSegs = (uint16_t *)(b + oNbSegs);
  p->pktLen = (uint32_t *)(b + oPktLen);
  p->dmaLo = (uint32_t *)(b + oLo);
  p->dmaHi = (uint32_t *)(b + oHi);
  p->state = b + oState;
  ring_init(&p->ring, b + oRing, ringCap);
  p->cacheSize = cacheSize;
  p->cacheCap = cacheSize * 2 + 64;
  p->cache = calloc(p->cacheCap, 4);
  p->cacheLen = 0;
  uint64_t iovaBase = p->arena.iova + oBufs;
  for (uint32_t i = 0; i < count; i++) {
    uint64_t a = iovaBase + (uint64_t)i * stride;
    p->dmaLo[i] = (uint32_t)a;
    p->dmaHi[i] = (uint32_t)(a >> 32);
    p->next[i] = -1;
    p->nbSegs[i] = 1;
  }
  uint32_t *all = malloc(count * 4);
  for (uint32_t i = 0; i < count; i++) all[i] = i;
  ring_enqueue(&p->ring, all, count, 1);
  free(all);
}

static void pool_destroy(pool_t *p) {
  free(p->cache);
  arena_free(&p->arena);
}

static inline void claim(pool_t *p, uint32_t i) {
  p->state[i] = STATE_LONE;
  p->dataOff[i] = (uint16_t)p->headroom;
  p->len[i] = 0;
  p->flags[i] = 0;
  p->txOffload[i] = 0;
}

static NOINLINE void release_other(pool_t *p, uint32_t i) {
  if (i >= p->count) die("free of a non-index");
  if (p->state[i] == STATE_FREE) die("double free");
  p->next[i] = -1;
  p->nbSegs[i] = 1;
}

static inline void release(pool_t *p, uint32_t i) {
  if (UNLIKELY(p->state[i] != STATE_LONE)) release_other(p, i);
  p->state[i] = STATE_FREE;
}

static NOINLINE int refill(pool_t *p, uint32_t need) {
  int64_t a = (int64_t)p->cacheCap - p->cacheLen;
  int64_t b = (int64_t)need - p->cacheLen;
  if (b < (int64_t)p->cacheSize) b = p->cacheSize;
  int64_t want = a < b ? a : b;
  if (want > 0) p->cacheLen += ring_dequeue(&p->ring, p->cache + p->cacheLen, (uint32_t)want, 0);
  return p->cacheLen >= need;
}

static NOINLINE void flush(pool_t *p, uint32_t n) {
  if (n == 0) return;
  uint32_t start = p->cacheLen - n;
  if (ring_enqueue(&p->ring, p->cache + start, n, 0) != n) die("free ring overflow");
  p->cacheLen = start;
}

static uint32_t alloc_bulk(pool_t *p, uint32_t *out, uint32_t n) {
  if (UNLIKELY(n > p->cacheCap)) {
    if (ring_dequeue(&p->ring, out, n, 1) == 0) return 0;
    for (uint32_t k = 0; k < n; k++) claim(p, out[k]);
    return n;
  }
  if (p->cacheLen < n && !refill(p, n)) return 0;
  uint32_t *cache = p->cache;
  uint32_t top = p->cacheLen;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = cache[--top];
    out[k] = i;
    claim(p, i);
  }
  p->cacheLen = top;
  return n;
}

static int64_t pool_alloc(pool_t *p) {
  if (p->cacheLen == 0 && !refill(p, 1)) return -1;
  uint32_t i = p->cache[--p->cacheLen];
  claim(p, i);
  return i;
}

static uint32_t alloc_up_to(pool_t *p, uint32_t *out, uint32_t n) {
  if (alloc_bulk(p, out, n) != 0) return n;
  uint32_t k = 0;
  while (k < n) {
    int64_t b = pool_alloc(p);
    if (b < 0) break;
    out[k++] = (uint32_t)b;
  }
  return k;
}

/* Mempool.allocRxUpTo: an RX refill claims without resetting len and flags (the RX burst writes both). */
static uint32_t alloc_rx_up_to(pool_t *p, uint32_t *out, uint32_t n) {
  if (n > p->cacheCap || (p->cacheLen < n && !refill(p, n))) return alloc_up_to(p, out, n);
  uint32_t *cache = p->cache;
  uint32_t top = p->cacheLen;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = cache[--top];
    out[k] = i;
    p->state[i] = STATE_LONE;
    p->dataOff[i] = (uint16_t)p->headroom;
    p->txOffload[i] = 0;
  }
  p->cacheLen = top;
  return n;
}

static inline void pool_free(pool_t *p, uint32_t i) {
  release(p, i);
  if (UNLIKELY(p->cacheLen >= p->cacheCap)) flush(p, p->cacheLen - p->cacheSize);
  p->cache[p->cacheLen++] = i;
  if (UNLIKELY(p->cacheLen > p->cacheSize * 2)) flush(p, p->cacheLen - p->cacheSize);
}

static NOINLINE void free_chain(pool_t *p, uint32_t head) {
  int32_t i = (int32_t)head;
  do {
    int32_t n = p->next[i];
    pool_free(p, (uint32_t)i);
    i = n;
  } while (i >= 0);
}

static uint32_t packet_length(pool_t *p, uint32_t h) { return p->nbSegs[h] > 1 ? p->pktLen[h] : p->len[h]; }

static NOINLINE void chain_append(pool_t *p, uint32_t head, uint32_t seg) {
  uint32_t segs = p->nbSegs[head] + p->nbSegs[seg];
  uint32_t bytes = packet_length(p, head) + packet_length(p, seg);
  int32_t last = (int32_t)head;
  while (p->next[last] >= 0) last = p->next[last];
  p->next[last] = (int32_t)seg;
  for (int32_t s = (int32_t)seg; s >= 0; s = p->next[s]) p->state[s] = STATE_SEGMENT;
  p->state[head] = STATE_HEAD;
  p->nbSegs[seg] = 1;
  p->nbSegs[head] = (uint16_t)segs;
  p->pktLen[head] = bytes;
}

/* ---- bursts and queues ----------------------------------------------------------------------------- */

typedef struct {
  uint32_t *bufs;
  uint32_t count, capacity;
} burst_t;

static void burst_free_from(burst_t *b, pool_t *p, uint32_t from) {
  for (uint32_t i = from; i < b->count; i++) pool_free(p, b->bufs[i]);
  b->count = 0;
}

enum { W_NEXT = 0, W_CLEAN = 1, W_DROPPING = 2, W_CONTEXT = 3, W_HEAD = 4, W_HOLD = 5 };
#define RX_FREE_THRESH 32
enum { C_PACKETS = 0, C_BYTES = 1, C_ERRORS = 2, C_MISSED = 3, C_NOMBUF = 4 };
#define NO_BUFFER 0xffffffffu
#define DESC_BYTES 16

typedef struct {
  uint32_t *desc, *slots, *ends;
  int32_t *ctl;
  uint32_t *bar;
  int32_t *live;
  int32_t generation;
  uint32_t size, mask, tailWord, rxFreeThresh;
  double cnt[8];
  pool_t *pool;
  uint16_t portId;
  uint32_t *fresh;
  uint32_t freshLen;
  int rss, scatter;
  uint32_t errFrame, errIp, errL4, txCheckContext;
} queue_t;

static inline void tail_write(queue_t *q, uint32_t v) {
#ifdef SEQCST_TAIL
  __atomic_store_n(&q->bar[q->tailWord], v, __ATOMIC_SEQ_CST);
#else
  __asm__ volatile("" ::: "memory");
  *(volatile uint32_t *)&q->bar[q->tailWord] = v;
#endif
}

/* ring.ts rxDoorbell: the RX tail written once rxFreeThresh refilled descriptors gathered. */
static inline void rx_doorbell(queue_t *q, uint32_t next, uint32_t refilled) {
  int32_t held = q->ctl[W_HOLD] + (int32_t)refilled;
  if ((uint32_t)held < q->rxFreeThresh) {
    q->ctl[W_HOLD] = held;
    return;
  }
  q->ctl[W_HOLD] = 0;
  tail_write(q, (next - 1) & q->mask);
}

/* ring.ts reclaimSent: free what the NIC sent, a unit (frame, run or burst) at a time; DD on the unit's last. */
static inline uint32_t reclaim_sent(queue_t *q, pool_t *pool, uint32_t next) {
  uint32_t *d = q->desc, *ends = q->ends, *slots = q->slots;
  uint32_t mask = q->mask;
  uint32_t clean = (uint32_t)q->ctl[W_CLEAN];
  while (clean != next) {
    uint32_t last = ends[clean];
    if ((d[last * 4 + 3] & 1u) == 0) break; /* DD */
    for (;;) {
      uint32_t b = slots[clean];
      if (b != NO_BUFFER) pool_free(pool, b);
      uint32_t was = clean;
      clean = (clean + 1) & mask;
      if (was == last) break;
    }
  }
  q->ctl[W_CLEAN] = (int32_t)clean;
  return clean;
}

static inline int is_live(queue_t *q) { return __atomic_load_n(q->live, __ATOMIC_ACQUIRE) == q->generation; }

static inline void dma_words(uint32_t lo, uint32_t hi, uint32_t off, uint32_t *out, uint32_t at) {
  uint64_t a = (uint64_t)lo + off;
  out[at] = (uint32_t)a;
  out[at + 1] = hi + (a > 0xffffffffu ? 1 : 0);
}

/* src/mem/mbuf.ts */
#define BUF_RSS_HASH (1u << 0)
#define BUF_VLAN_STRIPPED (1u << 1)
#define BUF_IP_CSUM_BAD (1u << 2)
#define BUF_L4_CSUM_BAD (1u << 3)
#define BUF_IP_CSUM_GOOD (1u << 4)
#define BUF_L4_CSUM_GOOD (1u << 5)
#define BUF_VLAN (1u << 6)
#define BUF_PTYPE (1u << 7)
#define PTYPE_L2_ETHER 0x1u
#define PTYPE_L3_IPV4 0x10u
#define PTYPE_L3_IPV6 0x40u
#define PTYPE_L4_TCP 0x100u
#define PTYPE_L4_UDP 0x200u
#define TX_IP_CKSUM (1u << 0)
#define TX_TCP_CKSUM (1u << 1)
#define TX_UDP_CKSUM (1u << 2)
#define TX_VLAN (1u << 3)
#define TX_TCP_SEG (1u << 4)
#define TX_IPV4 (1u << 5)

/* ---- advanced descriptors (drivers/intel/adv-rxtx.ts) --------------------------------------------- */

#define A_STAT_DD (1u << 0)
#define A_STAT_EOP (1u << 1)
#define A_STAT_VP (1u << 3)
#define A_STAT_UDPCS (1u << 4)
#define A_STAT_L4I (1u << 5)
#define A_STAT_IPCS (1u << 6)
#define PKT_IPV4 (1u << 4)
#define PKT_IPV4E (1u << 5)
#define PKT_IPV6 (1u << 6)
#define PKT_IPV6E (1u << 7)
#define PKT_TCP (1u << 8)
#define PKT_UDP (1u << 9)
#define A_TXD_DTYP_DATA (0x3u << 20)
#define A_TXD_DTYP_CTXT (0x2u << 20)
#define A_TXD_CMD_EOP (1u << 24)
#define A_TXD_CMD_IFCS (1u << 25)
#define A_TXD_CMD_RS (1u << 27)
#define A_TXD_CMD_DEXT (1u << 29)
#define A_TXD_CMD_VLE (1u << 30)
#define A_TXD_CMD_TSE (1u << 31)
#define A_TXD_POPTS_IXSM (1u << 8)
#define A_TXD_POPTS_TXSM (1u << 9)
#define A_TXD_PAYLEN_SHIFT 14
#define A_TUCMD_IPV4 (1u << 10)
#define A_TUCMD_L4T_TCP (1u << 11)
#define CSUM_REQUESTS (TX_IP_CKSUM | TX_TCP_CKSUM | TX_UDP_CKSUM)
#define CONTEXT_REQUESTS (CSUM_REQUESTS | TX_VLAN | TX_TCP_SEG)
/* igb's error bits (drivers/igb/regs.ts) */
#define IGB_RXD_ERR_FRAME ((1u << 24) | (1u << 25) | (1u << 26) | (1u << 28) | (1u << 31))
#define IGB_RXD_ERR_L4E (1u << 29)
#define IGB_RXD_ERR_IPE (1u << 30)

static NOINLINE uint32_t adv_rx_burst(queue_t *q, burst_t *burst) {
  burst->count = 0;
  if (!is_live(q)) return 0;
  uint32_t *d = q->desc;
  uint32_t mask = q->mask;
  int32_t *ctl = q->ctl;
  uint32_t next = (uint32_t)ctl[W_NEXT];
  uint32_t ready = 0;
  uint32_t cap = burst->capacity < q->freshLen ? burst->capacity : q->freshLen;
  while (ready < cap && (d[((next + ready) & mask) * 4 + 2] & A_STAT_DD) != 0) ready++;
  if (ready == 0) return 0;
  pool_t *pool = q->pool;
  uint32_t *fresh = q->fresh;
  uint32_t got = alloc_rx_up_to(pool, fresh, ready);
  if (got != ready) q->cnt[C_NOMBUF] += ready - got;
  ready = got;
  if (ready == 0) return 0;
  uint32_t errFrame = q->errFrame, errIp = q->errIp, errL4 = q->errL4;
  int rss = q->rss, scatter = q->scatter;
  uint32_t *slots = q->slots;
  uint16_t *lens = pool->len, *ports = pool->port, *vlan = pool->vlanTci;
  uint32_t *flags = pool->flags, *hash = pool->rssHash, *ptypes = pool->packetType, *lo = pool->dmaLo, *hi = pool->dmaHi;
  uint32_t headroom = pool->headroom;
  uint32_t *out = burst->bufs;
  uint16_t id = q->portId;
  int32_t dropping = ctl[W_DROPPING];
  int64_t head = (int64_t)ctl[W_HEAD] - 1;
  uint32_t n = 0;
  uint64_t bytes = 0; /* an integer, as the JIT makes of the TS side's `let bytes = 0` */
  uint32_t errors = 0;
  for (uint32_t k = 0; k < ready; k++) {
    uint32_t w = next * 4;
    uint32_t st = d[w + 2];
    uint32_t b = slots[next];
    int eop = (st & A_STAT_EOP) != 0;
    if (dropping != 0 || (st & errFrame) != 0 || (!eop && !scatter)) {
      if (dropping == 0) errors++;
      dropping = eop ? 0 : 1;
      pool_free(pool, b);
      if (head >= 0) {
        free_chain(pool, (uint32_t)head);
        head = -1;
      }
    } else if (!eop || head >= 0) {
      lens[b] = (uint16_t)(d[w + 3] & 0xffff);
      ports[b] = id;
      flags[b] = 0;
      if (head < 0) head = b;
      else chain_append(pool, (uint32_t)head, b);
      if (eop) {
        out[n++] = (uint32_t)head;
        bytes += pool->pktLen[head];
        head = -1;
      }
    } else {
      uint32_t w3 = d[w + 3];
      uint32_t len = w3 & 0xffff;
      lens[b] = (uint16_t)len;
      ports[b] = id;
      uint32_t w0 = d[w];
      uint32_t f = BUF_PTYPE;
      uint32_t pt = PTYPE_L2_ETHER;
      if ((w0 & (PKT_IPV4 | PKT_IPV4E)) != 0) pt |= PTYPE_L3_IPV4;
      else if ((w0 & (PKT_IPV6 | PKT_IPV6E)) != 0) pt |= PTYPE_L3_IPV6;
      if ((w0 & PKT_TCP) != 0) pt |= PTYPE_L4_TCP;
      else if ((w0 & PKT_UDP) != 0) pt |= PTYPE_L4_UDP;
      ptypes[b] = pt;
      if (rss && (w0 & 0xf) != 0) {
        hash[b] = d[w + 1];
        f |= BUF_RSS_HASH;
      }
      if ((st & A_STAT_IPCS) != 0) f |= (st & errIp) != 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
      if ((st & (A_STAT_L4I | A_STAT_UDPCS)) != 0) f |= (st & errL4) != 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
      if ((st & A_STAT_VP) != 0) {
        vlan[b] = (uint16_t)(w3 >> 16);
        f |= BUF_VLAN | BUF_VLAN_STRIPPED;
      }
      flags[b] = f;
      out[n++] = b;
      bytes += len;
    }
    uint32_t nb = fresh[k];
    slots[next] = nb;
    dma_words(lo[nb], hi[nb], headroom, d, w);
    d[w + 2] = 0;
    d[w + 3] = 0;
    next = (next + 1) & mask;
  }
  ctl[W_NEXT] = (int32_t)next;
  ctl[W_DROPPING] = dropping;
  ctl[W_HEAD] = (int32_t)(head + 1);
  rx_doorbell(q, next, ready);
  burst->count = n;
  q->cnt[C_PACKETS] += n;
  q->cnt[C_BYTES] += (double)bytes;
  if (errors != 0) q->cnt[C_ERRORS] += errors;
  return n;
}

static int32_t adv_context_key(pool_t *p, uint32_t b, uint32_t r) {
  int32_t k = (int32_t)((r & 0x7f) | ((uint32_t)p->l2Len[b] << 7) | ((uint32_t)p->l3Len[b] << 14));
  if ((r & TX_VLAN) != 0) k = (int32_t)((uint32_t)k * 31u + p->vlanTci[b] + 1);
  if ((r & TX_TCP_SEG) != 0) k = (int32_t)((uint32_t)k * 31u + (uint32_t)p->tsoSegsz[b] * 256u + p->l4Len[b]);
  return k == 0 ? 1 : k;
}

static void adv_write_context(uint32_t *d, uint32_t w, pool_t *p, uint32_t b, uint32_t r) {
  uint32_t vlanTag = (r & TX_VLAN) != 0 ? p->vlanTci[b] : 0;
  d[w] = p->l3Len[b] | ((uint32_t)p->l2Len[b] << 9) | (vlanTag << 16);
  d[w + 1] = 0;
  uint32_t tucmd = A_TXD_CMD_DEXT | A_TXD_DTYP_CTXT;
  if ((r & (TX_IPV4 | TX_IP_CKSUM)) != 0) tucmd |= A_TUCMD_IPV4;
  if ((r & (TX_TCP_CKSUM | TX_TCP_SEG)) != 0) tucmd |= A_TUCMD_L4T_TCP;
  d[w + 2] = tucmd;
  d[w + 3] = (r & TX_TCP_SEG) != 0 ? (((uint32_t)p->tsoSegsz[b] << 16) | ((uint32_t)p->l4Len[b] << 8)) : 0;
}

/* adv-rxtx.ts closeRun: RS on a run's last descriptor, its DD says the run went. */
static inline void close_run(uint32_t *d, uint32_t *ends, uint32_t runStart, uint32_t runLast) {
  d[runLast * 4 + 2] |= A_TXD_CMD_RS;
  ends[runStart] = runLast;
}

/* adv-rxtx.ts writeFrame: a frame with offloads or several segments from descriptor `next`; the next free
 * descriptor, or -1 when the ring has no room for it. */
static NOINLINE int64_t adv_write_frame(queue_t *q, pool_t *pool, uint32_t next, uint32_t room, uint32_t b, uint32_t r, uint32_t segs) {
  uint32_t *d = q->desc, *slots = q->slots, *ends = q->ends;
  int32_t *ctl = q->ctl;
  uint32_t mask = q->mask;
  uint16_t *lens = pool->len, *offs = pool->dataOff;
  uint32_t *lo = pool->dmaLo, *hi = pool->dmaHi;
  int32_t *chain = pool->next;
  uint32_t first = next;
  uint32_t cmd = A_TXD_CMD_DEXT | A_TXD_DTYP_DATA | A_TXD_CMD_IFCS;
  uint32_t opts = 0;
  uint32_t payload = segs == 1 ? lens[b] : pool->pktLen[b];
  if ((r & CONTEXT_REQUESTS) != 0) {
    int32_t key = adv_context_key(pool, b, r);
    int needContext = key != ctl[W_CONTEXT];
    if (room < segs + (needContext ? 1 : 0)) return -1;
    if (needContext) {
      adv_write_context(d, next * 4, pool, b, r);
      slots[next] = NO_BUFFER;
      next = (next + 1) & mask;
      ctl[W_CONTEXT] = key;
    }
    if ((r & TX_IP_CKSUM) != 0) opts |= A_TXD_POPTS_IXSM;
    if ((r & (TX_TCP_CKSUM | TX_UDP_CKSUM | TX_TCP_SEG)) != 0) opts |= A_TXD_POPTS_TXSM;
    if ((r & TX_VLAN) != 0) cmd |= A_TXD_CMD_VLE;
    if ((r & TX_TCP_SEG) != 0) {
      cmd |= A_TXD_CMD_TSE;
      payload -= pool->l2Len[b] + pool->l3Len[b] + pool->l4Len[b];
    }
    opts |= q->txCheckContext;
  } else if (room < segs) return -1;
  uint32_t seg = b;
  for (uint32_t i = 0; i < segs; i++) {
    uint32_t w = next * 4;
    int last = i == segs - 1;
    dma_words(lo[seg], hi[seg], offs[seg], d, w);
    d[w + 2] = lens[seg] | cmd | (last ? A_TXD_CMD_EOP | A_TXD_CMD_RS : 0);
    d[w + 3] = i == 0 ? ((payload << A_TXD_PAYLEN_SHIFT) | opts) : 0;
    slots[next] = seg;
    if (last) ends[first] = next;
    next = (next + 1) & mask;
    seg = (uint32_t)chain[seg];
  }
  return next;
}

static NOINLINE uint32_t adv_tx_burst(queue_t *q, burst_t *burst, uint32_t start) {
  uint32_t end = burst->count;
  if (!is_live(q) || end <= start) return 0;
  uint32_t *d = q->desc;
  uint32_t mask = q->mask;
  int32_t *ctl = q->ctl;
  uint32_t *slots = q->slots, *ends = q->ends;
  pool_t *pool = q->pool;
  uint32_t next = (uint32_t)ctl[W_NEXT];
  uint32_t clean = reclaim_sent(q, pool, next);
  uint32_t room = (clean - next - 1) & mask;
  uint32_t *bufs = burst->bufs;
  uint16_t *lens = pool->len, *offs = pool->dataOff, *nbSegs = pool->nbSegs;
  uint32_t *lo = pool->dmaLo, *hi = pool->dmaHi, *req = pool->txOffload;
  uint32_t count = end - start;
  uint32_t n = 0;
  uint64_t bytes = 0; /* an integer, as the JIT makes of the TS side's `let bytes = 0` */
  int64_t runStart = -1;
  uint32_t runLast = 0;
  while (n < count) {
    uint32_t b = bufs[start + n];
    uint32_t r = req[b];
    uint32_t segs = nbSegs[b];
    if (segs == 1 && (r & CONTEXT_REQUESTS) == 0) {
      /* The driver's fast path for a one-buffer frame without offloads, line for line. */
      if (room == 0) break;
      uint32_t w = next * 4;
      uint32_t len = lens[b];
      dma_words(lo[b], hi[b], offs[b], d, w);
      d[w + 2] = len | (A_TXD_CMD_DEXT | A_TXD_DTYP_DATA | A_TXD_CMD_IFCS | A_TXD_CMD_EOP);
      d[w + 3] = len << A_TXD_PAYLEN_SHIFT;
      slots[next] = b;
      if (runStart < 0) runStart = (int64_t)next;
      runLast = next;
      bytes += len;
      next = (next + 1) & mask;
      room--;
      n++;
      continue;
    }
    if (runStart >= 0) {
      close_run(d, ends, (uint32_t)runStart, runLast);
      runStart = -1;
    }
    /* adv-rxtx.ts writeFrame: offloads or several segments, in a function of their own. */
    int64_t after = adv_write_frame(q, pool, next, room, b, r, segs);
    if (after < 0) break;
    room -= ((uint32_t)after - next) & mask;
    next = (uint32_t)after;
    bytes += segs == 1 ? lens[b] : pool->pktLen[b];
    n++;
  }
  if (runStart >= 0) close_run(d, ends, (uint32_t)runStart, runLast);
  if (n == 0) return 0;
  ctl[W_NEXT] = (int32_t)next;
  tail_write(q, next);
  q->cnt[C_PACKETS] += n;
  q->cnt[C_BYTES] += (double)bytes;
  return n;
}

/* ---- e1000 legacy / 82574 extended (drivers/e1000/rxtx.ts, drivers/e1000/regs.ts) ----------------- */

#define RXD_STAT_DD (1u << 0)
#define RXD_STAT_EOP (1u << 1)
#define RXD_STAT_IXSM (1u << 2)
#define RXD_STAT_VP (1u << 3)
#define RXD_STAT_UDPCS (1u << 4)
#define RXD_STAT_TCPCS (1u << 5)
#define RXD_STAT_IPCS (1u << 6)
#define RXD_ERR_FRAME ((1u << 8) | (1u << 9) | (1u << 10) | (1u << 12) | (1u << 15))
#define RXD_ERR_TCPE (1u << 13)
#define RXD_ERR_IPE (1u << 14)
#define ERXD_ERR_FRAME ((1u << 24) | (1u << 25) | (1u << 26) | (1u << 28) | (1u << 31))
#define ERXD_ERR_TCPE (1u << 29)
#define ERXD_ERR_IPE (1u << 30)
#define TXD_CMD_EOP (1u << 24)
#define TXD_CMD_IFCS (1u << 25)
#define TXD_CMD_RS (1u << 27)
#define TXD_CMD_VLE (1u << 30)
#define TXD_CMD_DEXT (1u << 29)
#define TXD_DTYP_DATA (1u << 20)
#define TXD_POPTS_IXSM (1u << 0)
#define TXD_POPTS_TXSM (1u << 1)
#define TUCMD_TCP (1u << 0)
#define TUCMD_IP (1u << 1)
#define TUCMD_RS (1u << 3)
#define TUCMD_DEXT (1u << 5)

static uint32_t take_fresh(queue_t *q, uint32_t ready) {
  uint32_t k = alloc_rx_up_to(q->pool, q->fresh, ready);
  if (k != ready) q->cnt[C_NOMBUF] += ready - k;
  return k;
}

static NOINLINE uint32_t e1000_rx_burst(queue_t *q, burst_t *burst) {
  burst->count = 0;
  if (!is_live(q)) return 0;
  uint32_t *d = q->desc;
  uint32_t mask = q->mask;
  int32_t *ctl = q->ctl;
  uint32_t next = (uint32_t)ctl[W_NEXT];
  uint32_t ready = 0;
  uint32_t cap = burst->capacity < q->freshLen ? burst->capacity : q->freshLen;
  while (ready < cap && (d[((next + ready) & mask) * 4 + 3] & RXD_STAT_DD) != 0) ready++;
  if (ready == 0) return 0;
  ready = take_fresh(q, ready);
  if (ready == 0) return 0;
  pool_t *pool = q->pool;
  uint32_t *fresh = q->fresh;
  uint32_t *slots = q->slots;
  uint16_t *lens = pool->len, *ports = pool->port, *vlan = pool->vlanTci;
  uint32_t *flags = pool->flags, *lo = pool->dmaLo, *hi = pool->dmaHi;
  uint32_t headroom = pool->headroom;
  uint32_t *out = burst->bufs;
  uint16_t id = q->portId;
  int32_t dropping = ctl[W_DROPPING];
  int64_t head = (int64_t)ctl[W_HEAD] - 1;
  int scatter = q->scatter;
  uint32_t n = 0;
  uint64_t bytes = 0; /* an integer, as the JIT makes of the TS side's `let bytes = 0` */
  uint32_t errors = 0;
  for (uint32_t k = 0; k < ready; k++) {
    uint32_t w = next * 4;
    uint32_t st = d[w + 3];
    uint32_t b = slots[next];
    int eop = (st & RXD_STAT_EOP) != 0;
    if (dropping != 0 || (st & RXD_ERR_FRAME) != 0 || (!eop && !scatter)) {
      if (dropping == 0) errors++;
      dropping = eop ? 0 : 1;
      pool_free(pool, b);
      if (head >= 0) {
        free_chain(pool, (uint32_t)head);
        head = -1;
      }
    } else if (!eop || head >= 0) {
      lens[b] = (uint16_t)(d[w + 2] & 0xffff);
      ports[b] = id;
      flags[b] = 0;
      if (head < 0) head = b;
      else chain_append(pool, (uint32_t)head, b);
      if (eop) {
        out[n++] = (uint32_t)head;
        bytes += pool->pktLen[head];
        head = -1;
      }
    } else {
      uint32_t len = d[w + 2] & 0xffff;
      lens[b] = (uint16_t)len;
      ports[b] = id;
      uint32_t f = 0;
      if ((st & RXD_STAT_IXSM) == 0) {
        if ((st & RXD_STAT_IPCS) != 0) f |= (st & RXD_ERR_IPE) != 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
        if ((st & RXD_STAT_TCPCS) != 0) f |= (st & RXD_ERR_TCPE) != 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
      }
      if ((st & RXD_STAT_VP) != 0) {
        vlan[b] = (uint16_t)(st >> 16);
        f |= BUF_VLAN | BUF_VLAN_STRIPPED;
      }
      flags[b] = f;
      out[n++] = b;
      bytes += len;
    }
    uint32_t nb = fresh[k];
    slots[next] = nb;
    dma_words(lo[nb], hi[nb], headroom, d, w);
    d[w + 2] = 0;
    d[w + 3] = 0;
    next = (next + 1) & mask;
  }
  ctl[W_NEXT] = (int32_t)next;
  ctl[W_DROPPING] = dropping;
  ctl[W_HEAD] = (int32_t)(head + 1);
  rx_doorbell(q, next, ready);
  burst->count = n;
  q->cnt[C_PACKETS] += n;
  q->cnt[C_BYTES] += (double)bytes;
  if (errors != 0) q->cnt[C_ERRORS] += errors;
  return n;
}

static NOINLINE uint32_t e1000e_rx_burst(queue_t *q, burst_t *burst) {
  burst->count = 0;
  if (!is_live(q)) return 0;
  uint32_t *d = q->desc;
  uint32_t mask = q->mask;
  int32_t *ctl = q->ctl;
  uint32_t next = (uint32_t)ctl[W_NEXT];
  uint32_t ready = 0;
  uint32_t cap = burst->capacity < q->freshLen ? burst->capacity : q->freshLen;
  while (ready < cap && (d[((next + ready) & mask) * 4 + 2] & RXD_STAT_DD) != 0) ready++;
  if (ready == 0) return 0;
  ready = take_fresh(q, ready);
  if (ready == 0) return 0;
  pool_t *pool = q->pool;
  uint32_t *fresh = q->fresh;
  uint32_t *slots = q->slots;
  uint16_t *lens = pool->len, *ports = pool->port, *vlan = pool->vlanTci;
  uint32_t *flags = pool->flags, *hash = pool->rssHash, *lo = pool->dmaLo, *hi = pool->dmaHi;
  uint32_t headroom = pool->headroom;
  int rss = q->rss;
  uint32_t *out = burst->bufs;
  uint16_t id = q->portId;
  int32_t dropping = ctl[W_DROPPING];
  int64_t head = (int64_t)ctl[W_HEAD] - 1;
  int scatter = q->scatter;
  uint32_t n = 0;
  uint64_t bytes = 0; /* an integer, as the JIT makes of the TS side's `let bytes = 0` */
  uint32_t errors = 0;
  for (uint32_t k = 0; k < ready; k++) {
    uint32_t w = next * 4;
    uint32_t st = d[w + 2];
    uint32_t b = slots[next];
    int eop = (st & RXD_STAT_EOP) != 0;
    if (dropping != 0 || (st & ERXD_ERR_FRAME) != 0 || (!eop && !scatter)) {
      if (dropping == 0) errors++;
      dropping = eop ? 0 : 1;
      pool_free(pool, b);
      if (head >= 0) {
        free_chain(pool, (uint32_t)head);
        head = -1;
      }
    } else if (!eop || head >= 0) {
      lens[b] = (uint16_t)(d[w + 3] & 0xffff);
      ports[b] = id;
      flags[b] = 0;
      if (head < 0) head = b;
      else chain_append(pool, (uint32_t)head, b);
      if (eop) {
        out[n++] = (uint32_t)head;
        bytes += pool->pktLen[head];
        head = -1;
      }
    } else {
      uint32_t len = d[w + 3] & 0xffff;
      lens[b] = (uint16_t)len;
      ports[b] = id;
      uint32_t f = 0;
      if (rss) {
        hash[b] = d[w + 1];
        f = BUF_RSS_HASH;
      } else {
        if ((st & RXD_STAT_IPCS) != 0) f |= (st & ERXD_ERR_IPE) != 0 ? BUF_IP_CSUM_BAD : BUF_IP_CSUM_GOOD;
        if ((st & (RXD_STAT_TCPCS | RXD_STAT_UDPCS)) != 0) f |= (st & ERXD_ERR_TCPE) != 0 ? BUF_L4_CSUM_BAD : BUF_L4_CSUM_GOOD;
      }
      if ((st & RXD_STAT_VP) != 0) {
        vlan[b] = (uint16_t)(d[w + 3] >> 16);
        f |= BUF_VLAN | BUF_VLAN_STRIPPED;
      }
      flags[b] = f;
      out[n++] = b;
      bytes += len;
    }
    uint32_t nb = fresh[k];
    slots[next] = nb;
    dma_words(lo[nb], hi[nb], headroom, d, w);
    d[w + 2] = 0;
    d[w + 3] = 0;
    next = (next + 1) & mask;
  }
  ctl[W_NEXT] = (int32_t)next;
  ctl[W_DROPPING] = dropping;
  ctl[W_HEAD] = (int32_t)(head + 1);
  rx_doorbell(q, next, ready);
  burst->count = n;
  q->cnt[C_PACKETS] += n;
  q->cnt[C_BYTES] += (double)bytes;
  if (errors != 0) q->cnt[C_ERRORS] += errors;
  return n;
}

static int32_t e1000_context_key(uint32_t req, uint32_t l2, uint32_t l3) {
  return l3 > 0xff ? -1 : (int32_t)((req & 0xff) | (l2 << 8) | (l3 << 16));
}

static void e1000_write_context(uint32_t *d, uint32_t w, uint32_t req, uint32_t l2, uint32_t l3) {
  uint32_t ipcss = l2, tucss = l2 + l3;
  int tcp = (req & TX_TCP_CKSUM) != 0;
  d[w] = ipcss | ((ipcss + 10) << 8) | ((tucss - 1) << 16);
  d[w + 1] = tucss | ((tucss + (tcp ? 16 : 6)) << 8);
  uint32_t tucmd = TUCMD_DEXT | TUCMD_RS;
  if ((req & TX_IP_CKSUM) != 0) tucmd |= TUCMD_IP;
  if (tcp) tucmd |= TUCMD_TCP;
  d[w + 2] = tucmd << 24;
  d[w + 3] = 0;
}

static NOINLINE uint32_t e1000_tx_burst(queue_t *q, burst_t *burst, uint32_t start) {
  uint32_t end = burst->count;
  if (!is_live(q) || end <= start) return 0;
  uint32_t *d = q->desc;
  uint32_t mask = q->mask;
  int32_t *ctl = q->ctl;
  uint32_t *slots = q->slots;
  pool_t *pool = q->pool;
  uint32_t next = (uint32_t)ctl[W_NEXT];
  uint32_t clean = reclaim_sent(q, pool, next);
  uint32_t *ends = q->ends;
  uint32_t first = next;
  uint32_t room = (clean - next - 1) & mask;
  uint32_t *bufs = burst->bufs;
  uint16_t *lens = pool->len, *offs = pool->dataOff, *vlan = pool->vlanTci, *nbSegs = pool->nbSegs;
  uint32_t *lo = pool->dmaLo, *hi = pool->dmaHi, *req = pool->txOffload;
  int32_t *chain = pool->next;
  uint32_t count = end - start;
  uint32_t n = 0;
  uint64_t bytes = 0; /* an integer, as the JIT makes of the TS side's `let bytes = 0` */
  while (n < count && room != 0) {
    uint32_t b = bufs[start + n];
    uint32_t len = lens[b];
    uint32_t r = req[b];
    uint32_t cmd = TXD_CMD_EOP | TXD_CMD_IFCS;
    uint32_t opts = 0;
    if ((r & CSUM_REQUESTS) != 0) {
      int32_t key = e1000_context_key(r, pool->l2Len[b], pool->l3Len[b]);
      if (key != ctl[W_CONTEXT]) {
        if (room < 2) break;
        e1000_write_context(d, next * 4, r, pool->l2Len[b], pool->l3Len[b]);
        slots[next] = NO_BUFFER;
        next = (next + 1) & mask;
        room--;
        ctl[W_CONTEXT] = key;
      }
      cmd |= TXD_CMD_DEXT | TXD_DTYP_DATA;
      if ((r & TX_IP_CKSUM) != 0) opts |= TXD_POPTS_IXSM;
      if ((r & (TX_TCP_CKSUM | TX_UDP_CKSUM)) != 0) opts |= TXD_POPTS_TXSM;
    }
    uint32_t segs = nbSegs[b];
    if (segs == 1) {
      uint32_t w = next * 4;
      dma_words(lo[b], hi[b], offs[b], d, w);
      if ((r & TX_VLAN) == 0) {
        d[w + 2] = len | cmd;
        d[w + 3] = opts << 8;
      } else {
        d[w + 2] = len | cmd | TXD_CMD_VLE;
        d[w + 3] = ((uint32_t)vlan[b] << 16) | (opts << 8);
      }
      slots[next] = b;
      bytes += len;
      next = (next + 1) & mask;
      room--;
    } else {
      if (room < segs) break;
      for (int32_t seg = (int32_t)b; seg >= 0; seg = chain[seg]) {
        uint32_t w = next * 4;
        int last = chain[seg] < 0;
        dma_words(lo[seg], hi[seg], offs[seg], d, w);
        uint32_t c = last ? cmd : cmd & ~TXD_CMD_EOP;
        uint32_t special = (uint32_t)seg == b ? opts << 8 : 0;
        if (last && (r & TX_VLAN) != 0) {
          c |= TXD_CMD_VLE;
          special |= (uint32_t)vlan[b] << 16;
        }
        d[w + 2] = lens[seg] | c;
        d[w + 3] = special;
        slots[next] = (uint32_t)seg;
        bytes += lens[seg];
        next = (next + 1) & mask;
        room--;
      }
    }
    n++;
  }
  if (n == 0) return 0;
  uint32_t last = (next - 1) & mask;
  d[last * 4 + 2] |= TXD_CMD_RS;
  ends[first] = last;
  ctl[W_NEXT] = (int32_t)next;
  tail_write(q, next);
  q->cnt[C_PACKETS] += n;
  q->cnt[C_BYTES] += (double)bytes;
  return n;
}

/* ---- the model ports (bench/nic-model.ts ModelPort) ------------------------------------------------ */

enum { FMT_ADV, FMT_LEGACY, FMT_EXTENDED };
#define FRAME_LEN 60
#define DD (1u << 0)
#define EOP (1u << 1)
#define ADV_W0 ((1u << 4) | (1u << 9))
#define BAR_BYTES (128 * 1024)
#define IGB_RDT 0xc018
#define IGB_TDT 0xe018
#define E1000_RDT 0x2818
#define E1000_TDT 0x3818
#define QUEUE_CTL_BYTES 64

typedef struct {
  int fmt;
  arena_t bar, ring;
  uint32_t *regs;
  queue_t rxq, txq;
  int hasRx, hasTx;
  uint32_t rxHead, txHead;
  uint32_t rdt, tdt;
} port_t;

static void queue_at(queue_t *q, port_t *p, pool_t *pool, uint16_t portId, size_t descOff, size_t slotsOff, size_t endsOff, size_t ctlOff,
                     uint32_t size, uint32_t tailReg, int32_t *live) {
  memset(q, 0, sizeof *q);
  uint8_t *b = p->ring.base;
  q->desc = (uint32_t *)(b + descOff);
  q->slots = (uint32_t *)(b + slotsOff);
  q->ends = endsOff ? (uint32_t *)(b + endsOff) : NULL;
  q->ctl = (int32_t *)(b + ctlOff);
  memset(q->ctl, 0, QUEUE_CTL_BYTES);
  q->bar = p->regs;
  q->live = live;
  q->generation = 1;
  q->size = size;
  q->mask = size - 1;
  q->tailWord = tailReg >> 2;
  q->rxFreeThresh = size / 4 < RX_FREE_THRESH ? (size / 4 > 0 ? size / 4 : 1) : RX_FREE_THRESH;
  q->pool = pool;
  q->portId = portId;
  q->freshLen = 1024;
  q->fresh = calloc(q->freshLen, 4);
  q->rss = 0;
  q->scatter = 0;
  q->errFrame = IGB_RXD_ERR_FRAME;
  q->errIp = IGB_RXD_ERR_IPE;
  q->errL4 = IGB_RXD_ERR_L4E;
  q->txCheckContext = 0;
}

static int32_t live_word = 1;

static void port_create(port_t *p, int fmt, pool_t *pool, uint16_t portId, uint32_t ringSize, int rx, int tx) {
  memset(p, 0, sizeof *p);
  p->fmt = fmt;
  p->bar = arena_create(BAR_BYTES);
  p->regs = (uint32_t *)p->bar.base;
  int adv = fmt == FMT_ADV;
  /* layoutRings: RX places first, then TX (with the ends array) */
  size_t at = 0, rxPlace[4] = {0}, txPlace[4] = {0};
  if (rx) {
    size_t descOff = align_up(at, 128), slotsOff = descOff + (size_t)ringSize * DESC_BYTES;
    size_t ctlOff = align_up(slotsOff + (size_t)ringSize * 4, 64);
    at = ctlOff + QUEUE_CTL_BYTES;
    rxPlace[0] = descOff; rxPlace[1] = slotsOff; rxPlace[2] = 0; rxPlace[3] = ctlOff;
  }
  if (tx) {
    size_t descOff = align_up(at, 128), slotsOff = descOff + (size_t)ringSize * DESC_BYTES;
    size_t endsOff = slotsOff + (size_t)ringSize * 4;
    size_t ctlOff = align_up(slotsOff + (size_t)ringSize * 8, 64);
    at = ctlOff + QUEUE_CTL_BYTES;
    txPlace[0] = descOff; txPlace[1] = slotsOff; txPlace[2] = endsOff; txPlace[3] = ctlOff;
  }
  p->ring = arena_create(at);
  uint32_t rdtReg = adv ? IGB_RDT : E1000_RDT, tdtReg = adv ? IGB_TDT : E1000_TDT;
  p->rdt = rdtReg >> 2;
  p->tdt = tdtReg >> 2;
  p->hasRx = rx;
  p->hasTx = tx;
  if (rx) {
    queue_at(&p->rxq, p, pool, portId, rxPlace[0], rxPlace[1], rxPlace[2], rxPlace[3], ringSize, rdtReg, &live_word);
    /* primeRxRing */
    if (alloc_bulk(pool, p->rxq.slots, ringSize) == 0) die("pool too small for the RX ring");
    for (uint32_t i = 0; i < ringSize; i++) {
      uint32_t b = p->rxq.slots[i];
      dma_words(pool->dmaLo[b], pool->dmaHi[b], pool->headroom, p->rxq.desc, i * 4);
      p->rxq.desc[i * 4 + 2] = 0;
      p->rxq.desc[i * 4 + 3] = 0;
    }
    p->regs[p->rdt] = ringSize - 1;
  }
  if (tx) {
    queue_at(&p->txq, p, pool, portId, txPlace[0], txPlace[1], txPlace[2], txPlace[3], ringSize, tdtReg, &live_word);
    memset(p->txq.desc, 0, (size_t)ringSize * DESC_BYTES);
    p->regs[p->tdt] = 0;
  }
}

static void port_free(port_t *p) {
  if (p->hasRx) free(p->rxq.fresh);
  if (p->hasTx) free(p->txq.fresh);
  arena_free(&p->ring);
  arena_free(&p->bar);
}

static NOINLINE uint32_t nic_rx(port_t *p, uint32_t k) {
  uint32_t *d = p->rxq.desc;
  uint32_t mask = p->rxq.mask;
  uint32_t head = p->rxHead;
  uint32_t room = (*(volatile uint32_t *)&p->regs[p->rdt] - head) & mask;
  uint32_t n = k < room ? k : room;
  int fmt = p->fmt;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t w = ((head + i) & mask) * 4;
    if (fmt == FMT_LEGACY) {
      d[w + 2] = FRAME_LEN;
      d[w + 3] = DD | EOP;
    } else {
      d[w] = fmt == FMT_ADV ? ADV_W0 : 0;
      d[w + 1] = 0;
      d[w + 2] = DD | EOP;
      d[w + 3] = FRAME_LEN;
    }
  }
  p->rxHead = (head + n) & mask;
  return n;
}

static NOINLINE uint32_t nic_tx(port_t *p) {
  uint32_t *d = p->txq.desc;
  uint32_t mask = p->txq.mask;
  uint32_t tail = *(volatile uint32_t *)&p->regs[p->tdt];
  uint32_t head = p->txHead;
  uint32_t n = 0;
  while (head != tail) {
    d[head * 4 + 3] |= DD;
    head = (head + 1) & mask;
    n++;
  }
  p->txHead = head;
  return n;
}

static void fake_rx_doorbell(port_t *p) { *(volatile uint32_t *)&p->regs[p->rdt] = (p->rxHead - 1) & p->rxq.mask; }
static void fake_tx_doorbell(port_t *p, uint32_t k) { *(volatile uint32_t *)&p->regs[p->tdt] = (p->txHead + k) & p->txq.mask; }

static inline uint32_t rx_burst(int fmt, queue_t *q, burst_t *b) {
  return fmt == FMT_ADV ? adv_rx_burst(q, b) : fmt == FMT_LEGACY ? e1000_rx_burst(q, b) : e1000e_rx_burst(q, b);
}

static inline uint32_t tx_burst(int fmt, queue_t *q, burst_t *b, uint32_t start) {
  return fmt == FMT_ADV ? adv_tx_burst(q, b, start) : e1000_tx_burst(q, b, start);
}

/* ---- the loops (bench/nic-model.ts rxLoop / txLoop / l2fwdLoop and the model's) -------------------- */

typedef struct {
  int fmt, mode;
  port_t *a, *b;
  pool_t *pool;
  burst_t *burst;
  uint32_t k;
  uint8_t txMac[6];
} cell_t;

enum { MODE_RX, MODE_TX, MODE_L2FWD };

static uint64_t issued = 0;

static NOINLINE uint64_t run_loop(cell_t *c, uint64_t iters) {
  uint64_t pkts = 0;
  issued += iters;
  uint32_t k = c->k;
  burst_t *burst = c->burst;
  pool_t *pool = c->pool;
  int fmt = c->fmt;
  if (c->mode == MODE_RX) {
    for (uint64_t it = 0; it < iters; it++) {
      nic_rx(c->a, k);
      uint32_t n = rx_burst(fmt, &c->a->rxq, burst);
      burst_free_from(burst, pool, 0);
      pkts += n;
    }
  } else if (c->mode == MODE_TX) {
    for (uint64_t it = 0; it < iters; it++) {
      if (alloc_bulk(pool, burst->bufs, k) != k) die("tx: the pool ran dry");
      for (uint32_t i = 0; i < k; i++) pool->len[burst->bufs[i]] = FRAME_LEN;
      burst->count = k;
      uint32_t sent = tx_burst(fmt, &c->a->txq, burst, 0);
      if (sent < k) burst_free_from(burst, pool, sent);
      burst->count = 0;
      nic_tx(c->a);
      pkts += sent;
    }
  } else {
    uint8_t *bytes = pool->bytes;
    uint32_t *bufs = burst->bufs;
    uint8_t txIndex = (uint8_t)c->b->txq.portId;
    const uint8_t *mac = c->txMac;
    /* net.MacRewrite: the addresses as little-endian words, two 32-bit and two 16-bit stores on an aligned frame. */
    uint32_t dst32 = 0x02, src32 = (uint32_t)mac[2] | (uint32_t)mac[3] << 8 | (uint32_t)mac[4] << 16 | (uint32_t)mac[5] << 24;
    uint16_t dst16 = (uint16_t)(txIndex << 8), src16 = (uint16_t)(mac[0] | mac[1] << 8);
    for (uint64_t it = 0; it < iters; it++) {
      nic_rx(c->a, k);
      uint32_t n = rx_burst(fmt, &c->a->rxq, burst);
      for (uint32_t i = 0; i < n; i++) {
        uint32_t b = bufs[i];
        size_t off = pool->bufBase + (size_t)b * pool->stride + pool->dataOff[b];
        uint8_t *e = bytes + off;
        if ((off & 3) == 0) {
          memcpy(e, &dst32, 4); /* one store each (memcpy: no aliasing questions) */
          memcpy(e + 4, &dst16, 2);
          memcpy(e + 6, &src16, 2);
          memcpy(e + 8, &src32, 4);
        } else {
          e[0] = 0x02;
          e[1] = 0;
          e[2] = 0;
          e[3] = 0;
          e[4] = 0;
          e[5] = txIndex;
          for (int j = 0; j < 6; j++) e[6 + j] = mac[j];
        }
      }
      uint32_t sent = tx_burst(fmt, &c->b->txq, burst, 0);
      if (sent < n) burst_free_from(burst, pool, sent);
      burst->count = 0;
      nic_tx(c->b);
      pkts += n;
    }
  }
  return pkts;
}

static NOINLINE uint64_t model_loop(cell_t *c, uint64_t iters) {
  uint32_t k = c->k;
  for (uint64_t it = 0; it < iters; it++) {
    if (c->mode == MODE_RX) {
      fake_rx_doorbell(c->a);
      nic_rx(c->a, k);
    } else if (c->mode == MODE_TX) {
      fake_tx_doorbell(c->a, k);
      nic_tx(c->a);
    } else {
      fake_rx_doorbell(c->a);
      nic_rx(c->a, k);
      fake_tx_doorbell(c->b, k);
      nic_tx(c->b);
    }
  }
  return iters * k;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef uint64_t (*loop_fn)(cell_t *, uint64_t);

/* This thread's time on a CPU, ns (/proc/thread-self/schedstat, as the TS side reads it). */
static double on_cpu_ns(void) {
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  unsigned long long run = 0, wait = 0;
  if (f) {
    if (fscanf(f, "%llu %llu", &run, &wait) != 2) run = 0;
    fclose(f);
  }
  return (double)run;
}

/* Runs f for `seconds` after `warmup`; packets, elapsed seconds and the share of them spent on a CPU. */
static void timed(loop_fn f, cell_t *c, uint64_t chunk, double seconds, double warmup, uint64_t *packets, double *elapsed, double *cpu) {
  double w0 = now();
  while (now() - w0 < warmup) f(c, chunk);
  double s0 = on_cpu_ns();
  uint64_t pk = 0;
  double t0 = now(), t;
  do {
    pk += f(c, chunk);
    t = now();
  } while (t - t0 < seconds);
  double s1 = on_cpu_ns();
  *packets = pk;
  *elapsed = t - t0;
  *cpu = (s1 - s0) / ((t - t0) * 1e9);
  if (*cpu > 1) *cpu = 1;
}

static const char *FMT_NAMES[] = {"adv", "legacy", "extended"};
static const char *MODE_NAMES[] = {"rx", "tx", "l2fwd"};

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s adv|legacy|extended rx|tx|l2fwd BURSTS SECONDS WARMUP RING POOL\n", argv[0]);
    return 2;
  }
  int fmt = -1, mode = -1;
  for (int i = 0; i < 3; i++) if (strcmp(argv[1], FMT_NAMES[i]) == 0) fmt = i;
  for (int i = 0; i < 3; i++) if (strcmp(argv[2], MODE_NAMES[i]) == 0) mode = i;
  if (fmt < 0 || mode < 0) die("unknown format or mode");
  double seconds = atof(argv[4]), warmup = atof(argv[5]);
  uint32_t ring = (uint32_t)atoi(argv[6]), poolCount = (uint32_t)atoi(argv[7]);
  char *list = strdup(argv[3]);
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    uint32_t k = (uint32_t)atoi(tok);
    if (k < 1 || k > 1024 || k >= ring) die("burst out of range");
    pool_t pool;
    pool_create(&pool, poolCount);
    port_t a, b;
    burst_t burst = {calloc(k, 4), 0, k};
    cell_t c = {fmt, mode, &a, &b, &pool, &burst, k, {0x02, 0x00, 0x00, 0x00, 0x00, 0x11}};
    if (mode == MODE_RX) port_create(&a, fmt, &pool, 0, ring, 1, 0);
    else if (mode == MODE_TX) port_create(&a, fmt, &pool, 0, ring, 0, 1);
    else {
      port_create(&a, fmt, &pool, 0, ring, 1, 0);
      port_create(&b, fmt, &pool, 1, ring, 0, 1);
    }
    uint64_t chunk = (16384 + k - 1) / k;
    uint64_t pk, mpk;
    double el, mel, cpu, mcpu;
    timed(run_loop, &c, chunk, seconds, warmup, &pk, &el, &cpu);
    /* Every burst was full and everything was sent: the queues' own counters say so. */
    double expect = (double)issued * k;
    if ((mode != MODE_TX && a.rxq.cnt[C_PACKETS] != expect) || (mode == MODE_TX && a.txq.cnt[C_PACKETS] != expect) ||
        (mode == MODE_L2FWD && b.txq.cnt[C_PACKETS] != expect)) die("a queue's packet count is not iterations x burst");
    issued = 0;
    timed(model_loop, &c, chunk, seconds, warmup < 0.2 ? warmup : 0.2, &mpk, &mel, &mcpu);
    double totalNs = el * 1e9 / (double)pk, modelNs = mel * 1e9 / (double)mpk, ns = totalNs - modelNs;
    printf("{\"impl\":\"c\",\"format\":\"%s\",\"mode\":\"%s\",\"burst\":%u,\"totalNs\":%.4f,\"modelNs\":%.4f,\"ns\":%.4f,\"mpps\":%.4f,"
           "\"packets\":%llu,\"seconds\":%.4f,\"cpu\":%.4f,\"modelCpu\":%.4f,\"tail\":\"%s\"}\n",
           FMT_NAMES[fmt], MODE_NAMES[mode], k, totalNs, modelNs, ns, 1e3 / ns, (unsigned long long)pk, el, cpu, mcpu,
#ifdef SEQCST_TAIL
           "seq_cst"
#else
           "plain"
#endif
    );
    fflush(stdout);
    port_free(&a);
    if (mode == MODE_L2FWD) port_free(&b);
    free(burst.bufs);
    pool_destroy(&pool);
  }
  free(list);
  return 0;
}
