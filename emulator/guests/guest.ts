/**
 * The seam between an emulated instance and whatever runs "inside" it. The emulator owns the
 * instance's lifecycle (statuses, operations, serial buffers, metadata); a {@link GuestBackend}
 * supplies the behaviour of the operating system: a scripted guest for fast tests, or a real VM
 * (QEMU) for end-to-end tests.
 */
import type { LatencyKind } from "../latency";

/** GCE serial ports: 1 is the console (`ttyS0`), 3 is the build's progress channel (`ttyS2`). */
export type SerialPortNumber = 1 | 2 | 3 | 4;

/** What a guest may know about its instance (a snapshot taken at boot). */
export interface GuestInstanceInfo {
  /** Project id. */
  project: string;
  /** Zone name, e.g. `us-central1-a`. */
  zone: string;
  /** Instance name. */
  name: string;
  /** Instance id (uint64 as a decimal string). */
  id: string;
  /** Machine type name, e.g. `e2-standard-2`. */
  machineType: string;
  /** The machine type's vCPUs (GCE's `guestCpus`: e2-standard-2 has 2). */
  guestCpus: number;
  /** The machine type's memory in MiB (GCE's `memoryMb`: e2-standard-2 has 8192). */
  memoryMb: number;
  /** Instance labels. */
  labels: Record<string, string>;
  /** Accelerators, e.g. `[{ type: "nvidia-tesla-t4", count: 1 }]`. */
  accelerators: Array<{ type: string; count: number }>;
}

/** A disk attached to the instance, as the guest sees it. */
export interface GuestDisk {
  /** Device name: the guest finds it at `/dev/disk/by-id/google-<deviceName>`. */
  deviceName: string;
  /** Name of the disk resource. */
  diskName: string;
  /** True for the boot disk. */
  boot: boolean;
  /** Attachment mode. */
  mode: "READ_WRITE" | "READ_ONLY";
  /** Attachment index (0 = boot). */
  index: number;
  /** Disk size in GB (GiB, as GCE counts). */
  sizeGb: number;
  /** Disk labels. */
  labels: Record<string, string>;
  /**
   * The disk's backing file (a raw image), present only when the emulator runs with `diskFiles`.
   * A VM-backed guest opens it read-write; the file is the disk.
   */
  filePath?: string;
}

/** The instance metadata as the guest sees it (the same data the metadata server serves). */
export interface GuestMetadataView {
  /** The value of an instance attribute, or undefined. */
  get(key: string): string | undefined;
  /** All instance attributes. */
  all(): Record<string, string>;
  /**
   * Resolves with the value of `key` once it is set (and `accept(value)` holds, when given); resolves
   * undefined when `timeoutMs` (unscaled) passes or `signal` aborts first.
   */
  waitFor(
    key: string,
    options?: { timeoutMs?: number; signal?: AbortSignal; accept?: (value: string) => boolean },
  ): Promise<string | undefined>;
  /** Calls `listener` after every metadata change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** Address of the instance's own metadata server (reachable on loopback only). */
export interface MetadataServerAddress {
  /** Always `127.0.0.1`. */
  host: string;
  /** The port serving this instance (one server per instance identifies the instance by port). */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
}

/** Why a boot ended; the `reason` of the boot's abort signal. */
export type BootEndReason =
  "stop" | "delete" | "crash" | "preempt" | "reboot" | "powerOff" | "emulatorClosed";

/** What a guest gets for one boot. */
export interface GuestContext {
  /** The instance. */
  readonly instance: GuestInstanceInfo;
  /** 1 on the first boot, +1 on every reboot. */
  readonly bootNumber: number;
  /**
   * Aborted when this boot ends for any reason; `signal.reason` is a {@link BootEndReason}. The
   * guest must stop writing and resolve its `boot` promise promptly (a VM: shut down or be killed).
   */
  readonly signal: AbortSignal;
  /** Appends output to a serial port (ignored once `signal` has aborted). */
  writeSerial(port: SerialPortNumber, text: string | Buffer): void;
  /** The instance metadata. */
  readonly metadata: GuestMetadataView;
  /** The instance's metadata server (for a VM: forward 169.254.169.254:80 here). */
  readonly metadataServer: MetadataServerAddress;
  /** The disks attached now, by index. */
  disks(): GuestDisk[];
  /** Calls `listener` when a disk is hot-attached during this boot; returns an unsubscribe function. */
  onDiskAttached(listener: (disk: GuestDisk) => void): () => void;
  /** Calls `listener` when a disk is detached during this boot; returns an unsubscribe function. */
  onDiskDetached(listener: (disk: GuestDisk) => void): () => void;
  /**
   * Calls `listener` when an attached disk grows during this boot (`disks.resize`), with the disk at
   * its new size and its backing file (if any) already that long. The resize operation completes
   * once every listener has settled, so a VM-backed guest sees the larger disk when it does (as on
   * GCE); a listener's rejection is written to serial port 1. Returns an unsubscribe function.
   */
  onDiskResized(listener: (disk: GuestDisk) => void | Promise<void>): () => void;
  /**
   * Resolves with the disk of that device name once attached (at once if it already is), or
   * undefined when `timeoutMs` (unscaled) passes or the boot ends first.
   */
  waitForDisk(deviceName: string, options?: { timeoutMs?: number }): Promise<GuestDisk | undefined>;
  /** The guest powers itself off: STOPPING, then TERMINATED. Ends this boot. */
  powerOff(): void;
  /** The guest reboots: this boot ends, the instance stays RUNNING, `boot` is called again. */
  reboot(): void;
  /** The emulator's modelled delay for `kind`, scaled (for simulated guests, e.g. `guestBoot`). */
  modelDelayMs(kind: LatencyKind, sizeGiB?: number): number;
  /** Waits `ms` milliseconds (unscaled), resolving early when this boot ends. */
  sleep(ms: number): Promise<void>;
  /**
   * Whether the guest has a route to Google's APIs (Cloud Storage): an external IP, or a subnetwork
   * with Private Google Access (emulator option `privateGoogleAccessSubnetworks`). A simulated guest
   * without one must fail its requests there as a connection timeout would.
   */
  readonly reachesGoogleApis: boolean;
}

/** The behaviour behind an instance. One backend object serves one instance for its whole life. */
export interface GuestBackend {
  /**
   * Runs one boot. Called when the instance reaches RUNNING and again after every reboot. The
   * returned promise settles when this boot is over: after the guest called `powerOff()`/`reboot()`,
   * or after `ctx.signal` aborted and the guest has shut down. A boot that settles without either
   * leaves a halted but RUNNING machine, like an OS that stops without ACPI power-off; a rejection
   * is written to serial port 1 as a panic message, and the instance stays RUNNING.
   */
  boot(ctx: GuestContext): Promise<void>;
}

/**
 * Chooses the backend of a new instance (called once per `instances.insert`). Returning undefined
 * uses the emulator's default guest.
 */
export type GuestSelector = (
  instance: GuestInstanceInfo,
  metadata: Record<string, string>,
) => GuestBackend | undefined;
