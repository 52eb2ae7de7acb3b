// 100 open/close cycles of two devices in one process: no fd, mapping or DMA mapping may be left behind.
// An arena created before the first open is mapped on every open (replayed) and unmapped on every close.
//   bun test/vm/guest/cycles.ts E1000_BDF IGB_BDF [N]
import { createArena } from "../../../src/mem/arena.ts";
import { VfioContainer } from "../../../src/vfio/container.ts";
import { VfioDevice, openVfioDevices } from "../../../src/vfio/device.ts";
import { vfioExitHandlersInstalled } from "../../../src/vfio/index.ts";
import { diff, fdCount, fdTargets, mapNames, mapsCount, report } from "./lib.ts";

const [A = "0000:00:02.0", B = "0000:01:00.0", n = "100"] = process.argv.slice(2);
const N = Number(n);
const pre = createArena({ size: 2 * 1024 * 1024, name: "pre-existing", hugepages: "never" });
function cycle(): { mapped: boolean; mappings: number; dmaAvail: number | undefined } {
  const devs = [A, B].filter((x) => x !== "-").map((x) => VfioDevice.open(x));
  for (const d of devs) {
    d.mapBar(0);
    d.setBusMaster(true);
    if (!process.env.NO_IRQ) d.enableIrqs(d.irqInfo("msix").count > 1 ? "msix" : "intx", d.irqInfo("msix").count > 1 ? 2 : 1);
    d.readConfig(0, 4);
  }
  const c = VfioContainer.current!;
  const r = { mapped: c.mappings.get(pre)?.iova === pre.iova, mappings: c.mappings.size, dmaAvail: c.info?.dmaAvail };
  for (const d of devs.reverse()) d.close();
  return r;
}
for (let i = 0; i < 3; i++) cycle(); // warm up: Bun's lazily created fds, JIT code and heap
Bun.gc(true);
const fds0 = fdCount(), maps0 = mapsCount(), targets0 = fdTargets(), names0 = mapNames();
const t0 = performance.now();
let allMapped = true;
let last: ReturnType<typeof cycle> | undefined;
const trace: number[] = [];
for (let i = 0; i < N; i++) {
  last = cycle();
  allMapped &&= last.mapped && last.mappings === 1;
  if (i % 10 === 9) trace.push(mapsCount());
  if (process.env.PROGRESS && i % 10 === 9) console.error(`cycle ${i + 1} ${Math.round(performance.now() - t0)} ms`);
}
Bun.gc(true);
const ms = performance.now() - t0;
report("cycles", {
  n: N, msPerCycle: Math.round((ms / N) * 10) / 10, allMapped, last,
  fds: [fds0, fdCount()], maps: [maps0, mapsCount()], sameFdTargets: JSON.stringify(targets0) === JSON.stringify(fdTargets()),
  leftover: diff(fdTargets(), targets0),
  newMaps: diff(mapNames(), names0),
  trace,
  container: VfioContainer.current !== undefined, devices: openVfioDevices().length, handlers: vfioExitHandlersInstalled(),
});
pre.free();
