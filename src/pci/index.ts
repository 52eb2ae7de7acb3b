// PCI functions through sysfs: scan, describe, bind to vfio-pci and release.
export * from "./ids.ts";
export * from "./paths.ts";
export * from "./net.ts";
export * from "./device.ts";
export * from "./holders.ts";
export * from "./bind.ts";
