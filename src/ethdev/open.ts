// openPort(spec, options): finds the driver for a spec, checks its arguments and the options, opens the
// port, and configures it when a pool is given. Every refusal lists what is accepted.
//
// The registry starts empty: drivers register themselves when their module is imported (drivers/*/index.ts
// call registerDriver), and the package entry (src/index.ts) imports the built-in ones. ethdev never
// imports a driver: the arrows of the layer map point down.
import { BdkError } from "../sys/errors.ts";
import { OPEN_OPTION_KEYS, type DriverDef, type OpenOptions } from "./driver.ts";
import type { Port } from "./port.ts";
import { checkParams, splitSpec } from "./spec.ts";

const registry = new Map<string, DriverDef>();

/** Adds a driver (an embedding app's own software port, say). */
export function registerDriver(d: DriverDef): void {
  if (registry.has(d.kind)) throw new BdkError(`a driver for "${d.kind}" is already registered`, "pick another kind name");
  registry.set(d.kind, d);
}

/** The registered drivers' kinds ("af_packet", "ring", …, "pci"). */
export function driverKinds(): string[] {
  return [...registry.keys()];
}

export function driverUsage(): string[] {
  return [...registry.values()].map((d) => d.usage);
}

function checkOptions(spec: string, options: OpenOptions): void {
  if (options === null || typeof options !== "object") {
    throw new BdkError(`openPort("${spec}"): options must be an object`, `accepted keys: ${OPEN_OPTION_KEYS.join(", ")}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPEN_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new BdkError(`openPort("${spec}"): unknown option "${key}"`, `accepted keys: ${OPEN_OPTION_KEYS.join(", ")}`);
    }
  }
  const ints = ["rxQueues", "txQueues", "rxRingSize", "txRingSize", "mtu"] as const;
  for (const k of ints) {
    const v = options[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v))) {
      throw new BdkError(`openPort("${spec}"): option ${k} must be a whole number, got ${JSON.stringify(v)}`, `e.g. ${k}: ${k.endsWith("Size") ? 512 : 1}`);
    }
  }
  for (const k of ["promiscuous", "allowUnsafeNoIommu"] as const) {
    const v = options[k];
    if (v !== undefined && typeof v !== "boolean") throw new BdkError(`openPort("${spec}"): option ${k} must be true or false, got ${JSON.stringify(v)}`, `e.g. ${k}: true`);
  }
  if (options.pool !== undefined && (typeof options.pool !== "object" || typeof options.pool.alloc !== "function")) {
    throw new BdkError(`openPort("${spec}"): option pool must be a Mempool`, "create one with Mempool.create({ count: 8192 })");
  }
}

export function openPort(spec: string, options: OpenOptions = {}): Port {
  checkOptions(spec, options);
  const parsed = splitSpec(spec);
  const driver = registry.get(parsed.kind);
  if (!driver) {
    if (registry.size === 0) {
      throw new BdkError(`openPort("${spec}"): no port driver is registered`, 'import openPort from the package entry ("bdk" or src/index.ts), which registers the built-in drivers');
    }
    throw new BdkError(`unknown port spec "${spec}"`, `accepted: ${driverUsage().join("; ")}`);
  }
  const params = checkParams(spec, parsed, driver.params, driver.positional);
  const port = driver.open(params, spec, options);
  if (options.pool) {
    try {
      port.configure({ ...options, pool: options.pool });
    } catch (e) {
      port.close();
      throw e;
    }
  }
  return port;
}
