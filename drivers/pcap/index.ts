import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef } from "../../src/ethdev/driver.ts";
import { PcapPort } from "./port.ts";

export const driver: DriverDef = {
  kind: "pcap",
  usage: "pcap:in=FILE[,loop=N][,out=FILE][,ns=1] — replay a capture as RX (loop 0: forever), write TX to a capture",
  params: {
    in: { type: "string", help: "pcap file to replay as received frames" },
    out: { type: "string", help: "pcap file that transmitted frames are written to" },
    loop: { type: "int", help: "times to replay the input (default 1, 0: forever)" },
    ns: { type: "bool", help: "write nanosecond timestamps (default microsecond)" },
  },
  open(params, spec) {
    return new PcapPort(spec, {
      in: params.in as string | undefined,
      out: params.out as string | undefined,
      loop: (params.loop as number | undefined) ?? 1,
      nanosecond: (params.ns as boolean | undefined) ?? false,
    });
  },
};

registerDriver(driver);
