// A pinned l2fwd worker: attaches the queues of its lanes and forwards until the group stops.
import { runWorker } from "../../src/index.ts";
import { forwardInWorker, type WorkerInit } from "./forward.ts";

runWorker((init: WorkerInit, ctx) => forwardInWorker(init, () => ctx.shouldStop()));
