// The ixgbe port: an Intel 82599 (X520 …) as a bdk Port, over a NicDevice (VFIO, or a register model in the
// tests). Open runs the datasheet's initialization (4.6.3: interrupts off, master disable and global reset,
// EEPROM and DMA init waits, link, tables and counters cleared); configure builds the queues; start programs
// receive (4.6.7) and transmit (4.6.8) and enables them in the order DPDK's ixgbe_dev_rxtx_start does; stop
// undoes it (4.6.7.1, 4.6.8.1). The register steps are drivers/ixgbe/init*.ts; the filters, MTU, link, stats
// and events are port-filters.ts; the bursts run on the advanced-descriptor queues igb shares
// (drivers/intel/adv-rxtx.ts), with the 82599's error bits and CC bit. Sections cite the Intel 82599 10 GbE
// Controller Datasheet.
//
// Interrupts: MSI-X, vector 0 for link changes (the port's eventFd) and one vector per RX queue after it
// (each queue's eventFd, for RxWaiter), at most 16 vectors so that every one has its bit in EIMS/EIAC (bits
// 15:0); queues share vectors when there are fewer. A device without MSI-X (the register model) is polled.
import type { PortCapabilities, ResolvedPortConfig } from "../../src/ethdev/port.ts";
import {
  RSS_IPV4, RSS_IPV4_TCP, RSS_IPV4_UDP, RSS_IPV6, RSS_IPV6_TCP, RSS_IPV6_UDP, RX_OFFLOAD_IPV4_CKSUM, RX_OFFLOAD_RSS_HASH, RX_OFFLOAD_SCATTER,
  RX_OFFLOAD_TCP_CKSUM, RX_OFFLOAD_UDP_CKSUM, RX_OFFLOAD_VLAN_FILTER, RX_OFFLOAD_VLAN_STRIP, TX_OFFLOAD_IPV4_CKSUM, TX_OFFLOAD_MULTI_SEGS,
  TX_OFFLOAD_TCP_CKSUM, TX_OFFLOAD_TCP_TSO, TX_OFFLOAD_UDP_CKSUM, TX_OFFLOAD_VLAN_INSERT,
} from "../../src/ethdev/offloads.ts";
import { createArena, type DmaArena } from "../../src/mem/arena.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { IrqLine } from "../../src/vfio/irq-line.ts";
import { AdvRxQueue, AdvTxQueue, type AdvQueueState } from "../intel/adv-rxtx.ts";
import { checkPoolAddressing, type NicDevice } from "../intel/device.ts";
import { MsixVectors } from "../intel/msix.ts";
import { drainRxRing, layoutRings, primeRxRing, resetTxRing } from "../intel/ring.ts";
import {
  CHIP, clearMulticastTable, clearVlanTable, disableInterrupts, disableRx, disableRxQueue, disableTxQueue, enableRx, enableRxQueue, enableTx,
  enableTxQueue, globalReset, initRx, initTx, setupLink, setupRss, setupRxQueue, setupTxQueue, waitDmaInitDone, waitEepromAutoRead,
} from "./init.ts";
import { IxgbeFilters } from "./port-filters.ts";
import * as R from "./regs.ts";

export interface IxgbeChip {
  /** The MAC, for messages ("82599"). */
  name: string;
  /** RX queues bdk spreads frames over: RSS reaches 16 (7.1.2.8); TX queues without DCB or VMDq: 64 (4.6.11.3.4). */
  rxQueues: number;
  txQueues: number;
  /** The longest frame received, without CRC: 15.5 KiB (MAXFRS) less the 4-byte CRC. */
  maxFrame: number;
}

export const IXGBE_82599: IxgbeChip = { name: "82599", rxQueues: CHIP.rssQueues, txQueues: CHIP.queues, maxFrame: CHIP.maxFrame - 4 };

/** One step of the start sequence, named for errors and for tests that reorder it. */
export interface StartStep {
  step: string;
  run: () => void;
}

/** The module that exports attachQueue for this driver's queues. */
const RXTX_MODULE = new URL("../intel/adv-rxtx.ts", import.meta.url).href;
/** MSI-X vectors used at most: link plus 15 queue vectors, each with its bit in EIMS/EIMC/EIAC 15:0 (8.2.3.5). */
const MAX_VECTORS = 16;

export class IxgbePort extends IxgbeFilters {
  private readonly msix: MsixVectors | undefined;
  private ring: DmaArena | undefined;
  private configs = 0;
  private generation = 0;
  private readonly live = new SharedArrayBuffer(4);
  private readonly liveWord = new Int32Array(this.live);
  /** RX queues whose rings hold buffers (primed at start, drained at stop). */
  private primed = 0;

  constructor(device: NicDevice, spec: string, readonly chip: IxgbeChip = IXGBE_82599, vectors?: number) {
    super(device, spec, chip.maxFrame);
    const r = this.regs;
    disableInterrupts(r); // 4.6.3.1: every cause masked, pending ones cleared
    globalReset(r); // 5.2.5.3.2 master disable, 4.6.3.2 global reset (CTRL.RST polled, 10 ms), interrupts masked again
    waitEepromAutoRead(r); // 4.6.3 step 3: EEC.ARD
    waitDmaInitDone(r); // 4.6.3 step 4: RDRXCTL.DMAIDONE
    r.set(R.CTRL_EXT, R.CTRL_EXT_DRV_LOAD); // 8.2.3.1.3: the driver has the device
    setupLink(r); // 4.6.4: AUTOC as the EEPROM loaded it, autonegotiation restarted
    this.hw.reset(); // 4.6.5 (4.6.3 step 6): the statistics clear on read
    clearMulticastTable(r); // 4.6.7: tables empty until the app fills them
    clearVlanTable(r);
    // MSI-X (7.3, drivers/intel/msix.ts): link on vector 0, one per RX queue after it, at most 16 so that each
    // vector has its bit in EIMS/EIMC/EIAC 15:0.
    this.msix = MsixVectors.open(device, this.name, vectors, 1 + chip.rxQueues, MAX_VECTORS);
    if (this.msix) {
      this.linkIrq = new IrqLine(this.msix.line(0));
      // GPIE (8.2.3.5.18): MSI-X mode and PBA support (not OCD: EICR stays clear-on-read, and pollEvents clears
      // what it read by writing it back as well); LSC and the other causes to vector 0 (IVAR_MISC byte 1,
      // 8.2.3.5.17), LSC unmasked.
      r.write(R.GPIE, R.GPIE_MSIX_MODE | R.GPIE_PBA_SUPPORT);
      r.write(R.IVAR_MISC, (R.IVAR_VALID | 0) << 8);
      r.write(R.EIMS, R.EICR_LSC);
    }
  }

  capabilities(): PortCapabilities {
    return {
      // Ring sizes as DPDK's ixgbe (IXGBE_MIN_RING_DESC 32, IXGBE_MAX_RING_DESC 4096); RDLEN takes multiples of 8 up to 8 K.
      maxRxQueues: this.chip.rxQueues, maxTxQueues: this.chip.txQueues, minRingSize: 32, maxRingSize: 4096, maxFrameSize: this.chip.maxFrame,
      rss: true, rssHashTypes: RSS_IPV4 | RSS_IPV4_TCP | RSS_IPV4_UDP | RSS_IPV6 | RSS_IPV6_TCP | RSS_IPV6_UDP, rssKeySize: CHIP.rssKeyBytes,
      retaSize: CHIP.retaEntries,
      rxOffloads: RX_OFFLOAD_IPV4_CKSUM | RX_OFFLOAD_UDP_CKSUM | RX_OFFLOAD_TCP_CKSUM | RX_OFFLOAD_VLAN_STRIP | RX_OFFLOAD_VLAN_FILTER |
        RX_OFFLOAD_SCATTER | RX_OFFLOAD_RSS_HASH,
      txOffloads: TX_OFFLOAD_VLAN_INSERT | TX_OFFLOAD_IPV4_CKSUM | TX_OFFLOAD_UDP_CKSUM | TX_OFFLOAD_TCP_CKSUM | TX_OFFLOAD_MULTI_SEGS |
        TX_OFFLOAD_TCP_TSO,
    };
  }

  // ---- configure: queues and their memory ----

  protected setup(config: ResolvedPortConfig): void {
    checkPoolAddressing(this.name, this.device, [config.pool, ...config.rxPools]);
    // 8.2.3.8.7: SRRCTL.BSIZEPACKET in KiB (1..16); a pool's room rounded down to that.
    const room = Math.min(...config.rxPools.map((p) => p.dataRoom));
    if (room < CHIP.rxBufferMin) throw new BdkError(`${this.name}: the pool's ${room}-byte buffers are smaller than the 82599's smallest receive buffer (1 KiB)`, "create the pool with dataRoom ≥ 2048");
    this.bufferKb = Math.min(CHIP.rxBufferMax / 1024, Math.floor(room / 1024));
    if (config.mtu !== undefined) this.checkMtu(config.mtu, config);
    const { places, bytes } = layoutRings(config.rxRingSizes, config.txRingSizes);
    this.ring = createArena({ size: bytes, name: `${this.name} rings`, hugepages: this.device.noIommu ? "require" : "prefer" });
    this.generation = ++this.configs;
    const state = (i: number, tailReg: number, vector: number | undefined): AdvQueueState => ({
      ring: this.ring!.handle(), ...places[i]!, bar: { addr: this.bar.addr, size: this.bar.size }, tailReg, live: this.live,
      generation: this.generation, irq: vector === undefined ? undefined : this.msix!.line(vector), irqCause: vector === undefined ? 0 : 1 << vector,
      rss: config.rss !== undefined, scatter: (config.rxOffloads & RX_OFFLOAD_SCATTER) !== 0, driver: "ixgbe",
      errFrame: R.RXDADV_ERR_RXE, errIp: R.RXDADV_ERR_IPE, errL4: R.RXDADV_ERR_L4E, txCheckContext: R.TXD_CC, irqSetReg: R.EIMS, irqClearReg: R.EIMC,
    });
    for (let q = 0; q < config.rxQueues; q++) {
      this.rxqs.push(new AdvRxQueue(this.queueIdentity(RXTX_MODULE, "rx", q), state(q, R.RDT(q), this.msix?.rxVector(q)), this.ring));
    }
    for (let q = 0; q < config.txQueues; q++) {
      this.txqs.push(new AdvTxQueue(this.queueIdentity(RXTX_MODULE, "tx", q), state(config.rxQueues + q, R.TDT(q), undefined), this.ring));
    }
    this.promisc = config.promiscuous;
    if (config.mtu !== undefined) this.mtuValue = config.mtu;
  }

  protected teardown(): void {
    this.ring?.free();
    this.ring = undefined;
  }

  // ---- start / stop ----

  protected onStart(): void {
    let at = "";
    try {
      for (const s of this.startSequence()) {
        at = s.step;
        s.run();
      }
    } catch (e) {
      // Leave the device quiet and every buffer back in its pool; the port stays stopped.
      Atomics.store(this.liveWord, 0, 0);
      try {
        this.quiesce();
      } catch { /* the first error is the one to report */ }
      this.reclaimBuffers();
      if (e instanceof Error && !(e instanceof BdkError)) e.message = `${this.name}: start failed at "${at}": ${e.message}`;
      throw e;
    }
    Atomics.store(this.liveWord, 0, this.generation);
  }

  /**
   * The start, step by step: receive set up (4.6.7) with the queues still off, transmit set up (4.6.8), the
   * transmit path and its queues enabled, then each receive queue (enable, poll, tail) and RXCTRL.RXEN last.
   */
  protected startSequence(): StartStep[] {
    const r = this.regs;
    const cfg = this.cfg;
    const rx = this.rxqs as AdvRxQueue[];
    const tx = this.txqs as AdvTxQueue[];
    return [
      // 4.6.7: RXEN off, addresses, filters, packet buffer, CRC strip (HLREG0 and RDRXCTL alike), max frame.
      { step: "initRx (4.6.7)", run: () => initRx(r, { crcStrip: true, promiscuous: this.promisc, allMulticast: this.allMulti, maxFrame: this.maxFrame() }) },
      { step: "multicast and VLAN filters (8.2.3.7)", run: () => this.restoreFilters() },
      // 4.6.7 per queue, while disabled: every descriptor given a buffer, ring, SRRCTL (buffer size, advanced
      // one-buffer descriptors, DROP_EN: a queue without descriptors drops instead of stalling the others), VME.
      { step: "RX queues (4.6.7)", run: () => rx.forEach((q, i) => {
        primeRxRing(this.name, i, q.state, this.ring!, this.pool(i));
        this.primed = i + 1;
        setupRxQueue(r, i, {
          ringIova: this.device.dmaAddress(this.ring!, q.state.descOff), size: q.state.size, bufferBytes: this.bufferKb * 1024, dropEnable: true,
          vlanStrip: (cfg.rxOffloads & RX_OFFLOAD_VLAN_STRIP) !== 0,
        });
      }) },
      { step: "RSS (7.1.2.8)", run: () => this.setupRss() },
      { step: "initTx (4.6.8)", run: () => initTx(r, { txQueues: tx.length }) },
      { step: "TX queues (4.6.8)", run: () => tx.forEach((q, i) => {
        resetTxRing(q.state, this.ring!);
        setupTxQueue(r, i, { ringIova: this.device.dmaAddress(this.ring!, q.state.descOff), size: q.state.size });
      }) },
      { step: "DMATXCTL.TE (4.6.8)", run: () => enableTx(r) },
      { step: "TXDCTL.ENABLE (4.6.8)", run: () => tx.forEach((_q, i) => enableTxQueue(r, i)) },
      { step: "RXDCTL.ENABLE and RDT (4.6.7)", run: () => rx.forEach((q, i) => {
        enableRxQueue(r, i, q.state.size);
        const v = this.msix?.rxVector(i);
        if (v !== undefined) this.routeRxQueue(i, v);
      }) },
      { step: "RXCTRL.RXEN (4.6.7)", run: () => enableRx(r) },
    ];
  }

  protected onStop(): void {
    Atomics.store(this.liveWord, 0, 0);
    try {
      this.quiesce();
    } finally {
      this.reclaimBuffers();
    }
  }

  /**
   * The receiver off (RXCTRL.RXEN), each RX queue disabled and polled (4.6.7.1), each TX queue (4.6.8.1), and
   * DMATXCTL.TE cleared: the next start programs MTQC again, which 7.2.1.2.1 allows only with TE clear.
   */
  private quiesce(): void {
    const r = this.regs;
    let queueVectors = 0;
    for (const q of this.rxqs) queueVectors |= (q as AdvRxQueue).state.irqCause;
    if (queueVectors !== 0) r.write(R.EIMC, queueVectors);
    disableRx(r);
    for (let q = 0; q < this.rxqs.length; q++) disableRxQueue(r, q);
    for (let q = 0; q < this.txqs.length; q++) disableTxQueue(r, q);
    r.clear(R.DMATXCTL, R.DMATXCTL_TE);
  }

  /** The NIC no longer touches the rings: every buffer in them goes back to its pool. */
  private reclaimBuffers(): void {
    for (const q of this.txqs) (q as AdvTxQueue).reclaimAll();
    for (let q = 0; q < this.primed; q++) drainRxRing((this.rxqs[q] as AdvRxQueue).state, this.ring!, this.pool(q));
    this.primed = 0;
  }

  protected release(): void {
    try {
      const r = this.regs;
      disableInterrupts(r);
      disableRx(r);
      r.clear(R.CTRL_EXT, R.CTRL_EXT_DRV_LOAD);
    } finally {
      this.device.close();
    }
  }

  /** 8.2.3.5.16: RX queue q's cause to MSI-X vector v (IVAR(q >> 1), byte 0 or 2), auto-cleared (EIAC), unthrottled (EITR 0). */
  private routeRxQueue(q: number, v: number): void {
    const r = this.regs;
    const reg = R.IVAR(q >>> 1);
    const shift = (q & 1) * 16;
    r.write(reg, ((r.read(reg) & ~(0xff << shift)) | ((R.IVAR_VALID | v) << shift)) >>> 0);
    r.set(R.EIAC, 1 << v);
    r.write(R.EITR(v), 0);
  }

  /** 7.1.2.8: key, redirection table, hashed fields (MRQC) and RXCSUM.PCSD; without RSS, MRQC 0 and the checksum in place of the hash. */
  private setupRss(): void {
    const rss = this.cfg.rss;
    if (rss) setupRss(this.regs, { key: rss.key, reta: rss.reta, hashTypes: rss.hashTypes });
    else {
      this.regs.write(R.MRQC, 0);
      this.regs.clear(R.RXCSUM, R.RXCSUM_PCSD);
    }
  }

  private pool(q: number): Mempool {
    return this.cfg.rxPools[q]!;
  }
}
