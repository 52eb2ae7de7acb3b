// The telemetry Unix socket, one per process, named by its pid: /run/bdk/<pid>.sock for root, or
// $XDG_RUNTIME_DIR/bdk/<pid>.sock (BDK_RUNTIME_DIR overrides both). A stream socket speaking lines: on
// connect the server sends one JSON line (/info's answer: version, pid, app, max_output_len); then each
// line the client sends is a command ("/ethdev/stats,0") and each answer is one line of JSON
// ({"/ethdev/stats": {…}}). DPDK's telemetry speaks the same JSON over a SOCK_SEQPACKET socket, one message
// per command; lines take the place of message boundaries here (dpdk.ts serves DPDK's socket as well).
import { existsSync, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { BdkError } from "../sys/errors.ts";
import type { CommandTable } from "./commands.ts";

/** Where the sockets live. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BDK_RUNTIME_DIR) return env.BDK_RUNTIME_DIR;
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0 && env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "bdk");
  return "/run/bdk";
}

export function socketPath(pid: number, dir = runtimeDir()): string {
  return join(dir, `${pid}.sock`);
}

/** The pids with a socket in the runtime directory (live or left by a killed process), ascending. */
export function listSocketPids(dir = runtimeDir()): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.map((n) => /^([0-9]+)\.sock$/.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
}

/** Whether a process with this pid exists (signal 0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const MAX_LINE = 64 * 1024;

/** Serves the command table on this process's socket; returns what closes it (and removes the file). */
export function serveSocket(table: CommandTable, path = socketPath(process.pid)): { path: string; close: () => void } {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new BdkError(`telemetry: cannot create ${dir}: ${(e as Error).message}`, "run as root, or set XDG_RUNTIME_DIR (or BDK_RUNTIME_DIR) to a directory you own");
  }
  // A socket of ours left by an earlier process with this pid (pids are reused): nobody listens there.
  if (existsSync(path)) {
    try {
      unlinkSync(path);
    } catch (e) {
      throw new BdkError(`telemetry: cannot remove the stale socket ${path}: ${(e as Error).message}`, "remove it by hand");
    }
  }
  const greeting = `${JSON.stringify(table.info())}\n`;
  let server: ReturnType<typeof Bun.listen<{ buf: string; out: string }>>;
  try {
    server = Bun.listen<{ buf: string; out: string }>({
      unix: path,
      socket: {
        open(s) {
          s.data = { buf: "", out: "" };
          send(s, greeting);
        },
        data(s, chunk) {
          s.data.buf += chunk.toString();
          let nl: number;
          while ((nl = s.data.buf.indexOf("\n")) >= 0) {
            const line = s.data.buf.slice(0, nl);
            s.data.buf = s.data.buf.slice(nl + 1);
            if (line.trim() === "") continue;
            send(s, `${JSON.stringify(table.run(line))}\n`);
          }
          if (s.data.buf.length > MAX_LINE) {
            send(s, `${JSON.stringify({ error: `command longer than ${MAX_LINE} bytes; send one command per line` })}\n`);
            s.data.buf = "";
          }
        },
        drain(s) {
          const out = s.data.out;
          s.data.out = "";
          if (out) send(s, out);
        },
        error() {},
      },
    });
  } catch (e) {
    throw new BdkError(`telemetry: cannot listen on ${path}: ${(e as Error).message}`, "check that the directory is writable (or set BDK_RUNTIME_DIR)");
  }
  let closed = false;
  return {
    path,
    close: () => {
      if (closed) return;
      closed = true;
      try {
        server.stop(true);
      } catch {
        // already gone
      }
      try {
        unlinkSync(path);
      } catch {
        // already removed
      }
    },
  };
}

/** Writes text, keeping what the kernel did not take for the next drain. */
function send(s: { write(d: string): number; data: { out: string } }, text: string): void {
  if (s.data.out) {
    s.data.out += text;
    return;
  }
  const n = s.write(text);
  if (n < Buffer.byteLength(text)) s.data.out = Buffer.from(text).subarray(Math.max(0, n)).toString();
}

/** A client connection: the greeting, then one answer per command, in order. */
export class TelemetryClient {
  private buf = "";
  private readonly lines: string[] = [];
  private waiters: ((line: string | undefined) => void)[] = [];
  private ended = false;
  greeting: Record<string, unknown> = {};

  private constructor(private readonly sock: Socket, readonly path: string, readonly pid: number) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    sock.on("end", end);
    sock.on("close", end);
    sock.on("error", end);
  }

  /** Connects to a process's socket; one clear error when there is none or nobody listens. */
  static async connect(pid: number, dir = runtimeDir(), timeoutMs = 3000): Promise<TelemetryClient> {
    const path = socketPath(pid, dir);
    if (!existsSync(path)) {
      const alive = processAlive(pid);
      throw new BdkError(`telemetry: no socket for pid ${pid} (${path})`,
        alive ? "that process runs without telemetry: start it with --telemetry (or startTelemetry() in your program)" : `no process ${pid} is running; bdk telemetry --all lists the ones that serve telemetry`);
    }
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ path });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new BdkError(`telemetry: pid ${pid} did not answer on ${path} within ${timeoutMs} ms`, "is that process stopped (SIGSTOP) or busy? try again"));
      }, timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const stale = e.code === "ECONNREFUSED" || e.code === "ENOENT";
        reject(new BdkError(`telemetry: cannot connect to ${path}: ${e.code ?? e.message}`,
          stale && !processAlive(pid) ? `process ${pid} is gone and left its socket: remove ${path}` : stale ? `nobody listens there: process ${pid} has stopped serving telemetry` : "check its permissions (run as the same user, or as root)"));
      });
    });
    const c = new TelemetryClient(sock, path, pid);
    const hello = await c.nextLine(timeoutMs);
    if (hello === undefined) {
      c.close();
      throw new BdkError(`telemetry: pid ${pid} closed ${path} without a greeting`, "is it a bdk telemetry socket?");
    }
    try {
      c.greeting = JSON.parse(hello) as Record<string, unknown>;
    } catch {
      c.close();
      throw new BdkError(`telemetry: ${path} did not greet with JSON`, "is it a bdk telemetry socket?");
    }
    return c;
  }

  private nextLine(timeoutMs: number): Promise<string | undefined> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (line: string | undefined): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push(done);
    });
  }

  /** Sends one command and returns the parsed answer. */
  async command(cmd: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    if (cmd.includes("\n")) throw new BdkError("telemetry: a command is one line", "send commands one at a time");
    this.sock.write(`${cmd}\n`);
    const line = await this.nextLine(timeoutMs);
    if (line === undefined) throw new BdkError(`telemetry: pid ${this.pid} did not answer "${cmd}"`, this.ended ? "the process closed the connection (it may have exited)" : `no answer within ${timeoutMs} ms`);
    return JSON.parse(line) as Record<string, unknown>;
  }

  close(): void {
    this.sock.destroy();
  }
}
