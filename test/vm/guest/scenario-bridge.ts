// Guest side of test/vm/vfio.test.ts, second boot (--bridge-group: two e1000 behind one PCI bridge, one
// IOMMU group): binding one alone is refused naming the other; forced, the group is not viable and both
// bdk's verdict and the kernel (VFIO_GROUP_GET_STATUS) say so; bound together, both open in one process
// through one group; released (--restore one, --unbind the other), both go back to e1000.
//   bun test/vm/guest/scenario-bridge.ts BDF_A BDF_B
import { bdk, report, script, keepCpusAwake } from "./lib.ts";

const [A = "0000:01:01.0", B = "0000:01:02.0"] = process.argv.slice(2);
const wake = keepCpusAwake();
const brief = (r: { code: number; out: string; err: string }) => ({ code: r.code, out: r.out.trim(), err: r.err.trim() });
const json = (tag: string, out: string): unknown => JSON.parse(new RegExp(`@@${tag} (.*)`).exec(out)?.[1] ?? "null");
const drivers = () => (JSON.parse(bdk("devbind", "--status", "--json").out) as { devices: { address: string; driver: string | null; iommuGroup: number | null; interfaces: { name: string }[] }[] })
  .devices.map((d) => ({ address: d.address, driver: d.driver, group: d.iommuGroup, interfaces: d.interfaces.map((i) => i.name) }));

report("bridge-status", drivers());
report("bridge-bind-one", brief(bdk("devbind", "--bind", "vfio-pci", A)));
report("bridge-bind-forced", brief(bdk("devbind", "--bind", "vfio-pci", "--force", A)));
report("bridge-check", brief(bdk("check", A)));
report("bridge-port", json("port", script("port-open.ts", A).out));
report("bridge-kernel-says", json("tryopen", script("try-open.ts", A).out));
report("bridge-bind-other", brief(bdk("devbind", "--bind", "vfio-pci", B)));
report("bridge-check-both", brief(bdk("check", A, B)));
report("bridge-open-both", json("tryopen", script("try-open.ts", A, B).out));
report("bridge-restore", brief(bdk("devbind", "--restore", A)));
report("bridge-unbind", brief(bdk("devbind", "--unbind", B)));
report("bridge-after", drivers());
wake();
