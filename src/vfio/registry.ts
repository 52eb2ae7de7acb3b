// Every VFIO device this process has open, and the handlers that release them when the process ends:
// normal exit and uncaught exceptions (Bun emits "exit" for both), SIGINT and SIGTERM. The handlers are
// installed while something is open and removed with the last device.
//
// Signals: when bdk's handler is the only listener it releases everything and exits 128+signo, as the
// default action would have (minus the dirty device). When the application has its own listener, bdk
// leaves the decision to it (it will close its ports or exit; "exit" then releases what is left).
// A JavaScript signal handler runs only when the event loop does: a busy-polling loop must yield now and
// then (await) for Ctrl-C to be handled gracefully. If the process dies hard, the kernel still closes the
// fds, which unmaps the DMA and resets the device.

export interface Releasable {
  readonly address: string;
  close(): void;
}

const open = new Set<Releasable>();
let installed = false;

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type Sig = keyof typeof SIGNALS;

function onExit(): void {
  releaseAll();
}

function onSignal(sig: Sig): void {
  const others = process.listeners(sig).filter((l) => l !== signalHandlers[sig]);
  if (others.length > 0) return;
  const n = open.size;
  releaseAll();
  if (n > 0) console.error(`bdk: ${sig}: released ${n} VFIO device${n === 1 ? "" : "s"}`);
  process.exit(128 + SIGNALS[sig]);
}

const signalHandlers: Record<Sig, () => void> = {
  SIGINT: () => onSignal("SIGINT"),
  SIGTERM: () => onSignal("SIGTERM"),
};

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", onExit);
  for (const s of Object.keys(SIGNALS) as Sig[]) process.on(s, signalHandlers[s]);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off("exit", onExit);
  for (const s of Object.keys(SIGNALS) as Sig[]) process.off(s, signalHandlers[s]);
}

export function track(d: Releasable): void {
  open.add(d);
  install();
}

export function untrack(d: Releasable): void {
  open.delete(d);
  if (open.size === 0) uninstall();
}

export function openDevices(): Releasable[] {
  return [...open];
}

/** Whether the exit/signal handlers are installed (for tests). */
export function handlersInstalled(): boolean {
  return installed;
}

/** Closes every open device, newest first; errors are printed, not thrown (we may be exiting). */
export function releaseAll(): void {
  for (const d of [...open].reverse()) {
    try {
      d.close();
    } catch (e) {
      console.error(`bdk: releasing ${d.address}: ${(e as Error).message}`);
    }
    open.delete(d);
  }
  uninstall();
}
