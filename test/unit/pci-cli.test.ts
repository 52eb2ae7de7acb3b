// `bdk devbind`, `bdk check` and `bdk hugepages` on recorded trees: what they print and their exit codes.
// (Binding itself changes the kernel's state: test/vm/vfio.test.ts does it in the guest.)
import { afterAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as check } from "../../src/cli/check.ts";
import { main as devbind } from "../../src/cli/devbind.ts";
import { main as hugepages, parseReservation } from "../../src/cli/hugepages.ts";
import { treePaths, type HostPaths } from "../../src/pci/paths.ts";

const FIX = join(import.meta.dir, "../fixtures/sysfs");
const tree = (name: string): HostPaths => treePaths(join(FIX, name));

/** Runs a command's main, capturing what it prints. */
async function run(f: (a: string[], p?: HostPaths) => Promise<number>, args: string[], paths: HostPaths): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  try {
    const code = await f(args, paths);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("bdk devbind --status", () => {
  test("groups NICs by driver, with ids, group, interfaces, markers and the verdict", async () => {
    const r = await run(devbind, ["--status"], tree("kernel-drivers"));
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    const kernel = lines.indexOf("Network devices using a kernel driver");
    expect(lines[kernel + 2]).toBe("0000:00:02.0 '82540EM Gigabit Ethernet Controller 8086:100e' drv=e1000 unused=vfio-pci if=eth0(up,2 routes) iommu_group=1 *Active* bdk=e1000 verdict=kernel-driver");
    expect(lines[kernel + 3]).toBe("0000:01:00.0 '82576 Gigabit Network Connection 8086:10c9' drv=igb unused=vfio-pci if=eth1 iommu_group=6 bdk=igb verdict=kernel-driver");
    expect(lines[lines.indexOf("Network devices using vfio-pci (userspace)") + 2]).toBe("<none>");
  });

  test("a NIC on vfio-pci is listed as safe", async () => {
    const r = await run(devbind, [], tree("vfio-e1000"));
    expect(r.out).toContain("Network devices using vfio-pci (userspace)\n==========================================\n0000:00:02.0 '82540EM Gigabit Ethernet Controller 8086:100e' drv=vfio-pci iommu_group=1 bdk=e1000 verdict=safe");
  });

  test("--json carries the devices and their verdicts", async () => {
    const r = await run(devbind, ["--status", "--json"], tree("bridge-group"));
    const j = JSON.parse(r.out) as { devices: { address: string; driver: string; verdict: { word: string; safe: boolean } }[] };
    expect(j.devices.map((d) => [d.address, d.driver, d.verdict.word])).toEqual([
      ["0000:01:01.0", "vfio-pci", "group-not-viable"],
      ["0000:01:02.0", "e1000", "kernel-driver"],
    ]);
  });

  test("--bind refuses an active interface, an unknown address and a non-NIC before touching anything", async () => {
    const r = await run(devbind, ["-b", "vfio-pci", "00:02.0", "0000:00:09.0", "0000:00:00.0"], tree("kernel-drivers"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("refusing 0000:00:02.0: interface eth0 of 0000:00:02.0 carries 2 routes (*Active*)");
    expect(r.err).toContain("refusing 0000:00:09.0: no PCI device 0000:00:09.0; list them with `bdk devbind --status`");
    expect(r.err).toContain("refusing 0000:00:00.0: 0000:00:00.0 (8086:29c0) is a Host bridge, not a network device");
    expect(r.err).toContain("nothing was bound");
  });

  test("--bind to anything but vfio-pci is refused", async () => {
    await expect(run(devbind, ["--bind", "igb_uio", "00:02.0"], tree("kernel-drivers"))).rejects.toThrow("UIO drivers give no IOMMU protection");
    await expect(run(devbind, ["--unbind"], tree("kernel-drivers"))).rejects.toThrow("no device given");
    await expect(run(devbind, ["--unbind", "--restore", "00:02.0"], tree("kernel-drivers"))).rejects.toThrow("give one of");
  });
});

describe("bdk check", () => {
  test("exit 0 when every device given is safe", async () => {
    const r = await run(check, ["0000:00:02.0"], tree("vfio-e1000"));
    expect(r.code).toBe(0);
    expect(r.out).toStartWith("0000:00:02.0 (82540EM, 8086:100e): SAFE (IOMMU)");
  });

  test("exit 1 when one is not; without addresses, every NIC", async () => {
    const r = await run(check, [], tree("vfio-e1000"));
    expect(r.code).toBe(1);
    expect(r.out).toContain("0000:00:02.0 (82540EM, 8086:100e): SAFE");
    expect(r.out).toContain("0000:01:00.0 (82576, 8086:10c9): UNSAFE (IOMMU)\n  ✗ 0000:01:00.0 (82576, 8086:10c9) is still on its kernel driver igb (eth1)\n    fix: bdk devbind --bind vfio-pci 0000:01:00.0");
  });

  test("--json and --quiet", async () => {
    const j = JSON.parse((await run(check, ["--json", "0000:00:02.0"], tree("no-iommu"))).out) as { safe: boolean; devices: { word: string; mode: string; reasons: { code: string }[] }[] };
    expect(j.safe).toBe(false);
    expect(j.devices[0]!.mode).toBe("none");
    expect(j.devices[0]!.reasons.map((r) => r.code)).toEqual(["kernel-driver", "no-iommu"]);
    const q = await run(check, ["-q", "0000:00:02.0"], tree("vfio-e1000"));
    expect(q.out).toBe("0000:00:02.0 safe");
  });

  test("-q is one line per device: safe, or unsafe with the first reason (no fixes, no notes)", async () => {
    const q = await run(check, ["-q"], tree("vfio-e1000"));
    expect(q.code).toBe(1);
    expect(q.out.split("\n")).toEqual([
      "0000:00:02.0 safe",
      "0000:01:00.0 unsafe: 0000:01:00.0 (82576, 8086:10c9) is still on its kernel driver igb (eth1)",
    ]);
    const full = await run(check, [], tree("vfio-e1000"));
    expect(full.out.split("\n").length).toBeGreaterThan(2);
  });

  test("the advice to bind a routed NIC carries devbind's guard: it would cut the network, and what --force means", async () => {
    // eth0 of 0000:00:02.0 is up with 2 routes (the machine's network); eth1 of 0000:01:00.0 is idle.
    const r = await run(check, [], tree("kernel-drivers"));
    expect(r.out).toContain("0000:00:02.0 (82540EM, 8086:100e) is still on its kernel driver e1000 (eth0)\n" +
      "    fix: binding it would cut this machine's network: eth0 carries 2 routes (*Active*), so `bdk devbind --bind vfio-pci 0000:00:02.0` refuses; " +
      "move its addresses and routes to another interface and take it down (ip link set eth0 down) first. --force binds anyway, and every route " +
      "and connection over eth0 is lost (an SSH session over it included)");
    expect(r.out).not.toContain("fix: bdk devbind --bind vfio-pci 0000:00:02.0");
    // The idle NIC keeps the plain command, which devbind carries out without a word.
    expect(r.out).toContain("(eth1)\n    fix: bdk devbind --bind vfio-pci 0000:01:00.0\n");
    // The same decision as devbind's: it refuses the routed one, for the same reason.
    const d = await run(devbind, ["--bind", "vfio-pci", "0000:00:02.0"], tree("kernel-drivers"));
    expect(d.err).toContain("interface eth0 of 0000:00:02.0 carries 2 routes (*Active*)");
    // --json carries the guarded advice too.
    const j = JSON.parse((await run(check, ["--json", "00:02.0"], tree("kernel-drivers"))).out) as { devices: { reasons: { code: string; fix: string }[] }[] };
    expect(j.devices[0]!.reasons.find((x) => x.code === "kernel-driver")!.fix).toStartWith("binding it would cut this machine's network: eth0 carries 2 routes");
  });

  test("a bind the guard would refuse for another reason says so (no IOMMU group), instead of the bare command", async () => {
    const r = await run(check, ["0000:01:00.0"], tree("no-iommu"));
    expect(r.out).toContain("fix: `bdk devbind --bind vfio-pci 0000:01:00.0` would be refused: 0000:01:00.0 has no IOMMU group, so vfio-pci will refuse it");
  });

  test("a machine without network devices", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bdk-empty-"));
    try {
      const r = await run(check, [], treePaths(dir));
      expect(r.code).toBe(1);
      expect(r.out).toContain("no network devices found");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("bdk hugepages", () => {
  const scratch = mkdtempSync(join(tmpdir(), "bdk-huge-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test("SIZE:COUNT", () => {
    expect(parseReservation("2M:512")).toEqual({ sizeBytes: 2 * 2 ** 20, count: 512 });
    expect(parseReservation("1G:2")).toEqual({ sizeBytes: 2 ** 30, count: 2 });
    expect(() => parseReservation("2M")).toThrow("is not SIZE:COUNT");
  });

  test("shows the pools and mounts of the recorded guest", async () => {
    const r = await run(hugepages, [], tree("vfio-e1000"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("Hugepage pools");
    expect(r.out).toMatch(/ {2}2M {3}total +0 {2}free +0/);
    expect(r.out).toContain("/dev/hugepages (pagesize 2M)");
  });

  test("--reserve writes the pool size and reports what the kernel gave", async () => {
    const dir = join(scratch, "t");
    Bun.spawnSync(["cp", "-a", join(FIX, "vfio-e1000"), dir]);
    // A fake /proc/meminfo: 4 GiB, 3 GiB available (the free-memory check reads it).
    writeFileSync(join(dir, "proc/meminfo"), "MemTotal:        4194304 kB\nMemFree:         1048576 kB\nMemAvailable:    3145728 kB\n");
    const r = await run(hugepages, ["--reserve", "2M:64", "--json"], treePaths(dir));
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "utf8")).toBe("64");
    expect(JSON.parse(r.out).reserved).toEqual([{ size: "2M", asked: 64, got: 64 }]);
    const c = await run(hugepages, ["--clear"], treePaths(dir));
    expect(c.out).toContain("2M: cleared");
    expect(readFileSync(join(dir, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"), "utf8")).toBe("0");
  });
});
