// A pinned l2fwd worker: forwards its share of the pairs until the group is told to stop.
import { runWorker } from "../../src/lcore/worker-runtime.ts";
import { forwardPairs, type ForwardInit } from "./forward.ts";

runWorker((init: ForwardInit, ctx) => forwardPairs(init, () => ctx.shouldStop(), false));
