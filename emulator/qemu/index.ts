/**
 * The local machine layer of the emulator: a Debian guest that stands in for COS, and a QEMU
 * launcher that runs it as a GCE-like instance.
 */
export * from "./accelerator";
export * from "./aptMirror";
export * from "./buildCache";
export * from "./cosBootloader";
export * from "./diskInterface";
export * from "./disks";
export * from "./gpt";
export * from "./guestImage";
export * from "./localCosImage";
export * from "./machine";
export * from "./prerequisites";
export * from "./qemuEmulator";
export * from "./qemuGuest";
export * from "./qemuCommandLine";
export * from "./qmp";
export * from "./serialForwarder";
export * from "./serialLog";
