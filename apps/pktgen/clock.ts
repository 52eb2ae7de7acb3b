// The clock of TX timestamps and RX times: CLOCK_MONOTONIC in nanoseconds, the same in every process of the
// machine (a receiver in another process subtracts a sender's timestamp from it). performance.now() would
// not do: it counts from the process's start.
//
// Stopgap: the package entry (src/index.ts) does not export monotonicNs yet, so this is pktgen's one deep
// import into src/; the rest of the app imports the entry only.
export { monotonicNs } from "../../src/sys/libc.ts";
