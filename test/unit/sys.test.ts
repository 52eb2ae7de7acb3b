// src/sys: libc calls that really fail, translated into SysError; ioctl numbers; C struct codecs.
import { describe, expect, test } from "bun:test";
import { SysError } from "../../src/sys/errno.ts";
import { _IO, _IOR, _IOW, _IOWR } from "../../src/sys/ioctl.ts";
import {
  arrayBufferAt, close, eventfd, eventfdRead, getAffinity, ioctlInt, ioctlPtr, MAP_ANONYMOUS, MAP_SHARED, mmap, monotonicNs, munmap,
  O_RDONLY, open, PROT_READ, PROT_WRITE, raw, setAffinity,
} from "../../src/sys/libc.ts";
import { struct } from "../../src/sys/struct.ts";

function thrown(fn: () => unknown): SysError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SysError) return e;
    throw e;
  }
  throw new Error("did not throw");
}

describe("errno translation", () => {
  test("opening a missing file is ENOENT, naming the call and the path", () => {
    const e = thrown(() => open("/nonexistent/bdk-test", O_RDONLY));
    expect(e.code).toBe("ENOENT");
    expect(e.errno).toBe(2);
    expect(e.call).toBe("open");
    expect(e.message).toBe("open(/nonexistent/bdk-test) failed: ENOENT (No such file or directory)");
  });

  test("an ioctl on a closed fd is EBADF, naming the request", () => {
    const fd = eventfd();
    close(fd);
    const e = thrown(() => ioctlInt(fd, 0x5401, 0, "TCGETS"));
    expect(e.code).toBe("EBADF");
    expect(e.message).toContain(`ioctl(fd ${fd}, TCGETS) failed: EBADF`);
  });

  test("an ioctl the file does not know is ENOTTY, with a pointer argument too", () => {
    const fd = open("/dev/null", O_RDONLY);
    try {
      const e = thrown(() => ioctlPtr(fd, _IOR("T", 0x30, 4), new Uint32Array(1), "TIOCGPTN on /dev/null"));
      expect(e.code).toBe("ENOTTY");
    } finally {
      close(fd);
    }
  });

  test("errors we know the fix for carry it as a hint", () => {
    const e = new SysError("open", 13, "Permission denied", "/dev/vfio/vfio");
    expect(e.hint).toContain("run as root");
    expect(e.message).toEndWith("; run as root (or grant CAP_NET_RAW / CAP_SYS_ADMIN / CAP_IPC_LOCK as the call needs)");
    expect(new SysError("x", 16, "Device or resource busy", "", "close the other user").message).toEndWith("; close the other user");
  });

  test("pinning to a core that does not exist is an error that says where to look", () => {
    const before = getAffinity();
    expect(() => setAffinity([1023])).toThrow("/sys/devices/system/cpu/online");
    expect(() => setAffinity([-1])).toThrow("not a valid core number");
    expect(getAffinity()).toEqual(before);
  });
});

describe("memory and fds", () => {
  test("two views of one mmap see each other's writes", () => {
    const addr = mmap(8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, "test");
    new Uint32Array(arrayBufferAt(addr, 8192))[1000] = 0xfeedface;
    expect(new Uint32Array(arrayBufferAt(addr, 8192))[1000]).toBe(0xfeedface);
    munmap(addr, 8192);
  });

  test("an eventfd counts writes and reads 0 when empty", () => {
    const fd = eventfd();
    expect(eventfdRead(fd)).toBe(0);
    const one = new BigUint64Array([3n]);
    expect(Number(raw.write(fd, one, 8))).toBe(8);
    expect(eventfdRead(fd)).toBe(3);
    close(fd);
  });

  test("the monotonic clock moves forward in nanoseconds", () => {
    const a = monotonicNs();
    const b = monotonicNs();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Number.isSafeInteger(a)).toBe(true);
  });
});

describe("ioctl numbers", () => {
  test("match the kernel's macros for known requests", () => {
    expect(_IO(";", 100)).toBe(0x3b64); // VFIO_GET_API_VERSION
    expect(_IOW("T", 202, 4)).toBe(0x400454ca); // TUNSETIFF
    expect(_IOR("T", 0x30, 4)).toBe(0x80045430); // TIOCGPTN
    expect(_IOWR("U", 0, 16)).toBe(0xc0105500);
    expect(() => _IOW("x", 1, 1 << 14)).toThrow("does not fit in 14 bits");
  });
});

describe("struct codecs", () => {
  const S = struct("vfio_iommu_type1_dma_map", 32, {
    argsz: { offset: 0, type: "u32" }, flags: { offset: 4, type: "u32" }, vaddr: { offset: 8, type: "u64" },
    iova: { offset: 16, type: "u64" }, size: { offset: 24, type: "u64" },
  });

  test("encode writes little-endian fields at their offsets and decode reads them back", () => {
    const b = S.encode({ argsz: 32, flags: 3, vaddr: 0x7f12_3456_7000, iova: 2 ** 38, size: 0x200000 });
    expect([...b.subarray(0, 8)]).toEqual([32, 0, 0, 0, 3, 0, 0, 0]);
    expect([...b.subarray(8, 16)]).toEqual([0x00, 0x70, 0x56, 0x34, 0x12, 0x7f, 0, 0]);
    expect(S.decode(b)).toEqual({ argsz: 32, flags: 3, vaddr: 0x7f12_3456_7000, iova: 2 ** 38, size: 0x200000 });
  });

  test("bad layouts and values are refused", () => {
    expect(() => struct("bad", 4, { x: { offset: 2, type: "u32" } })).toThrow("overruns");
    expect(() => S.encode({ iova: 2 ** 60 })).toThrow("beyond 2^53");
    expect(() => S.encode({ flags: 1.5 })).toThrow("not an integer");
    expect(() => S.decode(new Uint8Array(8))).toThrow("needs 32 bytes");
  });
});
