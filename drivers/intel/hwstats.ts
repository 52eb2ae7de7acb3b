// Hardware statistics registers that clear on read (Intel 8254x/82574/82576/82599 alike), folded into
// 64-bit totals in software: each read adds what the chip counted since the last one. 64-bit counters
// (GORC, GOTC …) are a low/high register pair read low first, as the datasheets require.
import type { Mmio } from "./mmio.ts";

export interface HwCounter {
  /** The xstats name (DPDK's where it has one). */
  name: string;
  /** Register offset (the low half for a 64-bit pair). */
  offset: number;
  /** True for a low/high pair. */
  wide?: boolean;
}

export class HwStats {
  private readonly totals: Float64Array;

  constructor(private readonly regs: Mmio, readonly counters: readonly HwCounter[]) {
    this.totals = new Float64Array(counters.length);
  }

  /** Reads every counter (clearing it in the chip) and adds it to the totals. */
  update(): void {
    const c = this.counters;
    for (let i = 0; i < c.length; i++) {
      const r = c[i]!;
      const lo = this.regs.read(r.offset);
      this.totals[i]! += r.wide ? lo + this.regs.read(r.offset + 4) * 0x1_0000_0000 : lo;
    }
  }

  get(name: string): number {
    const i = this.counters.findIndex((c) => c.name === name);
    return i < 0 ? 0 : this.totals[i]!;
  }

  /** Reads the chip (to clear it) and forgets the totals. */
  reset(): void {
    this.update();
    this.totals.fill(0);
  }

  all(): { name: string; value: number }[] {
    this.update();
    return this.counters.map((c, i) => ({ name: c.name, value: this.totals[i]! }));
  }
}
