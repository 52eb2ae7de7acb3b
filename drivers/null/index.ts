// `null[:size=N,mode=source|sink|both]`: a port that makes and swallows frames, for benchmarks.
import { registerDriver } from "../../src/ethdev/open.ts";
import type { DriverDef } from "../../src/ethdev/driver.ts";
import { BdkError } from "../../src/sys/errors.ts";
import { MAX_FRAME, MIN_FRAME, NULL_MODES, NullPort, type NullMode } from "./port.ts";

export { NullPort, nullFrame, type NullMode } from "./port.ts";

export const driver: DriverDef = {
  kind: "null",
  usage: "null[:size=N,mode=source|sink|both] — RX makes N-byte UDP frames (default 64), TX frees what it gets; for benchmarks",
  params: {
    size: { type: "int", help: `frame size in bytes, ${MIN_FRAME}..${MAX_FRAME} (default 64)` },
    mode: { type: "string", help: "source (RX only), sink (TX only) or both (default)" },
  },
  open(params, spec) {
    const size = params.size === undefined ? 64 : Number(params.size);
    if (size < MIN_FRAME || size > MAX_FRAME) {
      throw new BdkError(`port spec "${spec}": size=${size} is out of range`, `give ${MIN_FRAME}..${MAX_FRAME} bytes (default 64)`);
    }
    const mode = (params.mode ?? "both") as string;
    if (!(NULL_MODES as readonly string[]).includes(mode)) {
      throw new BdkError(`port spec "${spec}": mode=${mode} is not a null port mode`, `give mode=${NULL_MODES.join(", mode=")}`);
    }
    return new NullPort(spec, size, mode as NullMode);
  },
};

registerDriver(driver);
