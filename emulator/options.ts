/** Options of {@link startEmulator}. */
import type { SeedImage } from "./compute/seedImages";
import type { ErrorRateRule, ScheduledInstanceFault } from "./faults";
import type { GuestSelector } from "./guests/guest";
import type { ScriptedGuestOptions } from "./guests/scriptedGuest";
import type { LatencyOption } from "./latency";

/** How to start an emulator. Every field is optional. */
export interface EmulatorOptions {
  /** Port of the API server on 127.0.0.1. Default 0 (any free port). */
  port?: number;
  /**
   * Directory for object bytes and disk files. Default: a fresh temporary directory, removed by
   * `close()`. A given directory is left in place.
   */
  dataDir?: string;
  /** Latency model: `zero` (default), `gce`, or figures per kind (missing kinds are zero). */
  latency?: LatencyOption;
  /** Multiplier on every modelled delay (e.g. 0.01 runs the gce model 100× faster). >= 0, default 1. */
  timeScale?: number;
  /** Random 429/503 answers per API method (first matching rule wins). Default none. */
  errorRates?: ErrorRateRule[];
  /** Seed of the fault draws. Default 1. */
  seed?: number;
  /** Crashes and preemptions that fire by themselves. Default none. */
  scheduledFaults?: ScheduledInstanceFault[];
  /**
   * Chooses each new instance's guest. When absent or returning undefined: instances whose metadata
   * name a build (in their cloud-config, or `pci-build-id`) get a scripted guest with `defaultGuest`
   * options, others an idle guest.
   */
  guestFor?: GuestSelector;
  /** Scenario of the default scripted guest of build instances. Default: success with 3 status lines. */
  defaultGuest?: ScriptedGuestOptions;
  /**
   * Give images and disks backing raw files under `<dataDir>/compute` (images from raw disks are
   * extracted, disks from images copied sparse, blank disks are sparse files), so a real VM can use
   * them. Default false: images and disks are bookkeeping only (fast).
   */
  diskFiles?: boolean;
  /** Seed the default COS images in project `cos-cloud`. Default true. */
  includeCosImages?: boolean;
  /** More images to create at start. Default none. */
  seedImages?: SeedImage[];
  /** Refuse API requests without `Authorization: Bearer <token>` with 401. Default true. */
  requireAuth?: boolean;
  /** Longest time `zoneOperations.wait`/`globalOperations.wait` blocks, ms (GCE: about 2 minutes). Default 120000. */
  operationWaitCapMs?: number;
  /**
   * The projects' persistent-disk quota per region (GCE's `DISKS_TOTAL_GB`), in GB. A `disks.resize`
   * that would take the region's disks of the project above it fails its operation with
   * `QUOTA_EXCEEDED`, as GCE does. Only resizes are checked: creating disks is never refused for
   * quota (a difference from GCE that no test needs closed yet). Default: no quota.
   */
  diskQuotaGb?: number;
  /** Longest time (real ms) a guest may take to shut down on stop/delete/preemption. Default 90000. */
  guestShutdownGraceMs?: number;
  /**
   * Let `getSerialPortOutput` answer for TERMINATED instances. Default false: like GCE, output is
   * only readable while the instance is running (or stopping); a stopped instance answers 400
   * `resourceNotReady`.
   */
  serialOutputAfterStop?: boolean;
  /**
   * Service accounts (globs on the email) whose metadata-server tokens the storage API refuses with
   * 403, as for an account without a Cloud Storage role. Default none: every service account of a
   * bucket's project may read its objects (accounts of other projects never may).
   */
  deniedStorageServiceAccounts?: string[];
  /**
   * Subnetworks (globs on the name; `default` when an interface names none) that have Private Google
   * Access. A guest reaches Google's APIs when one of its interfaces has an external IP or sits in
   * such a subnetwork (`GuestContext.reachesGoogleApis`). Default none.
   */
  privateGoogleAccessSubnetworks?: string[];
}
