// QEMU's monitor over QMP (a unix socket the rig asks QEMU to listen on): the host's hand on the running
// guest's devices, e.g. `set_link` to pull a NIC's cable. One command at a time; each reply is awaited.
import type { Socket } from "bun";

export class Qmp {
  private buffer = "";
  private readonly waiting: ((line: Record<string, unknown>) => void)[] = [];

  private constructor(private readonly socket: Socket<undefined>) {}

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        let q: Qmp | undefined;
        const lines: Record<string, unknown>[] = [];
        const socket = await Bun.connect({
          unix: path,
          socket: {
            data(_s, data) {
              if (q) q.feed(data.toString());
              else lines.push(...data.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l)));
            },
          },
        });
        q = new Qmp(socket);
        await q.execute("qmp_capabilities");
        return q;
      } catch (e) {
        if (Date.now() > until) throw new Error(`QMP at ${path}: ${(e as Error).message}`);
        await Bun.sleep(100);
      }
    }
  }

  private feed(text: string): void {
    this.buffer += text;
    for (let nl = this.buffer.indexOf("\n"); nl >= 0; nl = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ("event" in msg || "QMP" in msg) continue; // asynchronous events and the greeting
      this.waiting.shift()?.(msg);
    }
  }

  /** Runs one command; resolves with its "return" value, rejects with QEMU's error. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push((msg) => (msg.error ? reject(new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`)) : resolve(msg.return)));
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  close(): void {
    this.socket.end();
  }
}
