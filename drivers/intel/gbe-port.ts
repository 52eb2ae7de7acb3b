// What an e1000 (8254x, 82574) port and an igb (82576) port do the same way, on the registers they share
// (drivers/intel/gbe-regs.ts): link status, the MAC address, unicast/multicast promiscuous mode, the
// multicast table, the VLAN filter table, MTU bookkeeping, hardware statistics and the link interrupt.
// Each driver's port extends this with its queues, its RCTL and its interrupt wiring.
import { PortBase } from "../../src/ethdev/base.ts";
import type { LinkStatus, PortStats, XStat } from "../../src/ethdev/port.ts";
import { checkUnicastMac } from "../../src/ethdev/soft.ts";
import type { Bar } from "../../src/vfio/device.ts";
import type { IrqLine } from "../../src/vfio/irq-line.ts";
import type { NicDevice } from "./device.ts";
import { checkVlanFilter, multicastTable } from "./filters.ts";
import { linkStatus, readMac, writeMac } from "./gbe-init.ts";
import { CTRL, HW_COUNTERS, ICR, MTA, MTA_WORDS, RCTL, VFTA } from "./gbe-regs.ts";
import { HwStats } from "./hwstats.ts";
import { Mmio } from "./mmio.ts";

const LINK_DOWN: LinkStatus = { up: false, speedMbps: 0, fullDuplex: false };

export abstract class GbePort extends PortBase {
  protected readonly bar: Bar;
  protected readonly regs: Mmio;
  protected readonly hw: HwStats;
  /** The interrupt that carries link changes (the port's eventFd), if the device gave one. */
  protected linkIrq: IrqLine | undefined;
  protected promisc = true;
  protected allMulti = false;
  protected mtuValue = 1500;

  constructor(readonly device: NicDevice, spec: string, driver: string) {
    super(spec, driver, device.address);
    device.setBusMaster(true);
    this.bar = device.mapBar(0);
    this.regs = device.registers?.(this.bar) ?? new Mmio(this.bar.u32, device.address);
    this.hw = new HwStats(this.regs, HW_COUNTERS);
  }

  /** RCTL for the current state (receive on, filters, buffer size, long packets). */
  protected abstract rctl(): number;
  /** Throws when `mtu` does not fit the chip or the receive buffers. */
  protected abstract checkMtu(mtu: number): void;
  /** RCTL.LPE is needed for frames of this MTU (the chip's long-packet threshold). */
  protected longPackets(mtu: number): boolean {
    return mtu > 1500;
  }

  link(): LinkStatus {
    if (this.closed) return { ...LINK_DOWN };
    return linkStatus(this.regs);
  }

  macAddress(): string {
    this.assertOpen();
    return readMac(this.regs);
  }

  setMacAddress(mac: string): void {
    this.assertOpen();
    writeMac(this.regs, checkUnicastMac(this.name, mac));
  }

  promiscuous(): boolean {
    return this.promisc;
  }

  setPromiscuous(on: boolean): void {
    this.assertOpen();
    if (on === this.promisc) return;
    this.promisc = on;
    if (this.started) this.regs.write(RCTL, this.rctl());
  }

  override allMulticast(): boolean {
    return this.allMulti;
  }

  override setAllMulticast(on: boolean): void {
    this.assertOpen();
    if (on === this.allMulti) return;
    this.allMulti = on;
    if (this.started && !this.promisc) this.regs.write(RCTL, this.rctl());
  }

  /** SDM 13.4.29 and 14.4: the multicast table array, one bit per 12-bit hash of a group address. */
  override setMulticastAddresses(macs: readonly string[]): void {
    this.assertOpen();
    const words = multicastTable(this.name, macs);
    for (let i = 0; i < MTA_WORDS; i++) this.regs.write(MTA + 4 * i, words[i]!);
  }

  /** SDM 13.4.41: the VLAN filter table array, one bit per VLAN id (RCTL.VFE turns it on). */
  override setVlanFilter(vid: number, on: boolean): void {
    this.assertOpen();
    checkVlanFilter(this.name, this.config, vid);
    const reg = VFTA + 4 * (vid >>> 5);
    if (on) this.regs.set(reg, 1 << (vid & 31));
    else this.regs.clear(reg, 1 << (vid & 31));
  }

  mtu(): number {
    return this.mtuValue;
  }

  setMtu(mtu: number): void {
    this.assertOpen();
    this.checkMtu(mtu);
    const was = this.rctl();
    this.mtuValue = mtu;
    this.mtuChanged();
    if (this.started && this.rctl() !== was) this.regs.write(RCTL, this.rctl());
  }

  /** A chip with a frame-length register (igb's RLPML) sets it here. */
  protected mtuChanged(): void {}

  // ---- stats and events ----

  override stats(): PortStats {
    const s = super.stats();
    this.hw.update();
    s.imissed += this.hw.get("rx_missed_packets");
    s.ierrors += this.hw.get("rx_crc_errors") + this.hw.get("rx_length_errors") + this.hw.get("rx_errors");
    return s;
  }

  override resetStats(): void {
    super.resetStats();
    this.hw.reset();
  }

  /**
   * The chip's counters, and its flow control as left at the default (SDM 13.4.1: CTRL.RFCE honours received
   * PAUSE frames, CTRL.TFCE sends them; bdk does not change either).
   */
  protected override driverXstats(): XStat[] {
    const ctrl = this.regs.read(CTRL);
    return [...this.hw.all(), { name: "flow_control_rx_enabled", value: (ctrl >>> 27) & 1 }, { name: "flow_control_tx_enabled", value: (ctrl >>> 28) & 1 }];
  }

  override eventFd(): number {
    return this.linkIrq ? this.linkIrq.eventFd : -1;
  }

  /** Clears the interrupt: the causes (ICR read), the eventfd, and INTx's automask (MSI-X has none). */
  protected override drainEventFd(): void {
    if (!this.linkIrq || this.closed || this.linkIrq.drain() === 0) return;
    this.regs.read(ICR);
    this.linkIrq.unmask();
  }
}
