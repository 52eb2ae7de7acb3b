// A NIC's register file (BAR0) as the datasheets describe it: 32-bit registers at byte offsets. Setup code
// reads and writes through these helpers; the burst functions write their tail register directly
// (Atomics.store on the same Uint32Array) once per burst, after the descriptors.
import { BdkError } from "../../src/sys/errors.ts";
import { usleep } from "../../src/sys/libc.ts";

export class Mmio {
  constructor(readonly u32: Uint32Array, readonly name: string) {}

  read(offset: number): number {
    return Atomics.load(this.u32, offset >>> 2) >>> 0;
  }

  write(offset: number, value: number): void {
    Atomics.store(this.u32, offset >>> 2, value >>> 0);
  }

  set(offset: number, bits: number): void {
    this.write(offset, this.read(offset) | bits);
  }

  clear(offset: number, bits: number): void {
    this.write(offset, this.read(offset) & ~bits);
  }

  /** Polls until (reg & mask) === value, or throws after `timeoutMs` naming the register and the step. */
  waitFor(offset: number, mask: number, value: number, timeoutMs: number, what: string): void {
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (((this.read(offset) & mask) >>> 0) === value >>> 0) return;
      if (performance.now() > until) {
        throw new BdkError(`${this.name}: ${what} did not happen within ${timeoutMs} ms (register 0x${offset.toString(16)} = 0x${this.read(offset).toString(16)})`,
          "the device may be hung: give it back to the kernel (bdk devbind --restore) and bind it again");
      }
      usleep(100);
    }
  }
}

/** lo + hi × 2^32 with a carry when lo + off overflows 32 bits (a buffer may cross a 4 GiB line of IOVA space). */
export function dmaWords(lo: number, hi: number, off: number, out: Uint32Array, at: number): void {
  const a = lo + off;
  out[at] = a >>> 0;
  out[at + 1] = hi + (a > 0xffffffff ? 1 : 0);
}
