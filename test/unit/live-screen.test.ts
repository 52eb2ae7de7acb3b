// The live terminal screen: on a terminal (a pty from util-linux's `script`) l2fwd and pktgen draw one
// screen and redraw it in place (cursor home, lines cleared to their end, cursor hidden, then given back);
// into a pipe they print the line-per-period output as before.
import { describe, expect, test } from "bun:test";
import { columns, LiveScreen } from "../../src/index.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BUN = process.execPath;

/** Runs a bdk command on a pseudo-terminal; returns what the terminal received. */
function onTty(args: string[]): string {
  const cmd = [BUN, `${ROOT}src/cli/main.ts`, ...args].map((a) => `'${a}'`).join(" ");
  const r = Bun.spawnSync(["script", "-qec", cmd, "/dev/null"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, TERM: "xterm", COLUMNS: "120", LINES: "40" } });
  expect(r.exitCode).toBe(0);
  return r.stdout.toString();
}

describe("live terminal screen", () => {
  test("LiveScreen redraws in place and keeps notes under the table", () => {
    let out = "";
    const s = new LiveScreen({ write: (x: string) => (out += x), columns: 20 });
    s.draw(["a", "b"]);
    s.note("link DOWN");
    s.draw(["a", "a very long line that does not fit"]);
    s.close();
    expect(out).toBe("\x1b[?25l\x1b[H\x1b[2Ja\x1b[K\nb\x1b[K\n\x1b[J" + "\x1b[Ha\x1b[K\na very long line tha\x1b[K\n\x1b[K\nlink DOWN\x1b[K\n\x1b[J" + "\x1b[?25h");
    expect(columns([["port", "rate"], ["0 ring:a", "1 pps"]])).toEqual(["port       rate", "0 ring:a  1 pps"]);
  });

  test("l2fwd on a terminal: one screen redrawn every second; into a pipe: lines", () => {
    const tty = onTty(["l2fwd", "null", "null", "--duration", "2.5"]);
    const frames = tty.split("\x1b[H").length - 1;
    expect(frames).toBeGreaterThanOrEqual(3);
    expect(tty).toContain("\x1b[?25l");
    expect(tty).toContain("\x1b[?25h");
    expect(tty).toMatch(/port +link +RX rate +TX rate/);
    expect(tty).toMatch(/0 null +up +[0-9.]+ Mpps/);
    expect(tty).toContain("l2fwd: ran 2.5 s");
    const piped = Bun.spawnSync([BUN, `${ROOT}src/cli/main.ts`, "l2fwd", "null", "null", "--duration", "2.2", "-T", "1"], { stdout: "pipe", stderr: "pipe" });
    const out = piped.stdout.toString();
    expect(out).not.toContain("\x1b[");
    expect(out.match(/^port 0: rx [0-9]+ \(/gm)?.length).toBeGreaterThanOrEqual(2);
  }, 30000);

  test("pktgen on a terminal: rates, loss and latency redrawn; --no-live gives lines", () => {
    const tty = onTty(["pktgen", "--tx", "ring:t", "--rx", "ring:t", "--rate", "5kpps", "--duration", "2.5", "--interval", "0.5"]);
    expect(tty.split("\x1b[H").length - 1).toBeGreaterThanOrEqual(3);
    expect(tty).toMatch(/TX +[0-9.]+ kpps/);
    expect(tty).toMatch(/lost 0 \(0\.000 %\)/);
    expect(tty).toContain("latency p50");
    expect(tty).toContain("RX ring:t:"); // the summary after the screen
    const lines = onTty(["pktgen", "--tx", "ring:t", "--rx", "ring:t", "--rate", "5kpps", "--duration", "1.5", "--interval", "0.5", "--no-live"]);
    expect(lines).not.toContain("\x1b[H");
    expect(lines).toMatch(/pktgen: 0\.5s +TX/);
  }, 30000);
});
