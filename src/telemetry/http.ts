// Telemetry over HTTP (off unless asked for; bound to 127.0.0.1 unless told otherwise):
//   /metrics          Prometheus text format
//   /api/             the commands as JSON: /api/ethdev/stats/0 (or /api/ethdev/stats,0) answers "/ethdev/stats,0"
//   /api/snapshot     everything the page shows
//   /events           Server-Sent Events: one snapshot per tick (?hz=1..10, default 2)
//   /                 the live page (one self-contained HTML file: no script, style or font from elsewhere)
import { BdkError } from "../sys/errors.ts";
import type { CommandTable } from "./commands.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import type { TelemetryModel } from "./model.ts";
import { PAGE_HTML } from "./page.ts";

export interface HttpOptions {
  port: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default updates per second of /events (1..10). */
  hz?: number;
}

/** "9100" → 127.0.0.1:9100; "0.0.0.0:9100", "[::1]:9100". The CLI's --telemetry-http value. */
export function parseHttpAddress(text: string, what = "--telemetry-http"): { host: string; port: number } {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9A-Za-z.-]+):)?([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new BdkError(`${what} "${text}" is not a port or ADDRESS:PORT`, "write e.g. 9100 (on 127.0.0.1), 0.0.0.0:9100 (every interface) or [::1]:9100; port 0 picks a free one");
  }
  const host = m[1] === undefined ? "127.0.0.1" : m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  return { host, port };
}

const SECURITY_HEADERS = {
  // The page may load nothing from anywhere but this server.
  "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
};

function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body)}\n`, { status, headers: { "Content-Type": "application/json", ...SECURITY_HEADERS } });
}

/** The command a path under /api/ names: "/api/ethdev/stats/0" → "/ethdev/stats,0". */
export function apiCommand(table: CommandTable, path: string): string {
  let rest: string;
  try {
    rest = decodeURIComponent(path.slice("/api".length)) || "/";
  } catch {
    return path.slice("/api".length); // a malformed %-escape: answered as an unknown command
  }
  if (rest === "/" || rest.includes(",")) return rest;
  const name = rest.replace(/\/+$/, "");
  if (table.commands.has(name)) return name;
  const slash = name.lastIndexOf("/");
  if (slash > 0 && table.commands.has(name.slice(0, slash))) return `${name.slice(0, slash)},${name.slice(slash + 1)}`;
  return name;
}

export function serveHttp(model: TelemetryModel, table: CommandTable, o: HttpOptions): { url: string; port: number; host: string; close: () => void } {
  const host = o.host ?? "127.0.0.1";
  const defaultHz = Math.min(10, Math.max(1, o.hz ?? 2));
  const streams = new Set<() => void>();
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      port: o.port,
      hostname: host,
      idleTimeout: 30,
      fetch(req) {
        const url = new URL(req.url);
        const path = url.pathname;
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("only GET\n", { status: 405, headers: { Allow: "GET, HEAD" } });
        if (path === "/metrics") return new Response(renderMetrics(model), { headers: { "Content-Type": METRICS_CONTENT_TYPE, "Cache-Control": "no-store" } });
        if (path === "/" || path === "/index.html") return new Response(PAGE_HTML, { headers: { "Content-Type": "text/html; charset=utf-8", ...SECURITY_HEADERS } });
        if (path === "/favicon.ico") return new Response(null, { status: 204 });
        if (path === "/events") {
          const asked = Number(url.searchParams.get("hz") ?? defaultHz);
          const hz = Number.isFinite(asked) ? Math.min(10, Math.max(1, asked)) : defaultHz;
          return sse(model, hz, streams, req.signal);
        }
        if (path === "/api" || path.startsWith("/api/")) {
          if (path === "/api" || path === "/api/") {
            return json({ commands: [...table.commands.keys()].map((c) => ({ command: c, url: `/api${c === "/" ? "/" : c}`, help: table.commands.get(c)!.help })) });
          }
          const cmd = apiCommand(table, path);
          const answer = table.run(cmd);
          return json(answer, answer.error !== undefined ? (table.commands.has(cmd.split(",")[0]!) ? 400 : 404) : 200);
        }
        return new Response(`no page ${path}: try / (the live page), /metrics or /api/\n`, { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });
      },
      error() {
        return new Response("telemetry: internal error\n", { status: 500 });
      },
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || /in use/i.test((e as Error).message)) {
      throw new BdkError(`telemetry: HTTP port ${o.port} on ${host} is in use`, "give another --telemetry-http PORT (0 picks a free one), or stop what listens there");
    }
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      throw new BdkError(`telemetry: cannot listen on ${host}: no such local address`, "give 127.0.0.1, 0.0.0.0 or an address of this machine");
    }
    if (code === "EACCES") throw new BdkError(`telemetry: HTTP port ${o.port} needs privileges`, "give a port above 1023");
    throw new BdkError(`telemetry: cannot serve HTTP on ${host}:${o.port}: ${(e as Error).message}`, "give another --telemetry-http PORT");
  }
  const port = server.port ?? o.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown === "0.0.0.0" ? "127.0.0.1" : shown}:${port}/`,
    port,
    host,
    close: () => {
      for (const end of [...streams]) end();
      server.stop(true);
    },
  };
}

/** One snapshot per tick as a Server-Sent Event, until the client goes or the server closes. */
function sse(model: TelemetryModel, hz: number, streams: Set<() => void>, signal: AbortSignal): Response {
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  let end: (() => void) | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const push = (): void => {
        try {
          controller.enqueue(enc.encode(`data: ${JSON.stringify(model.snapshot())}\n\n`));
        } catch {
          end?.();
        }
      };
      end = (): void => {
        if (timer === undefined) return;
        clearInterval(timer);
        timer = undefined;
        streams.delete(end!);
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      streams.add(end);
      controller.enqueue(enc.encode(`retry: 2000\n\n`));
      timer = setInterval(push, Math.round(1000 / hz));
      push();
      signal.addEventListener("abort", () => end?.());
    },
    cancel() {
      end?.();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream", Connection: "keep-alive", ...SECURITY_HEADERS } });
}
