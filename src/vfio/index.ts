// VFIO: the container (one per process), groups, devices, and the safe-assignment verdict.
export * from "./uapi.ts";
export { VfioContainer, parseIommuInfo, widthOf, type IommuInfo } from "./container.ts";
export { VfioGroup, type GroupOpenOptions } from "./group.ts";
export { VfioDevice, IrqVectors, openVfioDevices, parseRegionInfo, type Bar, type Region, type IrqInfoResult, type VfioOpenOptions } from "./device.ts";
export { releaseAll as releaseAllVfio, handlersInstalled as vfioExitHandlersInstalled } from "./registry.ts";
export * from "./safety.ts";
