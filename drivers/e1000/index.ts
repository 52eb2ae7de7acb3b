// The e1000 poll-mode driver: Intel 8254x (82540EM, 82545EM and their close relatives) and the 82574L
// ("e1000e"), through VFIO. Registers itself with drivers/pci for the ids it drives.
import { BdkError } from "../../src/sys/errors.ts";
import { registerPciDriver, type PciParams } from "../pci/registry.ts";
import { E1000Port, type E1000Chip } from "./port.ts";

export { E1000Port } from "./port.ts";
export { E1000RxQueue, E1000eRxQueue, E1000TxQueue, attachQueue } from "./rxtx.ts";

/** The e1000 driver takes its interrupts on INTx (one line for RX and link): a vectors= in the spec is a mistake. */
function noVectors(spec: string, params: PciParams): void {
  if (params.vectors !== undefined) throw new BdkError(`${spec}: vectors=${params.vectors}, but the e1000 driver uses one INTx line, not MSI-X`, "drop vectors= from the spec");
}

export const I8254X: E1000Chip = { driver: "e1000", maxFrame: 16128, queues: 1 };
export const I82574: E1000Chip = { driver: "e1000e", maxFrame: 9018, queues: 2 };

registerPciDriver({
  name: "e1000",
  // 82540EM (desktop, LOM), 82540EP (LOM, desktop, low profile), 82545EM copper, 82545GM copper.
  ids: [[0x8086, 0x100e], [0x8086, 0x1015], [0x8086, 0x1016], [0x8086, 0x1017], [0x8086, 0x101e], [0x8086, 0x100f], [0x8086, 0x1026]],
  create: (device, spec, _options, params) => {
    noVectors(spec, params);
    return new E1000Port(device, spec, I8254X);
  },
});

registerPciDriver({
  name: "e1000e",
  // 82574L and 82574LA.
  ids: [[0x8086, 0x10d3], [0x8086, 0x10f6]],
  create: (device, spec, _options, params) => {
    noVectors(spec, params);
    return new E1000Port(device, spec, I82574);
  },
});
