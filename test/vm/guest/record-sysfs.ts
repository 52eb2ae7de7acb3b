// Records the parts of a machine's sysfs/procfs/devtmpfs that bdk's PCI and VFIO code reads, into
// DIR/{sys,proc,dev} with the same layout and the same relative symlinks, so host unit tests can run the
// real code against it (test/fixtures/sysfs/<scenario>/). Small on purpose: attributes, not the tree.
//   bun test/vm/guest/record-sysfs.ts DIR
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const out = process.argv[2];
if (!out) {
  console.error("usage: bun test/vm/guest/record-sysfs.ts DIR");
  process.exit(2);
}
rmSync(out, { recursive: true, force: true });
let files = 0;

function ls(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Copies a readable attribute file (sysfs files report size 4096: read and write the text). */
function copyAttr(src: string): void {
  let text: string;
  try {
    text = readFileSync(src, "utf8");
  } catch {
    return; // unreadable (e.g. carrier of a down interface)
  }
  const dst = join(out!, src);
  mkdirSync(dirname(dst), { recursive: true });
  writeFileSync(dst, text);
  files++;
}

function copyLink(src: string): void {
  let target: string;
  try {
    target = readlinkSync(src);
  } catch {
    return;
  }
  const dst = join(out!, src);
  mkdirSync(dirname(dst), { recursive: true });
  if (existsSync(dst) || isLink(dst)) return;
  symlinkSync(target, dst);
  files++;
}

function touch(src: string): void {
  const dst = join(out!, src);
  mkdirSync(dirname(dst), { recursive: true });
  writeFileSync(dst, "");
  files++;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function realDir(link: string): string {
  return resolve(dirname(link), readlinkSync(link));
}

const PCI_ATTRS = ["vendor", "device", "subsystem_vendor", "subsystem_device", "class", "numa_node", "driver_override", "modalias", "irq", "enable", "revision"];
const NET_ATTRS = ["flags", "operstate", "address", "ifindex", "mtu", "carrier"];

for (const bdf of ls("/sys/bus/pci/devices")) {
  const link = `/sys/bus/pci/devices/${bdf}`;
  copyLink(link);
  const dir = realDir(link);
  for (const a of PCI_ATTRS) copyAttr(`${dir}/${a}`);
  for (const l of ["driver", "iommu_group", "iommu"]) copyLink(`${dir}/${l}`);
  const netDirs = [`${dir}/net`, ...ls(dir).filter((d) => /^virtio\d+$/.test(d)).map((d) => `${dir}/${d}/net`)];
  for (const nd of netDirs) for (const ifname of ls(nd)) for (const a of NET_ATTRS) copyAttr(`${nd}/${ifname}/${a}`);
}
for (const d of ls("/sys/bus/pci/drivers")) mkdirSync(join(out, "/sys/bus/pci/drivers", d), { recursive: true });
for (const g of ls("/sys/kernel/iommu_groups")) {
  // Members as empty files, not links: links back into devices/ would make a cycle (device → group →
  // device …) that tools walking the project (bun test, tsc) follow for minutes. The code lists names only.
  for (const dev of ls(`/sys/kernel/iommu_groups/${g}/devices`)) touch(`/sys/kernel/iommu_groups/${g}/devices/${dev}`);
  for (const a of ["name", "type"]) copyAttr(`/sys/kernel/iommu_groups/${g}/${a}`);
}
mkdirSync(join(out, "/sys/class/iommu"), { recursive: true });
for (const u of ls("/sys/class/iommu")) {
  copyLink(`/sys/class/iommu/${u}`);
  const dir = realDir(`/sys/class/iommu/${u}`);
  for (const sub of ["intel-iommu", "amd-iommu"]) for (const a of ls(`${dir}/${sub}`)) copyAttr(`${dir}/${sub}/${a}`);
}
for (const n of ls("/sys/class/net")) copyLink(`/sys/class/net/${n}`);
for (const m of ["vfio_iommu_type1", "vfio", "vfio_pci"]) for (const p of ls(`/sys/module/${m}/parameters`)) copyAttr(`/sys/module/${m}/parameters/${p}`);
for (const h of ls("/sys/kernel/mm/hugepages")) {
  for (const a of ["nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages"]) copyAttr(`/sys/kernel/mm/hugepages/${h}/${a}`);
}
for (const p of ["/proc/net/route", "/proc/net/ipv6_route", "/proc/interrupts"]) copyAttr(p);
{
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").filter((l) => / hugetlbfs /.test(l)).join("\n");
  mkdirSync(join(out, "/proc"), { recursive: true });
  writeFileSync(join(out, "/proc/mounts"), mounts + "\n");
}
// /dev/vfio: the names are what matters (character devices become empty files).
mkdirSync(join(out, "/dev/vfio"), { recursive: true });
for (const n of ls("/dev/vfio")) writeFileSync(join(out, "/dev/vfio", n), "");
mkdirSync(join(out, "/run"), { recursive: true });
writeFileSync(join(out, "README"), `Recorded by test/vm/guest/record-sysfs.ts on ${new Date().toISOString()} (kernel ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}).\n`);
void copyFileSync;
console.log(`recorded ${files} entries into ${out}`);
