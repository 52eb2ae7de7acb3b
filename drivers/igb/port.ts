// The igb port: an 82576 (and its I350 / I210 / I211 relatives) through VFIO, as a bdk Port. The control
// plane is here (init at open, queues at configure, enable at start, RSS, VLAN, MTU, MSI-X); what it shares
// with the e1000 port (MAC, filters, stats, link) is in drivers/intel/gbe-port.ts, and the bursts run on the
// advanced-descriptor queues of drivers/intel/adv-rxtx.ts. Sections cite the 82576 datasheet (rev. 2.63).
//
// Interrupts: MSI-X, vector 0 for link changes (the port's eventFd) and one vector per RX queue after it
// (each queue's eventFd, for RxWaiter); when the device has fewer vectors than queues + 1, queues share them.
import type { PortCapabilities, ResolvedPortConfig } from "../../src/ethdev/port.ts";
import {
  RSS_IPV4, RSS_IPV4_TCP, RSS_IPV4_UDP, RSS_IPV6, RSS_IPV6_TCP, RSS_IPV6_UDP, RX_OFFLOAD_IPV4_CKSUM, RX_OFFLOAD_RSS_HASH, RX_OFFLOAD_SCATTER,
  RX_OFFLOAD_TCP_CKSUM, RX_OFFLOAD_UDP_CKSUM, RX_OFFLOAD_VLAN_FILTER, RX_OFFLOAD_VLAN_STRIP, TX_OFFLOAD_IPV4_CKSUM, TX_OFFLOAD_MULTI_SEGS,
  TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_TCP_TSO, TX_OFFLOAD_UDP_CKSUM, TX_OFFLOAD_VLAN_INSERT,
} from "../../src/ethdev/offloads.ts";
import { createArena, type DmaArena } from "../../src/mem/arena.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { VfioDevice } from "../../src/vfio/device.ts";
import { IrqLine } from "../../src/vfio/irq-line.ts";
import { checkPoolAddressing } from "../intel/device.ts";
import { MsixVectors } from "../intel/msix.ts";
import { AdvRxQueue, AdvTxQueue, type AdvQueueState } from "../intel/adv-rxtx.ts";
import { clearMulticastTable, clearVlanTable, globalReset, maskInterrupts, setupLink } from "../intel/gbe-init.ts";
import { GbePort } from "../intel/gbe-port.ts";
import { DEFAULT_RSS_KEY, retaBytes, rssKeyWords } from "../intel/rss.ts";
import { drainRxRing, layoutRings, primeRxRing, programRing, resetTxRing } from "../intel/ring.ts";
import {
  CTRL, CTRL_EXT, CTRL_EXT_DRV_LOAD, CTRL_VME, EIAC, EIMC, EIMS, EITR, GPIE, GPIE_EIAME, GPIE_MSIX_MODE, GPIE_NSICR, GPIE_PBA, ICR_LSC, IMS, IVAR0,
  IVAR_MISC, IVAR_VALID, MRQC, MRQC_ENABLE_RSS, MRQC_IPV4, MRQC_IPV6, MRQC_TCP_IPV4, MRQC_TCP_IPV6, MRQC_UDP_IPV4, MRQC_UDP_IPV6, QUEUE_ENABLE,
  QUEUE_STRIDE, RCTL, RCTL_BAM, RCTL_EN, RCTL_LPE, RCTL_MPE, RCTL_SECRC, RCTL_UPE, RCTL_VFE, RDBAL, RDH, RDT, RETA, RETA_ENTRIES,
  RLPML, RSS_KEY_BYTES, RSSRK, RXCSUM, RXCSUM_IPOFL, RXCSUM_PCSD, RXCSUM_TUOFL, RXD_ERR_FRAME, RXD_ERR_IPE, RXD_ERR_L4E, RXDCTL, SRRCTL,
  SRRCTL_BSIZEPKT_MASK, SRRCTL_DESCTYPE_ADV_ONEBUF, SRRCTL_DROP_EN, TCTL, TCTL_COLD_SHIFT, TCTL_CT_SHIFT, TCTL_EN, TCTL_PSP, TDBAL, TDH,
  TDT, TXDCTL, VET,
} from "./regs.ts";

export interface IgbChip {
  /** RX and TX queue pairs (82576: 16, I350: 8, I210: 4, I211: 2). */
  queues: number;
  /** How IVAR maps queues to vectors: the 82576's (8.8.15) or the 82580/I350/I210's (one register per queue pair). */
  ivar: "82576" | "82580";
  /** The longest frame (without CRC) the chip receives (82576: 9.5 KiB jumbo frames). */
  maxFrame: number;
}

/** The module that exports attachQueue for this driver's queues. */
const RXTX_MODULE = new URL("../intel/adv-rxtx.ts", import.meta.url).href;

export class IgbPort extends GbePort {
  private readonly msix: MsixVectors | undefined;
  private ring: DmaArena | undefined;
  private configs = 0;
  private generation = 0;
  private readonly live = new SharedArrayBuffer(4);
  private readonly liveWord = new Int32Array(this.live);
  /** Receive buffer size (SRRCTL.BSIZEPACKET, in KiB) for the current configuration. */
  private bufferKb = 2;
  private rxPrimed = false;

  constructor(device: VfioDevice, spec: string, readonly chip: IgbChip, vectors?: number) {
    super(device, spec, "igb");
    const r = this.regs;
    // 4.5.1–4.5.3: interrupts masked (the legacy and the extended mask), global reset, masked again.
    maskInterrupts(r);
    r.write(EIMC, 0xffffffff);
    globalReset(r);
    r.write(EIMC, 0xffffffff);
    // 8.2.3: the driver tells the firmware it has taken the device.
    r.set(CTRL_EXT, CTRL_EXT_DRV_LOAD);
    // 4.5.7: link through the PHY's autonegotiation (MDIC); the emulated 82576 keeps its link down without it.
    setupLink(r);
    clearMulticastTable(r);
    clearVlanTable(r);
    this.hw.reset();
    // MSI-X (7.3.2, drivers/intel/msix.ts): link on vector 0, one per RX queue after it.
    this.msix = MsixVectors.open(device, this.name, vectors, 1 + chip.queues);
    if (this.msix) {
      this.linkIrq = new IrqLine(this.msix.line(0));
      // GPIE (8.8.14): MSI-X mode, EICR auto-clear (NSICR), PBA, auto-mask; "other" causes (LSC) to vector 0.
      r.write(GPIE, (GPIE_MSIX_MODE | GPIE_PBA | GPIE_EIAME | GPIE_NSICR) >>> 0);
      r.write(IVAR_MISC, (IVAR_VALID | 0) << 8);
      r.write(IMS, ICR_LSC);
      r.write(EIMS, 1);
    }
  }

  capabilities(): PortCapabilities {
    return {
      maxRxQueues: this.chip.queues, maxTxQueues: this.chip.queues, minRingSize: 8, maxRingSize: 4096, maxFrameSize: this.chip.maxFrame,
      rss: true, rssHashTypes: RSS_IPV4 | RSS_IPV4_TCP | RSS_IPV4_UDP | RSS_IPV6 | RSS_IPV6_TCP | RSS_IPV6_UDP, rssKeySize: RSS_KEY_BYTES,
      retaSize: RETA_ENTRIES,
      rxOffloads: RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM | RX_OFFLOAD_VLAN_STRIP | RX_OFFLOAD_VLAN_FILTER |
        RX_OFFLOAD_SCATTER | RX_OFFLOAD_RSS_HASH,
      txOffloads: TX_OFFLOAD_VLAN_INSERT | TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_UDP_CKSUM | TX_OFFLOAD_TCP_CKSUM | TX_OFFLOAD_MULTI_SEGS |
        TX_OFFLOAD_TCP_TSO,
    };
  }

  // ---- configure: queues and their memory ----

  protected setup(config: ResolvedPortConfig): void {
    checkPoolAddressing(this.name, this.device, [config.pool, ...config.rxPools]);
    // 8.10.2: the receive buffer size is given in KiB (1..127); a pool's room rounded down to that.
    const room = Math.min(...config.rxPools.map((p) => p.dataRoom));
    if (room < 1024) throw new BdkError(`${this.name}: the pool's ${room}-byte buffers are smaller than the NIC's smallest receive buffer (1 KiB)`, "create the pool with dataRoom ≥ 2048");
    this.bufferKb = Math.min(SRRCTL_BSIZEPKT_MASK, Math.floor(room / 1024));
    if (config.mtu !== undefined) this.checkMtu(config.mtu, config);
    const { places, bytes } = layoutRings(config.rxRingSizes, config.txRingSizes);
    this.ring = createArena({ size: bytes, name: `${this.name} rings`, hugepages: this.device.noIommu ? "require" : "prefer" });
    this.generation = ++this.configs;
    const state = (i: number, tailReg: number, vector: number | undefined): AdvQueueState => ({
      ring: this.ring!.handle(), ...places[i]!, bar: { addr: this.bar.addr, size: this.bar.size }, tailReg, live: this.live,
      generation: this.generation, irq: vector === undefined ? undefined : this.msix!.line(vector), irqCause: vector === undefined ? 0 : 1 << vector,
      rss: config.rss !== undefined, scatter: (config.rxOffloads & RX_OFFLOAD_SCATTER) !== 0, driver: "igb",
      errFrame: RXD_ERR_FRAME, errIp: RXD_ERR_IPE, errL4: RXD_ERR_L4E, txCheckContext: 0, irqSetReg: EIMS, irqClearReg: EIMC,
    });
    for (let q = 0; q < config.rxQueues; q++) {
      this.rxqs.push(new AdvRxQueue(this.queueIdentity(RXTX_MODULE, "rx", q), state(q, RDT + q * QUEUE_STRIDE, this.msix?.rxVector(q)), this.ring));
    }
    for (let q = 0; q < config.txQueues; q++) {
      this.txqs.push(new AdvTxQueue(this.queueIdentity(RXTX_MODULE, "tx", q), state(config.rxQueues + q, TDT + q * QUEUE_STRIDE, undefined), this.ring));
    }
    this.promisc = config.promiscuous;
    if (config.mtu !== undefined) this.mtuValue = config.mtu;
  }

  protected teardown(): void {
    this.ring?.free();
    this.ring = undefined;
  }

  // ---- start / stop: 4.5.9 (receive) and 4.5.10 (transmit) initialization ----

  protected onStart(): void {
    const r = this.regs;
    const cfg = this.cfg;
    r.write(RCTL, 0);
    // Receive queues (4.5.9): ring, buffer size and advanced one-buffer descriptors (drop when full), then the
    // queue enabled and polled until the NIC says so, then the tail: every descriptor is the NIC's.
    for (let q = 0; q < this.rxqs.length; q++) {
      const rxq = this.rxqs[q] as AdvRxQueue;
      const at = q * QUEUE_STRIDE;
      primeRxRing(this.name, q, rxq.state, this.ring!, this.pool(q));
      programRing(r, RDBAL + at, this.device.dmaAddress(this.ring!, rxq.state.descOff), rxq.state.size);
      r.write(SRRCTL + at, (this.bufferKb | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN) >>> 0);
      r.write(RDH + at, 0);
      r.write(RDT + at, 0);
      r.write(RXDCTL + at, QUEUE_ENABLE);
      r.waitFor(RXDCTL + at, QUEUE_ENABLE, QUEUE_ENABLE, 100, `RX queue ${q} enable (RXDCTL.ENABLE)`);
      r.write(RDT + at, rxq.state.size - 1);
      const v = this.msix?.rxVector(q);
      if (v !== undefined) this.routeRxQueue(q, v);
    }
    this.rxPrimed = true;
    // Checksums checked on receive (8.10.6), RSS over the queues (7.1.2.10), VLAN tags stripped (CTRL.VME, 8.2.1).
    const csum = (cfg.rxOffloads & (RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM)) !== 0 ? RXCSUM_IPOFL | RXCSUM_TUOFL : 0;
    r.write(RXCSUM, cfg.rss ? csum | RXCSUM_PCSD : csum);
    this.setupRss();
    // VET (8.2.4) is the tag type both for recognising tags and for inserting them (VLE takes the tag from the
    // context descriptor, with or without VME).
    r.write(VET, 0x8100);
    if ((cfg.rxOffloads & RX_OFFLOAD_VLAN_STRIP) !== 0) r.set(CTRL, CTRL_VME);
    else r.clear(CTRL, CTRL_VME);
    this.mtuChanged();
    // Transmit queues (4.5.10): ring, enable and poll.
    for (let q = 0; q < this.txqs.length; q++) {
      const txq = this.txqs[q] as AdvTxQueue;
      const at = q * QUEUE_STRIDE;
      resetTxRing(txq.state, this.ring!);
      programRing(r, TDBAL + at, this.device.dmaAddress(this.ring!, txq.state.descOff), txq.state.size);
      r.write(TDH + at, 0);
      r.write(TDT + at, 0);
      r.write(TXDCTL + at, QUEUE_ENABLE);
      r.waitFor(TXDCTL + at, QUEUE_ENABLE, QUEUE_ENABLE, 100, `TX queue ${q} enable (TXDCTL.ENABLE)`);
    }
    // 8.12.1: transmit on, short frames padded, collision threshold and distance (full duplex).
    r.write(TCTL, TCTL_EN | TCTL_PSP | (0x0f << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT));
    r.write(RCTL, this.rctl());
    Atomics.store(this.liveWord, 0, this.generation);
  }

  protected onStop(): void {
    Atomics.store(this.liveWord, 0, 0);
    const r = this.regs;
    r.write(RCTL, 0);
    r.write(TCTL, 0);
    let queueVectors = 0;
    for (const q of this.rxqs) queueVectors |= (q as AdvRxQueue).state.irqCause;
    if (queueVectors !== 0) r.write(EIMC, queueVectors);
    for (let q = 0; q < this.rxqs.length; q++) r.write(RXDCTL + q * QUEUE_STRIDE, 0);
    for (let q = 0; q < this.txqs.length; q++) r.write(TXDCTL + q * QUEUE_STRIDE, 0);
    // The NIC no longer touches the rings: every buffer in them goes back to the pool.
    for (const q of this.txqs) (q as AdvTxQueue).reclaimAll();
    if (this.rxPrimed) {
      for (let q = 0; q < this.rxqs.length; q++) drainRxRing((this.rxqs[q] as AdvRxQueue).state, this.ring!, this.pool(q));
      this.rxPrimed = false;
    }
  }

  protected release(): void {
    try {
      maskInterrupts(this.regs);
      this.regs.write(EIMC, 0xffffffff);
      this.regs.write(RCTL, 0);
      this.regs.write(TCTL, 0);
      this.regs.clear(CTRL_EXT, CTRL_EXT_DRV_LOAD);
    } finally {
      this.device.close();
    }
  }

  /** 8.8.15 (82576) or the 82580 layout: RX queue q's cause to MSI-X vector v, auto-cleared (EIAC), unthrottled (EITR 0). */
  private routeRxQueue(q: number, v: number): void {
    const r = this.regs;
    const [reg, shift] = this.chip.ivar === "82576" ? [IVAR0 + 4 * (q & 7), q < 8 ? 0 : 16] : [IVAR0 + 4 * (q >>> 1), (q & 1) * 16];
    r.write(reg, ((r.read(reg) & ~(0xff << shift)) | ((IVAR_VALID | v) << shift)) >>> 0);
    r.set(EIAC, 1 << v);
    r.write(EITR + 4 * v, 0);
  }

  /** 7.1.2.10: the key, the redirection table (one byte per entry: the queue), the hashed fields and RSS on in MRQC. */
  private setupRss(): void {
    const r = this.regs;
    const rss = this.cfg.rss;
    if (!rss) {
      r.write(MRQC, 0);
      return;
    }
    rssKeyWords(rss.key ?? DEFAULT_RSS_KEY, (i, word) => r.write(RSSRK + 4 * i, word));
    retaBytes(rss.reta, (i, word) => r.write(RETA + 4 * i, word));
    let fields = 0;
    if (rss.hashTypes & RSS_IPV4) fields |= MRQC_IPV4;
    if (rss.hashTypes & RSS_IPV4_TCP) fields |= MRQC_TCP_IPV4;
    if (rss.hashTypes & RSS_IPV4_UDP) fields |= MRQC_UDP_IPV4;
    if (rss.hashTypes & RSS_IPV6) fields |= MRQC_IPV6;
    if (rss.hashTypes & RSS_IPV6_TCP) fields |= MRQC_TCP_IPV6;
    if (rss.hashTypes & RSS_IPV6_UDP) fields |= MRQC_UDP_IPV6;
    r.write(MRQC, (MRQC_ENABLE_RSS | fields) >>> 0);
  }

  private pool(q: number): Mempool {
    return this.cfg.rxPools[q]!;
  }

  /** 8.10.1: receive on, broadcasts accepted, CRC stripped, filters, long packets (RLPML says how long). */
  protected rctl(): number {
    let v = RCTL_EN | RCTL_BAM | RCTL_SECRC;
    if (this.promisc) v |= RCTL_UPE | RCTL_MPE;
    else if (this.allMulti) v |= RCTL_MPE;
    if (this.mtuValue > 1500) v |= RCTL_LPE;
    if (this.config && (this.config.rxOffloads & RX_OFFLOAD_VLAN_FILTER) !== 0) v |= RCTL_VFE;
    return v >>> 0;
  }

  /** 8.10.5: RLPML, the longest frame received with RCTL.LPE: the MTU plus Ethernet header, a VLAN tag and CRC. */
  protected override mtuChanged(): void {
    this.regs.write(RLPML, this.mtuValue + 14 + 4 + 4);
  }

  /** The MTU must fit the chip and, without scatter, one receive buffer. */
  protected checkMtu(mtu: number, config = this.config): void {
    const max = this.chip.maxFrame - 18;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) throw new BdkError(`${this.name}: MTU ${mtu} is out of range`, `this port supports 68..${max}`);
    const bytes = this.bufferKb * 1024;
    if (config && mtu + 18 > bytes && (config.rxOffloads & RX_OFFLOAD_SCATTER) === 0) {
      throw new BdkError(`${this.name}: MTU ${mtu} frames do not fit the ${bytes}-byte receive buffers`,
        `configure rxOffloads: RX_OFFLOAD_SCATTER (frames arrive as chains), or create the pool with dataRoom ≥ ${Math.ceil((mtu + 18) / 1024) * 1024}`);
    }
  }
}
