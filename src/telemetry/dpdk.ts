// The same commands on DPDK's own telemetry socket (telemetry v2), so that DPDK's client, dpdk-telemetry.py,
// and whatever else speaks v2 (telegraf's dpdk input, collectd) can read a bdk process:
//
//   dpdk-telemetry.py -f bdk-4242            # bdk's file prefix is bdk-<pid>; dpdk-telemetry.py -l lists them
//
// The protocol, as DPDK's lib/telemetry and usertools/dpdk-telemetry.py speak it:
//   - the socket is <runtime dir>/dpdk/<file prefix>/dpdk_telemetry.v2, a SOCK_SEQPACKET Unix socket; the
//     runtime dir is $RUNTIME_DIRECTORY, else /var/run for root, else $XDG_RUNTIME_DIR, else /tmp (where
//     the client looks; it connects to the default prefix "rte" unless given -f, which bdk leaves to DPDK);
//   - on accept the server sends one message, {"version":…,"pid":…,"max_output_len":…}; the client reads it
//     with a 1024-byte recv and then reads every answer with a recv of max_output_len bytes, so no message
//     may be longer (a longer one arrives cut and is not JSON);
//   - each message the client sends is one command, "/path" or "/path,param" (no newline, no NUL needed);
//     each answer is one message, {"/path": data}; an unknown command or a failed one is {"/path": null}
//     (bdk adds "error": the reason, as on its own socket; DPDK's clients read the command's key only).
// The answers are the command table's (commands.ts), the same as bdk's own socket and /api give.
//
// How it is served: non-blocking descriptors polled from the owner thread's event loop (a timer: every
// 10 ms while a client is connected, 50 ms otherwise), not a Worker blocked in accept/recv. Every answer is
// computed on the owner thread anyway (it owns the ports and the table), so a Worker could not answer any
// sooner than the owner's event loop turns; it would cost a second JS heap and thread, a message round
// trip per command, and a shutdown problem (a thread blocked in poll(2) inside an FFI call cannot be
// terminated, only woken). The poll costs one accept4 (EAGAIN) per tick, plus a recv per connected client:
// a few µs, 20 to 100 times a second, in the gaps where the owner already serves bdk's own socket and HTTP.
// Bun's own net API cannot listen on SOCK_SEQPACKET, hence libc through bun:ffi (src/sys/libc.ts).
import { existsSync, mkdirSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { BdkError, warnOnce } from "../sys/errors.ts";
import {
  bind, closeQuietly, EAGAIN, ECONNABORTED, EINTR, listen, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_TRUNC, setsockoptInt,
  SOCK_NONBLOCK, SOCK_SEQPACKET, socket, strerror, tryAccept4, tryRecv, trySend,
} from "../sys/libc.ts";
import { AF_UNIX, sockaddrUn } from "../sys/struct.ts";
import { TELEMETRY_VERSION, type CommandTable } from "./commands.ts";
import { processAlive } from "./socket.ts";

/** The socket's name in the prefix's directory (DPDK's telemetry v2). */
export const DPDK_SOCKET_NAME = "dpdk_telemetry.v2";
/**
 * The longest answer on this socket: it is max_output_len in the greeting and in /info. DPDK's is 16 KiB
 * (it cuts longer answers short); bdk's /snapshot of a few ports fits in 16 KiB, but the answer of a port with
 * many queues may not, and a message this long is still well within a Unix socket's send buffer.
 */
export const DPDK_MAX_OUTPUT_LEN = 64 * 1024;
/** How many clients at once (DPDK: 10); one more is accepted and closed at once, as DPDK does. */
export const DPDK_MAX_CLIENTS = 16;
/** Longest command read (DPDK reads 1023 bytes; a longer one is answered with an error, not cut). */
const MAX_COMMAND = 4096;
const POLL_BUSY_MS = 10;
const POLL_IDLE_MS = 50;
/** Commands served per client per tick, so that one client sending without reading cannot hold the thread. */
const COMMANDS_PER_TICK = 32;
const SOL_SOCKET = 1, SO_SNDBUF = 7;

/** Where DPDK's processes (and dpdk-telemetry.py) look: $RUNTIME_DIRECTORY, /var/run for root, $XDG_RUNTIME_DIR, /tmp; then dpdk/. */
export function dpdkRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  let dir = env.RUNTIME_DIRECTORY;
  if (!dir) dir = (process.getuid?.() ?? 0) === 0 ? "/var/run" : env.XDG_RUNTIME_DIR || "/tmp";
  return join(dir, "dpdk");
}

/** bdk's file prefix, one per process: `dpdk-telemetry.py -f bdk-<pid>`. */
export function dpdkFilePrefix(pid = process.pid): string {
  return `bdk-${pid}`;
}

export function dpdkSocketPath(prefix = dpdkFilePrefix(), dir = dpdkRuntimeDir()): string {
  return join(dir, prefix, DPDK_SOCKET_NAME);
}

export interface DpdkSocketOptions {
  /** The file prefix (default bdk-<pid>): a directory under the runtime dir. */
  filePrefix?: string;
  /** The runtime dir's dpdk/ directory (default dpdkRuntimeDir()). */
  dir?: string;
}

export interface DpdkSocket {
  readonly path: string;
  readonly filePrefix: string;
  /** Clients connected now. */
  readonly clients: number;
  /** Removes the socket file and its prefix directory (what exit does; the descriptors go with the process). */
  unlink(): void;
  /** Stops serving, closes every connection, removes the socket and its directory. Idempotent. */
  close(): void;
}

interface Client {
  fd: number;
  /** An answer the kernel did not take yet (the client is not reading): sent before anything else is read. */
  pending: Uint8Array | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Serves the command table on DPDK's telemetry v2 socket until close(). */
export function serveDpdkSocket(table: CommandTable, o: DpdkSocketOptions = {}): DpdkSocket {
  const filePrefix = o.filePrefix ?? dpdkFilePrefix();
  if (!/^[A-Za-z0-9._-]+$/.test(filePrefix) || filePrefix === "." || filePrefix === "..") {
    throw new BdkError(`telemetry: "${filePrefix}" is not a file prefix`, "use letters, digits, '.', '_' and '-' (DPDK's --file-prefix)");
  }
  const base = o.dir ?? dpdkRuntimeDir();
  const dir = join(base, filePrefix);
  const path = join(dir, DPDK_SOCKET_NAME);
  let addr: Uint8Array;
  try {
    addr = sockaddrUn(path);
  } catch {
    throw new BdkError(`telemetry: the DPDK socket path ${path} is longer than a Unix socket allows (107 bytes)`, "set RUNTIME_DIRECTORY to a shorter directory (dpdk-telemetry.py reads it too)");
  }
  removeStale(base);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new BdkError(`telemetry: cannot create ${dir}: ${(e as Error).message}`, "run as root, or set RUNTIME_DIRECTORY (or XDG_RUNTIME_DIR) to a directory you own");
  }
  // This prefix is this process's: a socket there is a dead process's with our pid (DPDK unlinks it too).
  try {
    if (existsSync(path)) unlinkSync(path);
  } catch (e) {
    throw new BdkError(`telemetry: cannot remove the stale socket ${path}: ${(e as Error).message}`, "remove it by hand");
  }
  const hint = `check that ${dir} is writable (or set RUNTIME_DIRECTORY)`;
  const listenFd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, `telemetry: DPDK socket ${path}`, hint);
  try {
    bind(listenFd, addr, path, hint);
    // A deep backlog: between two polls a burst of clients waits there (a full one refuses a client whose
    // connect does not block with EAGAIN; DPDK's thread accepts at once and gets by with 1).
    listen(listenFd, 128, path, hint);
  } catch (e) {
    closeQuietly(listenFd);
    removeFiles(path, dir);
    throw new BdkError(`telemetry: cannot listen on ${path}: ${(e as Error).message}`, hint);
  }

  const greeting = encoder.encode(JSON.stringify({ version: TELEMETRY_VERSION, pid: process.pid, max_output_len: DPDK_MAX_OUTPUT_LEN }));
  const clients = new Map<number, Client>();
  const rx = new Uint8Array(MAX_COMMAND);
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drop = (c: Client): void => {
    clients.delete(c.fd);
    closeQuietly(c.fd);
  };

  /** Sends one message; false when the client is gone (dropped here) or has not taken it yet (kept pending). */
  const send = (c: Client, msg: Uint8Array): boolean => {
    const n = trySend(c.fd, msg, msg.byteLength, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      c.pending = undefined;
      return true;
    }
    if (n === -EAGAIN || n === -EINTR) {
      c.pending = msg;
      return false;
    }
    drop(c); // EPIPE, ECONNRESET …: the client left mid-way
    return false;
  };

  const answer = (text: string): Uint8Array => {
    const nul = text.indexOf("\0"); // a C client may send the terminating NUL
    const line = nul < 0 ? text : text.slice(0, nul);
    const out = table.run(line);
    // max_output_len is this socket's, not bdk's own socket's.
    const info = out["/info"];
    if (info !== null && typeof info === "object" && "max_output_len" in info) (info as Record<string, unknown>).max_output_len = DPDK_MAX_OUTPUT_LEN;
    const name = Object.keys(out)[0] ?? "/";
    let msg: Uint8Array;
    try {
      msg = encoder.encode(JSON.stringify(out));
    } catch (e) {
      // an app command's value JSON cannot hold (a BigInt, a cycle)
      return encoder.encode(JSON.stringify({ [name]: null, error: `${name}: its answer is not JSON: ${(e as Error).message}` }));
    }
    if (msg.byteLength > DPDK_MAX_OUTPUT_LEN) {
      msg = encoder.encode(JSON.stringify({ [name]: null, error: `the answer is ${msg.byteLength} bytes, more than this socket's max_output_len (${DPDK_MAX_OUTPUT_LEN}); bdk telemetry ${process.pid} ${line.trim()} has no such limit` }));
    }
    return msg;
  };

  const serve = (c: Client): void => {
    if (c.pending && !send(c, c.pending)) return;
    for (let i = 0; i < COMMANDS_PER_TICK; i++) {
      const n = tryRecv(c.fd, rx, MSG_DONTWAIT | MSG_TRUNC);
      if (n === -EAGAIN || n === -EINTR) return;
      if (n <= 0) {
        drop(c); // 0: the client closed; another error: it is gone
        return;
      }
      const msg = n > rx.byteLength
        ? encoder.encode(JSON.stringify({ error: `a command of ${n} bytes: commands are at most ${rx.byteLength} bytes` }))
        : answer(decoder.decode(rx.subarray(0, n)));
      if (!send(c, msg)) return;
    }
  };

  const acceptAll = (): void => {
    for (;;) {
      const fd = tryAccept4(listenFd, SOCK_NONBLOCK);
      if (fd === -ECONNABORTED || fd === -EINTR) continue;
      if (fd < 0) {
        if (fd !== -EAGAIN) warnOnce(`dpdk-accept-${-fd}`, `telemetry: accept on ${path}: ${strerror(-fd)} (clients wait until it passes)`);
        return;
      }
      if (clients.size >= DPDK_MAX_CLIENTS) {
        closeQuietly(fd);
        continue;
      }
      // Room for the longest answer and then some, whatever net.core.wmem_default says (capped by wmem_max).
      try {
        setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, 2 * DPDK_MAX_OUTPUT_LEN, "SO_SNDBUF");
      } catch {
        // the default buffer then; a longer answer than it holds fails for that client only
      }
      const c: Client = { fd, pending: undefined };
      clients.set(fd, c);
      send(c, greeting);
    }
  };

  const tick = (): void => {
    timer = undefined;
    if (closed) return;
    try {
      acceptAll();
      for (const c of [...clients.values()]) serve(c);
    } catch (e) {
      warnOnce(`dpdk-tick-${(e as Error).message}`, `telemetry: ${path}: ${(e as Error).message}`);
    }
    if (closed) return;
    timer = setTimeout(tick, clients.size > 0 ? POLL_BUSY_MS : POLL_IDLE_MS);
    timer.unref?.(); // telemetry never keeps a process alive
  };
  tick();

  const unlink = (): void => removeFiles(path, dir);
  return {
    path,
    filePrefix,
    get clients() {
      return clients.size;
    },
    unlink,
    close: () => {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (const c of [...clients.values()]) drop(c);
      closeQuietly(listenFd);
      unlink();
    },
  };
}

/** Removes the socket and its prefix directory (only when empty: a DPDK app may share the prefix). */
function removeFiles(path: string, dir: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already removed
  }
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or gone
  }
}

/** Prefixes bdk-<pid> left by bdk processes that died without removing them (SIGKILL): dpdk-telemetry.py -l would list them. */
function removeStale(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^bdk-([0-9]+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
    removeFiles(join(base, name, DPDK_SOCKET_NAME), join(base, name));
  }
}
