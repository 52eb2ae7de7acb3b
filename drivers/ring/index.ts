// `ring:NAME`: an in-memory link between two ports of one process (or, through queue handles, of its workers).
// The semantics are described in port.ts.
import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef } from "../../src/ethdev/driver.ts";
import { RingPort } from "./port.ts";

export { attachQueue, RingPort, RingRxQueue, RingTxQueue, ringLinks } from "./port.ts";

export const driver: DriverDef = {
  kind: "ring",
  usage: "ring:NAME — an in-memory link; the two opens of one NAME are its two ends (what one sends, the other receives)",
  positional: "name",
  params: {
    name: { type: "string", help: "the link's name; open it twice to get both ends", required: true },
  },
  open(params, spec) {
    return RingPort.openEnd(spec, String(params.name));
  },
};

registerDriver(driver);
