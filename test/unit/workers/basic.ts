// Worker used by worker.test.ts: behaves as init.mode says.
import { raw } from "../../../src/sys/libc.ts";
import { runWorker } from "../../../src/lcore/worker-runtime.ts";

export interface BasicInit { mode: "return" | "throw" | "loop" | "hang" | "exit"; value?: number }

runWorker(async (init: BasicInit, ctx) => {
  switch (init.mode) {
    case "return":
      return { core: ctx.core, tid: ctx.tid, cpu: raw.sched_getcpu(), value: init.value };
    case "throw":
      throw new TypeError(`boom on core ${ctx.core}`);
    case "loop": {
      let n = 0;
      while (!ctx.shouldStop()) n++;
      return { core: ctx.core, n, cpu: raw.sched_getcpu() };
    }
    case "hang":
      for (;;) { /* never polls */ }
    case "exit":
      process.exit(3);
  }
});
