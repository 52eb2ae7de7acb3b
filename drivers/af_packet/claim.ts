// An advisory claim on a kernel interface: every af_packet port takes flock(LOCK_EX | LOCK_NB) on
// /run/bdk/af_packet-net<NETNS>-<IFINDEX>.lock, a file that holds the claiming process's pid and command.
// A second bdk process that opens the same interface finds the lock taken and gets a warning naming that
// pid (not a refusal: a capture next to a forwarder is legitimate; two forwarders on one interface are
// not). The lock lives in the open file description: closing the fd (at the port's close) or the
// process dying releases it, so a stale file is harmless. The last release unlinks the file before it
// closes the fd (test runs made thousands of namespaces, each leaving a file behind); a claimer that opened
// the old file just before checks, once locked, that its file is still the one at the path, and else tries
// again on the new one. Ports of one process share one claim (a
// reference count per thread; another thread of the same process finds its own pid in the file and says
// nothing). Interface indices are per network namespace, hence the namespace's inode in the name.
// Anything that keeps the claim from being taken (no /run, no permission) leaves the port unclaimed:
// the claim is advice, never a reason to fail an open.
import { fstatSync, ftruncateSync, mkdirSync, readFileSync, readlinkSync, statSync, unlinkSync } from "node:fs";
import { basename } from "node:path";
import { warnOnce } from "../../src/sys/errors.ts";
import { close, flock, getpid, LOCK_EX, LOCK_NB, O_RDWR, open, pwrite } from "../../src/sys/libc.ts";

export const CLAIM_DIR = "/run/bdk";
const O_CREAT = 0o100;

export interface InterfaceClaim {
  /** The lock file ("" when the claim could not be taken at all). */
  readonly path: string;
  /** True when this process holds the lock (false: another process does, or no lock could be made). */
  readonly held: boolean;
  /** Drops this port's share of the claim; the last one closes the fd, which releases the lock. Idempotent. */
  release(): void;
}

export interface ClaimOptions {
  /** Where the lock files live (tests use a scratch directory). */
  dir?: string;
  /** How the "already claimed" warning is said (default: once per interface per process on stderr). */
  warn?: (key: string, message: string) => void;
}

/** Locks this thread holds: path → fd and how many ports share it. */
const held = new Map<string, { fd: number; refs: number }>();

/** The network namespace's inode ("4026531833"), or "" when /proc does not say. */
function netnsId(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/net"))?.[1] ?? "";
  } catch {
    return "";
  }
}

/** The lock file of an interface of this process's network namespace. */
export function claimPath(ifindex: number, dir = CLAIM_DIR): string {
  const ns = netnsId();
  return `${dir}/af_packet-${ns ? `net${ns}-` : ""}${ifindex}.lock`;
}

/** "bdk l2fwd af_packet:eth1 af_packet:eth2" (argv, the script's name shortened), for the lock file. */
function commandLine(): string {
  const [, script, ...args] = process.argv;
  const name = script === undefined ? "bun" : /(^|\/)(src\/cli\/main\.ts|bin\/bdk)$/.test(script) ? "bdk" : basename(script);
  const text = [name, ...args].join(" ").replace(/[\x00-\x1f\x7f]/g, "?");
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** Who holds a lock file, from its contents: pid and command (undefined when it was not written yet). */
export function readClaim(path: string): { pid: number; command: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const m = /^pid (\d+)\ncommand (.*)\n/.exec(text);
  return m ? { pid: Number(m[1]), command: m[2]! } : undefined;
}

const UNCLAIMED: InterfaceClaim = { path: "", held: false, release() {} };

/**
 * Claims interface `iface` (index `ifindex`) for the port `name`. Never throws: when another process holds
 * the claim, says so (its pid and command) and returns an unheld claim.
 */
export function claimInterface(name: string, iface: string, ifindex: number, opts: ClaimOptions = {}): InterfaceClaim {
  const dir = opts.dir ?? CLAIM_DIR;
  const path = claimPath(ifindex, dir);
  const mine = held.get(path);
  if (mine) {
    mine.refs++;
    return share(path);
  }
  let fd = -1;
  let got = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      fd = open(path, O_RDWR | O_CREAT, 0o644);
    } catch {
      return UNCLAIMED;
    }
    try {
      got = flock(fd, LOCK_EX | LOCK_NB, path);
    } catch {
      close(fd);
      return UNCLAIMED;
    }
    // Locked a file its last holder unlinked meanwhile: that lock guards nothing; take the new file's.
    if (!got || sameFile(fd, path)) break;
    close(fd);
    got = false;
    fd = -1;
  }
  if (fd < 0) return UNCLAIMED;
  if (!got) {
    close(fd);
    const holder = readClaim(path);
    if (holder?.pid !== getpid()) {
      const who = holder ? `bdk process ${holder.pid} (${holder.command})` : "another bdk process";
      (opts.warn ?? warnOnce)(`af_packet:claim:${path}`,
        `${name}: interface ${iface} is already in use by ${who}: both receive its frames and can send on it ` +
        `(fine for a capture beside a forwarder; two forwarders on one interface duplicate the traffic) [${path}]`);
    }
    return { path, held: false, release() {} };
  }
  try {
    const bytes = new TextEncoder().encode(`pid ${getpid()}\ncommand ${commandLine()}\n`);
    ftruncateSync(fd, 0);
    pwrite(fd, bytes, 0, path);
  } catch {
    // the lock is what counts; a holder without a name is still a holder
  }
  held.set(path, { fd, refs: 1 });
  return share(path);
}

/** True when `fd` is the file now at `path` (same inode and device). */
function sameFile(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.ino === b.ino && a.dev === b.dev;
  } catch {
    return false;
  }
}

function share(path: string): InterfaceClaim {
  let released = false;
  return {
    path,
    held: true,
    release() {
      if (released) return;
      released = true;
      const h = held.get(path);
      if (!h || --h.refs > 0) return;
      held.delete(path);
      try {
        unlinkSync(path); // still locked: a claimer that opened it before this sees it gone and retries
      } catch {
        // already gone, or not ours to remove: the file is only a name for the lock
      }
      try {
        close(h.fd);
      } catch {
        // closing is all there is to do; a failed close still drops the lock with the process
      }
    },
  };
}
