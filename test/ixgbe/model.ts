// A register model of one Intel 82599 port, written from the 82599 10 GbE Controller Datasheet, to check the
// ixgbe init sequence without a NIC (there is no emulator of the chip). It is an Mmio: driver code reads and
// writes it as it would BAR0. It does what the datasheet says the hardware does (self-clearing bits, reset
// values, status that appears some reads later, clear-on-read counters, write-1-to-clear causes) and refuses,
// at the offending access, what the datasheet says software must not do: each refusal names its rule and is
// thrown as an Error (and kept in `violations`). Tail registers written with Atomics.store on `u32` land in the
// same array, so a state snapshot sees them; such stores bypass the checks.
import { Mmio } from "../../drivers/intel/mmio.ts";
import * as R from "../../drivers/ixgbe/regs.ts";
import { canonical, DEFAULTS, resetValues, rxQueueOf, snapshot, txQueueOf, type ModelOptions, type ModelState } from "./model-state.ts";

export type { ModelOptions, ModelState, RxQueueState, TxQueueState } from "./model-state.ts";

/** Software's enable request of a queue, the reads left until hardware follows it, and whether software has seen it on. */
interface QueueFlags {
  req: boolean;
  left: number;
  seen: boolean;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const freshQueues = (): QueueFlags[] => Array.from({ length: 128 }, () => ({ req: false, left: 0, seen: false }));

export class Ixgbe82599Model extends Mmio {
  readonly violations: string[] = [];
  resets = 0;
  anRestarts = 0;
  private readonly o: Required<ModelOptions>;
  private resetting = false;
  private resetAt = 0;
  private ctrlLeft = 0;
  private eecLeft = 0;
  private dmaLeft = 0;
  private dmaSeen = false;
  private secLeft = 0;
  private secSeen = false;
  private cable = true;
  private linkLeft = 0;
  private rxq = freshQueues();
  private txq = freshQueues();
  /** Clear-on-read counter offsets, and those read since the last reset. */
  readonly counters = new Set<number>(R.HW_COUNTERS.flatMap((c) => (c.wide ? [c.offset, c.offset + 4] : [c.offset])));
  readonly countersRead = new Set<number>();

  /**
   * `regs`: the register file to model, e.g. a view of memory other threads also map (test/ixgbe/device.ts puts
   * it in a DMA arena so that queues attached in a worker write their tails into it); at least 128 KiB.
   */
  constructor(options: ModelOptions = {}, regs?: Uint32Array, name = "ixgbe-model") {
    if (regs && regs.byteLength < 0x20000) throw new Error(`82599 model: a ${regs.byteLength}-byte register file is too small (the registers used reach 0x1ffff: give 128 KiB)`);
    super(regs ?? new Uint32Array(0x20000), name);
    this.o = { ...DEFAULTS, ...options };
    this.completeReset(); // power-on: the chip has read its EEPROM and initialized DMA on its own
    this.u32[R.EEC >>> 2]! |= R.EEC_ARD;
    this.u32[R.RDRXCTL >>> 2]! |= R.RDRXCTL_DMAIDONE;
    this.eecLeft = this.dmaLeft = 0;
    this.resets = 0;
  }

  /** What the driver configured, read from the registers. */
  get state(): ModelState {
    return snapshot(this.u32, { resetting: this.resetting, resets: this.resets, anRestarts: this.anRestarts, counters: this.counters, countersRead: this.countersRead });
  }

  /** Pulls the cable: LINKS down and EICR.LSC. */
  linkDown(): void {
    this.cable = false;
    this.linkLeft = 0;
    this.setLink(false);
  }

  /** Plugs the cable back: the link trains and is up `linkReads` reads of LINKS later (with EICR.LSC). */
  linkUp(): void {
    this.cable = true;
    this.linkLeft = this.o.linkReads;
  }

  /** Counts `n` events into a statistics register (a wide one takes the low/high pair). */
  count(offset: number, n: number): void {
    const i = offset >>> 2;
    const v = this.u32[i]! + n;
    this.u32[i] = v % 0x1_0000_0000;
    if (this.counters.has(offset + 4) && v > 0xffffffff) this.u32[i + 1]! += Math.floor(v / 0x1_0000_0000);
  }

  override read(offset: number): number {
    const off = canonical(offset);
    const i = off >>> 2;
    const u = this.u32;
    if (off === R.CTRL) {
      if (this.resetting) {
        if (performance.now() - this.resetAt < this.o.resetGuardMs) this.violation(`CTRL read ${(performance.now() - this.resetAt).toFixed(2)} ms after CTRL.RST was set (8.2.3.1.1: wait ~1 ms before checking whether it cleared)`);
        if (--this.ctrlLeft <= 0) this.completeReset();
      }
      return u[i]!;
    }
    this.guard(off);
    if (off === R.STATUS && (u[R.CTRL >>> 2]! & R.CTRL_GIO_DIS) !== 0) u[i]! &= ~R.STATUS_GIO; // the master quiesces at once here
    else if (off === R.EEC && this.eecLeft > 0 && --this.eecLeft === 0) u[i]! |= R.EEC_ARD;
    else if (off === R.RDRXCTL) {
      if (this.dmaLeft > 0 && --this.dmaLeft === 0) u[i]! |= R.RDRXCTL_DMAIDONE;
      if (u[i]! & R.RDRXCTL_DMAIDONE) this.dmaSeen = true;
    } else if (off === R.EICR) {
      const v = u[i]!;
      u[i] = 0; // clear on read
      return v;
    } else if (off === R.LINKS && this.linkLeft > 0 && --this.linkLeft === 0) this.setLink(true);
    else if (off === R.SECRXSTAT) {
      if (this.secLeft > 0 && --this.secLeft === 0) u[i]! |= R.SECRXSTAT_SECRX_RDY;
      if (u[i]! & R.SECRXSTAT_SECRX_RDY) this.secSeen = true;
    } else if (this.counters.has(off)) {
      const v = u[i]!;
      u[i] = 0;
      this.countersRead.add(off);
      return v;
    } else if (rxQueueOf(off) >= 0 && (off & 0x3f) === 0x28) this.followEnable(this.rxq[rxQueueOf(off)]!, i, R.RXDCTL_ENABLE);
    else if (txQueueOf(off) >= 0 && (off & 0x3f) === 0x28) this.followEnable(this.txq[txQueueOf(off)]!, i, R.TXDCTL_ENABLE);
    return u[i]!;
  }

  override write(offset: number, value: number): void {
    const off = canonical(offset);
    const i = off >>> 2;
    const u = this.u32;
    const v = value >>> 0;
    const old = u[i]!;
    if (off === R.CTRL) return this.writeCtrl(v);
    this.guard(off);
    switch (off) {
      case R.STATUS: case R.LINKS: case R.SECRXSTAT:
        return this.violation(`write of ${hex(v)} to read-only register ${hex(off)}`);
      case R.EICR: u[i] = old & ~v; return; // write 1 to clear
      case R.EICS: u[R.EICR >>> 2]! |= v; return;
      case R.EIMS: u[i] = old | v; return;
      case R.EIMC: u[R.EIMS >>> 2]! &= ~v; return;
      case R.EIMC_EX(0): case R.EIMC_EX(1): u[(off - R.EIMC_EX(0) + R.EIMS_EX(0)) >>> 2]! &= ~v; return;
      case R.EIMS_EX(0): case R.EIMS_EX(1): u[i] = old | v; return;
      case R.EEC: u[i] = (v & 0x77) | (old & ~0x77); return; // only SK, CS, DI, FWE and REQ are writable
      case R.RDRXCTL: u[i] = (v & ~R.RDRXCTL_DMAIDONE) | (old & R.RDRXCTL_DMAIDONE); return;
      case R.AUTOC: return this.writeAutoc(v);
      case R.RXCTRL:
        if (v & R.RXCTRL_RXEN && !(old & R.RXCTRL_RXEN)) this.checkRxEnable();
        u[i] = v;
        return;
      case R.FCTRL:
        if (u[R.RXCTRL >>> 2]! & R.RXCTRL_RXEN) this.violation("FCTRL written while RXCTRL.RXEN is set (8.2.3.7.1: receive filters change only with RXEN cleared)");
        u[i] = v;
        return;
      case R.SECRXCTRL:
        if ((v ^ old) & R.SECRXCTRL_RX_DIS) {
          u[R.SECRXSTAT >>> 2] = 0;
          this.secSeen = false;
          this.secLeft = v & R.SECRXCTRL_RX_DIS ? this.o.secRxReads : 0;
        }
        u[i] = v;
        return;
      case R.MTQC:
        if (!(u[R.RTTDCS >>> 2]! & R.RTTDCS_ARBDIS)) this.violation("MTQC written while RTTDCS.ARBDIS is clear (7.2.1.2.1: set ARBDIS before configuring MTQC, clear it afterwards)");
        if (u[R.DMATXCTL >>> 2]! & R.DMATXCTL_TE) this.violation("MTQC written after DMATXCTL.TE was set (7.2.1.2.1: MTQC is programmed only during the init phase)");
        u[i] = v;
        return;
      case R.DMATXCTL:
        if (v & R.DMATXCTL_TE && !(old & R.DMATXCTL_TE)) this.startTx();
        u[i] = v;
        return;
    }
    const rq = rxQueueOf(off);
    if (rq >= 0) return this.writeRxQueue(rq, off & 0x3f, i, v, old);
    const tq = txQueueOf(off);
    if (tq >= 0) return this.writeTxQueue(tq, off & 0x3f, i, v, old);
    u[i] = v;
  }

  private violation(rule: string): void {
    const msg = `82599 model: ${rule}`;
    this.violations.push(msg);
    if (this.o.throwOnViolation) throw new Error(msg);
  }

  private guard(off: number): void {
    if (this.resetting) this.violation(`register ${hex(off)} accessed while the global reset is in progress (4.6.3.2 / 8.2.3.1.1: poll CTRL until RST clears first)`);
  }

  private writeCtrl(v: number): void {
    const i = R.CTRL >>> 2;
    if (v & (R.CTRL_RST | R.CTRL_LRST)) {
      if (!this.resetting && this.u32[R.STATUS >>> 2]! & R.STATUS_GIO) {
        this.violation("CTRL.RST set while STATUS.GIO still reads 1 (5.2.5.3.2: set CTRL.GIO_DIS and poll STATUS.GIO before a reset)");
      }
      this.resetting = true;
      this.resetAt = performance.now();
      this.ctrlLeft = this.o.resetReads;
    }
    this.u32[i] = v;
  }

  /** A reset completes: reset values everywhere, and the chip's own initialization starts over. */
  private completeReset(): void {
    resetValues(this.u32, this.o);
    this.resetting = false;
    this.resets++;
    this.eecLeft = this.o.eepromReads;
    this.dmaLeft = this.o.dmaInitReads;
    this.dmaSeen = this.secSeen = false;
    this.secLeft = this.linkLeft = 0;
    this.rxq = freshQueues();
    this.txq = freshQueues();
    this.countersRead.clear();
  }

  private setLink(up: boolean): void {
    const i = R.LINKS >>> 2;
    const was = (this.u32[i]! & R.LINKS_UP) !== 0;
    this.u32[i] = up ? R.LINKS_UP | (R.LINKS_SPEED_10G << R.LINKS_SPEED_SHIFT) : 0;
    if (was !== up) this.u32[R.EICR >>> 2]! |= R.EICR_LSC;
  }

  /** 8.2.3.22.19: AUTOC.RESTART_AN self-clears; the link drops and retrains (if the cable is in). */
  private writeAutoc(v: number): void {
    if (v & R.AUTOC_RESTART_AN) {
      this.anRestarts++;
      this.setLink(false);
      this.linkLeft = this.cable ? this.o.linkReads : 0;
    }
    this.u32[R.AUTOC >>> 2] = v & ~R.AUTOC_RESTART_AN;
  }

  private followEnable(f: QueueFlags, i: number, bit: number): void {
    if (f.left > 0 && --f.left === 0) this.u32[i] = f.req ? this.u32[i]! | bit : this.u32[i]! & ~bit;
    if (f.req && this.u32[i]! & bit) f.seen = true;
  }

  private checkRxEnable(): void {
    const u = this.u32;
    if (!this.dmaSeen) this.violation("RXCTRL.RXEN set before RDRXCTL.DMAIDONE was read as 1 (4.6.3: wait for DMA initialization before initializing receive)");
    const hl = (u[R.HLREG0 >>> 2]! & R.HLREG0_RXCRCSTRP) !== 0;
    const rd = (u[R.RDRXCTL >>> 2]! & R.RDRXCTL_CRCSTRIP) !== 0;
    if (hl !== rd) this.violation(`RXCTRL.RXEN set with HLREG0.RXCRCSTRP = ${+hl} but RDRXCTL.CRCSTRIP = ${+rd} (4.6.7: they must be set to the same value)`);
    if (u[R.RDRXCTL >>> 2]! & R.RDRXCTL_RSCFRSTSIZE) this.violation("RXCTRL.RXEN set with RDRXCTL.RSCFRSTSIZE non-zero (4.6.7: software sets it to 0)");
    if (!this.rxq.some((f) => f.seen)) this.violation("RXCTRL.RXEN set before any RX queue was enabled (4.6.7: enable the receive path only after all other settings)");
    if (!(u[R.SECRXCTRL >>> 2]! & R.SECRXCTRL_RX_DIS) || !this.secSeen) this.violation("RXCTRL.RXEN set without halting the RX path first (4.6.7: set SECRXCTRL.RX_DIS and poll SECRXSTAT.SECRX_RDY)");
  }

  private startTx(): void {
    if (!this.dmaSeen) this.violation("DMATXCTL.TE set before RDRXCTL.DMAIDONE was read as 1 (4.6.3: wait for DMA initialization before initializing transmit)");
    if (this.u32[R.TDLEN(0) >>> 2] === 0) this.violation("DMATXCTL.TE set before TX queue 0 has a ring (8.2.3.9.10: setting TE enables queue 0 as well)");
    const f = this.txq[0]!;
    if (!f.req) Object.assign(f, { req: true, left: this.o.queueEnableReads, seen: false });
  }

  private writeRxQueue(q: number, reg: number, i: number, v: number, old: number): void {
    const f = this.rxq[q]!;
    const active = f.req || (this.u32[R.RXDCTL(q) >>> 2]! & R.RXDCTL_ENABLE) !== 0;
    const names: Record<number, string> = { 0x00: "RDBAL", 0x04: "RDBAH", 0x08: "RDLEN", 0x10: "RDH", 0x14: "SRRCTL" };
    if (names[reg] && active) this.violation(`${names[reg]}[${q}] written while RX queue ${q} is enabled (4.6.7 / 4.6.7.1: a ring is programmed only while its queue is disabled)`);
    if (reg === 0x00 && v & 0x7f) this.violation(`RDBAL[${q}] = ${hex(v)} is not 128-byte aligned (8.2.3.8.1)`);
    if (reg === 0x08 && v & 0x7f) this.violation(`RDLEN[${q}] = ${v} is not a multiple of 128 (8.2.3.8.3)`);
    if (reg === 0x18 && v !== 0 && !f.seen) this.violation(`RDT[${q}] bumped before RXDCTL[${q}].ENABLE was read back as 1 (4.6.7)`);
    if (reg === 0x28) {
      const want = (v & R.RXDCTL_ENABLE) !== 0;
      if (want && !f.req) {
        if (!this.dmaSeen) this.violation(`RXDCTL[${q}].ENABLE set before RDRXCTL.DMAIDONE was read as 1 (4.6.3)`);
        if (this.u32[R.RDLEN(q) >>> 2] === 0) this.violation(`RXDCTL[${q}].ENABLE set before the queue has a ring (4.6.7: RDBAL/RDBAH/RDLEN first)`);
        const s = this.u32[R.SRRCTL(q) >>> 2]!;
        if ((s & R.SRRCTL_BSIZEPACKET_MASK) === 0) this.violation(`RXDCTL[${q}].ENABLE set with SRRCTL.BSIZEPACKET = 0 (8.2.3.8.7)`);
        if (![0, 1, 2, 5].includes((s & R.SRRCTL_DESCTYPE_MASK) >>> 25)) this.violation(`RXDCTL[${q}].ENABLE set with a reserved SRRCTL.DESCTYPE (8.2.3.8.7)`);
      }
      if (want !== f.req) Object.assign(f, { req: want, left: this.o.queueEnableReads, seen: false });
      this.u32[i] = (v & ~R.RXDCTL_ENABLE) | (old & R.RXDCTL_ENABLE); // hardware follows some reads later
      return;
    }
    this.u32[i] = reg === 0x00 ? v & ~0x7f : v;
  }

  private writeTxQueue(q: number, reg: number, i: number, v: number, old: number): void {
    const f = this.txq[q]!;
    const active = f.req || (this.u32[R.TXDCTL(q) >>> 2]! & R.TXDCTL_ENABLE) !== 0;
    const names: Record<number, string> = { 0x00: "TDBAL", 0x04: "TDBAH", 0x08: "TDLEN", 0x10: "TDH" };
    if (names[reg] && active) this.violation(`${names[reg]}[${q}] written while TX queue ${q} is enabled (4.6.8 / 4.6.8.1: a ring is programmed only while its queue is disabled)`);
    if (reg === 0x00 && v & 0x7f) this.violation(`TDBAL[${q}] = ${hex(v)} is not 128-byte aligned (8.2.3.9.5)`);
    if (reg === 0x08 && v & 0x7f) this.violation(`TDLEN[${q}] = ${v} is not a multiple of 128 (8.2.3.9.7)`);
    if (reg === 0x18 && v !== 0 && !f.seen) this.violation(`TDT[${q}] bumped before TXDCTL[${q}].ENABLE was read back as 1 (4.6.8: the tail is not bumped until the queue is enabled)`);
    if (reg === 0x28) {
      const want = (v & R.TXDCTL_ENABLE) !== 0;
      if (want && !f.req) {
        if (!(this.u32[R.DMATXCTL >>> 2]! & R.DMATXCTL_TE)) this.violation(`TXDCTL[${q}].ENABLE set while DMATXCTL.TE is clear (4.6.8: enable the transmit path before the first queue)`);
        if (this.u32[R.TDLEN(q) >>> 2] === 0) this.violation(`TXDCTL[${q}].ENABLE set before the queue has a ring (4.6.8: TDBAL/TDBAH/TDLEN first)`);
        if ((v & 0x7f) !== 0 && ((v >>> R.TXDCTL_HTHRESH_SHIFT) & 0x7f) === 0) this.violation(`TXDCTL[${q}] uses PTHRESH with HTHRESH = 0 (8.2.3.9.10: HTHRESH must be non-zero whenever PTHRESH is used)`);
      }
      if (want !== f.req) Object.assign(f, { req: want, left: this.o.queueEnableReads, seen: false });
      this.u32[i] = (v & ~R.TXDCTL_ENABLE) | (old & R.TXDCTL_ENABLE);
      return;
    }
    this.u32[i] = reg === 0x00 ? v & ~0x7f : v;
  }
}
