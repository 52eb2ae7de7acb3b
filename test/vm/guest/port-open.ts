// openPort(SPEC) in a fresh process: reports the error (or success) and whether anything was left open.
//   bun test/vm/guest/port-open.ts SPEC [--allow-unsafe-noiommu]
import { openPort } from "../../../src/index.ts";
import { VfioContainer } from "../../../src/vfio/container.ts";
import { openVfioDevices } from "../../../src/vfio/device.ts";
import { VfioGroup } from "../../../src/vfio/group.ts";
import { fdCount, mapsCount, report } from "./lib.ts";

const spec = process.argv[2]!;
const fds0 = fdCount();
const maps0 = mapsCount();
let error: string | undefined;
let name: string | undefined;
try {
  const port = openPort(spec, process.argv.includes("--allow-unsafe-noiommu") ? { allowUnsafeNoIommu: true } : {});
  port.close();
} catch (e) {
  error = (e as Error).message;
  name = (e as Error).name;
}
report("port", {
  spec, error, name,
  left: { devices: openVfioDevices().length, groups: VfioGroup.openGroups().length, container: VfioContainer.current !== undefined },
  fds: [fds0, fdCount()], maps: [maps0, mapsCount()],
});
