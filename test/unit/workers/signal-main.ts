// A main program for worker.test.ts: starts pinned workers in `mode` (argv[2]), stops on Ctrl-C.
import { startWorkers } from "../../../src/lcore/worker.ts";
import type { BasicInit } from "./basic.ts";

const mode = (process.argv[2] ?? "loop") as BasicInit["mode"];
const group = await startWorkers(new URL("./basic.ts", import.meta.url), { cores: [0, 1], init: { mode } });
group.stopOnSignal();
console.log("ready");
const results = await group.join();
console.log(JSON.stringify({ results, listeners: process.listenerCount("SIGINT") + process.listenerCount("SIGTERM") }));
