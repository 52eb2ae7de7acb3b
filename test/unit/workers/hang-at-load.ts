// A worker module that never gets as far as runWorker (worker.test.ts checks the start timeout).
const until = Date.now() + 60_000;
while (Date.now() < until) { /* stuck at load */ }
export {};
