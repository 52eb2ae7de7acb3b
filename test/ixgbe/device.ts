// A NicDevice (drivers/intel/device.ts) whose BAR 0 is the 82599 register model (model.ts) instead of a VFIO
// mapping: the real IxgbePort runs its init and start against it. The register file lives in a DMA arena, so
// a queue attached in a worker (which builds its view of the BAR from bar.addr) writes its tail into the same
// memory the model and the descriptor engine (engine.ts) read. DMA addresses are IOVAs, as behind an IOMMU.
// Interrupts: none by default (the port polls); with `msix: N` the device offers N MSI-X vectors whose
// eventfds nothing but the test signals (signal(v) plays the MSI-X message), so the port's vector routing can
// be read back from the model's IVAR/EIMS/GPIE registers.
import type { NicDevice } from "../../drivers/intel/device.ts";
import type { Mmio } from "../../drivers/intel/mmio.ts";
import { createArena, type DmaArena } from "../../src/mem/arena.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { close, eventfd, eventfdSignal } from "../../src/sys/libc.ts";
import { IrqVectors, type Bar, type IrqInfoResult, type VfioDevice } from "../../src/vfio/device.ts";
import { IRQ_INDEX, type IrqKind } from "../../src/vfio/uapi.ts";
import { Ixgbe82599Model, type ModelOptions } from "./model.ts";

const BAR_BYTES = 128 * 1024;

export class ModelDevice implements NicDevice {
  readonly fd = -1;
  readonly noIommu = false;
  readonly model: Ixgbe82599Model;
  readonly bar: Bar;
  busMaster = false;
  /** The MSI-X vectors the port enabled (their eventfds), if any. */
  irqs: IrqVectors | undefined;
  private readonly msix: number;
  private readonly arena: DmaArena;
  private closed = false;

  constructor(readonly address = "ixgbe-model", options: ModelOptions & { msix?: number } = {}) {
    const { msix = 0, ...modelOptions } = options;
    this.msix = msix;
    this.arena = createArena({ size: BAR_BYTES, name: `${address} BAR0`, hugepages: "never" });
    const u32 = new Uint32Array(this.arena.buffer, 0, BAR_BYTES / 4);
    this.model = new Ixgbe82599Model(modelOptions, u32, address);
    this.bar = { index: 0, size: BAR_BYTES, addr: this.arena.va, u32 };
  }

  /** True once closed: the register memory is gone (the engine must not touch it). */
  get isClosed(): boolean {
    return this.closed;
  }

  setBusMaster(on: boolean): void {
    this.assertOpen();
    this.busMaster = on;
  }

  mapBar(index: number): Bar {
    this.assertOpen();
    if (index !== 0) throw new BdkError(`${this.address}: BAR${index} is not modelled`, "the 82599's registers are in BAR0");
    return this.bar;
  }

  registers(_bar: Bar): Mmio {
    return this.model;
  }

  /** MSI-X vectors as asked at construction (default none); no INTx or MSI. */
  irqInfo(kind: IrqKind): IrqInfoResult {
    const count = kind === "msix" ? this.msix : 0;
    return { index: IRQ_INDEX[kind], count, flags: 0, eventfd: count > 0, maskable: false, automasked: false, noresize: true };
  }

  enableIrqs(kind: IrqKind, count: number): IrqVectors {
    this.assertOpen();
    if (kind !== "msix" || count < 1 || count > this.msix) throw new BdkError(`${this.address}: no ${count} ${kind} vectors in the 82599 register model (it has ${this.msix} MSI-X)`, "poll the queues");
    const fds = Array.from({ length: count }, () => eventfd(0));
    // IrqVectors only calls back into its device to mask or unmask, which MSI-X never needs.
    this.irqs = new IrqVectors(this as unknown as VfioDevice, kind, fds);
    return this.irqs;
  }

  /** Plays MSI-X vector v's message: its eventfd becomes readable. */
  signal(v: number): void {
    eventfdSignal(this.irqs!.fds[v]!);
  }

  dmaAddress(arena: DmaArena, offset = 0): number {
    return arena.iova + offset;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.busMaster = false;
    for (const fd of this.irqs?.fds ?? []) close(fd);
    this.irqs = undefined;
    this.arena.free();
  }

  private assertOpen(): void {
    if (this.closed) throw new BdkError(`${this.address}: the model device is closed`, "make a new ModelDevice");
  }
}
