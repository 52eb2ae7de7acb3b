// An interrupt line as plain data ({ deviceFd, index, vector, eventFd }) that any thread of the process can
// use: wait on its eventfd (epoll) and unmask it after handling (INTx is automasked by VFIO after each
// interrupt). Built once; unmask() is one ioctl with a request made in advance (no allocation).
import { raw } from "../sys/libc.ts";
import { IrqSetHeader, VFIO_DEVICE_SET_IRQS, VFIO_IRQ_SET_ACTION_UNMASK, VFIO_IRQ_SET_DATA_NONE } from "./uapi.ts";

export interface IrqLineHandle {
  deviceFd: number;
  /** VFIO IRQ index: 0 INTx, 1 MSI, 2 MSI-X. */
  index: number;
  vector: number;
  eventFd: number;
}

export class IrqLine {
  private readonly unmaskRequest: Uint8Array;
  private readonly scratch = new BigUint64Array(1);

  constructor(readonly h: IrqLineHandle) {
    this.unmaskRequest = new Uint8Array(IrqSetHeader.size);
    IrqSetHeader.encode({
      argsz: IrqSetHeader.size, flags: VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, index: h.index, start: h.vector, count: 1,
    }, this.unmaskRequest);
  }

  get eventFd(): number {
    return this.h.eventFd;
  }

  /** Lets the next interrupt through (INTx; harmless for MSI/MSI-X, which VFIO does not mask). */
  unmask(): void {
    if (this.h.index === 0) raw.ioctl(this.h.deviceFd, VFIO_DEVICE_SET_IRQS, this.unmaskRequest);
  }

  /** Clears the eventfd's count (non-blocking read); returns how many interrupts it held. */
  drain(): number {
    const n = Number(raw.read(this.h.eventFd, this.scratch, 8));
    return n === 8 ? Number(this.scratch[0]) : 0;
  }
}
