// Sleeping on many RX queues at once: a worker that owns several queues sleeps until any of them has frames
// (one epoll over their interrupt fds), instead of spinning, or sleeping on one queue at a time.
//
//   const waiter = new RxWaiter([rxqA, rxqB]);
//   if (idle for a while) waiter.wait(10);      // arms every queue's interrupt, sleeps, disarms
//
// Lost wake-ups are avoided the way DPDK's l3fwd-power does it: arm first, then look once more (ready()),
// and only then sleep. A queue without an fd (eventFd() = -1) cannot wake anyone: with such a queue in the
// set the waiter naps at most a millisecond at a time.
import { close, epollAdd, epollCreate, epollWait } from "../sys/libc.ts";
import type { RxQueue } from "./queue.ts";

/** The longest nap while a queue in the set has no fd to wake us (ms). */
const POLL_NAP_MS = 1;

export class RxWaiter {
  private readonly queues: RxQueue[];
  private readonly epfd: number;
  private readonly events: Uint32Array;
  private readonly mustPoll: boolean;
  private closed = false;

  /** Queues whose fds exist now (af_packet's once started). Build a new waiter after a restart. */
  constructor(queues: readonly RxQueue[]) {
    this.queues = [...queues];
    this.epfd = epollCreate();
    let fdless = false;
    const added = new Set<number>();
    try {
      for (let i = 0; i < this.queues.length; i++) {
        const fd = this.queues[i]!.eventFd();
        if (fd < 0) fdless = true;
        else if (!added.has(fd)) {
          // Queues may share one interrupt (a NIC with one INTx line): watch each fd once.
          added.add(fd);
          epollAdd(this.epfd, fd, i);
        }
      }
    } catch (e) {
      close(this.epfd);
      throw e;
    }
    this.mustPoll = fdless;
    this.events = new Uint32Array(3 * Math.max(1, this.queues.length));
  }

  /** Sleeps until a queue has frames or `timeoutMs` pass; true when a queue is (probably) ready. */
  wait(timeoutMs: number): boolean {
    const qs = this.queues;
    for (let i = 0; i < qs.length; i++) qs[i]!.enableInterrupt();
    try {
      for (let i = 0; i < qs.length; i++) if (qs[i]!.ready()) return true;
      const t = this.mustPoll ? Math.min(timeoutMs, POLL_NAP_MS) : timeoutMs;
      return epollWait(this.epfd, this.events, qs.length || 1, Math.max(0, Math.floor(t))) > 0;
    } finally {
      for (let i = 0; i < qs.length; i++) qs[i]!.disableInterrupt();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    close(this.epfd);
  }
}
