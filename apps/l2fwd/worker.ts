// A pinned l2fwd worker: forwards its lanes on views of the main thread's ports until the group stops.
import { runWorker } from "../../src/lcore/worker-runtime.ts";
import { forwardInWorker, type WorkerInit } from "./forward.ts";

runWorker((init: WorkerInit, ctx) => forwardInWorker(init, () => ctx.shouldStop()));
