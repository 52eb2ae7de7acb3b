// A live terminal screen, as Pktgen-DPDK draws one: the same lines redrawn in place every period (cursor
// home, each line cleared to its end, the rest of the screen cleared), the cursor hidden while it runs and
// given back on close, the last screen left standing. Messages that arrive meanwhile (a link going down)
// are kept and shown under the table instead of scrolling it away.
export class LiveScreen {
  private drawn = false;
  private closed = false;
  private readonly notes: string[] = [];

  constructor(private readonly out: { write(s: string): unknown; columns?: number } = process.stdout, private readonly keepNotes = 6) {}

  /** Whether a live screen makes sense on this stream (a terminal, not a pipe or file). */
  static wanted(stream: { isTTY?: boolean } = process.stdout): boolean {
    return stream.isTTY === true && process.env.TERM !== "dumb";
  }

  note(line: string): void {
    this.notes.push(line);
    if (this.notes.length > this.keepNotes) this.notes.shift();
  }

  draw(lines: readonly string[]): void {
    if (this.closed) return;
    const width = this.out.columns ?? 0;
    const fit = (l: string): string => (width > 0 && l.length > width ? l.slice(0, width) : l);
    const all = this.notes.length > 0 ? [...lines, "", ...this.notes] : [...lines];
    let s = this.drawn ? "\x1b[H" : "\x1b[?25l\x1b[H\x1b[2J";
    for (const l of all) s += `${fit(l)}\x1b[K\n`;
    s += "\x1b[J";
    this.out.write(s);
    this.drawn = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.drawn) this.out.write("\x1b[?25h");
  }
}

/** Fixed-width columns for a screen's table: each column padded to its widest cell (the first left-aligned). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd());
}
