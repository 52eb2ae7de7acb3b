// Opens a device and holds it (BAR mapped, bus mastering and interrupts on) until a signal arrives:
// the other side of the "already open in another process" and "SIGINT leaves it re-openable" checks.
//   bun test/vm/guest/holder.ts ADDR
import { VfioDevice } from "../../../src/vfio/device.ts";
import { createArena } from "../../../src/mem/arena.ts";

const d = VfioDevice.open(process.argv[2]!);
d.mapBar(0);
d.setBusMaster(true);
d.enableIrqs(d.irqInfo("msix").count > 0 ? "msix" : "intx");
createArena({ size: 1 << 20, hugepages: "never", name: "held" });
console.log(`@@holding ${JSON.stringify({ pid: process.pid, group: d.group.number })}`);
// Keep the event loop alive so the signal handlers run (a busy poll loop should yield now and then).
setInterval(() => {}, 1000);
