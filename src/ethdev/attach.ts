// Ports across workers. The thread that opened a port (the owner) configures, starts, stops and closes it;
// a worker gets its own Port object over the same queues from a handle:
//
//   main:    const h = port.handle();                  // after configure(); structured-cloneable
//            await startWorkers(url, { cores: [1], init: { port: h } });
//   worker:  const port = await attachPort(init.port);  // rxBurst/txBurst/stats on the same queues
//
// The contract a driver follows to be attachable:
//   1. Its Port has `handle(): PortHandle`, callable once the port is configured (or started, where the
//      queues only exist while started: af_packet's sockets; a restart needs new handles). The handle is plain,
//      structured-cloneable data: the resolved config without the pool, the pool's MempoolHandle, and the
//      driver's own `state` (SharedArrayBuffers in it are shared with the worker, not copied).
//   2. `handle.module` is the URL of a module that exports `attachHandle(handle: PortHandle, pool: Mempool): Port`,
//      which builds the worker's view: bursts and stats work, the control plane (configure, start, stop,
//      setMtu …) stays with the owner and throws when called on the view; close() only drops the view.
//   3. Everything the data path touches lives in memory both threads see (SharedArrayBuffer or the mmap'd
//      pool and descriptor rings), including the counters, so the owner's stats() covers the workers' bursts.
//   4. One queue is used by one thread at a time (DPDK's rule): the owner must not burst on a queue a worker uses.
//   5. Stop the workers before the owner stops, reconfigures or closes the port: a view keeps no one alive
//      and is not told; it only sees the link go down. A view's `id` is numbered in the worker's thread.
import { Mempool, type MempoolHandle } from "../mem/mempool.ts";
import { BdkError } from "../sys/errors.ts";
import type { Port, ResolvedPortConfig } from "./port.ts";

export interface PortHandle<S = unknown> {
  /** URL of the module exporting `attachHandle(handle, pool): Port` (the driver's port module). */
  module: string;
  driver: string;
  spec: string;
  name: string;
  config: Omit<ResolvedPortConfig, "pool">;
  pool: MempoolHandle;
  /** Whether the owner had started the port when the handle was made (the view checks live state itself). */
  started: boolean;
  /** Driver-specific, structured-cloneable. */
  state: S;
}

export interface AttachablePort extends Port {
  handle(): PortHandle;
}

export interface AttachOptions {
  /** A pool this worker already attached (Mempool.attach) to the same memory; default: attach the handle's pool. */
  pool?: Mempool;
}

export function isAttachable(p: Port): p is AttachablePort {
  return typeof (p as Partial<AttachablePort>).handle === "function";
}

/** Builds this thread's view of a port another thread opened and configured. */
export async function attachPort(h: PortHandle, opts: AttachOptions = {}): Promise<Port> {
  if (!h || typeof h !== "object" || typeof h.module !== "string" || !h.pool || !h.config) {
    throw new BdkError("attachPort: not a port handle", "pass what port.handle() returned in the owner thread");
  }
  const pool = poolFor(h, opts.pool);
  let mod: { attachHandle?: (h: PortHandle, pool: Mempool) => Port };
  try {
    mod = await import(h.module);
  } catch (e) {
    throw new BdkError(`attachPort(${h.spec}): cannot load the driver module ${h.module}: ${(e as Error).message}`, "the handle must come from a port of this bdk checkout");
  }
  if (typeof mod.attachHandle !== "function") {
    throw new BdkError(`attachPort(${h.spec}): driver ${h.driver} cannot be attached from a worker`, `its module ${h.module} exports no attachHandle()`);
  }
  return mod.attachHandle(h, pool);
}

/** The pool a view uses: the given one (checked to be the same memory) or a fresh attachment. */
export function poolFor(h: PortHandle, pool: Mempool | undefined): Mempool {
  if (!pool) return Mempool.attach(h.pool);
  if (pool.arena.va !== h.pool.arena.va) {
    throw new BdkError(`attachPort(${h.spec}): the pool given is "${pool.name}", not the port's pool "${h.pool.name}"`, "pass Mempool.attach(handle.pool), or omit the pool");
  }
  return pool;
}
