// Every driver bdk ships. Importing this module registers them with openPort (each driver's index.ts
// registers itself); the package entry (src/index.ts) does.
import "./af_packet/index.ts";
import "./af_xdp/index.ts";
import "./ring/index.ts";
import "./null/index.ts";
import "./pcap/index.ts";
import "./pci/index.ts";
import "./e1000/index.ts";
import "./igb/index.ts";
import "./ixgbe/index.ts";
