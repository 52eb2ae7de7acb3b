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
