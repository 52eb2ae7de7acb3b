// The e1000 port: an 8254x (82540EM, 82545EM …) or 82574L NIC through VFIO, as a bdk Port. The control
// plane is here (init at open, queue setup at configure, enable at start, link, MAC, filters, MTU, stats,
// events); the bursts are in rxtx.ts. One RX and one TX queue on legacy descriptors; INTx carries both the
// RX interrupt (a queue's eventFd, for RxWaiter) and link changes (the port's eventFd, for pollEvents).
import type { PortCapabilities, ResolvedPortConfig } from "../../src/ethdev/port.ts";
import {
  RX_OFFLOAD_IPV4_CKSUM, RX_OFFLOAD_TCP_CKSUM, RX_OFFLOAD_UDP_CKSUM, RX_OFFLOAD_VLAN_FILTER, RX_OFFLOAD_VLAN_STRIP, TX_OFFLOAD_IPV4_CKSUM,
  TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_UDP_CKSUM, TX_OFFLOAD_VLAN_INSERT, RX_OFFLOAD_RSS_HASH, RX_OFFLOAD_SCATTER, TX_OFFLOAD_MULTI_SEGS, RSS_IPV4, RSS_IPV4_TCP, RSS_IPV6, RSS_IPV6_TCP,
} from "../../src/ethdev/offloads.ts";
import { createArena, type DmaArena } from "../../src/mem/arena.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { IrqVectors, VfioDevice } from "../../src/vfio/device.ts";
import type { IrqLineHandle } from "../../src/vfio/irq-line.ts";
import { IrqLine } from "../../src/vfio/irq-line.ts";
import { checkPoolAddressing } from "../intel/device.ts";
import { GbePort } from "../intel/gbe-port.ts";
import { DEFAULT_RSS_KEY, retaBytes, rssKeyWords } from "../intel/rss.ts";
import {
  clearMulticastTable, clearVlanTable, globalReset, maskInterrupts, setupLink,
} from "../intel/gbe-init.ts";
import {
  CTRL, CTRL_VME, ICR_LSC, ICR_RXT0, IMC, IMS, ITR, RADV, RCTL, RCTL_BAM, RCTL_BSEX, RCTL_BSIZE_SHIFT,
  RCTL_EN, RCTL_LPE, RCTL_MPE, RCTL_SECRC, RCTL_UPE, RCTL_VFE, VET, MRQC, MRQC_IPV4, MRQC_IPV6, MRQC_RSS_ENABLE, MRQC_TCP_IPV4,
  MRQC_TCP_IPV6, RETA, RETA_ENTRIES, RFCTL, RFCTL_EXTEN, RSS_KEY_BYTES, RSSRK, RXCSUM_PCSD, RDBAL, RDH, RDT, RDTR, RX_QUEUE_STRIDE, RXCSUM, RXCSUM_IPOFLD, RXCSUM_TUOFLD, TCTL,
  TCTL_COLD_SHIFT, TCTL_CT_SHIFT, TCTL_EN, TCTL_PSP, TDBAL, TDH, TDT, TIPG, TX_QUEUE_STRIDE,
} from "./regs.ts";
import { drainRxRing, layoutRings, primeRxRing, programRing, resetTxRing } from "../intel/ring.ts";
import { E1000eRxQueue, E1000RxQueue, E1000TxQueue, type E1000QueueState } from "./rxtx.ts";

export interface E1000Chip {
  /** The driver name a port reports: "e1000" (8254x) or "e1000e" (82574). */
  driver: "e1000" | "e1000e";
  /** 82574: two queue pairs, extended RX descriptors, RSS. */
  queues: number;
  /** The longest frame (without CRC) the chip receives with long-packet enable (SDM 13.4.22 LPE; 82574: 9018). */
  maxFrame: number;
}

/** RCTL.BSIZE/BSEX encodings (SDM 13.4.22): receive buffer sizes the NIC can be told. */
const BUFFER_SIZES: readonly [number, number][] = [
  [16384, RCTL_BSEX | (1 << RCTL_BSIZE_SHIFT)], [8192, RCTL_BSEX | (2 << RCTL_BSIZE_SHIFT)], [4096, RCTL_BSEX | (3 << RCTL_BSIZE_SHIFT)],
  [2048, 0], [1024, 1 << RCTL_BSIZE_SHIFT], [512, 2 << RCTL_BSIZE_SHIFT], [256, 3 << RCTL_BSIZE_SHIFT],
];



export class E1000Port extends GbePort {
  private readonly irqs: IrqVectors | undefined;
  private readonly live = new SharedArrayBuffer(4);
  private readonly liveWord = new Int32Array(this.live);
  private ring: DmaArena | undefined;
  private configs = 0;
  private generation = 0;
  /** RCTL buffer size bits and size for the current configuration. */
  private bsize = { bytes: 2048, bits: 0 };
  private rxPrimed = false;

  constructor(device: VfioDevice, spec: string, readonly chip: E1000Chip) {
    super(device, spec, chip.driver);
    const r = this.regs;
    maskInterrupts(r);
    globalReset(r);
    setupLink(r);
    clearMulticastTable(r);
    clearVlanTable(r);
    this.hw.reset();
    // INTx: one line for RX and link events (e1000 has nothing else in QEMU; the 82574's MSI-X comes with RSS).
    try {
      this.irqs = device.enableIrqs("intx", 1);
      this.linkIrq = new IrqLine(this.irqLineHandle()!);
      r.write(IMS, ICR_LSC);
    } catch {
      this.irqs = undefined;
    }
  }

  private irqLineHandle(): IrqLineHandle | undefined {
    if (!this.irqs) return undefined;
    return { deviceFd: this.device.fd, index: this.irqs.index, vector: 0, eventFd: this.irqs.fds[0]! };
  }

  capabilities(): PortCapabilities {
    const multi = this.chip.queues > 1;
    return {
      maxRxQueues: this.chip.queues, maxTxQueues: this.chip.queues, minRingSize: 8, maxRingSize: 4096, maxFrameSize: this.chip.maxFrame,
      rss: multi,
      ...(multi ? { rssHashTypes: RSS_IPV4 | RSS_IPV4_TCP | RSS_IPV6 | RSS_IPV6_TCP, rssKeySize: RSS_KEY_BYTES, retaSize: RETA_ENTRIES } : {}),
      rxOffloads: RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM | RX_OFFLOAD_VLAN_STRIP | RX_OFFLOAD_VLAN_FILTER | RX_OFFLOAD_SCATTER |
        (multi ? RX_OFFLOAD_RSS_HASH : 0),
      txOffloads: TX_OFFLOAD_VLAN_INSERT | TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_UDP_CKSUM | TX_OFFLOAD_TCP_CKSUM | TX_OFFLOAD_MULTI_SEGS,
    };
  }

  // ---- configure: queues and their memory ----

  protected setup(config: ResolvedPortConfig): void {
    checkPoolAddressing(this.name, this.device, [config.pool, ...config.rxPools]);
    const room = Math.min(...config.rxPools.map((p) => p.dataRoom));
    const fit = BUFFER_SIZES.find(([bytes]) => bytes <= room);
    if (!fit) throw new BdkError(`${this.name}: the pool's ${room}-byte buffers are smaller than the NIC's smallest receive buffer (256)`, "create the pool with dataRoom ≥ 2048");
    this.bsize = { bytes: fit[0], bits: fit[1] };
    if (config.mtu !== undefined) this.checkMtu(config.mtu);
    // SDM 13.4.1: CTRL.VME turns on VLAN mode for both directions: tags are stripped on receive and may be
    // inserted on transmit. One cannot be had without the other on these chips.
    if ((config.txOffloads & TX_OFFLOAD_VLAN_INSERT) !== 0 && (config.rxOffloads & RX_OFFLOAD_VLAN_STRIP) === 0) {
      throw new BdkError(`${this.name}: VLAN insert on TX needs VLAN strip on RX here (CTRL.VME enables both)`,
        "ask for rxOffloads: RX_OFFLOAD_VLAN_STRIP as well, or insert tags in software");
    }
    // One arena for every ring of the port (descriptors 128-byte aligned, SDM 3.2.6).
    const { places: layout, bytes } = layoutRings(config.rxRingSizes, config.txRingSizes);
    this.ring = createArena({ size: bytes, name: `${this.name} rings`, hugepages: this.device.noIommu ? "require" : "prefer" });
    this.generation = ++this.configs;
    const irq = this.irqLineHandle();
    const state = (i: number, tailReg: number, irqCause: number): E1000QueueState => ({
      ring: this.ring!.handle(), ...layout[i]!, bar: { addr: this.bar.addr, size: this.bar.size }, tailReg,
      live: this.live, generation: this.generation, irq, irqCause, extended: this.chip.queues > 1, rss: config.rss !== undefined,
      scatter: (config.rxOffloads & RX_OFFLOAD_SCATTER) !== 0,
    });
    for (let q = 0; q < config.rxQueues; q++) {
      const s = state(q, RDT + q * RX_QUEUE_STRIDE, ICR_RXT0);
      const ident = this.queueIdentity(RXTX_MODULE, "rx", q);
      this.rxqs.push(s.extended ? new E1000eRxQueue(ident, s, this.ring) : new E1000RxQueue(ident, s, this.ring));
    }
    for (let q = 0; q < config.txQueues; q++) {
      this.txqs.push(new E1000TxQueue(this.queueIdentity(RXTX_MODULE, "tx", q), state(config.rxQueues + q, TDT + q * TX_QUEUE_STRIDE, 0), this.ring));
    }
    this.promisc = config.promiscuous;
    if (config.mtu !== undefined) this.mtuValue = config.mtu;
  }

  protected teardown(): void {
    this.ring?.free();
    this.ring = undefined;
  }

  // ---- start / stop: SDM 14.4 (receive) and 14.5 (transmit) initialization ----

  protected onStart(): void {
    const r = this.regs;
    const ring = this.ring!;
    const cfg = this.cfg;
    for (let q = 0; q < this.rxqs.length; q++) {
      const rxq = this.rxqs[q] as E1000RxQueue;
      primeRxRing(this.name, q, rxq.state, ring, this.pool(q));
      programRing(r, RDBAL + q * RX_QUEUE_STRIDE, this.device.dmaAddress(ring, rxq.state.descOff), rxq.state.size);
      r.write(RDH + q * RX_QUEUE_STRIDE, 0);
      r.write(RDT + q * RX_QUEUE_STRIDE, rxq.state.size - 1);
    }
    this.rxPrimed = true;
    // No receive delay (RDTR/RADV 0) and no throttling (ITR 0): an interrupt as soon as a frame is written back.
    r.write(RDTR, 0);
    r.write(RADV, 0);
    r.write(ITR, 0);
    r.write(RXCSUM, (cfg.rxOffloads & (RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM)) !== 0 ? RXCSUM_IPOFLD | RXCSUM_TUOFLD : 0);
    if (this.chip.queues > 1) this.setupMultiQueue();
    for (let q = 0; q < this.txqs.length; q++) {
      const txq = this.txqs[q] as E1000TxQueue;
      resetTxRing(txq.state, ring);
      programRing(r, TDBAL + q * TX_QUEUE_STRIDE, this.device.dmaAddress(ring, txq.state.descOff), txq.state.size);
      r.write(TDH + q * TX_QUEUE_STRIDE, 0);
      r.write(TDT + q * TX_QUEUE_STRIDE, 0);
    }
    // SDM 14.5: IPG for IEEE 802.3 copper (10/8/6); TCTL: enable, pad short packets, collision threshold 15,
    // collision distance 64 (full duplex).
    r.write(TIPG, 10 | (8 << 10) | (6 << 20));
    // VLAN mode (SDM 13.4.1 CTRL.VME) with the 802.1Q Ethernet type in VET (SDM 13.4.4), which the NIC uses
    // both to recognise tags on receive and to write them on transmit.
    const vlanMode = (cfg.rxOffloads & RX_OFFLOAD_VLAN_STRIP) !== 0;
    if (vlanMode) {
      r.write(VET, 0x8100);
      r.set(CTRL, CTRL_VME);
    } else if ((r.read(CTRL) & CTRL_VME) !== 0) {
      r.clear(CTRL, CTRL_VME);
    }
    r.write(TCTL, TCTL_EN | TCTL_PSP | (0x0f << TCTL_CT_SHIFT) | (0x40 << TCTL_COLD_SHIFT));
    // Receive last: everything is in place when frames start landing. (QEMU holds received frames for a
    // second after every RCTL write: the port writes RCTL only when something in it changes.)
    r.write(RCTL, this.rctl());
    Atomics.store(this.liveWord, 0, this.generation);
  }

  protected onStop(): void {
    Atomics.store(this.liveWord, 0, 0);
    const r = this.regs;
    r.write(RCTL, 0);
    r.write(TCTL, 0);
    r.write(IMC, ICR_RXT0);
    // The NIC no longer touches the rings: every buffer in them goes back to the pool.
    for (const q of this.txqs) (q as E1000TxQueue).reclaimAll();
    if (this.rxPrimed) {
      for (let q = 0; q < this.rxqs.length; q++) drainRxRing((this.rxqs[q] as E1000RxQueue).state, this.ring!, this.pool(q));
      this.rxPrimed = false;
    }
  }

  protected release(): void {
    try {
      maskInterrupts(this.regs);
      this.regs.write(RCTL, 0);
      this.regs.write(TCTL, 0);
    } finally {
      this.device.close();
    }
  }

  /**
   * 82574 (datasheet 7.1.5.2, 7.1.12, 10.2.5): extended RX descriptors (RFCTL.EXTEN, latched when RCTL is
   * written with EN, so before it), and with RSS: the key, the redirection table (bit 7 of an entry picks
   * queue 1), the hashed fields and RSS on in MRQC, and RXCSUM.PCSD so that descriptors carry the hash.
   */
  private setupMultiQueue(): void {
    const r = this.regs;
    const rss = this.cfg.rss;
    r.set(RFCTL, RFCTL_EXTEN);
    if (!rss) {
      r.write(MRQC, 0);
      return;
    }
    rssKeyWords(rss.key ?? DEFAULT_RSS_KEY, (i, word) => r.write(RSSRK + 4 * i, word));
    retaBytes(rss.reta, (i, word) => r.write(RETA + 4 * i, word), (q) => (q === 1 ? 0x80 : 0));
    let fields = 0;
    if (rss.hashTypes & RSS_IPV4) fields |= MRQC_IPV4;
    if (rss.hashTypes & RSS_IPV4_TCP) fields |= MRQC_TCP_IPV4;
    if (rss.hashTypes & RSS_IPV6) fields |= MRQC_IPV6;
    if (rss.hashTypes & RSS_IPV6_TCP) fields |= MRQC_TCP_IPV6;
    r.write(MRQC, (MRQC_RSS_ENABLE | fields) >>> 0);
    r.set(RXCSUM, RXCSUM_PCSD);
  }

  private pool(q: number): Mempool {
    return this.cfg.rxPools[q]!;
  }

  /** SDM 13.4.22: receive enabled, broadcasts accepted, CRC stripped, the buffer size, filters, long packets. */
  protected rctl(): number {
    let v = RCTL_EN | RCTL_BAM | RCTL_SECRC | this.bsize.bits;
    if (this.promisc) v |= RCTL_UPE | RCTL_MPE;
    else if (this.allMulti) v |= RCTL_MPE;
    if (this.mtuValue > 1500) v |= RCTL_LPE;
    if (this.config && (this.config.rxOffloads & RX_OFFLOAD_VLAN_FILTER) !== 0) v |= RCTL_VFE;
    return v >>> 0;
  }

  // ---- MTU ----

  /** The MTU must fit the chip (LPE) and, without scatter, one receive buffer. */
  protected checkMtu(mtu: number): void {
    const max = this.chip.maxFrame - 18;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > max) throw new BdkError(`${this.name}: MTU ${mtu} is out of range`, `this port supports 68..${max}`);
    if (this.config && mtu + 18 > this.bsize.bytes && (this.config.rxOffloads & RX_OFFLOAD_SCATTER) === 0) {
      throw new BdkError(`${this.name}: MTU ${mtu} frames do not fit the ${this.bsize.bytes}-byte receive buffers`,
        `configure rxOffloads: RX_OFFLOAD_SCATTER (frames arrive as chains), or create the pool with dataRoom ≥ ${mtu + 18} (${BUFFER_SIZES.find(([b]) => b >= mtu + 18)?.[0] ?? 16384} is a size the NIC takes)`);
    }
  }
}

/** The module that exports attachQueue for this driver's queues. */
const RXTX_MODULE = new URL("./rxtx.ts", import.meta.url).href;
