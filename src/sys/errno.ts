// errno numbers (x86-64 Linux, asm-generic/errno-base.h + errno.h) and SysError.
// Kept apart from libc.ts so that code which only needs to *recognise* an error does not dlopen anything.

export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 9: "EBADF",
  11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY", 17: "EEXIST", 19: "ENODEV",
  20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 28: "ENOSPC",
  32: "EPIPE", 34: "ERANGE", 38: "ENOSYS", 61: "ENODATA", 90: "EMSGSIZE", 92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT", 98: "EADDRINUSE", 100: "ENETDOWN",
  105: "ENOBUFS", 110: "ETIMEDOUT",
};

export const E = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENXIO: 6, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, ENOSPC: 28, ENOBUFS: 105,
  ENETDOWN: 100, EMSGSIZE: 90,
} as const;

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** The fixes we know for the usual failures; a caller can pass a more specific hint. */
function defaultHint(errno: number): string | undefined {
  switch (errno) {
    case E.EPERM:
    case E.EACCES:
      return "run as root (or grant CAP_NET_RAW / CAP_SYS_ADMIN / CAP_IPC_LOCK as the call needs)";
    case E.ENOMEM:
      return "raise the locked-memory limit (ulimit -l unlimited) or reserve more hugepages (bdk hugepages --reserve 2M:512)";
    case E.EBUSY:
      return "the resource is in use by another process or driver";
    case E.ENODEV:
      return "no such device: check the name or address";
    default:
      return undefined;
  }
}

/** A failed libc call: names the call, what it was called on, the errno name and message, and the usual fix. */
export class SysError extends Error {
  readonly call: string;
  readonly errno: number;
  readonly code: string;
  readonly detail: string;
  readonly hint: string | undefined;

  constructor(call: string, errno: number, message: string, detail = "", hint?: string) {
    const code = errnoName(errno);
    const h = hint ?? defaultHint(errno);
    super(`${call}(${detail}) failed: ${code} (${message})${h ? `; ${h}` : ""}`);
    this.name = "SysError";
    this.call = call;
    this.errno = errno;
    this.code = code;
    this.detail = detail;
    this.hint = h;
  }
}
