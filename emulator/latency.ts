/**
 * How long the emulated cloud takes for each kind of work. Every delay is `baseMs + perGiBMs × GiB`,
 * multiplied by a uniform `timeScale`, so tests run the same state machine at zero latency and
 * benchmarks run it at figures close to Google's.
 */

/** The kinds of work the emulator delays. */
export type LatencyKind =
  /** Between an operation's creation (PENDING) and the start of its work (RUNNING). */
  | "operationStart"
  /** `images.insert` from `rawDisk.source`; size is the raw disk's GiB. */
  | "imageFromRawDisk"
  /** `images.insert` from `sourceDisk`; size is the disk's GB. */
  | "imageFromDisk"
  /** `disks.insert` (or an inline boot disk) from `sourceImage`; size is the disk's GB. */
  | "diskFromImage"
  /** `disks.insert` of a blank disk. */
  | "blankDisk"
  /** An instance in PROVISIONING (resources being allocated). */
  | "instanceProvisioning"
  /** An instance in STAGING (disks attached, host prepared) before RUNNING. */
  | "instanceStaging"
  /** Firmware + kernel + init before a simulated guest's user space starts writing. */
  | "guestBoot"
  /** `instances.stop`: STOPPING to TERMINATED, after the guest has shut down. */
  | "instanceStop"
  /** A guest-initiated power-off: STOPPING to TERMINATED. */
  | "guestPowerOff"
  /** Preemption: the guest's grace period between the preemption notice and TERMINATED. */
  | "preemption"
  /** `instances.delete` of a stopped instance (disks with autoDelete go with it). */
  | "instanceDelete"
  /** `disks.delete`. */
  | "diskDelete"
  /** `images.delete`. */
  | "imageDelete"
  /** `instances.attachDisk` / `detachDisk`. */
  | "diskAttach"
  /** Small metadata-only mutations: setMetadata, setLabels, setDiskAutoDelete, deprecate. */
  | "metadataUpdate"
  /** `disks.resize` (the size changes at once; the guest sees it without a reboot). */
  | "diskResize"
  /**
   * A simulated guest's connection to Google's APIs without a route to them (no external IP, no
   * Private Google Access): nothing answers, so the client gives up at its connect timeout.
   */
  | "unroutedConnect";

/** One latency figure: a fixed part plus a part proportional to size. */
export interface LatencyFigure {
  /** Fixed delay in milliseconds. Must be >= 0. */
  baseMs: number;
  /** Additional milliseconds per GiB (GB for disks) of data involved. Default 0. */
  perGiBMs?: number;
}

/** A full model: one figure per kind. */
export type LatencyModel = Record<LatencyKind, LatencyFigure>;

/** Every delay zero: the state machine still runs, as fast as the event loop allows. */
export const ZERO_LATENCY: LatencyModel = {
  operationStart: { baseMs: 0 },
  imageFromRawDisk: { baseMs: 0 },
  imageFromDisk: { baseMs: 0 },
  diskFromImage: { baseMs: 0 },
  blankDisk: { baseMs: 0 },
  instanceProvisioning: { baseMs: 0 },
  instanceStaging: { baseMs: 0 },
  guestBoot: { baseMs: 0 },
  instanceStop: { baseMs: 0 },
  guestPowerOff: { baseMs: 0 },
  preemption: { baseMs: 0 },
  instanceDelete: { baseMs: 0 },
  diskDelete: { baseMs: 0 },
  imageDelete: { baseMs: 0 },
  diskAttach: { baseMs: 0 },
  metadataUpdate: { baseMs: 0 },
  diskResize: { baseMs: 0 },
  unroutedConnect: { baseMs: 0 },
};

/**
 * Typical Compute Engine figures (us-central1-class zones, small standard machines, pd-balanced).
 * They are medians to plan with, not guarantees; GCE varies by zone, load and disk type. Sources:
 *
 * - Instance start: hail-is/hail#10069 observed `lastStartTimestamp` about 10 s after
 *   `creationTimestamp` (PROVISIONING + STAGING); PerfKitBenchmarker#717 measured RUNNING within a
 *   few seconds of the insert returning for n1-standard-1 and boot-to-SSH around 30-80 s. We use
 *   4 s PROVISIONING + 6 s STAGING, and 25 s of kernel/init boot for a COS guest (COS documents
 *   boots in "seconds"; cloud-init then runs every boot).
 * - Image from a disk: packer#3026 and openconfig/kne#305 report image creation from build disks
 *   "often taking just over 5 minutes" for 50-100 GB disks and packer's 5-minute default being too
 *   short, while 10 GB images usually finish in 1-2 minutes: 40 s + 8 s/GB (10 GB → 2 min, 50 GB →
 *   7 min).
 * - Image from a raw disk archive: Google's import is a server-side copy from Cloud Storage plus a
 *   decompression; gcloud users (compute-image-tools#645) see small images in minutes and large ones
 *   past 30 minutes: 60 s + 20 s/GiB of raw disk.
 * - Disk from image: disks from public images are created in seconds (lazy restore): 5 s + 0.3 s/GB.
 *   Blank disks: 3 s.
 * - Stop: GCE sends an ACPI shutdown and gives the guest up to 90 s (120 s with graceful shutdown);
 *   a quiet Linux guest goes down in ~10-20 s: 15 s. A guest's own power-off: 8 s to TERMINATED.
 * - Preemption: Spot/preemptible VMs get a 30 s grace period before they are stopped (GCE docs,
 *   "Preemption process").
 * - Deletes: terraform's acceptance tests (hashicorp/terraform#10081) show ~50 s for create + delete
 *   of a small instance; instance delete 20 s, disk/image delete 4 s.
 * - Attach/detach, setMetadata, setLabels, setDiskAutoDelete, deprecate: operations finish in 2-5 s
 *   (attach 4 s, metadata-only 2 s); operations go from PENDING to RUNNING in well under a second
 *   (0.5 s).
 * - Disk resize: GCE changes a persistent disk's size without copying data, like the metadata-only
 *   operations above (an assumption, not a measured figure): 2 s.
 * - No route to Google's APIs: packets to them are dropped, not refused, so a connection waits for
 *   the client's connect timeout; the start script gives curl `--connect-timeout 10`: 10 s.
 */
export const GCE_LATENCY: LatencyModel = {
  operationStart: { baseMs: 500 },
  imageFromRawDisk: { baseMs: 60_000, perGiBMs: 20_000 },
  imageFromDisk: { baseMs: 40_000, perGiBMs: 8_000 },
  diskFromImage: { baseMs: 5_000, perGiBMs: 300 },
  blankDisk: { baseMs: 3_000 },
  instanceProvisioning: { baseMs: 4_000 },
  instanceStaging: { baseMs: 6_000 },
  guestBoot: { baseMs: 25_000 },
  instanceStop: { baseMs: 15_000 },
  guestPowerOff: { baseMs: 8_000 },
  preemption: { baseMs: 30_000 },
  instanceDelete: { baseMs: 20_000 },
  diskDelete: { baseMs: 4_000 },
  imageDelete: { baseMs: 4_000 },
  diskAttach: { baseMs: 4_000 },
  metadataUpdate: { baseMs: 2_000 },
  diskResize: { baseMs: 2_000 },
  unroutedConnect: { baseMs: 10_000 },
};

/** Named models accepted by the `latency` option. */
export const LATENCY_MODELS = { zero: ZERO_LATENCY, gce: GCE_LATENCY } as const;

/** A model name, or a model (partial models fill the rest from {@link ZERO_LATENCY}). */
export type LatencyOption = keyof typeof LATENCY_MODELS | Partial<LatencyModel>;

/** Turns the latency option and `timeScale` into delays. */
export class Latency {
  private readonly model: LatencyModel;

  /**
   * @param option Model name or figures. Default `zero`.
   * @param timeScale Multiplier applied to every delay (e.g. 0.01 runs the gce model 100× faster).
   *   Must be >= 0. Default 1.
   */
  constructor(
    option: LatencyOption = "zero",
    readonly timeScale = 1,
  ) {
    if (!(timeScale >= 0)) throw new Error(`timeScale must be >= 0, got ${timeScale}`);
    this.model =
      typeof option === "string" ? LATENCY_MODELS[option] : { ...ZERO_LATENCY, ...option };
    if (this.model === undefined)
      throw new Error(`unknown latency model ${JSON.stringify(option)}`);
  }

  /** The delay for `kind` with `sizeGiB` of data, in milliseconds, already scaled. */
  ms(kind: LatencyKind, sizeGiB = 0): number {
    const figure = this.model[kind];
    return (figure.baseMs + (figure.perGiBMs ?? 0) * sizeGiB) * this.timeScale;
  }

  /** Waits for the delay of `kind`; resolves early (without throwing) if `signal` aborts. */
  wait(kind: LatencyKind, sizeGiB = 0, signal?: AbortSignal): Promise<void> {
    return sleep(this.ms(kind, sizeGiB), signal);
  }
}

/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts. A zero delay still yields to the
 * event loop once (via `setImmediate`), so state changes stay observable in order.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    let cancelTimer = (): void => undefined;
    const done = (): void => {
      cancelTimer();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    if (ms <= 0) {
      const handle = setImmediate(done);
      cancelTimer = () => clearImmediate(handle);
    } else {
      const handle = setTimeout(done, ms);
      cancelTimer = () => clearTimeout(handle);
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
