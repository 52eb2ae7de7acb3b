// The worker side of startWorkers: a worker module calls `runWorker(fn)` once, at top level.
//
//   // fwd.ts
//   import { runWorker, attachRxQueue, type QueueHandle } from "bdk";
//   runWorker(async (init: { rx: QueueHandle }, ctx) => {
//     const rxq = await attachRxQueue(init.rx);
//     let n = 0;
//     while (!ctx.shouldStop()) n += rxq.burst(burst);       // … one check per burst loop
//     return { n };                                          // structured-cloned back to the main thread
//   });
//
// Before fn runs, the worker pins its own thread to the core it was given (sched_setaffinity) and reads
// back /proc/self/task/<tid>/status to prove it; the main thread learns the tid and the verified CPU list.
// Then it waits until every worker of the group is pinned, so that they all start together.
// fn's return value (or the error it throws) goes back to the main thread; then the worker exits.
import { BdkError } from "../sys/errors.ts";
import { gettid, setAffinity } from "../sys/libc.ts";
import { CPU_ONLINE_PATH, onlineCpus, threadCpusAllowed } from "./cpus.ts";
import { CTL_GO, CTL_STOP, type InitMessage, type WorkerMessage } from "./protocol.ts";

export interface WorkerContext {
  /** Position of this worker in the group (0, 1, …). */
  readonly index: number;
  /** The core this thread is pinned to. */
  readonly core: number;
  /** This thread's kernel tid. */
  readonly tid: number;
  /** The group's name (for messages). */
  readonly name: string;
  /** True once the main thread asked the group to stop (stop(), a signal, or another worker failed). Poll it once per loop iteration. */
  shouldStop(): boolean;
  /** The shared stop word (index 0 is non-zero when stopping), for code that wants to poll it without ctx. */
  readonly stopFlag: Int32Array;
}

class Context implements WorkerContext {
  readonly stopFlag: Int32Array;
  constructor(readonly index: number, readonly core: number, readonly tid: number, readonly name: string, control: SharedArrayBuffer) {
    this.stopFlag = new Int32Array(control);
  }

  shouldStop(): boolean {
    return Atomics.load(this.stopFlag, CTL_STOP) !== 0;
  }
}

interface WorkerScope {
  postMessage(message: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
}

let started = false;

/** Pins this thread to `core` and proves it through /proc; returns the verified CPU list. Exported for tests and tools. */
export function pinThisThread(core: number, who: string): { tid: number; cpus: number[] } {
  const tid = gettid();
  try {
    setAffinity([core]);
  } catch (e) {
    const online = onlineCpus();
    throw new BdkError(
      `${who} cannot be pinned to core ${core}: ${(e as Error).message.split(";")[0]}`,
      `use a core listed in ${CPU_ONLINE_PATH} (${online ? `here: ${online.join(",")}` : "unreadable"}) and allowed by this process's cpuset (taskset -cp ${process.pid})`,
    );
  }
  const seen = threadCpusAllowed(tid);
  if (seen.cpus.length !== 1 || seen.cpus[0] !== core) {
    throw new BdkError(
      `${who} asked for core ${core} but ${seen.path} says Cpus_allowed_list: ${seen.text}`,
      `check that core ${core} is online (${CPU_ONLINE_PATH}) and that no cgroup cpuset overrides the affinity`,
    );
  }
  return { tid, cpus: seen.cpus };
}

/** Runs `fn` in this worker once the main thread sends the init message. Call it once per worker module. */
export function runWorker<I = unknown, R = unknown>(fn: (init: I, ctx: WorkerContext) => R | Promise<R>): void {
  if (Bun.isMainThread) {
    throw new BdkError("runWorker() was called in the main thread", "call it in a worker module that startWorkers(new URL(…), …) starts");
  }
  if (started) throw new BdkError("runWorker() was called twice in one worker", "call it once, at the top level of the worker module");
  started = true;
  const scope = globalThis as unknown as WorkerScope;
  const post = (m: WorkerMessage): void => scope.postMessage(m);
  scope.onmessage = (e: MessageEvent) => {
    const msg = e.data as InitMessage;
    if (!msg || msg.bdk !== "init") return;
    scope.onmessage = null;
    void run(msg, fn, post);
  };
}

async function run<I, R>(msg: InitMessage, fn: (init: I, ctx: WorkerContext) => R | Promise<R>, post: (m: WorkerMessage) => void): Promise<void> {
  const who = `${msg.name} worker ${msg.index}`;
  let pinned: { tid: number; cpus: number[] };
  try {
    pinned = pinThisThread(msg.core, who);
  } catch (e) {
    post(failure("pin", e));
    return;
  }
  post({ bdk: "pinned", tid: pinned.tid, cpus: pinned.cpus });
  const control = new Int32Array(msg.control);
  // Every worker of the group starts together, once all are pinned (or none starts, when one failed).
  while (Atomics.load(control, CTL_GO) === 0) Atomics.wait(control, CTL_GO, 0, 1000);
  if (Atomics.load(control, CTL_GO) < 0) return; // the start was aborted: the main thread terminates us
  const ctx = new Context(msg.index, msg.core, pinned.tid, msg.name, msg.control);
  let result: R;
  try {
    result = await fn(msg.init as I, ctx);
  } catch (e) {
    post(failure("run", e));
    return;
  }
  try {
    post({ bdk: "done", result });
  } catch (e) {
    post(failure("run", new BdkError(`${who} returned a result that cannot be sent to the main thread: ${(e as Error).message}`, "return plain data (numbers, strings, arrays, typed arrays, plain objects)")));
  }
}

function failure(phase: "pin" | "run", e: unknown): WorkerMessage {
  const err = e instanceof Error ? e : new Error(String(e));
  return { bdk: "failed", phase, name: err.name, message: err.message, stack: err.stack };
}
