// The Port contract (test/conformance/suite.ts) on the ixgbe driver: two IxgbePorts, each over its own 82599
// register model (device.ts), wired back to back by the descriptor engine (engine.ts), which a 1 ms timer
// steps: frames move whenever the suite yields (it sleeps in its loops, and awaits the worker). The ports are
// the real driver, unwrapped: the suite bursts on the shared advanced-descriptor queues directly.
//
// attachable: the queues' memory is in DMA arenas and the register file (where a worker's queue writes its
// tail) is an arena too, so a pinned worker's queue works on the same rings and registers as the owner's,
// and the engine, in the main thread, sees its descriptors.
//
// Each pair's cleanup fails the test if the model saw a datasheet violation or the engine a bad descriptor.
import { conformance } from "../conformance/suite.ts";
import { runEvery, wire } from "./engine.ts";
import { modelPort } from "./harness.ts";

conformance({
  name: "ixgbe on the 82599 register model (two ports wired by the descriptor engine)",
  open: () => {
    const a = modelPort();
    const b = modelPort();
    const timer = runEvery(wire(a.engine, b.engine), 1);
    return {
      tx: a.port,
      rx: b.port,
      cleanup: () => {
        timer.stop();
        const problems = [...a.device.model.violations, ...b.device.model.violations, ...a.engine.faults, ...b.engine.faults, ...timer.errors.map(String)];
        if (problems.length > 0) throw new Error(`82599 model / engine: ${problems.join("; ")}`);
      },
    };
  },
  loopback: true,
  attachable: true,
});
