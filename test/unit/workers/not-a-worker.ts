// A worker module that forgets to call runWorker (worker.test.ts checks the start timeout).
export const nothing = 0;
