// What an Intel port uses of its device: exactly the part of VfioDevice (src/vfio/device.ts) that the e1000,
// igb and ixgbe ports touch. A VfioDevice is one (structurally); a test can give a port another, such as a
// register model with its BAR in ordinary memory (test/ixgbe/device.ts), and run the real driver against it.
import type { DmaArena } from "../../src/mem/arena.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { Bar, IrqInfoResult, IrqVectors } from "../../src/vfio/device.ts";
import type { IrqKind } from "../../src/vfio/uapi.ts";
import type { Mmio } from "./mmio.ts";

export interface NicDevice {
  /** The PCI address (or a model's name): the port's name. */
  readonly address: string;
  /** The VFIO device fd (interrupt lines unmask through it); -1 for a device without one. */
  readonly fd: number;
  /** VFIO no-IOMMU mode: descriptors take physical addresses. */
  readonly noIommu: boolean;
  setBusMaster(on: boolean): void;
  mapBar(index: number): Bar;
  irqInfo(kind: IrqKind): IrqInfoResult;
  enableIrqs(kind: IrqKind, count: number): IrqVectors;
  /** The address the device must be given for `arena` + offset (IOVA, or physical in no-IOMMU mode). */
  dmaAddress(arena: DmaArena, offset?: number): number;
  close(): void;
  /** A device that models its registers returns its model for the BAR; otherwise the port reads and writes the BAR itself. */
  registers?(bar: Bar): Mmio;
}

/** A device behind an IOMMU takes IOVAs, one in no-IOMMU mode physical addresses: every pool must hold the right kind. */
export function checkPoolAddressing(name: string, device: NicDevice, pools: readonly Mempool[]): void {
  const mode = device.noIommu ? "physical" : "iova";
  for (const pool of pools) {
    if (pool.dmaAddressing !== mode) {
      throw new BdkError(`${name}: pool "${pool.name}" holds ${pool.dmaAddressing === "physical" ? "physical" : "IOVA"} addresses, but this device is ${device.noIommu ? "in no-IOMMU mode" : "behind an IOMMU"}`,
        `create the pool with dmaAddressing: "${mode}"`);
    }
  }
}
