// Guest side of test/vm/vfio.test.ts (2): an e1000 and an igb, each in its own IOMMU group, opened in one
// process through VFIO. Proves: one container for both groups; one DMA arena mapped once and used by both
// devices (each device's TX ring and frame in the same arena); BAR0 STATUS (link up after init) and the
// MAC from RAL0/RAH0; VFIO_DEVICE_RESET; INTx (e1000) and MSI-X (igb) interrupts reaching eventfds when
// the Interrupt Cause Set register is written (and not when masked); a DMA to a freed (unmapped) arena
// faulting in the IOMMU. Then closes everything and checks nothing is left.
//   bun test/vm/guest/two-nics.ts E1000_BDF IGB_BDF
import { createArena, currentIovaSpace, liveArenas } from "../../../src/mem/arena.ts";
import { VfioContainer } from "../../../src/vfio/container.ts";
import { VfioDevice, openVfioDevices } from "../../../src/vfio/device.ts";
import { VfioGroup } from "../../../src/vfio/group.ts";
import { diff, dmesg, fdCount, fdTargets, hex, macOf, mapNames, mapsCount, report, sleepMs, until } from "./lib.ts";

const [E1000 = "0000:00:02.0", IGB = "0000:01:00.0"] = process.argv.slice(2);

// Registers (Intel 8254x / 82576 datasheets)
const CTRL = 0x0, STATUS = 0x8, MDIC = 0x20, ICR = 0xc0, ICS = 0xc8, IMS = 0xd0, IMC = 0xd8, TCTL = 0x400, TIPG = 0x410;
const GPIE = 0x1514, EIMC = 0x1528, CTRL_EXT = 0x18, GPTC = 0x4080;
const RAL0 = 0x5400, RAH0 = 0x5404;
const E_TDBAL = 0x3800, E_TDBAH = 0x3804, E_TDLEN = 0x3808, E_TDH = 0x3810, E_TDT = 0x3818;
const G_TDBAL = 0xe000, G_TDBAH = 0xe004, G_TDLEN = 0xe008, G_TDH = 0xe010, G_TDT = 0xe018, G_TXDCTL = 0xe028;
const CTRL_RST = 1 << 26, CTRL_SLU = 1 << 6, STATUS_LU = 1 << 1;
const ICR_TXDW = 1 << 0, ICR_LSC = 1 << 2;

dmesg(); // spawn once first: Bun keeps a few fds for child processes
const fds0 = fdCount();
const maps0 = mapsCount();
const targets0 = fdTargets();
const names0 = mapNames();
const t0 = performance.now();

const e = VfioDevice.open(E1000);
const g = VfioDevice.open(IGB);
const container = VfioContainer.current!;
report("open", {
  ms: Math.round(performance.now() - t0),
  sameContainer: e.container === g.container && e.container === container,
  groups: [e.group.number, g.group.number],
  containerGroups: container.groupCount,
  openGroups: VfioGroup.openGroups().length,
  e1000: { flags: e.flags, regions: e.numRegions, irqs: e.numIrqs, canReset: e.canReset },
  igb: { flags: g.flags, regions: g.numRegions, irqs: g.numIrqs, canReset: g.canReset },
  info: container.info,
  allocatorWidth: currentIovaSpace().widthBits,
});

// One arena for both devices, created after the container exists: mapped once, at an IOVA inside the ranges.
const arena = createArena({ size: 2 * 1024 * 1024, name: "shared", hugepages: "prefer" });
report("arena", {
  iova: arena.iova, size: arena.size, hugepage: arena.hugepage,
  mappings: container.mappings.size, mappedIova: container.mappings.get(arena)?.iova,
  inRanges: container.info!.iovaRanges.some(([lo, hi]) => arena.iova >= lo && arena.iova + arena.size - 1 <= hi),
});

const eb = e.mapBar(0);
const gb = g.mapBar(0);
const rd = (b: Uint32Array, o: number): number => b[o >>> 2]! >>> 0;
const wr = (b: Uint32Array, o: number, v: number): void => void Atomics.store(b, o >>> 2, v >>> 0);
const E = eb.u32, G = gb.u32;

// --- VFIO_DEVICE_RESET: a register written before the reset reads its default after.
function resetCheck(d: VfioDevice, bar: Uint32Array, reg: number): Record<string, unknown> {
  wr(bar, reg, 0x12345000);
  const before = rd(bar, reg);
  const did = d.reset();
  const after = rd(bar, reg);
  return { canReset: d.canReset, did, before: hex(before), after: hex(after) };
}
report("reset", { e1000: resetCheck(e, E, E_TDBAL), igb: resetCheck(g, G, G_TDBAL) });

e.setBusMaster(true);
g.setBusMaster(true);
report("busmaster", { e1000: e.busMaster, igb: g.busMaster, cmd: hex(e.readConfig(4, 2)), vendor: hex(e.readConfig(0, 2)), device: hex(e.readConfig(2, 2)) });

// --- init: software reset, link up, MAC
wr(E, IMC, 0xffffffff);
wr(E, CTRL, rd(E, CTRL) | CTRL_RST);
until(() => !(rd(E, CTRL) & CTRL_RST), 100);
wr(E, IMC, 0xffffffff);
wr(E, CTRL, (rd(E, CTRL) | CTRL_SLU | (1 << 5)) & ~((1 << 3) | (1 << 31) | (1 << 7)));
const eLink = until(() => rd(E, STATUS) & STATUS_LU, 1000);

wr(G, IMC, 0xffffffff);
wr(G, EIMC, 0xffffffff);
wr(G, CTRL, rd(G, CTRL) | CTRL_RST);
until(() => !(rd(G, CTRL) & CTRL_RST), 100);
sleepMs(1);
wr(G, IMC, 0xffffffff);
wr(G, EIMC, 0xffffffff);
wr(G, CTRL_EXT, rd(G, CTRL_EXT) | (1 << 28)); // DRV_LOAD
wr(G, CTRL, (rd(G, CTRL) | CTRL_SLU) & ~((1 << 3) | (1 << 31)));
// QEMU's igb brings the link up once PHY autonegotiation is restarted (BMCR = AN enable | restart | FD | 1000).
wr(G, MDIC, 0x1340 | (0 << 16) | (1 << 21) | (1 << 26));
until(() => rd(G, MDIC) & (1 << 28), 100);
const gLink = until(() => rd(G, STATUS) & STATUS_LU, 3000);
report("link", {
  e1000: { status: hex(rd(E, STATUS)), up: !!eLink, mac: macOf(rd(E, RAL0), rd(E, RAH0)) },
  igb: { status: hex(rd(G, STATUS)), up: !!gLink, mac: macOf(rd(G, RAL0), rd(G, RAH0)) },
});

// --- one frame from each NIC, both rings and both frames in the one arena
const dv = new DataView(arena.buffer);
const E_RING = 0x0, G_RING = 0x1000, E_BUF = 0x10000, G_BUF = 0x11000, N = 8;
function frame(at: number, mac: string, text: string): void {
  arena.u8.fill(0xff, at, at + 6);
  mac.split(":").forEach((b, i) => (arena.u8[at + 6 + i] = parseInt(b, 16)));
  arena.u8[at + 12] = 0x88;
  arena.u8[at + 13] = 0xb5;
  arena.u8.set(new TextEncoder().encode(text), at + 14);
}
const eMac = macOf(rd(E, RAL0), rd(E, RAH0));
const gMac = macOf(rd(G, RAL0), rd(G, RAH0));
frame(E_BUF, eMac, "bdk-vfio-e1000");
frame(G_BUF, gMac, "bdk-vfio-igb");

// e1000: legacy descriptor {u64 addr; u16 len; u8 cso; u8 cmd; u8 status; …}
wr(E, E_TDBAL, arena.iova + E_RING);
wr(E, E_TDBAH, 0);
wr(E, E_TDLEN, N * 16);
wr(E, E_TDH, 0);
wr(E, E_TDT, 0);
wr(E, TIPG, 0x0060200a);
wr(E, TCTL, (1 << 1) | (1 << 3) | (0x0f << 4) | (0x40 << 12));
dv.setUint32(E_RING, arena.iova + E_BUF, true);
dv.setUint32(E_RING + 4, 0, true);
dv.setUint16(E_RING + 8, 64, true);
dv.setUint8(E_RING + 11, 0x0b); // EOP | IFCS | RS
dv.setUint8(E_RING + 12, 0);
wr(E, E_TDT, 1);

// igb: advanced data descriptor {u64 addr; u32 cmd_type_len; u32 olinfo_status}
wr(G, G_TXDCTL, 0);
wr(G, G_TDBAL, arena.iova + G_RING);
wr(G, G_TDBAH, 0);
wr(G, G_TDLEN, N * 16);
wr(G, G_TDH, 0);
wr(G, G_TDT, 0);
wr(G, G_TXDCTL, rd(G, G_TXDCTL) | (1 << 25));
wr(G, TCTL, (1 << 1) | (1 << 3) | (0x0f << 4) | (0x40 << 12));
dv.setUint32(G_RING, arena.iova + G_BUF, true);
dv.setUint32(G_RING + 4, 0, true);
dv.setUint32(G_RING + 8, 64 | (3 << 20) | (1 << 24) | (1 << 25) | (1 << 27) | (1 << 29), true);
dv.setUint32(G_RING + 12, 64 << 14, true);
wr(G, G_TDT, 1);

const eDone = until(() => dv.getUint8(E_RING + 12) & 1, 2000);
const gDone = until(() => dv.getUint32(G_RING + 12, true) & 1, 2000);
report("tx", {
  e1000: { dd: !!eDone, tdh: rd(E, E_TDH), gptc: rd(E, GPTC) },
  igb: { dd: !!gDone, tdh: rd(G, G_TDH), gptc: rd(G, GPTC) },
  arenaMappings: container.mappings.size,
});

// --- interrupts: e1000 INTx, igb MSI-X, caused by writing ICS (no traffic needed)
const eInfo = { intx: e.irqInfo("intx"), msi: e.irqInfo("msi"), msix: e.irqInfo("msix") };
const gInfo = { intx: g.irqInfo("intx"), msi: g.irqInfo("msi"), msix: g.irqInfo("msix") };
const eIrq = e.enableIrqs("intx");
rd(E, ICR); // clear what TX caused
wr(E, IMC, 0xffffffff);
wr(E, ICS, ICR_LSC);
const eMasked = eIrq.wait(0, 300); // cause set but not enabled in IMS: no interrupt
rd(E, ICR);
eIrq.take(0);
wr(E, IMS, ICR_LSC);
wr(E, ICS, ICR_LSC);
const eCount = eIrq.wait(0, 2000);
const eIcr = rd(E, ICR); // reading ICR deasserts the line
eIrq.unmask(0); // INTx is automasked by VFIO: unmask for the next one
wr(E, ICS, ICR_LSC);
const eSecond = eIrq.wait(0, 2000);
rd(E, ICR);
eIrq.unmask(0);
wr(E, IMC, 0xffffffff);

const gIrq = g.enableIrqs("msix", 1);
wr(G, GPIE, 0);
wr(G, ICR, 0xffffffff);
wr(G, IMC, 0xffffffff);
wr(G, ICS, ICR_TXDW);
const gMasked = gIrq.wait(0, 300);
wr(G, ICR, 0xffffffff);
gIrq.take(0);
wr(G, IMS, ICR_TXDW);
wr(G, ICS, ICR_TXDW);
const gCount = gIrq.wait(0, 2000);
const gIcr = rd(G, ICR);
wr(G, ICR, gIcr);
wr(G, IMC, 0xffffffff);
report("irq", {
  e1000: { info: eInfo, masked: eMasked, count: eCount, icr: hex(eIcr), second: eSecond },
  igb: { info: gInfo, masked: gMasked, count: gCount, icr: hex(gIcr) },
});
g.disableIrqs("msix");
e.disableIrqs("intx");

// --- a DMA into an arena that was freed (unmapped from the IOMMU) faults
const doomed = createArena({ size: 2 * 1024 * 1024, name: "doomed", hugepages: "never" });
const doomedIova = doomed.iova;
const mappedBefore = container.mappings.has(doomed);
doomed.free();
const mappedAfter = container.mappings.has(doomed);
dv.setUint32(E_RING + 16, doomedIova, true);
dv.setUint32(E_RING + 20, 0, true);
dv.setUint16(E_RING + 24, 64, true);
dv.setUint8(E_RING + 27, 0x0b);
dv.setUint8(E_RING + 28, 0);
wr(E, E_TDT, 2);
until(() => dv.getUint8(E_RING + 28) & 1, 1000);
sleepMs(200);
const faults = dmesg().split("\n").filter((l) => /DMAR/.test(l) && /fault/i.test(l));
report("dmafault", { iova: doomedIova, mappedBefore, mappedAfter, tdh: rd(E, E_TDH), faults });

wr(E, TCTL, 0);
wr(G, TCTL, 0);
e.close();
const afterFirst = { containerOpen: !!VfioContainer.current, groups: VfioGroup.openGroups().map((x) => x.number), mappings: container.mappings.size };
g.close();
const afterBoth = { containerOpen: !!VfioContainer.current, containerClosed: container.isClosed, devices: openVfioDevices().length, groups: VfioGroup.openGroups().length };
arena.free();
report("closed", { afterFirst, afterBoth, liveArenas: liveArenas().length, fds: [fds0, fdCount()], maps: [maps0, mapsCount()],
  newFds: diff(fdTargets(), targets0), newNamedMaps: diff(mapNames(), names0).filter((n) => n !== "[anon]") });
