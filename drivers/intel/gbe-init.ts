// Bringing an 8254x / 82574 / 82576 up, step by step as the manuals describe it: the steps these chips
// share (reset, link through the PHY, MAC address, multicast and VLAN tables). Each function is one step
// and cites its section: 8254x SDM = PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
// Manual; 82574 = 82574 GbE Controller Family Datasheet; the 82576 datasheet has the same steps in 4.5.
import { macToString, parseMac } from "../../src/net/ether.ts";
import { BdkError } from "../../src/sys/errors.ts";
import type { Mmio } from "./mmio.ts";
import {
  CTRL, CTRL_ASDE, CTRL_ILOS, CTRL_LRST, CTRL_PHY_RST, CTRL_RST, CTRL_SLU, CTRL_VME, ICR, IMC, MDIC, MDIC_ERROR, MDIC_OP_READ,
  MDIC_OP_WRITE, MDIC_PHY_SHIFT, MDIC_READY, MDIC_REG_SHIFT, MTA, MTA_WORDS, PHY_CTRL, PHY_CTRL_AN_ENABLE, PHY_CTRL_RESTART_AN,
  RAH0, RAL0, RCTL, STATUS, STATUS_FD, STATUS_LU, STATUS_SPEED_SHIFT, TCTL, VFTA, VFTA_WORDS,
} from "./gbe-regs.ts";

/** SDM 13.4.20: mask every interrupt cause, then read ICR to clear what is pending. */
export function maskInterrupts(r: Mmio): void {
  r.write(IMC, 0xffffffff);
  r.read(ICR);
}

/**
 * SDM 14.9 / 82574 4.6.1: a global reset (CTRL.RST) returns the MAC to its power-up state and reloads the
 * MAC address from the EEPROM; software waits for the bit to clear (≥1 µs on 8254x, up to ~10 ms with the
 * EEPROM reload), then masks interrupts again, as the reset may leave causes pending.
 */
export function globalReset(r: Mmio): void {
  r.write(RCTL, 0);
  r.write(TCTL, 0);
  r.set(CTRL, CTRL_RST);
  r.waitFor(CTRL, CTRL_RST, 0, 100, "global reset (CTRL.RST)");
  maskInterrupts(r);
}

/**
 * SDM 14.3 General Configuration: link set up by the MAC (CTRL.SLU) with speed auto-detection (ASDE),
 * not held in reset (LRST, PHY_RST cleared) and loss-of-signal not inverted (ILOS clear, copper); VLAN
 * mode (VME) starts off. Then autonegotiation is (re)started in the PHY through MDIC (SDM 13.5.1), which
 * is what brings the link up on an 82574 and does no harm on an 8254x.
 */
export function setupLink(r: Mmio): void {
  r.write(CTRL, (r.read(CTRL) | CTRL_SLU | CTRL_ASDE) & ~(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_VME));
  const pctl = phyRead(r, PHY_CTRL);
  phyWrite(r, PHY_CTRL, pctl | PHY_CTRL_AN_ENABLE | PHY_CTRL_RESTART_AN);
}

/** SDM 13.4.6: a PHY register read through MDIC (PHY address 1), polling READY. */
export function phyRead(r: Mmio, reg: number): number {
  r.write(MDIC, (reg << MDIC_REG_SHIFT) | (1 << MDIC_PHY_SHIFT) | MDIC_OP_READ);
  r.waitFor(MDIC, MDIC_READY, MDIC_READY, 50, `PHY register ${reg} read (MDIC.READY)`);
  const v = r.read(MDIC);
  if (v & MDIC_ERROR) throw new BdkError(`${r.name}: PHY register ${reg} read failed (MDIC.E)`, "the PHY did not answer: reset the device (bdk devbind --restore, then bind again)");
  return v & 0xffff;
}

export function phyWrite(r: Mmio, reg: number, value: number): void {
  r.write(MDIC, (value & 0xffff) | (reg << MDIC_REG_SHIFT) | (1 << MDIC_PHY_SHIFT) | MDIC_OP_WRITE);
  r.waitFor(MDIC, MDIC_READY, MDIC_READY, 50, `PHY register ${reg} write (MDIC.READY)`);
}

/** SDM 13.4.2: link up, duplex and speed from STATUS. */
export function linkStatus(r: Mmio): { up: boolean; speedMbps: number; fullDuplex: boolean } {
  const s = r.read(STATUS);
  const up = (s & STATUS_LU) !== 0;
  const speed = [10, 100, 1000, 1000][(s >>> STATUS_SPEED_SHIFT) & 3]!;
  return { up, speedMbps: up ? speed : 0, fullDuplex: (s & STATUS_FD) !== 0 };
}

/** SDM 13.4.30–31: the MAC address in receive-address register 0, loaded from the EEPROM at reset. */
export function readMac(r: Mmio): string {
  const lo = r.read(RAL0);
  const hi = r.read(RAH0);
  return macToString(new Uint8Array([lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff]));
}

/** SDM 13.4.31: RAH.AV (bit 31) makes the filter entry valid. */
export function writeMac(r: Mmio, mac: string): void {
  const b = parseMac(mac);
  r.write(RAL0, (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
  r.write(RAH0, (b[4]! | (b[5]! << 8) | (1 << 31)) >>> 0);
}

/** SDM 14.4: the multicast table array cleared (no multicast accepted unless promiscuous or listed). */
export function clearMulticastTable(r: Mmio): void {
  for (let i = 0; i < MTA_WORDS; i++) r.write(MTA + 4 * i, 0);
}

/** SDM 13.4.41: the VLAN filter table cleared (used only with RCTL.VFE). */
export function clearVlanTable(r: Mmio): void {
  for (let i = 0; i < VFTA_WORDS; i++) r.write(VFTA + 4 * i, 0);
}
