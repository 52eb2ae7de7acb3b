// Every driver bdk ships; openPort looks specs up here.
import type { DriverDef } from "../src/ethdev/driver.ts";
import { driver as afPacket } from "./af_packet/index.ts";
import { driver as nullPort } from "./null/index.ts";
import { driver as pcap } from "./pcap/index.ts";
import { driver as pci } from "./pci/index.ts";
import { driver as ring } from "./ring/index.ts";

export const ALL_DRIVERS: readonly DriverDef[] = [afPacket, ring, nullPort, pcap, pci];
