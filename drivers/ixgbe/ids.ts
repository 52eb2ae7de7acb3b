// PCI device ids of the Intel 10 GbE family, as Linux's ixgbe_type.h names them (vendor 0x8086), with the MAC
// each one carries. drivers/ixgbe/init.ts follows the 82599 datasheet and covers 82599-family MACs only: the
// X520 adapters are 82599s and are covered; X540 and X550 share the queue and filter registers but differ
// where it matters to bring-up — their copper PHYs are set up by firmware or MDIO rather than AUTOC, the
// X550 has a 512-entry RSS table (ERETA) and 64 RSS queues, the X550EM_a moves EEC/SWSM/FWSM to 0x15Fxx,
// and the RXEN sequence has no SECRXCTRL halt on the X550 — so they are listed, not driven.

export type IxgbeMac = "82599" | "X540" | "X550" | "X550EM_x" | "X550EM_a";

export interface IxgbeId {
  device: number;
  /** Linux's IXGBE_DEV_ID_… suffix. */
  name: string;
  mac: IxgbeMac;
}

export const INTEL_VENDOR = 0x8086;

export const IXGBE_IDS: readonly IxgbeId[] = [
  { device: 0x10f7, name: "82599_KX4", mac: "82599" },
  { device: 0x1514, name: "82599_KX4_MEZZ", mac: "82599" },
  { device: 0x1517, name: "82599_KR", mac: "82599" },
  { device: 0x10f8, name: "82599_COMBO_BACKPLANE", mac: "82599" },
  { device: 0x10f9, name: "82599_CX4", mac: "82599" },
  { device: 0x10fb, name: "82599_SFP", mac: "82599" },
  { device: 0x152a, name: "82599_BACKPLANE_FCOE", mac: "82599" },
  { device: 0x1529, name: "82599_SFP_FCOE", mac: "82599" },
  { device: 0x1507, name: "82599_SFP_EM", mac: "82599" },
  { device: 0x154d, name: "82599_SFP_SF2", mac: "82599" },
  { device: 0x1557, name: "82599EN_SFP", mac: "82599" },
  { device: 0x10fc, name: "82599_XAUI_LOM", mac: "82599" },
  { device: 0x151c, name: "82599_T3_LOM", mac: "82599" },
  { device: 0x154f, name: "82599_LS", mac: "82599" },
  { device: 0x154a, name: "82599_SFP_SF_QP", mac: "82599" }, // X520-4
  { device: 0x1558, name: "82599_QSFP_SF_QP", mac: "82599" }, // X520-Q1
  { device: 0x1528, name: "X540T", mac: "X540" },
  { device: 0x1560, name: "X540T1", mac: "X540" },
  { device: 0x1563, name: "X550T", mac: "X550" },
  { device: 0x15d1, name: "X550T1", mac: "X550" },
  { device: 0x15aa, name: "X550EM_X_KX4", mac: "X550EM_x" },
  { device: 0x15ab, name: "X550EM_X_KR", mac: "X550EM_x" },
  { device: 0x15ac, name: "X550EM_X_SFP", mac: "X550EM_x" },
  { device: 0x15ad, name: "X550EM_X_10G_T", mac: "X550EM_x" },
  { device: 0x15ae, name: "X550EM_X_1G_T", mac: "X550EM_x" },
  { device: 0x15c2, name: "X550EM_A_KR", mac: "X550EM_a" },
  { device: 0x15c3, name: "X550EM_A_KR_L", mac: "X550EM_a" },
  { device: 0x15c4, name: "X550EM_A_SFP_N", mac: "X550EM_a" },
  { device: 0x15c6, name: "X550EM_A_SGMII", mac: "X550EM_a" },
  { device: 0x15c7, name: "X550EM_A_SGMII_L", mac: "X550EM_a" },
  { device: 0x15ce, name: "X550EM_A_SFP", mac: "X550EM_a" },
];

/** The MAC behind a device id, or undefined for an id this table does not know (including VFs). */
export function macType(device: number): IxgbeMac | undefined {
  return IXGBE_IDS.find((i) => i.device === device)?.mac;
}

/** [vendor, device] pairs whose MAC drivers/ixgbe/init.ts covers (the 82599 family, X520 included). */
export const SUPPORTED_IDS: readonly (readonly [number, number])[] = IXGBE_IDS.filter((i) => i.mac === "82599").map((i) => [INTEL_VENDOR, i.device] as const);
