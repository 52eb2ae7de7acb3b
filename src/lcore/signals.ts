// Clean stop on Ctrl-C / SIGTERM. `onStopSignal(fn)` registers fn; the process handlers are installed with
// the first registration and removed with the last. The first signal calls every registered fn (which
// should only ask loops to stop: set a flag) and says so on stderr; a second Ctrl-C or SIGTERM exits at
// once with 128 + the signal number, for a loop that does not listen.

type StopFn = (signal: NodeJS.Signals) => void;

const fns = new Set<StopFn>();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
const NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };
let installed = false;
let received = 0;

function handler(signal: NodeJS.Signals): void {
  received++;
  if (received > 1) {
    process.stderr.write(`\nbdk: ${signal} again: exiting now\n`);
    process.exit(128 + (NUMBERS[signal] ?? 0));
  }
  process.stderr.write(`\nbdk: ${signal}: stopping (press Ctrl-C again to exit at once)\n`);
  for (const fn of [...fns]) {
    try {
      fn(signal);
    } catch (e) {
      process.stderr.write(`bdk: a stop handler failed: ${(e as Error).message}\n`);
    }
  }
}

/** Calls `fn` on the first SIGINT/SIGTERM. Returns the function that unregisters it. */
export function onStopSignal(fn: StopFn): () => void {
  fns.add(fn);
  if (!installed) {
    installed = true;
    received = 0;
    for (const s of SIGNALS) process.on(s, handler);
  }
  return () => {
    fns.delete(fn);
    if (fns.size === 0 && installed) {
      installed = false;
      for (const s of SIGNALS) process.off(s, handler);
    }
  };
}
