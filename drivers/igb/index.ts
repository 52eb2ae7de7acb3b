// The igb poll-mode driver: Intel 82576 and its successors I350, I210 and I211, through VFIO, on the
// advanced descriptors it shares with ixgbe. Registers itself with drivers/pci for the ids it drives.
// Proven in the rig on QEMU's emulated 82576; the I350/I210/I211 ids differ in queue count and IVAR layout
// (handled) and have not met a test of ours yet.
import { registerPciDriver } from "../pci/registry.ts";
import { IgbPort, type IgbChip } from "./port.ts";

export { IgbPort } from "./port.ts";

export const I82576: IgbChip = { queues: 16, ivar: "82576", maxFrame: 9728 };
const I350: IgbChip = { queues: 8, ivar: "82580", maxFrame: 9728 };
const I210: IgbChip = { queues: 4, ivar: "82580", maxFrame: 9728 };
const I211: IgbChip = { queues: 2, ivar: "82580", maxFrame: 9728 };

const chips: [IgbChip, number[]][] = [
  // 82576 copper, fiber, serdes, quad copper (ET, ET2), NS, NS serdes, serdes quad.
  [I82576, [0x10c9, 0x10e6, 0x10e7, 0x10e8, 0x1526, 0x150a, 0x1518, 0x150d]],
  // I350 copper, fiber, serdes, SGMII.
  [I350, [0x1521, 0x1522, 0x1523, 0x1524]],
  // I210 copper, copper OEM, copper IT, fiber, serdes, SGMII, flashless copper/serdes.
  [I210, [0x1533, 0x1534, 0x1535, 0x1536, 0x1537, 0x1538, 0x157b, 0x157c]],
  [I211, [0x1539]],
];

for (const [chip, ids] of chips) {
  registerPciDriver({
    name: "igb",
    ids: ids.map((d) => [0x8086, d] as [number, number]),
    create: (device, spec, _options, params) => new IgbPort(device, spec, chip, params.vectors),
  });
}
