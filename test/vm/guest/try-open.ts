// VfioDevice.open(ADDR) in a fresh process, without the verdict: what the kernel and bdk's VFIO layer say.
//   bun test/vm/guest/try-open.ts ADDR [ADDR2]
import { VfioDevice } from "../../../src/vfio/device.ts";
import { report } from "./lib.ts";

const t0 = performance.now();
const opened: VfioDevice[] = [];
let error: string | undefined;
try {
  for (const a of process.argv.slice(2)) opened.push(VfioDevice.open(a));
} catch (e) {
  error = (e as Error).message;
}
const groups = opened.map((d) => d.group.number);
const sameGroupObject = opened.length === 2 && opened[0]!.group === opened[1]!.group;
const refs = opened[0]?.group.references;
const containerGroups = opened[0]?.container.groupCount;
for (const d of opened.reverse()) d.close();
report("tryopen", { ok: error === undefined, error, ms: Math.round(performance.now() - t0), groups, sameGroupObject, refs, containerGroups });
