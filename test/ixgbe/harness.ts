// Helpers for the tests that run the ixgbe driver against the 82599 register model: a port over a fresh
// ModelDevice with its descriptor engine, and frames to send.
import { IxgbePort } from "../../drivers/ixgbe/port.ts";
import type { Mempool } from "../../src/mem/mempool.ts";
import { ipv4PseudoSum, ipv4Write } from "../../src/net/ipv4.ts";
import { tcpWrite } from "../../src/net/tcp.ts";
import { udpUpdateChecksumIpv4, udpWrite } from "../../src/net/udp.ts";
import { checksumFold } from "../../src/net/checksum.ts";
import { ModelDevice } from "./device.ts";
import { NicEngine } from "./engine.ts";
import type { ModelOptions } from "./model.ts";

export interface ModelPort {
  device: ModelDevice;
  port: IxgbePort;
  engine: NicEngine;
}

let models = 0;

/** An IxgbePort opened on a new model (its constructor runs the datasheet's init), and the engine playing its NIC. */
export function modelPort(options: ModelOptions & { msix?: number } = {}, make = (d: ModelDevice): IxgbePort => new IxgbePort(d, d.address)): ModelPort {
  const mac = options.mac ?? `02:00:00:00:99:${(models & 0xff).toString(16).padStart(2, "0")}`;
  const device = new ModelDevice(`ixgbe-model:${models++}`, { ...options, mac });
  try {
    return { device, port: make(device), engine: new NicEngine(device) };
  } catch (e) {
    device.close();
    throw e;
  }
}

/**
 * An Ethernet/IPv4/UDP frame of `size` bytes (≥ 42) with correct checksums, numbered `i` (in the payload and
 * the source port, so RSS spreads a run of them); to `dst` (default broadcast).
 */
export function udpFrame(i: number, size: number, dst = "ff:ff:ff:ff:ff:ff"): Uint8Array<ArrayBuffer> {
  const f = new Uint8Array(size);
  f.set(dst.split(":").map((x) => parseInt(x, 16)));
  f.set([0x02, 0, 0, 0, 0x11, 0x22, 0x08, 0x00], 6);
  ipv4Write(f, 14, 0, size - 14, i & 0xffff, 0x4000, 64, 17, 0xc0a80001, 0xc0a80002 + (i % 7));
  udpWrite(f, 34, 10000 + (i % 4093), 4789, size - 34);
  for (let k = 42; k < size; k++) f[k] = (i * 31 + k) & 0xff;
  f.set([i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff], 42);
  udpUpdateChecksumIpv4(f, 14, 34);
  return f;
}

/**
 * A frame an app hands a NIC for checksum offload, DPDK's way: the IPv4 header checksum zeroed and the L4
 * field holding the pseudo-header sum only (for TSO: without the length). TCP (with `payload` bytes) or UDP.
 */
export function offloadFrame(l4: "udp" | "tcp", payload: number, tso = false): Uint8Array<ArrayBuffer> {
  const l4Hdr = l4 === "tcp" ? 20 : 8;
  const size = 14 + 20 + l4Hdr + payload;
  const f = new Uint8Array(size);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0x11, 0x22, 0x08, 0x00]);
  ipv4Write(f, 14, 0, size - 14, 0x1234, 0x4000, 64, l4 === "tcp" ? 6 : 17, 0xc0a80001, 0xc0a80002);
  if (l4 === "tcp") tcpWrite(f, 34, 40000, 80, 1000, 0, 0x18 | 0x01, 4096);
  else udpWrite(f, 34, 40000, 9, l4Hdr + payload);
  for (let k = 34 + l4Hdr; k < size; k++) f[k] = k & 0xff;
  f[24] = 0;
  f[25] = 0;
  const seed = checksumFold(ipv4PseudoSum(f, 14, l4 === "tcp" ? 6 : 17, tso ? 0 : l4Hdr + payload));
  const at = 34 + (l4 === "tcp" ? 16 : 6);
  f[at] = seed >> 8;
  f[at + 1] = seed & 0xff;
  return f;
}

/** Copies `frame` into buffer b (its length too). */
export function fill(pool: Mempool, b: number, frame: Uint8Array): void {
  pool.bytes.set(frame, pool.offset(b));
  pool.len[b] = frame.length;
}

/** The bytes of buffer b (a copy). */
export function bytesOf(pool: Mempool, b: number): Uint8Array<ArrayBuffer> {
  return pool.bytes.slice(pool.offset(b), pool.offset(b) + pool.len[b]!);
}
