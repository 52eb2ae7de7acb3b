// Fixed-layout C structs over bytes, for setup-time calls (ioctl, setsockopt, file headers).
// Not for the packet path: it goes through DataView and builds objects.

export type FieldType = "u8" | "u16" | "u32" | "i32" | "u64" | "i64" | "u16be" | "u32be";

export interface Field {
  readonly offset: number;
  readonly type: FieldType;
}

export type Layout = Readonly<Record<string, Field>>;

const SIZES: Record<FieldType, number> = { u8: 1, u16: 2, u16be: 2, u32: 4, u32be: 4, i32: 4, u64: 8, i64: 8 };

/** A struct type: its size, its fields, and codecs. 64-bit fields are numbers (exact below 2^53). */
export class Struct<L extends Layout> {
  constructor(readonly name: string, readonly size: number, readonly fields: L) {
    for (const [k, f] of Object.entries(fields)) {
      if (f.offset + SIZES[f.type] > size) throw new RangeError(`${name}.${k} at ${f.offset} overruns the struct's ${size} bytes`);
    }
  }

  /** A zeroed buffer of the struct's size with the given fields set. */
  encode(values: Partial<Record<keyof L, number>>, into?: Uint8Array): Uint8Array {
    const bytes = into ?? new Uint8Array(this.size);
    if (bytes.byteLength < this.size) throw new RangeError(`${this.name} needs ${this.size} bytes, got ${bytes.byteLength}`);
    if (!into) bytes.fill(0, 0, this.size);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const k in values) {
      const v = values[k];
      if (v !== undefined) writeField(dv, this.fields[k]!, v, `${this.name}.${String(k)}`);
    }
    return bytes;
  }

  decode(bytes: Uint8Array): Record<keyof L, number> {
    if (bytes.byteLength < this.size) throw new RangeError(`${this.name} needs ${this.size} bytes, got ${bytes.byteLength}`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = {} as Record<keyof L, number>;
    for (const k in this.fields) out[k] = readField(dv, this.fields[k]!);
    return out;
  }

  get(bytes: Uint8Array, key: keyof L): number {
    return readField(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), this.fields[key]!);
  }

  set(bytes: Uint8Array, key: keyof L, value: number): void {
    writeField(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), this.fields[key]!, value, `${this.name}.${String(key)}`);
  }
}

export function struct<L extends Layout>(name: string, size: number, fields: L): Struct<L> {
  return new Struct(name, size, fields);
}

function readField(dv: DataView, f: Field): number {
  switch (f.type) {
    case "u8": return dv.getUint8(f.offset);
    case "u16": return dv.getUint16(f.offset, true);
    case "u16be": return dv.getUint16(f.offset, false);
    case "u32": return dv.getUint32(f.offset, true);
    case "u32be": return dv.getUint32(f.offset, false);
    case "i32": return dv.getInt32(f.offset, true);
    case "u64": return dv.getUint32(f.offset, true) + dv.getUint32(f.offset + 4, true) * 2 ** 32;
    case "i64": return dv.getUint32(f.offset, true) + dv.getInt32(f.offset + 4, true) * 2 ** 32;
  }
}

function writeField(dv: DataView, f: Field, v: number, name: string): void {
  if (!Number.isFinite(v) || !Number.isInteger(v)) throw new TypeError(`${name}: ${v} is not an integer`);
  switch (f.type) {
    case "u8": dv.setUint8(f.offset, v); return;
    case "u16": dv.setUint16(f.offset, v, true); return;
    case "u16be": dv.setUint16(f.offset, v, false); return;
    case "u32": dv.setUint32(f.offset, v >>> 0, true); return;
    case "u32be": dv.setUint32(f.offset, v >>> 0, false); return;
    case "i32": dv.setInt32(f.offset, v, true); return;
    case "u64":
    case "i64": {
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) throw new RangeError(`${name}: ${v} is beyond 2^53`);
      const lo = v >>> 0;
      const hi = Math.floor(v / 2 ** 32);
      dv.setUint32(f.offset, lo, true);
      dv.setInt32(f.offset + 4, hi | 0, true);
      return;
    }
  }
}

/** struct sockaddr_un's size: sa_family_t (u16), then sun_path[108]. */
export const SOCKADDR_UN_BYTES = 110;
export const AF_UNIX = 1;

/**
 * A struct sockaddr_un for a filesystem path (NUL-terminated inside sun_path's 108 bytes). Throws a RangeError
 * for a path that does not fit: 107 bytes at most, as the kernel takes them.
 */
export function sockaddrUn(path: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.byteLength === 0 || bytes.byteLength > SOCKADDR_UN_BYTES - 3) {
    throw new RangeError(`a Unix socket path is 1..${SOCKADDR_UN_BYTES - 3} bytes; ${path} is ${bytes.byteLength}`);
  }
  if (bytes.includes(0)) throw new RangeError(`a Unix socket path has no NUL byte: ${JSON.stringify(path)}`);
  const out = new Uint8Array(SOCKADDR_UN_BYTES);
  out[0] = AF_UNIX & 0xff;
  out[1] = AF_UNIX >> 8;
  out.set(bytes, 2);
  return out;
}
