// `bdk hugepages`: dpdk-hugepages.py for bdk. Shows the hugepage pools (per size, and per NUMA node when
// there are several) and the hugetlbfs mounts; reserves (--reserve 2M:512, 1G:2), clears, and removes
// stale files that dead processes left in hugetlbfs mounts.
import { helpText, parseArgs, UsageError } from "../../apps/common/args.ts";
import { hugepagePools, parseSize, reserveHugepages, sizeLabel, staleHugepageFiles, type HugepagePool } from "../mem/hugepages.ts";
import { listDir, readAttr, roots, type HostPaths } from "../pci/paths.ts";

const OPTIONS = {
  show: { type: "bool", alias: "s", help: "show pools and mounts (the default)" },
  reserve: { type: "list", alias: "r", value: "SIZE:COUNT", help: "set the number of pages of a size, e.g. 2M:512 or 1G:2 (repeatable)" },
  node: { type: "int", alias: "n", min: 0, value: "N", help: "with --reserve/--clear: only NUMA node N" },
  clear: { type: "bool", alias: "c", help: "release every reserved hugepage (set each pool to 0)" },
  clean: { type: "bool", help: "remove files in hugetlbfs mounts that no process has open (left by dead processes)" },
  json: { type: "bool", help: "machine-readable output" },
} as const;

const FOOTER = `
Examples:
  bdk hugepages                      pools and mounts
  bdk hugepages --reserve 2M:512     1 GiB of 2 MiB pages
  bdk hugepages --reserve 1G:2       two 1 GiB pages (often only possible at boot: hugepagesz=1G hugepages=2)
  bdk hugepages --clear --clean`;

export interface Reservation {
  sizeBytes: number;
  count: number;
}

/** "2M:512" → 2 MiB × 512. */
export function parseReservation(text: string): Reservation {
  const m = /^([^:]+):(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`hugepages: --reserve "${text}" is not SIZE:COUNT`, "write it like 2M:512 or 1G:2");
  return { sizeBytes: parseSize(m[1]!), count: Number(m[2]) };
}

interface Mount {
  path: string;
  pagesize: string;
}

function mounts(procRoot: string): Mount[] {
  const text = readAttr(`${procRoot}/mounts`) ?? "";
  return text.split("\n").map((l) => l.split(" ")).filter((f) => f[2] === "hugetlbfs").map((f) => ({
    path: f[1]!.replace(/\\040/g, " "),
    pagesize: /pagesize=([^,]+)/.exec(f[3] ?? "")?.[1] ?? "default",
  }));
}

function nodeDirs(sys: string): { node: number; dir: string }[] {
  return listDir(`${sys}/devices/system/node`)
    .map((d) => /^node(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ node: Number(m[1]), dir: `${sys}/devices/system/node/${m[0]}/hugepages` }))
    .filter((n) => listDir(n.dir).length > 0)
    .sort((a, b) => a.node - b.node);
}

function poolLine(p: HugepagePool, prefix = ""): string {
  const mib = (p.total * p.sizeBytes) / 2 ** 20;
  return `${prefix}${p.label.padEnd(4)} total ${String(p.total).padStart(6)}  free ${String(p.free).padStart(6)}  reserved ${String(p.reserved).padStart(5)}` +
    `  surplus ${String(p.surplus).padStart(4)}  (${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`})`;
}

export async function main(args: string[], paths?: HostPaths): Promise<number> {
  const o = parseArgs("hugepages", OPTIONS, args);
  if (o.help) {
    console.log(helpText("bdk hugepages", "[--show] [--reserve SIZE:COUNT]… [--node N] [--clear] [--clean] [--json]", OPTIONS, FOOTER));
    return 0;
  }
  if (o._.length > 0) throw new UsageError(`hugepages: unexpected ${o._.join(" ")}`, "sizes go with --reserve, e.g. --reserve 2M:512");
  const r = roots(paths);
  const global = `${r.sys}/kernel/mm/hugepages`;
  const nodes = nodeDirs(r.sys);
  const target = (): string => {
    if (o.node === undefined) return global;
    const n = nodes.find((x) => x.node === o.node);
    if (!n) throw new UsageError(`hugepages: no NUMA node ${o.node}`, `nodes here: ${nodes.map((x) => x.node).join(", ") || "none"}`);
    return n.dir;
  };
  let code = 0;
  const report: Record<string, unknown> = {};
  const say = (s: string): void => {
    if (!o.json) console.log(s);
  };

  if (o.clear) {
    const dir = target();
    const cleared = hugepagePools(dir).map((p) => {
      const got = reserveHugepages(p.sizeBytes, 0, dir);
      if (got !== 0) {
        code = 1;
        say(`${p.label}: ${got} pages still in use (held by running processes or files in hugetlbfs mounts: try --clean)`);
      } else {
        say(`${p.label}: cleared`);
      }
      return { size: p.label, left: got };
    });
    report.cleared = cleared;
  }
  if (o.clean) {
    const removed = staleHugepageFiles(true);
    say(removed.length ? `removed ${removed.length} stale file${removed.length === 1 ? "" : "s"}: ${removed.join(" ")}` : "no stale hugepage files");
    report.removed = removed;
  }
  if (o.reserve.length > 0) {
    const dir = target();
    report.reserved = o.reserve.map(parseReservation).map((res) => {
      const got = reserveHugepages(res.sizeBytes, res.count, dir);
      const where = o.node === undefined ? "" : ` on node ${o.node}`;
      if (got < res.count) {
        code = 1;
        say(`${sizeLabel(res.sizeBytes)}: asked for ${res.count}${where}, the kernel gave ${got} (memory too fragmented or too small; ` +
          `reserve at boot instead: hugepagesz=${sizeLabel(res.sizeBytes)} hugepages=${res.count})`);
      } else {
        say(`${sizeLabel(res.sizeBytes)}: ${got} pages reserved${where}`);
      }
      return { size: sizeLabel(res.sizeBytes), asked: res.count, got };
    });
  }

  const pools = hugepagePools(global);
  const perNode = nodes.length > 1 ? nodes.map((n) => ({ node: n.node, pools: hugepagePools(n.dir) })) : [];
  const mnts = mounts(r.proc);
  const acted = o.clear || o.clean || o.reserve.length > 0;
  if (o.json) {
    console.log(JSON.stringify({ ...report, pools, nodes: perNode, mounts: mnts }, null, 2));
    return code;
  }
  if (!acted || o.show) {
    console.log(pools.length ? "Hugepage pools" : "this kernel has no hugepages (CONFIG_HUGETLBFS)");
    for (const p of pools) console.log(poolLine(p, "  "));
    for (const n of perNode) {
      console.log(`NUMA node ${n.node}`);
      for (const p of n.pools) console.log(poolLine(p, "  "));
    }
    console.log(mnts.length ? "hugetlbfs mounts" : "no hugetlbfs mounts (bdk does not need one: it maps hugepages with MAP_HUGETLB)");
    for (const m of mnts) console.log(`  ${m.path} (pagesize ${m.pagesize})`);
    if (pools.every((p) => p.free === 0)) console.log("no free hugepages: bdk will fall back to 4 KiB pages (slower); reserve some with --reserve 2M:512");
  }
  return code;
}
