// ioctl request numbers, as asm-generic/ioctl.h builds them: dir(2) | size(14) | type(8) | nr(8).
const NRBITS = 8, TYPEBITS = 8, SIZEBITS = 14;
const NRSHIFT = 0, TYPESHIFT = NRSHIFT + NRBITS, SIZESHIFT = TYPESHIFT + TYPEBITS, DIRSHIFT = SIZESHIFT + SIZEBITS;
const NONE = 0, WRITE = 1, READ = 2;

function ioc(dir: number, type: number | string, nr: number, size: number): number {
  const t = typeof type === "string" ? type.charCodeAt(0) : type;
  if (size >= 1 << SIZEBITS) throw new RangeError(`ioctl argument size ${size} does not fit in ${SIZEBITS} bits`);
  // >>> 0 keeps the result an unsigned 32-bit number (READ|WRITE sets the top bit).
  return ((dir << DIRSHIFT) | (size << SIZESHIFT) | (t << TYPESHIFT) | (nr << NRSHIFT)) >>> 0;
}

export const _IO = (type: number | string, nr: number): number => ioc(NONE, type, nr, 0);
export const _IOR = (type: number | string, nr: number, size: number): number => ioc(READ, type, nr, size);
export const _IOW = (type: number | string, nr: number, size: number): number => ioc(WRITE, type, nr, size);
export const _IOWR = (type: number | string, nr: number, size: number): number => ioc(READ | WRITE, type, nr, size);
