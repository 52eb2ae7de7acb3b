// The messages between startWorkers (main thread) and runWorker (inside each worker), and the layout of
// the shared control words. Internal to src/lcore.

/** Int32 words of the control SharedArrayBuffer every worker of a group shares. */
export const CTL_STOP = 0; // non-zero: workers should wind down
export const CTL_GO = 1; // set once every worker is pinned: they all start running together
export const CTL_WORDS = 16;

export interface InitMessage {
  bdk: "init";
  index: number;
  core: number;
  name: string;
  control: SharedArrayBuffer;
  init: unknown;
}

export type WorkerMessage =
  | { bdk: "pinned"; tid: number; cpus: number[] }
  | { bdk: "failed"; phase: "pin" | "run"; name: string; message: string; stack: string | undefined }
  | { bdk: "done"; result: unknown };
