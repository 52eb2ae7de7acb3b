// A pinned pktgen worker (--cores): attaches its TX queue and its share of the RX queues, and runs the
// engine until the main thread stops the group (apps/pktgen/workers.ts).
import { runWorker } from "../../src/index.ts";
import { pktgenWorker, type PktgenWorkerInit } from "./workers.ts";

runWorker((init: PktgenWorkerInit, ctx) => pktgenWorker(init, () => ctx.shouldStop()));
