// Proves the QEMU rig: topology, drivers, IOMMU groups, Bun in the guest, exit codes, time
// limits, and both ways of wiring a NIC to the host (UDP datagrams, a TAP in a namespace).
// Every boot takes the machine-wide lock, so these run one after another (~5-10 s each).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { exec } from "./exec.ts";
import { loadOrder } from "./prepare.ts";
import { nicAddresses, parseCli, rigReady, runInGuest, VmError, type NicInfo } from "./rig.ts";
import { parseNic } from "./topology.ts";

const BOOT_MS = 120_000;
const RUN_SEC = 90;

interface PciDev {
  id: string;
  driver: string;
  group: string;
}

/** Guest shell: one "DEV bdf vendor:device driver group" line per PCI function ("-": none). */
const LIST_PCI = `for d in /sys/bus/pci/devices/*; do
  drv=$(readlink "$d/driver"); drv=\${drv##*/}; grp=$(readlink "$d/iommu_group"); grp=\${grp##*/}
  echo "DEV \${d##*/} $(cat "$d/vendor"):$(cat "$d/device") \${drv:--} \${grp:--}"
done
echo "IOMMU [$(ls /sys/class/iommu | tr '\\n' ' ')]"`;

function parsePci(output: string): Map<string, PciDev> {
  const devs = new Map<string, PciDev>();
  for (const line of output.split("\n")) {
    const [tag, bdf, id, driver, group] = line.trim().split(" ");
    const value = (v: string | undefined): string => (v === "-" || v === undefined ? "" : v);
    if (tag === "DEV" && bdf && id) devs.set(bdf, { id, driver: value(driver), group: value(group) });
  }
  return devs;
}

function iommuUnits(output: string): string[] {
  const m = /^IOMMU \[(.*)\]$/m.exec(output);
  if (!m) throw new Error(`no IOMMU line in guest output:\n${output}`);
  return m[1]!.trim().split(/\s+/).filter(Boolean);
}

const sh = async (...argv: string[]): Promise<string> => {
  const r = await exec(argv, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
};

beforeAll(() => {
  const ready = rigReady();
  if (!ready.ok) throw new Error(ready.why);
});

describe("topology (no boot)", () => {
  test("NIC strings parse, with options whose values hold colons", () => {
    expect(parseNic("igb")).toEqual({ model: "igb" });
    expect(parseNic("e1000e:udp=7001:7002,mac=52:54:00:aa:bb:cc")).toEqual({
      model: "e1000e", udp: { local: 7001, remote: 7002 }, mac: "52:54:00:aa:bb:cc",
    });
    expect(parseNic("e1000:tap=bdk0")).toEqual({ model: "e1000", tap: "bdk0" });
    expect(() => parseNic("rtl8139")).toThrow(/unknown NIC model/);
    expect(() => parseNic("igb:tap=a-name-much-too-long")).toThrow(/1-15 characters/);
  });

  test("BDFs follow the position of each NIC", () => {
    expect(nicAddresses(["e1000", "e1000e", "igb"])).toEqual(["0000:00:02.0", "0000:00:03.0", "0000:01:00.0"]);
    expect(nicAddresses(["igb", "e1000", "igb"])).toEqual(["0000:01:00.0", "0000:00:03.0", "0000:02:00.0"]);
    expect(nicAddresses(["e1000", "e1000e"], { bridgeGroup: true })).toEqual(["0000:01:01.0", "0000:01:02.0"]);
    expect(() => nicAddresses(["igb", "igb"], { bridgeGroup: true })).toThrow(/at most one igb/);
  });

  test("CLI arguments: options, then one shell word or an argv to quote", () => {
    const a = parseCli(["--nic", "igb", "--no-iommu", "--timeout", "30", "--", "echo", "a b"]);
    expect(a).toMatchObject({ nics: ["igb"], noIommu: true, timeoutSec: 30, command: "echo 'a b'" });
    expect(parseCli(["--", "--bridge-group", "--", "ls; exit 7"]).command).toBe("ls; exit 7");
    expect(() => parseCli(["--nic", "igb"])).toThrow(/no command/);
  });

  test("modules load after their dependencies", () => {
    const order = loadOrder(new Map([["igb", ["dca", "i2c-algo-bit"]], ["vfio-pci", ["vfio-pci-core", "vfio"]]]));
    expect(order.indexOf("dca")).toBeLessThan(order.indexOf("igb"));
    expect(order.indexOf("i2c-algo-bit")).toBeLessThan(order.indexOf("igb"));
    expect(order.indexOf("vfio-pci-core")).toBeLessThan(order.indexOf("vfio-pci"));
    expect(order.indexOf("igb")).toBeLessThan(order.indexOf("vfio")); // NIC drivers first
  });
});

describe("guest", () => {
  test("e1000 + e1000e + igb: kernel drivers bound, one IOMMU group each, vIOMMU, Bun runs, vfio-pci binds", async () => {
    const r = await runInGuest({
      nics: ["e1000", "e1000e", "igb"],
      timeoutSec: RUN_SEC,
      command: `${LIST_PCI}
        echo "VFIO $(ls /sys/bus/pci/drivers | grep -c '^vfio-pci$') $(ls /dev/vfio)"
        echo "BUN $(bun -e 'console.log(6 * 7)')"
        # What a driver test does first: hand the igb to vfio-pci, then its group node appears.
        d=/sys/bus/pci/devices/0000:01:00.0
        echo vfio-pci >$d/driver_override && echo 0000:01:00.0 >$d/driver/unbind
        echo 0000:01:00.0 >/sys/bus/pci/drivers_probe
        drv=$(readlink $d/driver); grp=$(readlink $d/iommu_group)
        echo "REBOUND \${drv##*/} $(ls /dev/vfio/\${grp##*/})"`,
    });
    expect(r.code).toBe(0);
    expect(r.nics.map((n) => n.bdf)).toEqual(["0000:00:02.0", "0000:00:03.0", "0000:01:00.0"]);
    const devs = parsePci(r.output);
    const expected = [["0x8086:0x100e", "e1000"], ["0x8086:0x10d3", "e1000e"], ["0x8086:0x10c9", "igb"]];
    r.nics.forEach((nic, i) => {
      const dev = devs.get(nic.bdf);
      expect(dev).toMatchObject({ id: expected[i]![0], driver: expected[i]![1] });
      expect(dev!.group).toMatch(/^\d+$/);
      const mates = [...devs.entries()].filter(([, d]) => d.group === dev!.group).map(([b]) => b);
      expect(mates).toEqual([nic.bdf]); // alone in its group
    });
    expect(iommuUnits(r.output).length).toBeGreaterThan(0);
    expect(r.output).toMatch(/^VFIO 1 vfio$/m); // vfio-pci loaded, container node present
    expect(r.output).toMatch(/^BUN 42$/m);
    expect(r.output).toMatch(new RegExp(`^REBOUND vfio-pci /dev/vfio/${devs.get("0000:01:00.0")!.group}$`, "m"));
  }, BOOT_MS);

  test("--bridge-group puts two NICs in one IOMMU group", async () => {
    const r = await runInGuest({ nics: ["e1000", "e1000e"], bridgeGroup: true, timeoutSec: RUN_SEC, command: LIST_PCI });
    expect(r.code).toBe(0);
    const devs = parsePci(r.output);
    const [a, b] = r.nics.map((n) => devs.get(n.bdf));
    expect(a).toMatchObject({ driver: "e1000" });
    expect(b).toMatchObject({ driver: "e1000e" });
    expect(a!.group).toMatch(/^\d+$/);
    expect(b!.group).toBe(a!.group);
  }, BOOT_MS);

  test("--no-iommu boots without IOMMU units or groups", async () => {
    const r = await runInGuest({ nics: ["igb"], noIommu: true, timeoutSec: RUN_SEC, command: LIST_PCI });
    expect(r.code).toBe(0);
    expect(iommuUnits(r.output)).toEqual([]);
    const igb = parsePci(r.output).get(r.nics[0]!.bdf);
    expect(igb).toEqual({ id: "0x8086:0x10c9", driver: "igb", group: "" });
  }, BOOT_MS);

  test("the command's exit code comes back, output is streamed line by line", async () => {
    const lines: string[] = [];
    const r = await runInGuest({
      nics: [], timeoutSec: RUN_SEC, onLine: (l) => lines.push(l),
      command: `echo "it's \\"quoted\\" \\$HOME=$HOME"; echo second; exit 7`,
    });
    expect(r.code).toBe(7);
    expect(lines).toEqual([`it's "quoted" $HOME=/root`, "second"]);
    expect(r.output).toBe(lines.join("\n"));
  }, BOOT_MS);

  test("a command over the time limit is killed and reported", async () => {
    // (No wall-clock bound here: the time spent queueing for another guest's lock would count.)
    const run = runInGuest({ nics: [], timeoutSec: 6, command: "sleep 600" });
    await expect(run).rejects.toThrow(/timed out after 6 s/);
    await run.catch((e: unknown) => expect((e as VmError).kind).toBe("timeout"));
  }, BOOT_MS);

  test("default UDP wiring: the guest's frames arrive as datagrams on the remote port", async () => {
    const frames: Uint8Array[] = [];
    let socket: { close(): void } | undefined;
    const r = await runInGuest({
      nics: ["e1000e"],
      timeoutSec: RUN_SEC,
      onStart: async ([nic]) => {
        socket = await Bun.udpSocket({
          hostname: "127.0.0.1", port: nic!.udp!.remote,
          socket: { data: (_s, data) => void frames.push(new Uint8Array(data)) },
        });
      },
      // ARP requests for a TEST-NET address nobody answers: broadcast frames from the NIC's MAC.
      command: `ifc=$(ls /sys/bus/pci/devices/0000:00:02.0/net)
        ip link set "$ifc" up && ip addr add 192.0.2.2/24 dev "$ifc"
        ping -c 3 -W 1 192.0.2.1; true`,
    });
    socket?.close();
    expect(r.code).toBe(0);
    const arp = frames.filter((f) => f.length >= 42 && f[12] === 0x08 && f[13] === 0x06);
    expect(arp.length).toBeGreaterThan(0);
    const mac = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
    expect(mac(arp[0]!.subarray(0, 6))).toBe("ff:ff:ff:ff:ff:ff");
    expect(mac(arp[0]!.subarray(6, 12))).toBe(r.nics[0]!.mac);
  }, BOOT_MS);

  describe("TAP wiring", () => {
    const ns = `bdkrig${process.pid}`;
    const tap = `bdkt${process.pid}`.slice(0, 15);
    beforeAll(async () => {
      await sh("ip", "netns", "add", ns);
      await sh("ip", "tuntap", "add", "dev", tap, "mode", "tap");
    });
    afterAll(async () => {
      await exec(["ip", "netns", "del", ns]); // destroys the TAP if it was moved there
      await exec(["ip", "link", "del", tap]);
    });

    test("the guest kernel pings the host through a TAP moved into a namespace", async () => {
      const onStart = async (nics: NicInfo[]): Promise<void> => {
        // QEMU holds the TAP now; moving it keeps QEMU's end attached.
        await sh("ip", "link", "set", nics[0]!.tap!, "netns", ns);
        await sh("ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", tap);
        await sh("ip", "-n", ns, "link", "set", tap, "up");
      };
      const r = await runInGuest({
        nics: [{ model: "e1000", tap }],
        timeoutSec: RUN_SEC,
        onStart,
        // The host may still be configuring the namespace when the guest is up: retry first.
        command: `ifc=$(ls /sys/bus/pci/devices/0000:00:02.0/net)
          ip link set "$ifc" up && ip addr add 192.0.2.2/24 dev "$ifc"
          for i in $(seq 20); do ping -c 1 -W 1 192.0.2.1 >/dev/null && break; done
          ping -c 3 -W 2 192.0.2.1`,
      });
      // Under TCG on a busy host one reply may be late; every one lost would fail the command.
      expect(r.output).toMatch(/3 packets transmitted, [123] packets received/);
      expect(r.code).toBe(0);
      const rx = Number(await sh("ip", "netns", "exec", ns, "cat", `/sys/class/net/${tap}/statistics/rx_packets`));
      expect(rx).toBeGreaterThanOrEqual(4); // ≥ 3 echo requests + ARP, seen by the host side
    }, BOOT_MS);
  });
});
