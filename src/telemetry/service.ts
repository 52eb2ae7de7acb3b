// startTelemetry: one call turns telemetry on in any bdk process. It serves the commands on this process's
// Unix socket (bdk telemetry PID), on DPDK's telemetry v2 socket (dpdk-telemetry.py -f bdk-PID; dpdk.ts),
// and with `http` /metrics, /api/… and the live page; it reads only what
// the ports, pools and workers already keep (nothing is added to the data path), in the thread that owns
// the ports, when a client asks. close() stops them all and removes the sockets; the sockets are also removed
// on exit and on a SIGINT/SIGTERM that nothing else handles.
import { unlinkSync } from "node:fs";
import { BdkError, warnOnce } from "../sys/errors.ts";
import { CommandTable } from "./commands.ts";
import { serveDpdkSocket, type DpdkSocketOptions } from "./dpdk.ts";
import { parseHttpAddress, serveHttp, type HttpOptions } from "./http.ts";
import { TelemetryModel, type TelemetrySources } from "./model.ts";
import { serveSocket, socketPath } from "./socket.ts";

export interface TelemetryOptions extends TelemetrySources {
  /** Serve the Unix socket (default true). */
  socket?: boolean;
  /** Where the socket goes (default: runtimeDir()/<pid>.sock). */
  socketPath?: string;
  /**
   * Serve DPDK's telemetry v2 socket too, for dpdk-telemetry.py (default: when the socket is served):
   * <runtime dir>/dpdk/bdk-<pid>/dpdk_telemetry.v2, or the file prefix and directory given.
   */
  dpdk?: boolean | DpdkSocketOptions;
  /** Serve HTTP too: a port (on 127.0.0.1), "ADDR:PORT", or { port, host, hz }. Default: off. */
  http?: number | string | HttpOptions;
}

export interface Telemetry {
  /** The socket's path, when it serves one. */
  readonly socketPath: string | undefined;
  /** DPDK's telemetry v2 socket's path, when it serves one. */
  readonly dpdkSocketPath: string | undefined;
  /** Its file prefix: `dpdk-telemetry.py -f <prefix>` (bdk-<pid> unless given). */
  readonly dpdkFilePrefix: string | undefined;
  /** http://127.0.0.1:PORT/ when it serves HTTP. */
  readonly httpUrl: string | undefined;
  readonly httpPort: number | undefined;
  /** Runs a command as the socket would ("/ethdev/stats,0"). */
  command(line: string): Record<string, unknown>;
  readonly model: TelemetryModel;
  /** Stops serving and removes the socket. Idempotent. */
  close(): void;
}

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

export function startTelemetry(o: TelemetryOptions): Telemetry {
  const model = new TelemetryModel(o);
  const table = new CommandTable(model);
  const sock = o.socket === false ? undefined : serveSocket(table, o.socketPath ?? socketPath(process.pid));
  let http: ReturnType<typeof serveHttp> | undefined;
  let dpdk: ReturnType<typeof serveDpdkSocket> | undefined;
  try {
    const d = o.dpdk ?? o.socket !== false;
    if (d !== false) {
      try {
        dpdk = serveDpdkSocket(table, d === true ? {} : d);
      } catch (e) {
        // Asked for by name: an error. By default it is an extra (a DPDK directory another user owns must not
        // cost bdk its own socket): one warning, and bdk's socket alone.
        if (o.dpdk !== undefined || !(e instanceof BdkError)) throw e;
        warnOnce("telemetry-dpdk", `${e.message} (no DPDK telemetry socket: dpdk-telemetry.py cannot read this process; bdk telemetry can)`);
      }
    }
    if (o.http !== undefined) {
      const h: HttpOptions = typeof o.http === "number" ? { port: o.http } : typeof o.http === "string" ? parseHttpAddress(o.http, "http") : o.http;
      http = serveHttp(model, table, h);
    }
  } catch (e) {
    dpdk?.close();
    sock?.close();
    throw e;
  }
  // The socket file must not outlive the process: on exit, and on a signal nobody else handles (then the
  // process dies of it as it would have, with the socket gone).
  const onExit = (): void => {
    dpdk?.unlink();
    if (sock) {
      try {
        unlinkSync(sock.path);
      } catch {
        // already removed
      }
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (process.listenerCount(signal) > 1) return; // someone else (onStopSignal) stops the program, which closes us
    t.close();
    process.kill(process.pid, signal);
  };
  process.on("exit", onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
  let closed = false;
  const t: Telemetry = {
    socketPath: sock?.path,
    dpdkSocketPath: dpdk?.path,
    dpdkFilePrefix: dpdk?.filePrefix,
    httpUrl: http?.url,
    httpPort: http?.port,
    model,
    command: (line) => table.run(line),
    close: () => {
      if (closed) return;
      closed = true;
      process.off("exit", onExit);
      for (const s of SIGNALS) process.off(s, onSignal);
      http?.close();
      dpdk?.close();
      sock?.close();
    },
  };
  return t;
}
