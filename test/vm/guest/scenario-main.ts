// Guest side of test/vm/vfio.test.ts, first boot (an e1000 and an igb behind the vIOMMU): the whole life
// of a NIC under bdk — status, refusals, bind, check, open, the VFIO layer at work, busy devices, signals,
// and release back to the kernel. Every step reports `@@name {json}` for the host to check.
//   bun test/vm/guest/scenario-main.ts E1000_BDF IGB_BDF
import { BUN, bdk, PROJECT, report, run, script, keepCpusAwake } from "./lib.ts";

const [E1000 = "0000:00:02.0", IGB = "0000:01:00.0"] = process.argv.slice(2);
const wake = keepCpusAwake();
const t0 = performance.now();
const lap = (): number => Math.round(performance.now() - t0);

interface StatusDevice {
  address: string;
  driver: string | null;
  iommuGroup: number | null;
  interfaces: { name: string; up: boolean; routes: number }[];
  verdict: { word: string; safe: boolean };
}
function status(): StatusDevice[] {
  const r = bdk("devbind", "--status", "--json");
  return (JSON.parse(r.out) as { devices: StatusDevice[] }).devices
    .map((d) => ({ address: d.address, driver: d.driver, iommuGroup: d.iommuGroup, interfaces: d.interfaces, verdict: d.verdict }));
}
/** Passes a child's @@ lines through, under a prefix. */
function relay(prefix: string, out: string): void {
  for (const l of out.split("\n")) if (l.startsWith("@@")) console.log(l.replace(/^@@/, `@@${prefix}`));
}
const brief = (r: { code: number; out: string; err: string }) => ({ code: r.code, out: r.out.trim(), err: r.err.trim() });

// 1. What the kernel has.
report("status-before", status());

// 2. Refusals before anything is bound.
relay("kernel-", script("port-open.ts", E1000).out);
relay("unknown-", script("port-open.ts", "0000:00:09.0").out);
relay("hostbridge-", script("port-open.ts", "0000:00:00.0").out);
report("bind-unknown", brief(bdk("devbind", "--bind", "vfio-pci", "0000:00:09.0")));
report("bind-hostbridge", brief(bdk("devbind", "--bind", "vfio-pci", "0000:00:00.0")));
report("check-kernel", brief(bdk("check", E1000)));
{
  // An interface with an address and a route: devbind must not take it.
  const ifname = status().find((d) => d.address === E1000)!.interfaces[0]!.name;
  run(["ip", "link", "set", ifname, "up"]);
  run(["ip", "addr", "add", "10.9.0.1/24", "dev", ifname]);
  report("bind-active", { ifname, ...brief(bdk("devbind", "--bind", "vfio-pci", E1000)) });
  run(["ip", "addr", "flush", "dev", ifname]);
  run(["ip", "link", "set", ifname, "down"]);
}

// 3. Bind both, check them.
const bindT = performance.now();
report("bind", { ...brief(bdk("devbind", "--bind", "vfio-pci", E1000, IGB)), ms: Math.round(performance.now() - bindT) });
report("status-bound", status());
report("check-bound", brief(bdk("check", E1000, IGB)));

// 4. openPort: the verdict passes, the device opens and closes: the e1000 driver takes the e1000, the igb
//    driver the 82576.
relay("e1000-", script("port-open.ts", E1000).out);
relay("igb-", script("port-open.ts", IGB).out);

// 5. The VFIO layer with both devices in one process.
{
  const r = script("two-nics.ts", E1000, IGB);
  relay("", r.out);
  report("two-nics-exit", { code: r.code, err: r.err.trim().split("\n").slice(-5) });
}

// 6. 100 open/close cycles.
{
  const r = script("cycles.ts", E1000, IGB, "100");
  relay("", r.out);
  report("cycles-exit", { code: r.code, err: r.err.trim().split("\n").slice(-5) });
}

// 7. A device held by another process: EBUSY naming it; SIGINT/SIGKILL free it at once.
async function holdThen(sig: "SIGINT" | "SIGKILL", probe: boolean): Promise<Record<string, unknown>> {
  const holder = Bun.spawn([BUN, `${PROJECT}/test/vm/guest/holder.ts`, E1000], { cwd: PROJECT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const reader = holder.stdout.getReader();
  let text = "";
  while (!text.includes("@@holding")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const held = JSON.parse(/@@holding (.*)/.exec(text)?.[1] ?? "null") as { pid: number } | null;
  const out: Record<string, unknown> = { held };
  if (probe) {
    out.second = JSON.parse(/@@tryopen (.*)/.exec(script("try-open.ts", E1000).out)?.[1] ?? "null");
    out.check = brief(bdk("check", E1000));
    out.restore = brief(bdk("devbind", "--restore", E1000));
  }
  const tSig = performance.now();
  holder.kill(sig);
  out.holderExit = await holder.exited;
  out.holderSignal = holder.signalCode;
  out.holderErr = (await new Response(holder.stderr).text()).trim();
  const again = JSON.parse(/@@tryopen (.*)/.exec(script("try-open.ts", E1000).out)?.[1] ?? "null");
  out.reopen = again;
  out.msSignalToReopened = Math.round(performance.now() - tSig);
  return out;
}
report("busy-sigint", await holdThen("SIGINT", true));
report("busy-sigkill", await holdThen("SIGKILL", false));

// 8. Back to the kernel.
report("restore", brief(bdk("devbind", "--restore", E1000, IGB)));
report("status-after", status());
report("dmesg-vfio", run(["dmesg"]).out.split("\n").filter((l) => /vfio|DMAR: \[/.test(l)).slice(-12));
report("done", { ms: lap() });
wake();
