// Names for the PCI ids bdk cares about: the Intel NICs its drivers target (and their kernel drivers,
// to say where a device goes back to), plus enough vendors and classes to label everything else.
// A small table on purpose: `lspci` and pci.ids remain the reference for everything else.

export interface KnownNic {
  vendor: number;
  device: number;
  /** The chip's short name, as Intel's datasheets and DPDK's tables call it. */
  chip: string;
  /** The name lspci prints. */
  name: string;
  /** The Linux driver that normally owns it. */
  kernelDriver: string;
}

const nic = (device: number, chip: string, name: string, kernelDriver: string): KnownNic =>
  ({ vendor: 0x8086, device, chip, name, kernelDriver });

export const KNOWN_NICS: readonly KnownNic[] = [
  nic(0x100e, "82540EM", "82540EM Gigabit Ethernet Controller", "e1000"),
  nic(0x100f, "82545EM", "82545EM Gigabit Ethernet Controller (Copper)", "e1000"),
  nic(0x10d3, "82574L", "82574L Gigabit Network Connection", "e1000e"),
  nic(0x10c9, "82576", "82576 Gigabit Network Connection", "igb"),
  nic(0x10e6, "82576", "82576 Gigabit Network Connection (fiber)", "igb"),
  nic(0x10e7, "82576", "82576 Gigabit Network Connection (SerDes)", "igb"),
  nic(0x10e8, "82576", "82576 Gigabit Network Connection (quad port)", "igb"),
  nic(0x10ca, "82576 VF", "82576 Virtual Function", "igbvf"),
  nic(0x1521, "I350", "I350 Gigabit Network Connection", "igb"),
  nic(0x1520, "I350 VF", "I350 Ethernet Controller Virtual Function", "igbvf"),
  nic(0x1533, "I210", "I210 Gigabit Network Connection", "igb"),
  nic(0x1539, "I211", "I211 Gigabit Network Connection", "igb"),
  nic(0x10fb, "82599ES", "82599ES 10-Gigabit SFI/SFP+ Network Connection", "ixgbe"),
  nic(0x10fc, "82599", "82599 10 Gigabit XAUI/BX4 Network Connection", "ixgbe"),
  nic(0x10f8, "82599", "82599 10 Gigabit Dual Port Backplane Connection", "ixgbe"),
  nic(0x10f9, "82599", "82599 10 Gigabit CX4 Dual Port Network Connection", "ixgbe"),
  nic(0x1514, "82599", "82599 10 Gigabit KX4 Network Connection", "ixgbe"),
  nic(0x1517, "82599", "82599 10 Gigabit KR Network Connection", "ixgbe"),
  nic(0x151c, "82599", "82599 10 Gigabit TN Network Connection", "ixgbe"),
  nic(0x154d, "82599", "82599 10 Gigabit SFP+ Network Connection (X520-2)", "ixgbe"),
  nic(0x1557, "82599EN", "82599EN 10-Gigabit SFI/SFP+ Network Connection", "ixgbe"),
  nic(0x10ed, "82599 VF", "82599 Ethernet Controller Virtual Function", "ixgbevf"),
  nic(0x1528, "X540", "Ethernet Controller X540-AT2", "ixgbe"),
  nic(0x1515, "X540 VF", "X540 Ethernet Controller Virtual Function", "ixgbevf"),
  nic(0x1563, "X550", "Ethernet Controller X550T", "ixgbe"),
  nic(0x15ad, "X552", "Ethernet Connection X552/X557-AT 10GBASE-T", "ixgbe"),
  nic(0x15ab, "X552", "Ethernet Connection X552 10 GbE Backplane", "ixgbe"),
  nic(0x15c8, "X553", "Ethernet Connection X553/X557-AT 10GBASE-T", "ixgbe"),
];

const byId = new Map<number, KnownNic>(KNOWN_NICS.map((n) => [n.vendor * 0x10000 + n.device, n]));

export function knownNic(vendor: number, device: number): KnownNic | undefined {
  return byId.get(vendor * 0x10000 + device);
}

const VENDORS: Readonly<Record<number, string>> = {
  0x8086: "Intel", 0x1af4: "Red Hat (virtio)", 0x1b36: "Red Hat (QEMU)", 0x15b3: "Mellanox", 0x14e4: "Broadcom",
  0x10ec: "Realtek", 0x1924: "Solarflare", 0x19ee: "Netronome", 0x1077: "QLogic", 0x1d0f: "Amazon",
  0x1022: "AMD", 0x10de: "NVIDIA", 0x1234: "QEMU (Bochs)",
};

export function vendorName(vendor: number): string {
  return VENDORS[vendor] ?? `vendor ${hex4(vendor)}`;
}

const CLASSES: Readonly<Record<number, string>> = {
  0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0106: "SATA controller", 0x0108: "NVMe controller",
  0x0200: "Ethernet controller", 0x0207: "InfiniBand controller", 0x0280: "Network controller",
  0x0300: "VGA controller", 0x0600: "Host bridge", 0x0601: "ISA bridge", 0x0604: "PCI bridge",
  0x0c03: "USB controller", 0x0c05: "SMBus", 0x0880: "System peripheral", 0x00ff: "Unclassified device",
};

/** "Ethernet controller" for 0x020000; falls back to the class number. */
export function className(classCode: number): string {
  const sub = classCode >>> 8;
  return CLASSES[sub] ?? (sub >>> 8 === 0x02 ? "Network controller" : `class ${hex4(sub)}`);
}

/** A network controller: PCI base class 0x02. */
export function isNetworkClass(classCode: number): boolean {
  return classCode >>> 16 === 0x02;
}

/** A PCI-to-PCI bridge (root ports and conventional bridges): class 0x0604. */
export function isBridgeClass(classCode: number): boolean {
  return classCode >>> 8 === 0x0604;
}

export function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** "8086:100e". */
export function idPair(vendor: number, device: number): string {
  return `${hex4(vendor)}:${hex4(device)}`;
}
