// VFIO, PCI binding and the safety verdict on emulated Intel NICs behind QEMU's Intel vIOMMU. Three
// boots (one guest at a time; each runs a scenario script under test/vm/guest/ that reports `@@name
// {json}` lines):
//   1. e1000 + igb, own groups: status, refusals, bind, check, openPort, the VFIO layer at work (shared
//      container, one arena for both, BAR0, reset, INTx/MSI-X, DMA fault), 100 open/close cycles, a busy
//      device and signals, restore.
//   2. --bridge-group, two e1000 in one group: group-member refusal, non-viable group, both together.
//   3. --no-iommu: the verdict says "no IOMMU", binding is refused or fails back to the kernel driver.
import { beforeAll, describe, expect, test } from "bun:test";
import { defaultMac } from "./topology.ts";
import { nicAddresses, rigReady, runInGuest, type RunResult } from "./rig.ts";

/** The `@@name {json}` lines of a guest run. */
function results(r: RunResult): Map<string, any> {
  const stalls = r.console.split("\n").filter((l) => /rcu: INFO: rcu_preempt detected stalls/.test(l)).length;
  if (stalls > 0) console.warn(`guest console: ${stalls} RCU stall report(s) (a TCG vCPU missed its timer)`);
  const m = new Map<string, any>();
  for (const line of r.output.split("\n")) {
    const x = /^@@([\w-]+) (.*)$/.exec(line.trim());
    if (x) m.set(x[1]!, JSON.parse(x[2]!));
  }
  return m;
}

function need(m: Map<string, any>, key: string): any {
  if (!m.has(key)) throw new Error(`the guest did not report "${key}" (reported: ${[...m.keys()].join(", ")})`);
  return m.get(key);
}

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

describe("e1000 + igb behind the vIOMMU", () => {
  const [E1000, IGB] = nicAddresses(["e1000", "igb"]) as [string, string];
  let run: RunResult;
  let r: Map<string, any>;

  beforeAll(async () => {
    run = await runInGuest({
      nics: ["e1000", "igb"],
      command: `bun test/vm/guest/scenario-main.ts ${E1000} ${IGB}`,
      timeoutSec: 240,
    });
    r = results(run);
    console.log(`scenario-main: exit ${run.code}, ${(run.ms / 1000).toFixed(1)} s, guest steps ${need(r, "done").ms} ms`);
  }, 260_000);

  test("the guest scenario ran to the end", () => {
    expect(run.code).toBe(0);
    expect(r.has("done")).toBe(true);
  });

  test("devbind --status lists both NICs on their kernel drivers, with groups and interfaces", () => {
    const s = need(r, "status-before");
    expect(s.map((d: any) => [d.address, d.driver, d.iommuGroup])).toEqual([[E1000, "e1000", 1], [IGB, "igb", 6]]);
    expect(s[0].interfaces.map((i: any) => i.name)).toEqual(["eth0"]);
    expect(s[1].interfaces.map((i: any) => i.name)).toEqual(["eth1"]);
    expect(s.every((d: any) => d.verdict.word === "kernel-driver")).toBe(true);
  });

  test("refusals: kernel driver, unknown address, host bridge, active interface", () => {
    const kernel = need(r, "kernel-port");
    expect(kernel.error).toBe(`refusing to open ${E1000} (82540EM): (1) ${E1000} (82540EM, 8086:100e) is still on its kernel driver e1000 (eth0); ` +
      `fix: (1) bdk devbind --bind vfio-pci ${E1000}`);
    expect(kernel.left).toEqual({ devices: 0, groups: 0, container: false });
    expect(need(r, "unknown-port").error).toContain("no PCI device 0000:00:09.0; fix: (1) list them with `bdk devbind --status`");
    expect(need(r, "hostbridge-port").error).toContain("refusing to open 0000:00:00.0 (8086:29c0)");
    expect(need(r, "bind-unknown")).toMatchObject({ code: 1 });
    expect(need(r, "bind-unknown").err).toContain("no PCI device 0000:00:09.0; list them with `bdk devbind --status`");
    expect(need(r, "bind-hostbridge").err).toContain("is a Host bridge, not a network device");
    expect(need(r, "check-kernel").code).toBe(1);
    const active = need(r, "bind-active");
    expect(active.code).toBe(1);
    expect(active.err).toContain(`interface eth0 of ${E1000} carries 1 route (*Active*)`);
  });

  test("bind → check says safe; openPort passes the verdict, opens and closes: the e1000 driver takes the e1000, the igb driver the 82576", () => {
    expect(need(r, "bind").code).toBe(0);
    expect(need(r, "bind").out).toContain(`${E1000}: on vfio-pci; verdict: safe`);
    expect(need(r, "bind").out).toContain(`${IGB}: group node /dev/vfio/6`);
    expect(need(r, "status-bound").map((d: any) => [d.driver, d.verdict.word])).toEqual([["vfio-pci", "safe"], ["vfio-pci", "safe"]]);
    expect(need(r, "check-bound").code).toBe(0);
    expect(need(r, "check-bound").out).toContain("interrupt remapping: on");
    const e = need(r, "e1000-port");
    expect(e.error).toBeUndefined();
    expect(e.left).toEqual({ devices: 0, groups: 0, container: false });
    expect(e.fds[0]).toBe(e.fds[1]);
    const p = need(r, "igb-port");
    expect(p.error).toBeUndefined();
    expect(p.left).toEqual({ devices: 0, groups: 0, container: false });
    expect(p.fds[0]).toBe(p.fds[1]);
  });

  test("two groups share one container; the IOVA allocator follows the IOMMU's ranges", () => {
    const o = need(r, "open");
    expect(o.sameContainer).toBe(true);
    expect(o.groups).toEqual([1, 6]);
    expect(o.containerGroups).toBe(2);
    expect(o.info.type).toBe("type1v2");
    expect(o.info.iovaRanges.length).toBeGreaterThanOrEqual(2); // the x86 MSI window is carved out
    expect(o.allocatorWidth).toBe(o.info.iovaWidth);
    const a = need(r, "arena");
    expect(a.mappings).toBe(1);
    expect(a.mappedIova).toBe(a.iova);
    expect(a.inRanges).toBe(true);
  });

  test("BAR0: link up after init and the MACs QEMU was given", () => {
    const l = need(r, "link");
    expect(l.e1000).toMatchObject({ up: true, mac: defaultMac(0) });
    expect(l.igb).toMatchObject({ up: true, mac: defaultMac(1) });
    expect(need(r, "busmaster")).toMatchObject({ e1000: true, igb: true, vendor: "0x8086", device: "0x100e" });
  });

  test("one arena, mapped once, holds both devices' TX rings and frames: both complete", () => {
    const t = need(r, "tx");
    expect(t.e1000).toMatchObject({ dd: true, tdh: 1, gptc: 1 });
    expect(t.igb).toMatchObject({ dd: true, tdh: 1, gptc: 1 });
    expect(t.arenaMappings).toBe(1);
  });

  test("VFIO_DEVICE_RESET where offered (igb: FLR) puts registers back to their defaults", () => {
    const x = need(r, "reset");
    expect(x.igb).toEqual({ canReset: true, did: true, before: "0x12345000", after: "0x0" });
    // QEMU's e1000 offers no reset VFIO can use (no FLR, no PM reset, alone on the root bus).
    expect(x.e1000).toMatchObject({ canReset: false, did: false });
  });

  test("interrupts reach eventfds: e1000 INTx (automasked, unmasked again), igb MSI-X; none while masked", () => {
    const q = need(r, "irq");
    expect(q.e1000.info.intx).toMatchObject({ count: 1, eventfd: true, maskable: true, automasked: true });
    expect(q.e1000).toMatchObject({ masked: 0, count: 1, second: 1 });
    expect(q.igb.info.msix.count).toBeGreaterThanOrEqual(1);
    expect(q.igb).toMatchObject({ masked: 0, count: 1 });
  });

  test("a DMA to a freed (unmapped) arena faults in the IOMMU (DMAR)", () => {
    const f = need(r, "dmafault");
    expect(f.mappedBefore).toBe(true);
    expect(f.mappedAfter).toBe(false);
    const hex = `0x${f.iova.toString(16)}`;
    expect(f.faults.some((l: string) => l.includes(`Request device [00:02.0] fault addr ${hex}`))).toBe(true);
  });

  test("closing releases everything: container closed with the last group", () => {
    const c = need(r, "closed");
    expect(c.afterFirst).toMatchObject({ containerOpen: true, groups: [6], mappings: 1 });
    expect(c.afterBoth).toEqual({ containerOpen: false, containerClosed: true, devices: 0, groups: 0 });
    expect(c.liveArenas).toBe(0);
    expect(c.newFds).toEqual([]);
    expect(c.newNamedMaps).toEqual([]);
    expect(need(r, "two-nics-exit").code).toBe(0);
  });

  test("100 open/close cycles leave no fd, mapping or DMA mapping behind", () => {
    const c = need(r, "cycles");
    expect(c.n).toBe(100);
    expect(c.allMapped).toBe(true); // the arena made before the first open was mapped on every open
    expect(c.fds[1]).toBe(c.fds[0]);
    expect(c.maps[1]).toBe(c.maps[0]);
    expect(c.sameFdTargets).toBe(true);
    expect(c.leftover).toEqual([]);
    expect(c.newMaps).toEqual([]);
    expect(c).toMatchObject({ container: false, devices: 0, handlers: false });
    expect(need(r, "cycles-exit").code).toBe(0);
  });

  test("a device open in another process: EBUSY naming it; SIGINT releases it, re-openable at once", () => {
    const b = need(r, "busy-sigint");
    const pid = b.held.pid;
    expect(b.second.ok).toBe(false);
    expect(b.second.error).toContain(`/dev/vfio/1: device already open in another process (pid ${pid} (`);
    expect(b.check.code).toBe(1);
    expect(b.check.out).toContain(`/dev/vfio/1 is open in another process: pid ${pid}`);
    expect(b.restore.code).toBe(1);
    expect(b.restore.err).toContain(`is open through /dev/vfio/1 by pid ${pid}`);
    expect(b.holderExit).toBe(130);
    expect(b.holderErr).toContain("bdk: SIGINT: released 1 VFIO device");
    expect(b.reopen.ok).toBe(true);
    const k = need(r, "busy-sigkill");
    expect(k.holderSignal).toBe("SIGKILL");
    expect(k.reopen.ok).toBe(true);
  });

  test("restore returns each NIC to its kernel driver with its interface back", () => {
    expect(need(r, "restore").code).toBe(0);
    const s = need(r, "status-after");
    expect(s.map((d: any) => [d.address, d.driver])).toEqual([[E1000, "e1000"], [IGB, "igb"]]);
    expect(s.every((d: any) => d.interfaces.length === 1 && /^eth\d+$/.test(d.interfaces[0].name))).toBe(true);
  });
});

describe("two e1000 in one IOMMU group (--bridge-group)", () => {
  const [A, B] = nicAddresses(["e1000", "e1000"], { bridgeGroup: true }) as [string, string];
  let run: RunResult;
  let r: Map<string, any>;

  beforeAll(async () => {
    run = await runInGuest({ nics: ["e1000", "e1000"], bridgeGroup: true, command: `bun test/vm/guest/scenario-bridge.ts ${A} ${B}`, timeoutSec: 120 });
    r = results(run);
    console.log(`scenario-bridge: exit ${run.code}, ${(run.ms / 1000).toFixed(1)} s`);
  }, 140_000);

  test("binding one is refused, naming the other member on its kernel driver", () => {
    expect(run.code).toBe(0);
    const b = need(r, "bridge-bind-one");
    expect(b.code).toBe(1);
    expect(b.err).toContain(`IOMMU group 1 also holds ${B} (82540EM, 8086:100e) on e1000 (eth1), in use by the kernel`);
  });

  test("forced, the group is not viable: devbind warns, check and openPort refuse, and the kernel agrees", () => {
    expect(need(r, "bridge-bind-forced").code).toBe(0);
    expect(need(r, "bridge-bind-forced").err).toContain("the group will not be viable");
    expect(need(r, "bridge-check").code).toBe(1);
    expect(need(r, "bridge-check").out).toContain(`IOMMU group 1 is not viable: ${B} (82540EM, 8086:100e) on e1000 (eth1) is in use by the kernel`);
    expect(need(r, "bridge-port").error).toContain("refusing to open");
    expect(need(r, "bridge-port").error).toContain("is not viable");
    // Without the verdict: VFIO_GROUP_GET_STATUS says not viable, and bdk names the member.
    const k = need(r, "bridge-kernel-says");
    expect(k.ok).toBe(false);
    expect(k.error).toStartWith(`IOMMU group 1 is not viable: ${B} (82540EM, 8086:100e) on e1000 (eth1) is still on a kernel driver`);
  });

  test("bound together, both open in one process through one group", () => {
    expect(need(r, "bridge-check-both").code).toBe(0);
    expect(need(r, "bridge-open-both")).toMatchObject({ ok: true, groups: [1, 1], sameGroupObject: true, refs: 2, containerGroups: 1 });
  });

  test("released (--restore one, --unbind the other), both are back on e1000 with interfaces", () => {
    expect(need(r, "bridge-restore").code).toBe(0);
    expect(need(r, "bridge-restore").out).toContain(`${A}: bound to e1000`);
    expect(need(r, "bridge-unbind").code).toBe(0);
    expect(need(r, "bridge-unbind").out).toContain(`${B}: driver_override cleared`);
    expect(need(r, "bridge-unbind").out).toContain(`${B}: bound to e1000`);
    expect(need(r, "bridge-after").map((d: any) => [d.driver, d.interfaces.length])).toEqual([["e1000", 1], ["e1000", 1]]);
  });
});

describe("no vIOMMU (--no-iommu)", () => {
  const [A] = nicAddresses(["e1000"]) as [string];
  let run: RunResult;
  let r: Map<string, any>;

  beforeAll(async () => {
    run = await runInGuest({ nics: ["e1000"], noIommu: true, command: `bun test/vm/guest/scenario-noiommu.ts ${A}`, timeoutSec: 120 });
    r = results(run);
    console.log(`scenario-noiommu: exit ${run.code}, ${(run.ms / 1000).toFixed(1)} s`);
  }, 140_000);

  test("no group, and the verdict says no IOMMU", () => {
    expect(run.code).toBe(0);
    expect(need(r, "noiommu-status")).toMatchObject({ driver: "e1000", group: null });
    const c = need(r, "noiommu-check");
    expect(c.safe).toBe(false);
    expect(c.devices[0].mode).toBe("none");
    expect(c.devices[0].reasons.map((x: any) => x.code)).toEqual(["kernel-driver", "no-iommu"]);
    expect(c.devices[0].reasons[1].problem).toStartWith("no IOMMU");
  });

  test("devbind refuses; forced, vfio-pci's probe fails and the NIC goes back to e1000", () => {
    const b = need(r, "noiommu-bind");
    expect(b.code).toBe(1);
    expect(b.err).toContain("has no IOMMU group, so vfio-pci will refuse it");
    const f = need(r, "noiommu-bind-forced");
    expect(f.code).toBe(1);
    expect(f.err).toContain(`vfio-pci did not take ${A} (it has no driver); returned it to e1000`);
    expect(need(r, "noiommu-after")).toMatchObject({ driver: "e1000", interfaces: ["eth0"] });
  });

  test("openPort refuses with \"no IOMMU\", even with allowUnsafeNoIommu (this kernel has no no-IOMMU mode)", () => {
    for (const k of ["noiommu-port", "noiommu-port-allow"]) {
      const p = need(r, k);
      expect(p.error).toContain("(2) no IOMMU: /sys/class/iommu is empty");
      expect(p.left).toEqual({ devices: 0, groups: 0, container: false });
    }
  });

  test("bdk hugepages reserves, cleans a stale file and clears on a real kernel", () => {
    const h = need(r, "hugepages");
    expect(h.reserve.code).toBe(0);
    expect(h.reserve.reserved).toEqual([{ size: "2M", asked: 16, got: 16 }]);
    expect(h.reserve.pools.find((p: any) => p.label === "2M")).toMatchObject({ total: 16, free: 16 });
    expect(h.clean.out).toBe("removed 1 stale file: /dev/hugepages/bdk-stale-test");
    expect(h.clear.code).toBe(0);
    expect(h.clear.pools.find((p: any) => p.label === "2M")).toMatchObject({ total: 0 });
    expect(h.show).toContain("/dev/hugepages (pagesize 2M)");
  });
});
