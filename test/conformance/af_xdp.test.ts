// The conformance suite (suite.ts) on af_xdp, over a veth pair this test makes and removes (root only; skipped
// when the kernel has no XDP sockets). Both ends are af_xdp ports (native XDP on veth, copy mode).
import { openPort } from "../../src/index.ts";
import { isRoot } from "../../src/sys/libc.ts";
import { TestNet } from "../helpers/netns.ts";
import { conformance } from "./suite.ts";

process.env.BDK_AF_XDP_QUIET = "1";

if (isRoot()) {
  conformance({
    name: "af_xdp",
    open: () => {
      const net = new TestNet();
      const v = net.vethPair();
      try {
        return { tx: openPort(`af_xdp:${v.a}`), rx: openPort(`af_xdp:${v.b}`), cleanup: () => net.cleanup() };
      } catch (e) {
        net.cleanup();
        throw e;
      }
    },
    loopback: true,
    attachable: true,
    mutableMac: true,
  });
}
