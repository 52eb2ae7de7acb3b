// bdk l2fwd and DPDK's dpdk-testpmd, one after the other, forwarding between the same two emulated NICs
// (run by bench/rig-compare.ts; the host generates on NIC 0's TAP and counts on NIC 1's). Arguments: the
// two NICs' PCI addresses, then the forwarders in the order to run them (bdk, bdk-poll, testpmd …).
// For each: wait for the host's "go-<i>", print `@@start {…}` just before spawning it (the host takes its
// own clock when it sees the line: the start of the time to the first forwarded frame), wait for
// "stop-<i>", stop it with SIGINT and report what it counted. Both forward without touching the frames
// (l2fwd --no-mac-updating; testpmd --forward-mode=io), one forwarding core (bdk: a pinned worker on
// core 1; testpmd: lcore 1, main lcore 0), 512-descriptor rings, burst 32.
import { hostArgv, mountHostRoot } from "./host-root.ts";
import { bdk, BUN, PROJECT, report, waitSignal } from "./lib.ts";

const [A, B, ...order] = process.argv.slice(2) as [string, string, ...string[]];
report("bind", bdk("devbind", "--bind", "vfio-pci", A, B, "--force").code);
mountHostRoot();

function command(who: string): string[] {
  if (who === "bdk" || who === "bdk-poll") {
    // bdk-poll: l2fwd --idle poll, never sleeping on the RX interrupt, as testpmd never does.
    return [BUN, `${PROJECT}/apps/l2fwd.ts`, A, B, "--no-mac-updating", "--cores", "1", "--period", "0", "--link-wait", "5", "--json",
      "--ring-size", "512", "--burst", "32", "--pool", "4096", ...(who === "bdk-poll" ? ["--idle", "poll"] : [])];
  }
  if (who === "testpmd") {
    // --in-memory: no runtime files; --iova-mode=va through the vIOMMU, as bdk; a long stats period keeps it
    // running without reading stdin (its non-interactive mode otherwise waits for Enter).
    return hostArgv(["/usr/bin/dpdk-testpmd", "-l", "0,1", "-n", "1", "--iova-mode=va", "--in-memory", "-a", A, "-a", B, "--",
      "--forward-mode=io", "--nb-cores=1", "--rxd=512", "--txd=512", "--burst=32", "--total-num-mbufs=8192", "--stats-period", "3600"]);
  }
  throw new Error(`unknown forwarder ${who}`);
}

/** testpmd's "Accumulated forward statistics" on exit: RX and TX packets over every port. */
function testpmdTotals(out: string): { rx: number; tx: number } | null {
  const at = out.lastIndexOf("Accumulated forward statistics");
  if (at < 0) return null;
  const rx = /RX-packets:\s*(\d+)/.exec(out.slice(at));
  const tx = /TX-packets:\s*(\d+)/.exec(out.slice(at));
  return rx && tx ? { rx: Number(rx[1]), tx: Number(tx[1]) } : null;
}

for (let i = 0; i < order.length; i++) {
  const who = order[i]!;
  await waitSignal(`go-${i}`, 300_000);
  const argv = command(who);
  report("start", { i, who });
  const p = Bun.spawn(argv, { cwd: PROJECT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const out = new Response(p.stdout).text();
  const err = new Response(p.stderr).text();
  await waitSignal(`stop-${i}`, 300_000);
  p.kill("SIGINT");
  const code = await p.exited;
  const [o, e] = [await out, await err];
  if (who.startsWith("bdk")) {
    const summary = JSON.parse(o.trim().split("\n").pop() ?? "null");
    report(`fwd-${i}`, { who, code, forwarded: summary?.ports?.[1]?.tx ?? null, received: summary?.ports?.[0]?.rx ?? null, tail: e.split("\n").slice(-6) });
  } else {
    const t = testpmdTotals(o);
    // io mode forwards port 0 → 1 and 1 → 0; the host only sends into port 0, so TX is what went out of port 1.
    report(`fwd-${i}`, { who, code, forwarded: t?.tx ?? null, received: t?.rx ?? null, tail: (o + e).split("\n").filter((l) => /EAL|error|Error|Port \d/.test(l)).slice(-12) });
  }
}
report("done", true);
