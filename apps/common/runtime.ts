// What the apps share around their main loops: stop signals, rate formatting, and the top-level error
// policy (our own errors are one line; anything else is a bug and keeps its stack).
import { BdkError, debugEnabled, onStopSignal, SysError, userErrorLine } from "../../src/index.ts";

export { onStopSignal };

/** 812345.6 → "0.81 Mpps"; 4321 → "4.32 kpps". */
export function formatRate(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(2)} kpps`;
  return `${pps.toFixed(0)} pps`;
}

/** Runs an app's main as a program: exit code from main, one clean line for bdk's own errors. */
export async function runAsProgram(name: string, main: (args: string[]) => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof BdkError || e instanceof SysError)) throw e;
    console.error(userErrorLine(name, e.message));
    if (debugEnabled()) console.error(e.stack);
    process.exitCode = 1;
  }
}
