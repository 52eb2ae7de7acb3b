// The ixgbe port's control plane apart from queues and start/stop (drivers/ixgbe/port.ts): the device and its
// registers, the receive filters (unicast address, promiscuous and all-multicast modes, the multicast table,
// the VLAN filter table), the MTU, link status and events, and the hardware counters. Sections cite the Intel
// 82599 10 GbE Controller Datasheet; the register steps themselves are drivers/ixgbe/init-rx.ts.
//
// initRx (4.6.7) clears the multicast and VLAN tables at every start, so the port keeps what the app asked for
// (the multicast list, the VLAN ids) and writes it back after initRx (restoreFilters).
import { PortBase } from "../../src/ethdev/base.ts";
import { RX_OFFLOAD_SCATTER, RX_OFFLOAD_VLAN_FILTER } from "../../src/ethdev/offloads.ts";
import type { LinkStatus, PortStats, ResolvedPortConfig, XStat } from "../../src/ethdev/port.ts";
import { checkUnicastMac } from "../../src/ethdev/soft.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { Bar } from "../../src/vfio/device.ts";
import type { IrqLine } from "../../src/vfio/irq-line.ts";
import type { NicDevice } from "../intel/device.ts";
import { checkVlanFilter, multicastTable } from "../intel/filters.ts";
import { HwStats } from "../intel/hwstats.ts";
import { Mmio } from "../intel/mmio.ts";
import { linkStatus, readMac, setMaxFrame, setMulticastFilter, setPromiscuous, setVlanFilter, setVlanId, writeMac } from "./init.ts";
import * as R from "./regs.ts";

const LINK_DOWN: LinkStatus = { up: false, speedMbps: 0, fullDuplex: false };
/** Ethernet header and CRC around an MTU's payload: MAXFRS counts both and not a VLAN tag (8.2.3.22.13 adds 4 for tagged frames). */
const FRAME_OVERHEAD = 18;
/** Without HLREG0.JUMBOEN the 82599 takes frames up to 1518 bytes (CRC included) whatever MAXFRS says. */
const STANDARD_FRAME = 1518;
/** The counters of frames lost for lack of room: the packet buffer's (MPC) and, with SRRCTL.DROP_EN, each queue's (QPRDC). */
const MISSED = ["rx_total_missed_packets", ...Array.from({ length: 16 }, (_, n) => `rx_q${n}_no_dma_resources`)];
/** Frames received with an error, as DPDK's ixgbe sums them into ierrors (CRC, short, length, under/oversize, illegal byte, error byte, fragment). */
const ERRORS = ["rx_crc_errors", "rx_mac_short_packet_dropped", "rx_length_errors", "rx_undersize_errors", "rx_oversize_errors", "rx_illegal_byte_errors", "rx_error_bytes", "rx_fragment_errors"];

export abstract class IxgbeFilters extends PortBase {
  protected readonly bar: Bar;
  protected readonly regs: Mmio;
  protected readonly hw: HwStats;
  /** The interrupt that carries link changes (MSI-X vector 0: the port's eventFd), if the device gave one. */
  protected linkIrq: IrqLine | undefined;
  protected promisc = true;
  protected allMulti = false;
  protected mtuValue = 1500;
  /** Receive buffer size (SRRCTL.BSIZEPACKET, in KiB, 1..16) for the current configuration. */
  protected bufferKb = 2;
  /** What the app asked for, written again after initRx clears the tables. */
  private multicast: string[] = [];
  private readonly vlans = new Uint32Array(R.VFTA_WORDS);

  constructor(readonly device: NicDevice, spec: string, readonly maxFrameSize: number) {
    super(spec, "ixgbe", device.address);
    device.setBusMaster(true);
    this.bar = device.mapBar(0);
    this.regs = device.registers?.(this.bar) ?? new Mmio(this.bar.u32, device.address);
    this.hw = new HwStats(this.regs, R.HW_COUNTERS);
  }

  link(): LinkStatus {
    if (this.closed) return { ...LINK_DOWN };
    return linkStatus(this.regs);
  }

  macAddress(): string {
    this.assertOpen();
    return readMac(this.regs);
  }

  /** 8.2.3.7.8–9: receive address 0 (RAL/RAH[0], RAH.AV). */
  setMacAddress(mac: string): void {
    this.assertOpen();
    writeMac(this.regs, checkUnicastMac(this.name, mac));
  }

  promiscuous(): boolean {
    return this.promisc;
  }

  /** 8.2.3.7.1 FCTRL.UPE/MPE, written with RXCTRL.RXEN clear (setPromiscuous pauses a running receiver). */
  setPromiscuous(on: boolean): void {
    this.assertOpen();
    if (on === this.promisc) return;
    this.promisc = on;
    setPromiscuous(this.regs, this.promisc, this.allMulti);
  }

  override allMulticast(): boolean {
    return this.allMulti;
  }

  override setAllMulticast(on: boolean): void {
    this.assertOpen();
    if (on === this.allMulti) return;
    this.allMulti = on;
    setPromiscuous(this.regs, this.promisc, this.allMulti);
  }

  /** 8.2.3.7.7 MTA, one bit per 12-bit hash of a group address (MCSTCTRL.MO = 00b), and MCSTCTRL.MFE on while the list is not empty. */
  override setMulticastAddresses(macs: readonly string[]): void {
    this.assertOpen();
    multicastTable(this.name, macs); // refuses what is not a group address
    this.multicast = [...macs];
    setMulticastFilter(this.regs, this.multicast);
  }

  /** The VLAN filter table (VFTA, 8.2.3.7), one bit per VLAN id; VLNCTRL.VFE (on at start with RX_OFFLOAD_VLAN_FILTER) makes it decide. */
  override setVlanFilter(vid: number, on: boolean): void {
    this.assertOpen();
    checkVlanFilter(this.name, this.config, vid);
    if (on) this.vlans[vid >>> 5]! |= 1 << (vid & 31);
    else this.vlans[vid >>> 5]! &= ~(1 << (vid & 31));
    setVlanId(this.regs, vid, on);
  }

  /** After initRx (4.6.7) zeroed them: the multicast table and MCSTCTRL, the VFTA, and VLNCTRL.VFE as configured. */
  protected restoreFilters(): void {
    const r = this.regs;
    setMulticastFilter(r, this.multicast);
    for (let i = 0; i < this.vlans.length; i++) r.write(R.VFTA + 4 * i, this.vlans[i]!);
    setVlanFilter(r, (this.cfg.rxOffloads & RX_OFFLOAD_VLAN_FILTER) !== 0);
  }

  mtu(): number {
    return this.mtuValue;
  }

  /** MAXFRS.MFS and HLREG0.JUMBOEN (8.2.3.22.13, 4.6.7), at once: the 82599 takes them while receiving. */
  setMtu(mtu: number): void {
    this.assertOpen();
    this.checkMtu(mtu);
    this.mtuValue = mtu;
    setMaxFrame(this.regs, this.maxFrame());
  }

  /** The longest frame (CRC included, VLAN tag not) for the MTU: MAXFRS.MFS. */
  protected maxFrame(): number {
    return Math.max(STANDARD_FRAME, this.mtuValue + FRAME_OVERHEAD);
  }

  /** The MTU must fit the chip and, without scatter, one receive buffer. */
  protected checkMtu(mtu: number, config: ResolvedPortConfig | undefined = this.config): void {
    const max = this.maxFrameSize - FRAME_OVERHEAD;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) throw new BdkError(`${this.name}: MTU ${mtu} is out of range`, `this port supports 68..${max}`);
    const bytes = this.bufferKb * 1024;
    if (config && mtu + FRAME_OVERHEAD > bytes && (config.rxOffloads & RX_OFFLOAD_SCATTER) === 0) {
      throw new BdkError(`${this.name}: MTU ${mtu} frames do not fit the ${bytes}-byte receive buffers`,
        `configure rxOffloads: RX_OFFLOAD_SCATTER (frames arrive as chains), or create the pool with dataRoom ≥ ${Math.ceil((mtu + FRAME_OVERHEAD) / 1024) * 1024}`);
    }
  }

  // ---- stats and events ----

  /** The queues' counts, with the chip's (8.2.3.23): imissed from MPC and QPRDC, ierrors from the MAC's error counters. */
  override stats(): PortStats {
    const s = super.stats();
    if (this.closed) return s;
    this.hw.update();
    for (const name of MISSED) s.imissed += this.hw.get(name);
    for (const name of ERRORS) s.ierrors += this.hw.get(name);
    return s;
  }

  override resetStats(): void {
    super.resetStats();
    if (!this.closed) this.hw.reset();
  }

  /** The chip's counters by DPDK's names (clear-on-read registers folded into 64-bit totals). */
  protected override driverXstats(): XStat[] {
    return this.closed ? [] : this.hw.all();
  }

  override eventFd(): number {
    return this.linkIrq ? this.linkIrq.eventFd : -1;
  }

  /**
   * Clears the link interrupt: the eventfd's count and the causes (EICR, 8.2.3.5.1: clear on read, and write 1
   * to clear, which also covers a GPIE.OCD left set by firmware; Linux's ixgbe_msix_other writes them back too).
   */
  protected override drainEventFd(): void {
    if (!this.linkIrq || this.closed || this.linkIrq.drain() === 0) return;
    const causes = this.regs.read(R.EICR);
    if (causes !== 0) this.regs.write(R.EICR, causes);
  }
}
