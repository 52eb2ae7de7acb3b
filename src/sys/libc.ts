// The project's only dlopen: libc through bun:ffi. Every wrapper checks the return value and throws a
// SysError naming the call, what it was called on, the errno and the usual fix. Setup code uses the
// wrappers; per-burst code may call `raw` directly and check the result itself (no string built on success).
import { dlopen, FFIType, read, toArrayBuffer, type Pointer } from "bun:ffi";
import { SysError } from "./errno.ts";

const { i32, u32, u64, i64, ptr, cstring, void: voidT } = FFIType;

const symbols = {
  open: { args: [ptr, i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  pread: { args: [i32, ptr, u64, i64], returns: i64 },
  pwrite: { args: [i32, ptr, u64, i64], returns: i64 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  mmap: { args: [ptr, u64, i32, i32, i32, i64], returns: ptr },
  munmap: { args: [ptr, u64], returns: i32 },
  mlock: { args: [ptr, u64], returns: i32 },
  eventfd: { args: [u32, i32], returns: i32 },
  sched_setaffinity: { args: [i32, u64, ptr], returns: i32 },
  sched_getaffinity: { args: [i32, u64, ptr], returns: i32 },
  sched_getcpu: { args: [], returns: i32 },
  gettid: { args: [], returns: i32 },
  getpid: { args: [], returns: i32 },
  geteuid: { args: [], returns: u32 },
  usleep: { args: [u32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  bind: { args: [i32, ptr, u32], returns: i32 },
  setsockopt: { args: [i32, i32, i32, ptr, u32], returns: i32 },
  getsockopt: { args: [i32, i32, i32, ptr, ptr], returns: i32 },
  sendto: { args: [i32, ptr, u64, i32, ptr, u32], returns: i64 },
  recv: { args: [i32, ptr, u64, i32], returns: i64 },
  // A listening Unix socket of a type Bun's own net API cannot serve (telemetry's SOCK_SEQPACKET, as DPDK's).
  listen: { args: [i32, i32], returns: i32 },
  accept4: { args: [i32, ptr, ptr, i32], returns: i32 },
  poll: { args: [ptr, u64, i32], returns: i32 },
  if_nametoindex: { args: [ptr], returns: u32 },
  flock: { args: [i32, i32], returns: i32 },
  // Copies between two mappings that no single ArrayBuffer spans (an AF_PACKET ring and a mempool): for
  // frames past ~128 bytes it beats any JS loop (55 ns vs 180 ns for 1514 bytes) and allocates nothing.
  memcpy: { args: [ptr, ptr, u64], returns: ptr },
  __errno_location: { args: [], returns: ptr },
  strerror: { args: [i32], returns: cstring },
  sync: { args: [], returns: voidT },
  clock_gettime: { args: [i32, ptr], returns: i32 },
  epoll_create1: { args: [i32], returns: i32 },
  epoll_ctl: { args: [i32, i32, i32, ptr], returns: i32 },
  epoll_wait: { args: [i32, ptr, i32, i32], returns: i32 },
  // bpf(2) has no libc wrapper: syscall(SYS_bpf, cmd, attr, size). Setup only (af_xdp: maps, programs, links).
  syscall: { args: [i64, i64, ptr, u64], returns: i64 },
} as const;

const lib = dlopen("libc.so.6", symbols);

// ioctl is variadic: its third argument is an int for some requests and a pointer for others. A bun:ffi
// symbol has one signature per dlopen, so the integer form gets a second handle; on x86-64 both travel in
// rdx, so the same function serves both.
const libInt = dlopen("libc.so.6", { ioctl: { args: [i32, u64, u64], returns: i32 } });

/** The raw symbols, for per-burst calls whose result the caller checks itself. */
export const raw = lib.symbols;

// Per-burst calls whose i64 result must not allocate: `i64` comes back as a BigInt, `i64_fast` as a plain
// number (a BigInt only beyond 2^53, which no byte count reaches). AF_PACKET's TX kick uses it once per burst.
const libFast = dlopen("libc.so.6", {
  sendto: { args: [i32, ptr, u64, i32, ptr, u32], returns: FFIType.i64_fast },
  // An eventfd wake-up from a TX burst (a software port's RX interrupt): at most once per burst.
  write: { args: [i32, ptr, u64], returns: FFIType.i64_fast },
  // AF_XDP's fill-ring wake-up (recvfrom with no buffer) when the kernel asks for one: at most once per burst.
  recv: { args: [i32, ptr, u64, i32], returns: FFIType.i64_fast },
});

/** Like `raw`, for the calls above: results are numbers, never BigInts. */
export const fast = libFast.symbols;

export function errno(): number {
  return read.i32(lib.symbols.__errno_location() as Pointer, 0);
}

export function strerror(e: number): string {
  return String(lib.symbols.strerror(e));
}

/** Throws a SysError for the current errno. `detail` says what the call was about (a path, an fd, a request). */
export function fail(call: string, detail: string, hint?: string): never {
  const e = errno();
  throw new SysError(call, e, strerror(e), detail, hint);
}

/** Returns `r` as a number when it is not negative, else throws a SysError. */
export function check(r: number | bigint, call: string, detail = "", hint?: string): number {
  const n = Number(r);
  if (n < 0) fail(call, detail, hint);
  return n;
}

export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

export const O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
export const PROT_READ = 1, PROT_WRITE = 2;
export const MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_LOCKED = 0x2000;
export const MAP_POPULATE = 0x8000, MAP_HUGETLB = 0x40000, MAP_HUGE_SHIFT = 26;
export const EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000;
export const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
export const POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8;

export function open(path: string, flags: number, mode = 0, hint?: string): number {
  return check(lib.symbols.open(cstr(path), flags | O_CLOEXEC, mode), "open", path, hint);
}

export function close(fd: number): void {
  check(lib.symbols.close(fd), "close", `fd ${fd}`);
}

/** ioctl whose argument is a struct (or any buffer) the kernel reads and/or writes. */
export function ioctlPtr(fd: number, request: number, arg: NodeJS.TypedArray, what: string, hint?: string): number {
  return check(lib.symbols.ioctl(fd, request, arg), "ioctl", `fd ${fd}, ${what}`, hint);
}

/** ioctl whose argument is a plain integer. */
export function ioctlInt(fd: number, request: number, arg: number, what: string, hint?: string): number {
  return check(libInt.symbols.ioctl(fd, request, arg), "ioctl", `fd ${fd}, ${what}`, hint);
}

export function pread(fd: number, buf: NodeJS.TypedArray, offset: number, what: string): number {
  return check(lib.symbols.pread(fd, buf, buf.byteLength, offset), "pread", `fd ${fd}, ${what}`);
}

export function pwrite(fd: number, buf: NodeJS.TypedArray, offset: number, what: string): number {
  return check(lib.symbols.pwrite(fd, buf, buf.byteLength, offset), "pwrite", `fd ${fd}, ${what}`);
}

/** mmap; returns the address as a number (user-space addresses stay below 2^47, far below 2^53). */
export function mmap(length: number, prot: number, flags: number, fd: number, offset: number, what: string, hint?: string): number {
  const p = lib.symbols.mmap(null, length, prot, flags, fd, offset);
  const addr = p === null ? -1 : Number(p);
  // MAP_FAILED is (void*)-1; bun:ffi may hand it back as a huge unsigned value.
  if (addr <= 0 || addr >= 2 ** 63) fail("mmap", `${what}, ${length} bytes`, hint);
  return addr;
}

export function munmap(addr: number, length: number): void {
  check(lib.symbols.munmap(addr as unknown as Pointer, length), "munmap", `0x${addr.toString(16)}, ${length} bytes`);
}

/** A view of `length` bytes at `addr`; several views of one address share the memory. */
export function arrayBufferAt(addr: number, length: number): ArrayBuffer {
  return toArrayBuffer(addr as unknown as Pointer, 0, length);
}

export function eventfd(initial = 0, flags = EFD_NONBLOCK | EFD_CLOEXEC): number {
  return check(lib.symbols.eventfd(initial, flags | EFD_CLOEXEC), "eventfd", `flags ${flags}`);
}

/** Reads an eventfd counter; 0 when nothing is pending (the fd is non-blocking). */
export function eventfdRead(fd: number, scratch: BigUint64Array = new BigUint64Array(1)): number {
  const n = Number(lib.symbols.read(fd, scratch, 8));
  if (n === 8) return Number(scratch[0]);
  if (errno() === 11 /* EAGAIN */) return 0;
  return fail("read", `eventfd ${fd}`);
}

// epoll: one wait over many file descriptors (a worker sleeps until any of its queues has frames).
export const EPOLL_CLOEXEC = 0o2000000, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2, EPOLLIN = 0x1;
/** struct epoll_event is packed on x86-64: u32 events, then u64 data (we keep a u32 tag in its low half). */
export const EPOLL_EVENT_BYTES = 12;

export function epollCreate(): number {
  return check(lib.symbols.epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
}

/** Watches `fd` for input; `tag` comes back in the event. */
export function epollAdd(epfd: number, fd: number, tag: number): void {
  const ev = new Uint32Array(3); // packed: events, data lo, data hi
  ev[0] = EPOLLIN;
  ev[1] = tag >>> 0;
  check(lib.symbols.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, ev), "epoll_ctl", `add fd ${fd}`, "the file descriptor must be open (a queue's fd exists only while its port is started)");
}

/** Waits for input on the set; returns how many events were written into `events` (0 on timeout or a signal). */
export function epollWait(epfd: number, events: Uint32Array, maxEvents: number, timeoutMs: number): number {
  const n = lib.symbols.epoll_wait(epfd, events, maxEvents, timeoutMs);
  if (n >= 0) return n;
  if (errno() === 4 /* EINTR */) return 0;
  return fail("epoll_wait", `epoll fd ${epfd}`);
}

const ONE = new BigUint64Array([1n]);
/** Adds 1 to an eventfd: wakes whoever waits on it. No allocation: safe once per burst. */
export function eventfdSignal(fd: number): void {
  libFast.symbols.write(fd, ONE, 8);
}

/** Pins the calling thread (tid 0) to the given CPUs. */
export function setAffinity(cpus: readonly number[]): void {
  const mask = new Uint8Array(128); // cpu_set_t: 1024 bits
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= 1024) throw new RangeError(`CPU ${c} is not a valid core number (0..1023)`);
    mask[c >> 3]! |= 1 << (c & 7);
  }
  check(lib.symbols.sched_setaffinity(0, mask.byteLength, mask), "sched_setaffinity", `cpus ${cpus.join(",")}`,
    "the core may be offline or outside this process's cpuset: see /sys/devices/system/cpu/online");
}

export function getAffinity(): number[] {
  const mask = new Uint8Array(128);
  check(lib.symbols.sched_getaffinity(0, mask.byteLength, mask), "sched_getaffinity", "self");
  const cpus: number[] = [];
  for (let c = 0; c < 1024; c++) if (mask[c >> 3]! & (1 << (c & 7))) cpus.push(c);
  return cpus;
}

export function gettid(): number {
  return lib.symbols.gettid();
}

export function getpid(): number {
  return lib.symbols.getpid();
}

export function geteuid(): number {
  return lib.symbols.geteuid();
}

export function isRoot(): boolean {
  return lib.symbols.geteuid() === 0;
}

export function usleep(us: number): void {
  lib.symbols.usleep(us);
}

export function socket(domain: number, type: number, protocol: number, what: string, hint?: string): number {
  return check(lib.symbols.socket(domain, type | 0o2000000 /* SOCK_CLOEXEC */, protocol), "socket", what, hint);
}

export function bind(fd: number, addr: NodeJS.TypedArray, what: string, hint?: string): void {
  check(lib.symbols.bind(fd, addr, addr.byteLength), "bind", `fd ${fd}, ${what}`, hint);
}

export function setsockopt(fd: number, level: number, name: number, value: NodeJS.TypedArray, what: string, hint?: string): void {
  check(lib.symbols.setsockopt(fd, level, name, value, value.byteLength), "setsockopt", `fd ${fd}, ${what}`, hint);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number, what: string, hint?: string): void {
  setsockopt(fd, level, name, new Int32Array([value]), what, hint);
}

export function getsockopt(fd: number, level: number, name: number, value: NodeJS.TypedArray, what: string): number {
  const len = new Uint32Array([value.byteLength]);
  check(lib.symbols.getsockopt(fd, level, name, value, len), "getsockopt", `fd ${fd}, ${what}`);
  return len[0]!;
}

export function ifNameToIndex(name: string): number {
  const idx = lib.symbols.if_nametoindex(cstr(name));
  if (idx === 0) fail("if_nametoindex", name, `no network interface named "${name}": list them with \`ip link\``);
  return idx;
}

/** Takes or tries a whole-file lock; returns false when LOCK_NB was given and someone else holds it. */
export function flock(fd: number, op: number, what: string): boolean {
  const r = lib.symbols.flock(fd, op);
  if (r === 0) return true;
  if ((op & LOCK_NB) && errno() === 11) return false;
  return fail("flock", what);
}

const timespec = new Uint32Array(4);
const CLOCK_MONOTONIC = 1;

/**
 * CLOCK_MONOTONIC in nanoseconds, the same clock in every process of the machine (unlike performance.now,
 * whose origin is per process), so a timestamp written by one process can be compared in another.
 * Exact as a number for 104 days of uptime.
 */
export function monotonicNs(): number {
  lib.symbols.clock_gettime(CLOCK_MONOTONIC, timespec);
  return (timespec[0]! + timespec[1]! * 4294967296) * 1e9 + timespec[2]!;
}

// Sockets served from an event loop (telemetry's DPDK-compatible socket): non-blocking calls whose "nothing
// yet" (EAGAIN) and "the peer left" (EPIPE, ECONNRESET) are outcomes for the caller, not errors to throw.
export const SOCK_STREAM = 1, SOCK_SEQPACKET = 5, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
export const MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000;
export const EINTR = 4, EAGAIN = 11, EPIPE = 32, ECONNABORTED = 103, ECONNRESET = 104;

export function listen(fd: number, backlog: number, what: string, hint?: string): void {
  check(lib.symbols.listen(fd, backlog), "listen", `fd ${fd}, ${what}`, hint);
}

/** accept4(2) without the peer's address: the new fd, or -errno (-EAGAIN when nobody waits on a non-blocking socket). */
export function tryAccept4(fd: number, flags: number): number {
  const r = lib.symbols.accept4(fd, null, null, flags | SOCK_CLOEXEC);
  return r >= 0 ? r : -errno();
}

/** send(2) of `length` bytes of `buf`: bytes sent, or -errno. Pass MSG_NOSIGNAL: a peer gone must not raise SIGPIPE. */
export function trySend(fd: number, buf: Uint8Array, length: number, flags: number): number {
  const r = Number(fast.sendto(fd, buf, length, flags, null, 0)); // i64_fast: a number at these sizes
  return r >= 0 ? r : -errno();
}

/** recv(2) into `buf`: bytes received (with MSG_TRUNC on a datagram socket, the message's full length), 0 at EOF, or -errno. */
export function tryRecv(fd: number, buf: Uint8Array, flags: number): number {
  const r = Number(fast.recv(fd, buf, buf.byteLength, flags));
  return r >= 0 ? r : -errno();
}

/** close(2) that reports nothing: for a descriptor whose peer may already be gone. */
export function closeQuietly(fd: number): void {
  lib.symbols.close(fd);
}
