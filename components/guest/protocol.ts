/**
 * The contract between the orchestrator (the dynamic provider, running on the user's machine) and the
 * provisioner (bash, running inside the preload VM). Both sides are versioned together; the
 * provisioner announces {@link PROTOCOL_VERSION} first so a mismatch is refused instead of misread.
 *
 * Everything here is plain data: the provisioner reads its config from the CIDATA disk and writes
 * marker lines to serial port 3 (`/dev/ttyS2`).
 */

/** Bumped whenever the config shape or the serial markers change incompatibly. */
export const PROTOCOL_VERSION = 2;

/**
 * Line prefixes on serial port 3. Every line the provisioner (and the user's scripts) print starts
 * with exactly one of these, followed by a space.
 *
 * - `BuildProtocol: <version> build=<buildId> [stage=boot]`: the first line of every provisioner run
 *   (also after a reboot). The cloud-config's start script prints it with `stage=boot` as soon as the
 *   VM has booted (before the CIDATA tree is there); the provisioner prints it without a stage.
 * - `BuildStatus: <text>`: progress; the orchestrator streams these to the user.
 * - `BuildSucceeded: <text>`: every step done and the machine cleaned; the provisioner now waits for
 *   the acknowledgement, then powers off.
 * - `BuildFailed: <step>: <reason>`: the build failed in `<step>` (a step label such as
 *   `step 2/3 runScript install.sh`, or `setup`); the VM powers off after a bounded wait.
 * - `BuildDiskResize: <sizeGb>`: a disk-layout step needs the boot disk grown to `<sizeGb>` GB (a
 *   whole number, never more than {@link ProvisionerConfig.diskSizeGb}). The orchestrator resizes
 *   the disk (Compute's `disks.resize`), then sets {@link DISK_RESIZED_METADATA_KEY} to `<sizeGb>`;
 *   the provisioner waits for that (bounded by {@link ProvisionerConfig.diskResizeTimeoutSeconds}).
 *   After a reboot the same request may come again for a disk that already has that size: it is
 *   acknowledged again. On timeout the provisioner fails the step with
 *   `BuildFailed: <step>: the boot disk was not resized to <n> GB within <t> s`.
 */
export const MARKERS = {
  protocol: "BuildProtocol:",
  status: "BuildStatus:",
  succeeded: "BuildSucceeded:",
  failed: "BuildFailed:",
  diskResize: "BuildDiskResize:",
} as const;

/** GCE serial port the provisioner writes to (the guest's `/dev/ttyS2`). */
export const SERIAL_PORT = 3;

/** Instance metadata key the orchestrator sets (value: the build id) once it has seen `BuildSucceeded:`. */
export const ACK_METADATA_KEY = "pci-build-ack";

/**
 * Instance metadata key the orchestrator sets once it has grown the boot disk for a
 * `BuildDiskResize: <sizeGb>` request; its value is that `<sizeGb>`. The provisioner waits for it with
 * the metadata server's `?wait_for_change=true`, as it does for {@link ACK_METADATA_KEY}.
 */
export const DISK_RESIZED_METADATA_KEY = "pci-disk-resized";

/**
 * Instance metadata key that carries the CIDATA tree of small, secret-free builds (base64 of a
 * gzip'd tar) instead of a CIDATA disk; the cloud-config's start script unpacks it where the disk
 * would be mounted.
 */
export const INLINE_CIDATA_METADATA_KEY = "pci-cidata";

/**
 * Instance metadata key that tells the start script to fetch the CIDATA tree from Cloud Storage
 * itself (large or secret builds). Its value is `<url> <bytes> <sha256>`: the object's media URL
 * (the JSON API's `...?alt=media`, read with the VM's service-account token from the metadata
 * server, never with a credential in the URL), the archive's size in bytes and its SHA-256 in hex.
 * The archive is a gzip'd tar like {@link INLINE_CIDATA_METADATA_KEY}'s, unpacked the same way.
 */
export const FETCH_CIDATA_METADATA_KEY = "pci-cidata-fetch";

/**
 * How the start script reports the fetch on serial port 3, as `BuildStatus:` texts the
 * orchestrator acts on: `<fetched> (<bytes> bytes, sha256 verified)` once the tree is unpacked (the
 * object is deleted then), `<failed> <reason>; waiting for the CIDATA disk` when it cannot be read
 * (the orchestrator then delivers the disk instead).
 */
export const CIDATA_FETCH_STATUS = {
  fetched: "CIDATA tree fetched from Cloud Storage",
  failed: "CIDATA fetch failed:",
} as const;

/** Exit status by which a `runScript` step with `allowReboot` asks for a reboot before the next step. */
export const REBOOT_EXIT_CODE = 3;

/** Filesystem label of the disk that carries the provisioner, its config and the build context. */
export const CIDATA_LABEL = "CIDATA";

/** Where things live on the CIDATA disk (paths relative to its root, `/` separated). */
export const CIDATA_PATHS = {
  /** NoCloud user-data: the same cloud-config that is also put in the `user-data` metadata key. */
  userData: "user-data",
  /** NoCloud meta-data (`instance-id: <buildId>`). */
  metaData: "meta-data",
  /**
   * The {@link ProvisionerConfig}, rendered as a directory tree with one value per file (COS has
   * neither jq nor python, and one value per file needs no parser and carries any bytes). The exact
   * layout is defined by `components/guest/provisionerConfig.ts` and read by the provisioner.
   */
  config: "config",
  /** The provisioner's own files (`provisioner-assets/` minus what travels in user-data: the cloud-config template and `start.sh`). */
  provisionerDir: "provisioner",
  /** Entry point, run with `bash`. */
  provisionerEntry: "provisioner/provisioner.sh",
  /** The user's build context plus `extraFiles`; scripts run with this as working directory (copied). */
  contextDir: "context",
} as const;

/** GCE device names of the temporary disks, as seen in `/dev/disk/by-id/google-<name>`. */
export const DEVICE_NAMES = { boot: "boot", cidata: "cidata", scratch: "scratch" } as const;

/** One registry credential for the `preloadImages` step. */
export interface RegistryCredential {
  /** Registry host, e.g. `ghcr.io` or `us-docker.pkg.dev`. */
  registry: string;
  username: string;
  /** Secret: never printed by the provisioner, removed from the machine before capture. */
  password: string;
}

/** Steps as the provisioner sees them, in execution order. */
export type ProvisionerStep =
  | {
      type: "runScript";
      /** Path of the script relative to the build context root, `/` separated. */
      script: string;
      /** Environment for the script. Values may contain any characters; they are never printed. */
      env: Record<string, string>;
      /** When true, exit status {@link REBOOT_EXIT_CODE} means "done, reboot before the next step". */
      allowReboot: boolean;
    }
  | {
      type: "installGpuDriver";
      /** Driver version (e.g. `535.183.01`), `latest`, `default`, or a `.run` installer file name in `depsDir`. */
      version: string;
      /** Expected md5 of the driver installer; empty for none. */
      md5sum: string;
      /** Where drivers go on the image (persisted); default `/var/lib/nvidia`. */
      installDir: string;
      /** Directory relative to the build context holding installer files; empty for none. */
      depsDir: string;
    }
  | {
      type: "preloadImages";
      /** Image references (tag or digest) to pull. */
      images: string[];
      /** Stores to pull into. */
      runtimes: Array<"containerd" | "docker">;
      /** Use the VM service account's token for `*.gcr.io` and `*-docker.pkg.dev`. */
      useServiceAccount: boolean;
      credentials: RegistryCredential[];
    }
  | { type: "disableAutoUpdate" }
  | { type: "extendOemPartition"; /** OEM filesystem size in bytes. */ sizeBytes: number }
  | { type: "sealOemPartition" }
  | { type: "reclaimRootPartition" };

/** The provisioner's configuration, shipped on the CIDATA disk under {@link CIDATA_PATHS.config}. */
export interface ProvisionerConfig {
  /** Must equal {@link PROTOCOL_VERSION}. */
  protocol: number;
  /** Unique id of this build; echoed in the `BuildProtocol:` line and expected as the ack value. */
  buildId: string;
  /** Metadata key to wait for after success ({@link ACK_METADATA_KEY}). */
  ackKey: string;
  /** How long to wait for the acknowledgement before powering off anyway. */
  ackTimeoutSeconds: number;
  /** How long to wait after `BuildFailed:` before powering off (lets the orchestrator read the log). */
  failureShutdownSeconds: number;
  /**
   * The boot disk size the build ends with, in GB (the user's `diskSizeGb`). When a disk-layout step
   * needs more room than the disk it booted on has, the provisioner asks for this size with
   * `BuildDiskResize:`; it never asks for more.
   */
  diskSizeGb: number;
  /** How long the provisioner waits for {@link DISK_RESIZED_METADATA_KEY} after asking (default 600). */
  diskResizeTimeoutSeconds: number;
  steps: ProvisionerStep[];
}
