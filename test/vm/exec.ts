// Running host commands with a deadline: nothing the rig starts may hang forever.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  cwd?: string;
  /** Kill the command after this long; the default is generous for apt downloads. */
  timeoutMs?: number;
  stdin?: Uint8Array | string;
}

/** Runs argv, collects its output; never throws for a non-zero exit (see mustExec). */
export async function exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      cwd: opts.cwd,
      stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(String(opts.stdin)),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch (e) {
    // ENOENT for a missing binary surfaces here: name the command, not a bare errno.
    return { code: 127, stdout: "", stderr: `${argv[0]}: ${(e as Error).message}` };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  if (timedOut) return { code: 124, stdout, stderr: `${stderr}\n${argv[0]}: killed after ${timeoutMs} ms` };
  return { code, stdout, stderr };
}

/** Runs argv and returns stdout; throws an Error naming the command and its stderr otherwise. */
export async function mustExec(argv: string[], opts: ExecOptions = {}, hint = ""): Promise<string> {
  const r = await exec(argv, opts);
  if (r.code !== 0) {
    const tail = r.stderr.trim().split("\n").slice(-8).join("\n");
    throw new Error(`${argv.join(" ")} failed (exit ${r.code})${hint ? `: ${hint}` : ""}\n${tail}`);
  }
  return r.stdout;
}

/** Synchronous variant for quick probes (e.g. `qemu-system-x86_64 --version`). */
export function execSync(argv: string[], timeoutMs = 10_000): ExecResult {
  try {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
    return { code: r.exitCode ?? 124, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  } catch (e) {
    return { code: 127, stdout: "", stderr: `${argv[0]}: ${(e as Error).message}` };
  }
}

/** Quotes one word for /bin/sh. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
