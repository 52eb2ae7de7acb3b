/** Packet headers and checksums: the public pieces of src/net. */
export * from "./bytes.ts";
export * from "./checksum.ts";
export * from "./ether.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./udp.ts";
export * from "./tcp.ts";
export * from "./icmp.ts";
