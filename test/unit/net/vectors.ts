/**
 * Known-good frames, constructed independently of src/net (struct.pack and a separate RFC 1071
 * sum in Python, then checked by tshark 4.0 with checksum validation on: every checksum "Good").
 * All: dst 02:00:00:00:00:02, src 02:00:00:00:00:01.
 */

/** IPv4 10.0.0.1 → 10.0.0.2, id 0x1234, DF, TTL 64; UDP 1234 → 5678, payload "bdk says hi" (odd). IP csum 1490, UDP 8d03. */
export const UDP4 =
  "020000000002020000000001" + "0800" +
  "45000027123440004011" + "1490" + "0a000001" + "0a000002" +
  "04d2162e0013" + "8d03" + "62646b2073617973206869";

/** IPv6 fd00::1 → fd00::2, flow label 0x12345, hop limit 64; UDP 1000 → 2000, payload "ipv6 udp!". UDP csum 7483. */
export const UDP6 =
  "020000000002020000000001" + "86dd" +
  "60012345" + "0011" + "11" + "40" + "fd000000000000000000000000000001" + "fd000000000000000000000000000002" +
  "03e807d00011" + "7483" + "697076362075647021";

/** IPv4 id 1, DF, TTL 64; TCP 40000 → 80 SYN, seq 0x01020304, window 65535. IP csum 26cd, TCP fb49. */
export const TCP4 =
  "020000000002020000000001" + "0800" +
  "45000028000140004006" + "26cd" + "0a000001" + "0a000002" +
  "9c400050" + "01020304" + "00000000" + "5002" + "ffff" + "fb49" + "0000";

/** IPv4 id 2, TTL 64; ICMP echo request id 0x4242 seq 1, data "ping!". IP csum 66d8, ICMP b5eb. */
export const ICMP4 =
  "020000000002020000000001" + "0800" +
  "45000021000200004001" + "66d8" + "0a000001" + "0a000002" +
  "0800" + "b5eb" + "4242" + "0001" + "70696e6721";

/** IPv6 fd00::1 → fd00::2, hop limit 64; ICMPv6 echo request id 0x4242 seq 1, data "ping6". ICMPv6 csum 2e9f. */
export const ICMP6 =
  "020000000002020000000001" + "86dd" +
  "60000000" + "000d" + "3a" + "40" + "fd000000000000000000000000000001" + "fd000000000000000000000000000002" +
  "8000" + "2e9f" + "4242" + "0001" + "70696e6736";

/** Broadcast ARP request: who has 10.0.0.2? tell 10.0.0.1 (02:00:00:00:00:01). */
export const ARP_REQUEST =
  "ffffffffffff020000000001" + "0806" +
  "0001" + "0800" + "06" + "04" + "0001" + "020000000001" + "0a000001" + "000000000000" + "0a000002";
