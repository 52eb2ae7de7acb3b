// Guest side of test/vm/vfio.test.ts, third boot (--no-iommu: no vIOMMU). No groups; the verdict says
// "no IOMMU"; devbind refuses to bind (vfio-pci would refuse the device); forced, vfio-pci's probe fails
// and devbind puts the NIC back on e1000; openPort refuses. Also `bdk hugepages` on a real kernel.
//   bun test/vm/guest/scenario-noiommu.ts BDF
import { writeFileSync } from "node:fs";
import { bdk, report, script, keepCpusAwake } from "./lib.ts";

const [A = "0000:00:02.0"] = process.argv.slice(2);
const wake = keepCpusAwake();
const brief = (r: { code: number; out: string; err: string }) => ({ code: r.code, out: r.out.trim(), err: r.err.trim() });
const json = (tag: string, out: string): unknown => JSON.parse(new RegExp(`@@${tag} (.*)`).exec(out)?.[1] ?? "null");
const device = () => (JSON.parse(bdk("devbind", "--status", "--json").out) as { devices: { address: string; driver: string | null; iommuGroup: number | null; interfaces: { name: string }[] }[] })
  .devices.filter((d) => d.address === A).map((d) => ({ driver: d.driver, group: d.iommuGroup, interfaces: d.interfaces.map((i) => i.name) }))[0];

report("noiommu-status", device());
report("noiommu-check", JSON.parse(bdk("check", "--json", A).out));
report("noiommu-bind", brief(bdk("devbind", "--bind", "vfio-pci", A)));
report("noiommu-bind-forced", brief(bdk("devbind", "--bind", "vfio-pci", "--force", A)));
report("noiommu-after", device());
report("noiommu-port", json("port", script("port-open.ts", A).out));
report("noiommu-port-allow", json("port", script("port-open.ts", A, "--allow-unsafe-noiommu").out));

// bdk hugepages: reserve, show, a stale file in the hugetlbfs mount cleaned, clear.
const pools = (out: string) => (JSON.parse(out) as { pools: { label: string; total: number; free: number }[] }).pools;
const reserve = bdk("hugepages", "--reserve", "2M:16", "--json");
writeFileSync("/dev/hugepages/bdk-stale-test", "");
const clean = bdk("hugepages", "--clean");
const clear = bdk("hugepages", "--clear", "--json");
report("hugepages", {
  reserve: { code: reserve.code, reserved: JSON.parse(reserve.out).reserved, pools: pools(reserve.out) },
  clean: { code: clean.code, out: clean.out.trim() },
  clear: { code: clear.code, pools: pools(clear.out) },
  show: bdk("hugepages").out.trim(),
});
wake();
