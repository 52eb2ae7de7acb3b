// bdk's own error: one line that names the thing that is wrong and how to fix it.
export class BdkError extends Error {
  readonly fix: string | undefined;
  constructor(what: string, fix?: string) {
    super(fix ? `${what}; ${fix}` : what);
    this.name = "BdkError";
    this.fix = fix;
  }
}

const warned = new Set<string>();

/** Prints a warning once per process per key: a fallback worth knowing about, not worth repeating. */
export function warnOnce(key: string, message: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  console.warn(`bdk: warning: ${message}`);
}

/** Longest run of non-space characters an error line shows whole; longer ones (a 100 000-character name) are cut. */
const MAX_TOKEN = 120;

/**
 * The one line a user sees for an error of ours: control characters escaped (a name with an escape sequence
 * cannot repaint the terminal), over-long words cut with their length said, and a `prefix` ("bdk l2fwd:")
 * unless the message already starts with it.
 */
export function userErrorLine(prefix: string, message: string): string {
  const clean = message
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === "\n" ? " " : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`))
    .replace(/\S{121,}/g, (w) => `${w.slice(0, MAX_TOKEN)}…(${w.length} characters)`);
  const bare = prefix.replace(/^bdk /, "");
  if (clean.startsWith(prefix)) return clean;
  return clean.startsWith(`${bare}:`) ? `${prefix.startsWith("bdk ") ? "bdk " : ""}${clean}` : `${prefix}: ${clean}`;
}

/** BDK_DEBUG=1 shows the stack of every error, ours too (a user's error is otherwise one line). */
export function debugEnabled(): boolean {
  return process.env.BDK_DEBUG === "1";
}
