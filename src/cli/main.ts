#!/usr/bin/env bun
// `bdk <command>`: one entry point; each command lives in its own module and exports `main(args)`.
import { BdkError, debugEnabled, userErrorLine } from "../sys/errors.ts";
import { SysError } from "../sys/errno.ts";

interface Command {
  summary: string;
  load: () => Promise<{ main(args: string[]): Promise<number> }>;
}

const COMMANDS: Record<string, Command> = {
  devbind: { summary: "list NICs with driver, IOMMU group and safety verdict; bind to vfio-pci; release", load: () => import("./devbind.ts") },
  check: { summary: "the safe-assignment verdict for PCI devices (why a device may or may not be opened)", load: () => import("./check.ts") },
  hugepages: { summary: "show, reserve and clean hugepages", load: () => import("./hugepages.ts") },
  l2fwd: { summary: "forward frames between paired ports (DPDK l2fwd)", load: () => import("../../apps/l2fwd.ts") },
  pktgen: { summary: "generate and receive test traffic: rates, loss, latency", load: () => import("../../apps/pktgen.ts") },
  capture: { summary: "write what a port receives to a pcap file", load: () => import("./capture.ts") },
  telemetry: { summary: "query a running bdk process's telemetry socket (ports, queues, workers, pools, app values)", load: () => import("./telemetry.ts") },
  demo: { summary: "pktgen → l2fwd → pktgen over veth pairs in private namespaces (no NIC needed)", load: () => import("./demo.ts") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    "usage: bdk <command> [options]   (bdk <command> --help for its options)",
    "",
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`bdk: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await (await cmd.load()).main(rest);
  } catch (e) {
    // Our own errors are one line that says what to do; anything else is a bug and keeps its stack.
    if (e instanceof BdkError || e instanceof SysError) {
      console.error(userErrorLine(`bdk ${name}`, e.message));
      if (debugEnabled()) console.error(e.stack);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  process.exitCode = await run(process.argv.slice(2));
}
