/** Every fuzz family, in the order the runners take them. */
import type { FuzzFamily } from "./harness.ts";
import { family as args } from "./args.ts";
import { family as net } from "./net.ts";
import { family as pcap } from "./pcap.ts";
import { family as spec } from "./spec.ts";

export const FAMILIES: FuzzFamily[] = [pcap, net, spec, args];
