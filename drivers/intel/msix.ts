// MSI-X as igb and ixgbe use it: vector 0 for link events ("other" causes), then one vector per RX queue,
// shared round-robin when the device has fewer than queues + 1. How many: what the spec asked
// (`0000:01:00.0,vectors=N`, 0 = none: every queue polled), else every vector the device has up to what the
// queues can use. Asking for more than there are is an error naming the count; without an ask, a device
// that will not give MSI-X is simply polled.
import { BdkError } from "../../src/sys/errors.ts";
import type { IrqVectors } from "../../src/vfio/device.ts";
import type { IrqLineHandle } from "../../src/vfio/irq-line.ts";
import type { NicDevice } from "./device.ts";

export class MsixVectors {
  private constructor(private readonly device: NicDevice, private readonly irqs: IrqVectors) {}

  /**
   * Enables the vectors. `wanted` is how many the port could use (1 + its queues), `usable` how many of the
   * device's it can address at all (ixgbe: 16, one bit each in EIMS). Undefined when there are none.
   */
  static open(device: NicDevice, name: string, asked: number | undefined, wanted: number, usable = Infinity): MsixVectors | undefined {
    const have = (): number => Math.min(device.irqInfo("msix").count, usable);
    if (asked !== undefined && (!Number.isInteger(asked) || asked < 0 || asked > have())) {
      throw new BdkError(`${name}: vectors=${asked} asked, but the device has ${have()} MSI-X vectors this driver can use`,
        `give vectors=0..${have()} (one for link events, then one per RX queue; 0 polls without interrupts)`);
    }
    try {
      const want = asked ?? Math.min(have(), wanted);
      return want > 0 ? new MsixVectors(device, device.enableIrqs("msix", want)) : undefined;
    } catch (e) {
      if (asked !== undefined) throw e;
      return undefined;
    }
  }

  get count(): number {
    return this.irqs.fds.length;
  }

  /** Vector v as an interrupt line any thread can wait on. */
  line(v: number): IrqLineHandle {
    return { deviceFd: this.device.fd, index: this.irqs.index, vector: v, eventFd: this.irqs.fds[v]! };
  }

  /** RX queue q's vector: 1 + q while vectors last, then shared round-robin; undefined with the link's vector only. */
  rxVector(q: number): number | undefined {
    const n = this.irqs.fds.length;
    return n < 2 ? undefined : 1 + (q % (n - 1));
  }
}
