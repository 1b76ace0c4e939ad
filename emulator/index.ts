/**
 * A local emulator of the parts of Compute Engine and Cloud Storage that this project uses,
 * speaking the same REST shapes as Google's servers so that the real `@google-cloud/compute` and
 * `@google-cloud/storage` clients run against it unchanged.
 */
export { Emulator, startEmulator, type InstanceRef, type Inventory } from "./emulator";
export type { EmulatorOptions } from "./options";
export type {
  BootEndReason,
  GuestBackend,
  GuestContext,
  GuestDisk,
  GuestInstanceInfo,
  GuestMetadataView,
  GuestSelector,
  MetadataServerAddress,
  SerialPortNumber,
} from "./guests/guest";
export {
  scriptedGuest,
  BUILD_ID_METADATA_KEY,
  type ScriptedGuestOptions,
  type ScriptedOutcome,
} from "./guests/scriptedGuest";
export { idleGuest } from "./guests/idleGuest";
export {
  GCE_LATENCY,
  ZERO_LATENCY,
  type LatencyFigure,
  type LatencyKind,
  type LatencyModel,
  type LatencyOption,
} from "./latency";
export type { ErrorRateRule, InstanceFaultAction, ScheduledInstanceFault } from "./faults";
export type { RequestLog, RequestLogEntry } from "./requestLog";
export type { SerialLine } from "./compute/serialPort";
export { SERIAL_WINDOW_BYTES } from "./compute/serialPort";
export type { InstanceStatus } from "./compute/resources";
export { COS_IMAGES, type SeedImage } from "./compute/seedImages";
