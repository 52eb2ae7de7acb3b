// Pinned workers: one Bun Worker (one OS thread) per core, each pinned to its core before it runs a line of
// the app's loop, as DPDK's lcores are.
//
//   const group = await startWorkers<Init, Result>(new URL("./fwd.ts", import.meta.url), {
//     cores: [0, 1],
//     init: (core, index) => ({ rxq: port.rxQueue(index).handle() }),   // structured-cloneable
//   });
//   group.stopOnSignal();            // Ctrl-C / SIGTERM → stop flag (a second Ctrl-C exits at once)
//   const results = await group.join();   // or: await group.stop() to ask them to finish now
//
// The worker module calls runWorker(fn) (worker-runtime.ts). startWorkers resolves once every worker has
// pinned itself and verified it through /proc/self/task/<tid>/status; `group.workers` then lists each one's
// core, tid and CPU list. A worker that cannot be pinned fails the whole start with an error naming the
// core. An error thrown inside a worker surfaces here, naming the worker and its core, and asks the other
// workers to stop. Workers poll a shared stop word (ctx.shouldStop()) once per loop iteration.
// `module` is a URL (new URL("./w.ts", import.meta.url)) or an absolute path.
import { BdkError } from "../sys/errors.ts";
import { CTL_GO, CTL_STOP, CTL_WORDS, type InitMessage, type WorkerMessage } from "./protocol.ts";

import { onStopSignal } from "./signals.ts";

export { onStopSignal };

export interface StartWorkersOptions<I> {
  /** One worker per entry, pinned to that core (a core may appear twice: two threads sharing it). */
  cores: readonly number[];
  /** The init message (structured-cloned; SharedArrayBuffers are shared), or a function making one per worker. */
  init?: I | ((core: number, index: number) => I);
  /** Names the group in messages ("l2fwd worker 1 (core 1) failed: …"). Default "bdk". */
  name?: string;
  /** How long a worker may take to start and pin itself (default 15000 ms). */
  startTimeoutMs?: number;
}

export interface WorkerInfo {
  index: number;
  core: number;
  /** The worker thread's kernel tid. */
  tid: number;
  /** Its Cpus_allowed_list as /proc/self/task/<tid>/status showed it after pinning: [core]. */
  cpus: number[];
}

/** A failure of one or more workers; `results` holds what the others returned (undefined where none). */
export class WorkerGroupError<R = unknown> extends BdkError {
  constructor(what: string, fix: string | undefined, readonly results: (R | undefined)[], readonly causes: Error[]) {
    super(what, fix);
    this.name = "WorkerGroupError";
  }
}

type Outcome<R> = { ok: true; result: R } | { ok: false; error: Error };

interface Slot<R> {
  index: number;
  core: number;
  worker: Worker;
  info: WorkerInfo | undefined;
  outcome: Outcome<R> | undefined;
  settled: Promise<void>;
  settle: () => void;
  onPinned: ((m: WorkerMessage & { bdk: "pinned" }) => void) | undefined;
}

const DEFAULT_START_TIMEOUT = 15000;

export class WorkerGroup<R = unknown> {
  /** The shared control words; index 0 is the stop flag workers poll. */
  readonly stopFlag: Int32Array;
  readonly name: string;
  private readonly slots: Slot<R>[];
  private removeSignal: (() => void) | undefined;

  /** Use startWorkers(). */
  private constructor(name: string, control: Int32Array, slots: Slot<R>[]) {
    this.name = name;
    this.stopFlag = control;
    this.slots = slots;
  }

  /** @internal startWorkers' constructor. */
  static async start<I, R>(module: string | URL, opts: StartWorkersOptions<I>): Promise<WorkerGroup<R>> {
    const name = opts.name ?? "bdk";
    const cores = opts.cores;
    if (!Array.isArray(cores) || cores.length === 0) {
      throw new BdkError(`${name}: startWorkers needs at least one core`, "pass { cores: [0, 1] } (one worker per core)");
    }
    for (const c of cores) {
      if (!Number.isInteger(c) || c < 0 || c >= 1024) throw new BdkError(`${name}: core ${c} is not a core number`, "give whole numbers from /sys/devices/system/cpu/online");
    }
    const control = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
    const slots: Slot<R>[] = [];
    const group = new WorkerGroup<R>(name, control, slots);
    const makeInit = opts.init;
    const timeout = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT;
    try {
      const pinned: Promise<void>[] = [];
      for (let index = 0; index < cores.length; index++) {
        const core = cores[index]!;
        const init = typeof makeInit === "function" ? (makeInit as (c: number, i: number) => I)(core, index) : makeInit;
        const slot = group.spawn(module, index, core);
        const p = group.awaitPinned(slot, timeout);
        p.catch(() => {}); // handled by Promise.all below, or moot when an earlier worker failed
        pinned.push(p);
        const msg: InitMessage = { bdk: "init", index, core, name, control: control.buffer as SharedArrayBuffer, init };
        try {
          slot.worker.postMessage(msg);
        } catch (e) {
          throw new BdkError(`${name} worker ${index} (core ${core}): the init message cannot be sent: ${(e as Error).message}`, "pass structured-cloneable data (plain objects, numbers, strings, typed arrays, SharedArrayBuffers; no functions or class instances)");
        }
      }
      await Promise.all(pinned);
    } catch (e) {
      // No worker runs its loop: release the ones that wait for the go word, then terminate all.
      Atomics.store(control, CTL_STOP, 1);
      Atomics.store(control, CTL_GO, -1);
      Atomics.notify(control, CTL_GO);
      for (const s of slots) s.worker.terminate();
      throw e;
    }
    Atomics.store(control, CTL_GO, 1);
    Atomics.notify(control, CTL_GO);
    return group;
  }

  private spawn(module: string | URL, index: number, core: number): Slot<R> {
    let settle!: () => void;
    const settled = new Promise<void>((res) => (settle = res));
    const worker = new Worker(module);
    const slot: Slot<R> = { index, core, worker, info: undefined, outcome: undefined, settled, settle, onPinned: undefined };
    this.slots.push(slot);
    const finish = (o: Outcome<R>): void => {
      if (slot.outcome) return;
      slot.outcome = o;
      if (!o.ok) this.requestStop(); // one failure winds the others down
      settle();
      worker.terminate();
    };
    worker.addEventListener("message", (e: MessageEvent) => {
      const m = e.data as WorkerMessage;
      if (!m || typeof m !== "object") return;
      if (m.bdk === "pinned") {
        slot.info = { index, core, tid: m.tid, cpus: m.cpus };
        slot.onPinned?.(m);
      } else if (m.bdk === "done") {
        finish({ ok: true, result: m.result as R });
      } else if (m.bdk === "failed") {
        // A pinning failure already names the worker and the core.
        const err = new BdkError(m.phase === "pin" ? m.message : `${this.name} worker ${index} (core ${core}) failed: ${m.message}`);
        err.stack = `${err.name}: ${err.message}\n--- in the worker:\n${m.stack ?? ""}`;
        (err as { workerErrorName?: string }).workerErrorName = m.name;
        (err as { phase?: string }).phase = m.phase;
        finish({ ok: false, error: err });
      }
    });
    worker.addEventListener("error", (e: Event) => {
      const ee = e as ErrorEvent;
      const msg = ee.message || (ee.error instanceof Error ? ee.error.message : String(ee.error ?? "unknown error"));
      finish({ ok: false, error: new BdkError(`${this.name} worker ${index} (core ${core}) failed: ${msg}`) });
    });
    worker.addEventListener("close", (e: Event) => {
      const code = (e as CloseEvent).code;
      finish({ ok: false, error: new BdkError(`${this.name} worker ${index} (core ${core}) exited (code ${code}) without a result`, "the worker module must call runWorker(fn) and not exit the thread itself") });
    });
    return slot;
  }

  private awaitPinned(slot: Slot<R>, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new BdkError(`${this.name} worker ${slot.index} (core ${slot.core}) did not start within ${timeoutMs} ms`, "the worker module must call runWorker(fn) at its top level"));
      }, timeoutMs);
      slot.onPinned = () => {
        clearTimeout(timer);
        resolve();
      };
      void slot.settled.then(() => {
        clearTimeout(timer);
        const o = slot.outcome;
        if (o && !o.ok) reject(o.error);
        else if (!slot.info) reject(new BdkError(`${this.name} worker ${slot.index} (core ${slot.core}) finished before it was pinned`));
      });
    });
  }

  /** Each worker's core, tid and verified CPU list, in start order. */
  get workers(): readonly WorkerInfo[] {
    return this.slots.map((s) => s.info!);
  }

  get stopping(): boolean {
    return Atomics.load(this.stopFlag, CTL_STOP) !== 0;
  }

  /** Sets the stop flag without waiting (safe in a signal handler). */
  requestStop(): void {
    Atomics.store(this.stopFlag, CTL_STOP, 1);
  }

  /**
   * Waits until every worker has returned, and gives their results in start order. After `timeoutMs`
   * (default: forever) the stragglers are terminated. Throws a WorkerGroupError naming every worker that
   * failed or did not finish; its `results` has what the others returned.
   */
  async join(timeoutMs?: number): Promise<R[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const all = Promise.all(this.slots.map((s) => s.settled));
    const timedOut = timeoutMs === undefined ? false : await Promise.race([
      all.then(() => false),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(true), timeoutMs))),
    ]);
    if (timeoutMs === undefined) await all;
    clearTimeout(timer);
    this.disarmSignal();
    const late: Slot<R>[] = [];
    if (timedOut) {
      for (const s of this.slots) {
        if (s.outcome) continue;
        late.push(s);
        s.outcome = { ok: false, error: new BdkError(`${this.name} worker ${s.index} (core ${s.core}) did not finish within ${timeoutMs} ms and was terminated`) };
        s.worker.terminate();
        s.settle();
      }
    }
    const errors = this.slots.filter((s) => !s.outcome!.ok).map((s) => (s.outcome as { error: Error }).error);
    const results = this.slots.map((s) => (s.outcome!.ok ? s.outcome!.result : undefined));
    if (errors.length > 0) {
      const fix = late.length > 0 ? "poll ctx.shouldStop() once per loop iteration so that the worker returns when asked" : undefined;
      const err = new WorkerGroupError<R>(errors.map((e) => e.message).join("; "), fix, results, errors);
      if (errors.length === 1) err.stack = `${err.name}: ${err.message}\n${errors[0]!.stack ?? ""}`;
      throw err;
    }
    return results as R[];
  }

  /** Sets the stop flag, then joins: workers have `timeoutMs` (default 5000) to return before they are terminated. */
  stop(timeoutMs = 5000): Promise<R[]> {
    this.requestStop();
    return this.join(timeoutMs);
  }

  /** Ends every worker at once, results or not. */
  terminate(): void {
    this.requestStop();
    for (const s of this.slots) {
      if (!s.outcome) {
        s.outcome = { ok: false, error: new BdkError(`${this.name} worker ${s.index} (core ${s.core}) was terminated`) };
        s.settle();
      }
      s.worker.terminate();
    }
    this.disarmSignal();
  }

  /** Ctrl-C / SIGTERM set the stop flag (join() then returns); a second Ctrl-C exits the process. Undone when the group finishes. */
  stopOnSignal(): this {
    if (!this.removeSignal) this.removeSignal = onStopSignal(() => this.requestStop());
    return this;
  }

  private disarmSignal(): void {
    this.removeSignal?.();
    this.removeSignal = undefined;
  }
}

/** Starts one pinned worker per core running `module` (which calls runWorker). Resolves once all are pinned. */
export function startWorkers<I = unknown, R = unknown>(module: string | URL, opts: StartWorkersOptions<I>): Promise<WorkerGroup<R>> {
  return WorkerGroup.start<I, R>(module, opts);
}
