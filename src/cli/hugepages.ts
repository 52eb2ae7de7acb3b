// `bdk hugepages`: dpdk-hugepages.py for bdk. Shows the hugepage pools (per size, and per NUMA node when
// there are several) and the hugetlbfs mounts; reserves (--reserve 2M:512, 1G:2), clears, and removes
// stale files that dead processes left in hugetlbfs mounts.
import { helpText, parseArgs, strictInt, UsageError } from "../../apps/common/args.ts";
import {
  applyReservation, formatBytes, hugepagePools, MAX_HUGEPAGE_COUNT, parseMeminfo, parseSize, planReservations, reserveHugepages, staleHugepageFiles,
  type HugepagePool, type ReservationPlan,
} from "../mem/hugepages.ts";
import { BdkError } from "../sys/errors.ts";
import { listDir, readAttr, roots, type HostPaths } from "../pci/paths.ts";

const OPTIONS = {
  show: { type: "bool", alias: "s", help: "show pools and mounts (the default)" },
  reserve: { type: "list", alias: "r", value: "SIZE:COUNT", help: "set the number of pages of a size, e.g. 2M:512 or 1G:2 (repeatable); refused beyond free memory (MemAvailable less 10 % of MemTotal, at least 512 MiB, kept free)" },
  exact: { type: "bool", default: true, help: "all or nothing: when the kernel grants fewer pages than asked, give them back (the pool returns to its size before) and fail; --no-exact keeps a partial grant" },
  force: { type: "bool", help: "with --reserve: skip the free-memory check and ask the kernel anyway" },
  node: { type: "int", alias: "n", min: 0, max: 1023, value: "N", help: "with --reserve/--clear: only NUMA node N" },
  clear: { type: "bool", alias: "c", help: "release every reserved hugepage (set each pool to 0)" },
  clean: { type: "bool", help: "remove files in hugetlbfs mounts that no process has open (left by dead processes)" },
  json: { type: "bool", help: "machine-readable output" },
} as const;

const FOOTER = `
Examples:
  bdk hugepages                      pools and mounts
  bdk hugepages --reserve 2M:512     1 GiB of 2 MiB pages
  bdk hugepages --reserve 1G:2       two 1 GiB pages (often only possible at boot: hugepagesz=1G hugepages=2)
  bdk hugepages --clear --clean
A reservation sets the pool to COUNT pages. Sizes are the ones this machine has (/sys/kernel/mm/hugepages);
counts are whole numbers 0..${MAX_HUGEPAGE_COUNT}. Exact is the default: a partial grant is given back.`;

export interface Reservation {
  sizeBytes: number;
  count: number;
}

/** "2M:512" → 2 MiB × 512. The count in the command line's number grammar, 0..2^31. */
export function parseReservation(text: string): Reservation {
  const m = /^([^:]+):([^:]*)$/.exec(text);
  if (!m) throw new UsageError(`hugepages: --reserve "${text}" is not SIZE:COUNT`, "write it like 2M:512 or 1G:2");
  let sizeBytes: number;
  try {
    sizeBytes = parseSize(m[1]!);
  } catch {
    throw new UsageError(`hugepages: --reserve "${text}": "${m[1]}" is not a page size`, "write it like 2M:512 or 1G:2");
  }
  if (!/^[0-9]+$/.test(m[2]!)) throw new UsageError(`hugepages: --reserve "${text}": the count "${m[2]}" is not a whole number`, "write it like 2M:512 (decimal digits)");
  const count = strictInt(m[2]!);
  if (count === undefined || count > MAX_HUGEPAGE_COUNT) {
    throw new UsageError(`hugepages: --reserve "${text}": the count is out of range`, `give 0..${MAX_HUGEPAGE_COUNT} pages`);
  }
  return { sizeBytes, count };
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
    console.log(helpText("bdk hugepages", "[--show] [--reserve SIZE:COUNT]… [--no-exact] [--force] [--node N] [--clear] [--clean] [--json]", OPTIONS, FOOTER));
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
    const meminfo = readAttr(`${r.proc}/meminfo`);
    // Every reservation is checked (sizes, counts, free memory) before the first is written.
    let plans: ReservationPlan[];
    try {
      plans = planReservations(o.reserve.map(parseReservation), hugepagePools(dir), meminfo === undefined ? undefined : parseMeminfo(meminfo), o.force);
    } catch (e) {
      if (e instanceof BdkError && !(e instanceof UsageError)) throw new UsageError(`hugepages: ${e.message}`);
      throw e;
    }
    const where = o.node === undefined ? "" : ` on node ${o.node}`;
    report.reserved = plans.map((p) => {
      const r = applyReservation(p, o.exact, (count) => reserveHugepages(p.sizeBytes, count, dir));
      if (r.got >= p.count) {
        say(`${p.label}: ${r.got} pages reserved${where}${p.growBytes > 0 ? ` (${formatBytes(p.growBytes)} more)` : ""}`);
        return { size: p.label, asked: p.count, got: r.got };
      }
      code = 1;
      const why = `memory too fragmented or too small; reserve at boot instead: hugepagesz=${p.label} hugepages=${p.count}`;
      if (!r.gaveBack) {
        say(`${p.label}: asked for ${p.count}${where}, the kernel gave ${r.got}; kept them (--no-exact) (${why})`);
        return { size: p.label, asked: p.count, got: r.got };
      }
      say(`${p.label}: asked for ${p.count}${where}, the kernel gave only ${r.got}: gave them back, the pool has ${r.now} pages as before ` +
        `(exact is the default; --no-exact keeps a partial grant) (${why})`);
      return { size: p.label, asked: p.count, got: r.got, gaveBack: true, now: r.now };
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
