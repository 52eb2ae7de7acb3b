// The ixgbe poll-mode driver: the Intel 82599 family (82599ES/EN, X520 adapters) through VFIO, on the
// advanced descriptors it shares with igb. Registers itself with drivers/pci for the ids drivers/ixgbe/init.ts
// covers (ids.ts SUPPORTED_IDS: X540 and X550 are listed there, not driven). Proven against a register model
// written from the 82599 datasheet (test/ixgbe/), not yet on silicon: QEMU has no 82599.
import { registerPciDriver } from "../pci/registry.ts";
import { SUPPORTED_IDS } from "./ids.ts";
import { IXGBE_82599, IxgbePort } from "./port.ts";

export { IxgbePort, IXGBE_82599, type IxgbeChip, type StartStep } from "./port.ts";

registerPciDriver({
  name: "ixgbe",
  ids: SUPPORTED_IDS,
  create: (device, spec, _options, params) => new IxgbePort(device, spec, IXGBE_82599, params.vectors),
});
