/**
 * The component's whole configuration surface, with its TSDoc. One file on purpose, though long:
 * the README's configuration reference is generated from it (`npm run docs`), in this order.
 */
import type * as pulumi from "@pulumi/pulumi";

/**
 * Runs a bash script from the build context, as root, inside the preload VM.
 *
 * The script's working directory is a copy of the build context; its output goes to serial port 3
 * and is streamed to `pulumi up` as progress.
 *
 * As on COS Customizer, the script can pull private images from Container Registry (`gcr.io`,
 * `*.gcr.io`) and Artifact Registry (`*-docker.pkg.dev`) as the preload VM's service account:
 * `DOCKER_CONFIG` points at a docker config that sends those registries to docker's GCR credential
 * helper (`docker-credential-gcr`), and for containerd `PCI_CONTAINERD_HOSTS_DIR` is a hosts directory
 * carrying the service account's token (fetched when the step starts; it lasts about an hour):
 * `ctr images pull --hosts-dir "$PCI_CONTAINERD_HOSTS_DIR" <image>`. Both live in a tmpfs for the
 * step only and are not in the image.
 */
export interface RunScriptStepArgs {
  /**
   * Path of the script relative to the build context root, with `/` separators (for example
   * `scripts/install.sh`). Required. The file must exist inside {@link PreloadedCosImageArgs.buildContext}
   * (or be added by {@link PreloadedCosImageArgs.extraFiles}); it need not be executable, since it is
   * run as `bash <script>`.
   */
  script: string;
  /**
   * Environment variables for the script. Names must match `[A-Za-z_][A-Za-z0-9_]*`; values may hold
   * any characters, including commas, quotes and newlines (unlike COS Customizer's `-env`). Values
   * may be secrets (`pulumi.secret(...)`, `config.requireSecret(...)`): they are kept out of Pulumi
   * state, logs, instance metadata and error messages, and removed from the VM before capture.
   * Default: none.
   */
  env?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Lets the script ask for a reboot: when true, exit status 3 means "this step is done, reboot the
   * VM, then continue with the next step". When false, exit status 3 is a failure like any other
   * non-zero status. Default: false.
   */
  allowReboot?: boolean;
}

/**
 * Installs NVIDIA GPU drivers with the tools of the COS release (`cos-extensions install gpu`).
 * At most one such step per build; requires {@link PreloadedCosImageArgs.gpuType}, so the preload VM
 * has a GPU to verify the installation with. The toolchain is kept on a temporary scratch disk, not
 * on the image.
 *
 * The driver's kernel modules must be loaded at every boot. The step writes into {@link installDir}
 * a script, `setup_gpu.sh` (`cos-extensions install gpu` with the installed version, which finds the
 * driver cached there and only loads it, then makes the directory executable and runs
 * `nvidia-smi`), and a systemd unit that runs it, `preloaded-cos-image-gpu.service`. COS's `/etc` is
 * a tmpfs, lost at every reboot, so the unit cannot be enabled in the image: have your instances'
 * cloud-init link and start it at every boot (`bootcmd` runs at every boot), for the default
 * `installDir`:
 *
 * ```yaml
 * #cloud-config
 * bootcmd:
 *   - systemctl link /var/lib/nvidia/preloaded-cos-image-gpu.service
 *   - systemctl start --no-block preloaded-cos-image-gpu.service
 * ```
 */
export interface InstallGpuDriverStepArgs {
  /**
   * Driver version, such as `535.183.01`, or `latest` / `default` for the version the COS release
   * recommends (`R535`-style branch names are accepted too). Default: `default`.
   */
  version?: string;
  /**
   * Expected md5 checksum (32 hex digits) of the driver installer, failing the build on a mismatch.
   * What is checked, after the installation: the `NVIDIA-Linux-*.run` file that COS's GPU installer
   * downloaded and left in {@link installDir}. For the precompiled, signed drivers it installs, that
   * is COS's build of the driver from Google's driver bucket, not the `.run` file NVIDIA publishes, so
   * NVIDIA's published md5 does not match it. The installer file is then removed: it is not needed
   * at boot and is not kept in the image. Default: not checked.
   */
  md5sum?: string;
  /**
   * Absolute directory on the image where the drivers are installed; it must persist, so it has to be
   * under `/var` or `/home`. Default: `/var/lib/nvidia`.
   */
  installDir?: string;
  /**
   * Directory relative to the build context that holds installer files (for pre-release COS images or
   * `.run` installers), as COS Customizer's `-deps-dir`. Not available yet: COS's GPU installer only
   * downloads drivers from HTTP or Cloud Storage URLs itself, so it is rejected at preview (as are
   * `.run` versions). Default: none.
   */
  depsDir?: string;
}

/** Credentials for one container registry, used by {@link PreloadImagesStepArgs}. */
export interface RegistryCredentialArgs {
  /** Registry host name, such as `ghcr.io` or `registry.example.com:5000`. Required. */
  registry: string;
  /** User name. Required. */
  username: pulumi.Input<string>;
  /** Password or token. Required; treated as a secret (never stored in plain text or printed). */
  password: pulumi.Input<string>;
}

/**
 * Pulls container images into the image's container stores so that instances start them without a
 * download. The digests actually pulled are recorded on the image in
 * `/var/lib/preloaded-cos-image/images.json`.
 */
export interface PreloadImagesStepArgs {
  /**
   * Image references to pull, by tag or digest (`nginx:1.27`, `ghcr.io/o/app@sha256:...`). Required,
   * at least one. Prefer digests: a tag is resolved at build time.
   */
  images: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Which stores receive the images: `containerd` (namespace `k8s.io`, what GKE and `ctr` use),
   * `docker`, or `both`. Default: `both`.
   */
  runtime?: "containerd" | "docker" | "both";
  /**
   * Authenticate to Artifact Registry (`*-docker.pkg.dev`) and Container Registry (`*.gcr.io`) with the
   * preload VM's service account token from the metadata server. Default: true.
   */
  useServiceAccount?: boolean;
  /** Credentials for other private registries. Default: none (anonymous pulls). */
  credentials?: RegistryCredentialArgs[];
}

/**
 * Grows the OEM partition (`/usr/share/oem`) so that its filesystem has the given size, as COS
 * Customizer's `-oem-size`. The partition moves to the end of the disk, after the stateful partition
 * (STATE), which moves with its data; the OEM filesystem is then grown, and what scripts wrote to
 * `/usr/share/oem` stays. Needs COS 73 or later and a disk that holds the image and the new
 * partition: `diskSizeGb` of at least 10 + the OEM size in whole GB (less the 2046 MiB of a reclaimed
 * ROOT-A, when `reclaimRootPartition`, `sealOemPartition` or `disableAutoUpdate` is there too);
 * preview refuses a smaller one. The build boots on a disk of the source image's size and grows it to
 * `diskSizeGb` mid-build (Compute's `disks.resize`), so that COS does not give that space to STATE
 * first; STATE gets whatever the OEM partition leaves.
 */
export interface ExtendOemPartitionStepArgs {
  /**
   * Target OEM filesystem size: a number followed by `B`, `K`, `M` or `G` (binary multiples), or a
   * bare number of 512-byte sectors, as COS Customizer's `-oem-size`. At least `16M`. Required.
   */
  size: string;
}

/**
 * Disables COS auto-update on the image by masking `update-engine.service` on the kernel command line,
 * and reclaims the unused root partition ROOT-A, as COS Customizer's `disable-auto-update` does: an
 * image that never updates never boots its second root, so its 2 GiB go to the stateful partition
 * (STATE, `/mnt/stateful_partition`, which holds `/var` and `/home`), which grows by about 2 GB (2046
 * MiB; ROOT-A keeps 4 KiB). The build copies the running root to ROOT-B, boots from it, shrinks
 * ROOT-A and moves STATE over the freed space, rebooting in between; instances of the image boot
 * from ROOT-B. No disk size beyond the source image's is needed.
 */
export type DisableAutoUpdateStepArgs = Record<string, never>;

/**
 * Seals the OEM partition with dm-verity, as COS Customizer's `seal-oem`: the OEM partition is
 * doubled, its second half holds the hash tree, every boot entry verifies it read-only, and
 * `usr-share-oem.mount` is masked: instances see the sealed filesystem as `/dev/dm-1` and mount it
 * themselves (read-only). Implies `reclaimRootPartition` and disables auto-update (it changes the
 * kernel command line an update would replace). Must come after every step that writes to
 * `/usr/share/oem`. With `extendOemPartition`, `diskSizeGb` must be at least 10 + (2 × OEM size −
 * 2046 MiB) in whole GB; without it the 16 MiB OEM filesystem is sealed within the reclaimed space.
 */
export type SealOemPartitionStepArgs = Record<string, never>;

/**
 * Reclaims the unused root partition (ROOT-A, 2 GiB) for the stateful partition, or for the OEM
 * partition of `extendOemPartition`, as COS Customizer does for `disable-auto-update` and `seal-oem`:
 * the build copies the running root to ROOT-B, boots from it, shrinks ROOT-A to 4 KiB and moves the
 * partitions after it over the space (about 2 GB: 2046 MiB). Instances boot from ROOT-B; an update,
 * which would write the other root, has nowhere to go, so disable auto-update with it.
 */
export type ReclaimRootPartitionStepArgs = Record<string, never>;

/**
 * One step of the build. Exactly one of the fields must be set; steps run in the order given.
 *
 * ```ts
 * steps: [
 *   { runScript: { script: "install.sh", env: { REGION: "eu" } } },
 *   { preloadImages: { images: ["nginx:1.27"] } },
 *   { disableAutoUpdate: {} },
 * ]
 * ```
 */
export interface BuildStepArgs {
  /** Run a bash script from the build context. */
  runScript?: RunScriptStepArgs;
  /** Install NVIDIA GPU drivers (at most once per build). */
  installGpuDriver?: InstallGpuDriverStepArgs;
  /** Pull container images into the image. */
  preloadImages?: PreloadImagesStepArgs;
  /** Disable COS auto-update on instances of the image; also reclaims ROOT-A for the stateful partition (about 2 GB more). */
  disableAutoUpdate?: DisableAutoUpdateStepArgs;
  /** Grow the OEM partition to a given filesystem size (needs a larger `diskSizeGb`). */
  extendOemPartition?: ExtendOemPartitionStepArgs;
  /** Seal the OEM partition with dm-verity (implies reclaiming ROOT-A and disabling auto-update). */
  sealOemPartition?: SealOemPartitionStepArgs;
  /** Reclaim the unused root partition ROOT-A (about 2 GB) for the stateful or OEM partition. */
  reclaimRootPartition?: ReclaimRootPartitionStepArgs;
}

/** GCE provisioning model of the preload VM. */
export type VmProvisioningModel = "STANDARD" | "SPOT" | "PREEMPTIBLE";

/**
 * API endpoints, for a local emulator or a private endpoint. Credentials never come from here: they
 * come from Application Default Credentials, or from `CLOUDSDK_AUTH_ACCESS_TOKEN`; a loopback endpoint
 * gets a fixed token, so nothing is ever sent to Google's token servers while testing.
 */
export interface ApiEndpointsArgs {
  /** Compute Engine endpoint URL, such as `http://127.0.0.1:8085`. Default: Google's. */
  compute?: string;
  /** Cloud Storage endpoint URL. Default: Google's. */
  storage?: string;
}

/**
 * Inputs of {@link PreloadedCosImage}. Only a source image selector is required (and a project and
 * zone, when the stack's `gcp:project` / `gcp:zone` config does not give them).
 */
export interface PreloadedCosImageArgs {
  // ---- Source image -------------------------------------------------------------------------------

  /**
   * Source image by name (`cos-stable-117-18613-0-79`) or by URL
   * (`projects/cos-cloud/global/images/cos-stable-117-18613-0-79`, with or without the
   * `https://www.googleapis.com/compute/v1/` prefix). Exactly one of `sourceImage`,
   * `sourceImageFamily` and `sourceImageMilestone` must be set.
   */
  sourceImage?: pulumi.Input<string>;
  /**
   * Source image family (`cos-stable`, `cos-121-lts`): the newest non-deprecated image of the family
   * is used, and resolved again at every preview, so a new release of the family rebuilds the image.
   * Conflicts with `sourceImage` and `sourceImageMilestone`.
   */
  sourceImageFamily?: pulumi.Input<string>;
  /**
   * COS milestone (such as 117): the newest non-deprecated image of that milestone in `cos-cloud`;
   * when the milestone has none left (past its end of life), its newest deprecated image, with a
   * warning, as COS Customizer does. Only allowed when
   * {@link sourceImageProject} is `cos-cloud`. Conflicts with `sourceImage` and `sourceImageFamily`.
   */
  sourceImageMilestone?: pulumi.Input<number>;
  /** Project that holds the source image. Default: `cos-cloud`. Ignored when `sourceImage` is a URL. */
  sourceImageProject?: pulumi.Input<string>;

  // ---- What goes in -------------------------------------------------------------------------------

  /**
   * Local directory shipped to the preload VM; scripts run in a copy of it. Relative paths are
   * resolved against the Pulumi program's directory. Every file's content is part of the image's
   * content hash, so changing one byte rebuilds the image. Default: no build context (only
   * `extraFiles`).
   */
  buildContext?: pulumi.Input<string>;
  /**
   * Extra local files added to the build context: keys are destination paths relative to the build
   * context (`/` separated, no `..`), values are local file paths. A destination that already exists
   * in the build context is an error. Default: none.
   */
  extraFiles?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** The customization, as ordered steps. Default: none (the image is a plain copy of the source). */
  steps?: BuildStepArgs[];

  // ---- Output image -------------------------------------------------------------------------------

  /**
   * Name of the output image. Conflicts with {@link imageNameSuffix}. With a fixed name, a change of
   * inputs deletes the old image before building the new one (names are unique); the default name
   * avoids that gap. Default: `<component name>-<8 random hex digits>`, fresh for every build.
   * Constraints: GCE resource name (`[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
   */
  imageName?: pulumi.Input<string>;
  /**
   * Output image name = source image name + this suffix (COS Customizer's `-image-suffix`), such as
   * `-preloaded`. Conflicts with {@link imageName}; the result must be a valid GCE name.
   */
  imageNameSuffix?: pulumi.Input<string>;
  /** Project of the output image. Default: {@link project}. */
  imageProject?: pulumi.Input<string>;
  /** Family of the output image. Default: none. Same name rules as image names. */
  imageFamily?: pulumi.Input<string>;
  /**
   * Description of the output image, at most 2048 characters. Default:
   * `Derivative of <source image URL>.`
   */
  imageDescription?: pulumi.Input<string>;
  /**
   * Labels of the output image. Keys: 1 to 63 characters of lowercase letters, digits, `_` and `-`,
   * starting with a letter; values: 0 to 63 of the same characters; at most 59 labels (the component
   * uses up to 5 of GCE's 64). Changing labels updates the image in place. The component adds
   * `managed-by=preloaded-cos-image` and `pci-content` (the start of the build's content hash: what
   * the image was built from).
   */
  imageLabels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Copy the source image's labels onto the output image; {@link imageLabels} win. Default: false. */
  inheritSourceLabels?: pulumi.Input<boolean>;
  /**
   * Extra licenses for the output image, as `projects/<p>/global/licenses/<l>` (full
   * `https://www.googleapis.com/compute/v1/` URLs are accepted). The source image's licenses are
   * carried over by GCE. Default: none.
   */
  imageLicenses?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * After a successful build, deprecate every other non-deprecated image of {@link imageFamily}, with
   * the new image as replacement. Requires `imageFamily`. Default: false.
   */
  deprecateOlderImages?: pulumi.Input<boolean>;
  /**
   * With {@link deprecateOlderImages}: mark the deprecated images for deletion this many days later
   * (GCE records the date; it does not delete them itself). Requires `deprecateOlderImages`; a whole
   * number from 1 to 3650. Default: no deletion date.
   */
  deprecatedImageTtlDays?: pulumi.Input<number>;
  /**
   * Cloud Storage location of the image: exactly one region (`us-central1`) or multi-region (`us`,
   * `eu`, `asia`). Default: GCE's choice (nearest multi-region).
   */
  imageStorageLocations?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Guest OS features of the output image, such as `UEFI_COMPATIBLE`, `VIRTIO_SCSI_MULTIQUEUE`,
   * `GVNIC`, `SEV_CAPABLE`. Default: none beyond what GCE derives from the source.
   */
  guestOsFeatures?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Size of the boot disk and so of the output image, in GB. At least 10 (the size of COS images)
   * and at least the source image's size; also large enough for the OEM arithmetic of
   * `extendOemPartition` / `sealOemPartition` / `reclaimRootPartition` (checked at preview). With a
   * disk-layout step (those three and `disableAutoUpdate`) the build VM's disk starts at the source
   * image's size and is grown to this size mid-build. Default: 10.
   */
  diskSizeGb?: pulumi.Input<number>;

  // ---- Preload VM ---------------------------------------------------------------------------------

  /** Project where the build runs (VM, disks, temporary image). Default: the stack's `gcp:project`. */
  project?: pulumi.Input<string>;
  /** Zone of the preload VM and its disks, such as `us-central1-a`. Default: the stack's `gcp:zone`. */
  zone?: pulumi.Input<string>;
  /**
   * Machine type of the preload VM. Default: `e2-standard-2`, or `n1-standard-4` when a GPU is
   * attached (E2 machines take no GPUs).
   */
  machineType?: pulumi.Input<string>;
  /** Disk type of the boot, CIDATA and scratch disks (`pd-balanced`, `pd-ssd`, ...). Default: `pd-balanced`. */
  diskType?: pulumi.Input<string>;
  /**
   * Network of the preload VM, by name or URL. It must reach the registries the steps pull from.
   * Default: `default`.
   */
  network?: pulumi.Input<string>;
  /**
   * Subnetwork of the preload VM, by name (in the zone's region) or URL. Required for custom-mode
   * networks. Default: the network's subnetwork in the region.
   */
  subnetwork?: pulumi.Input<string>;
  /** Service account email of the preload VM. Default: the project's default compute service account. */
  serviceAccountEmail?: pulumi.Input<string>;
  /**
   * OAuth scopes of the preload VM's service account (full URLs or short names like `cloud-platform`).
   * Default: `["https://www.googleapis.com/auth/cloud-platform"]`.
   */
  serviceAccountScopes?: pulumi.Input<pulumi.Input<string>[]>;
  /** Network tags of the preload VM (for firewall rules). Default: none. */
  networkTags?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Give the preload VM an external IP address. Set to false in networks that forbid them; the
   * subnetwork then needs Private Google Access or Cloud NAT to pull images. Default: true.
   */
  externalIp?: pulumi.Input<boolean>;
  /**
   * Accelerator type attached to the preload VM, such as `nvidia-tesla-t4` or `nvidia-l4`. Required
   * by an `installGpuDriver` step. The VM then uses `TERMINATE` on host maintenance. Default: none.
   */
  gpuType?: pulumi.Input<string>;
  /** Number of GPUs of {@link gpuType}: 1, 2, 4 or 8. Requires `gpuType`. Default: 1. */
  gpuCount?: pulumi.Input<number>;
  /**
   * Provisioning model of the preload VM: `STANDARD`, `SPOT` or `PREEMPTIBLE`. Spot and preemptible
   * VMs are cheaper but may be stopped by GCE; a build whose VM stops without a verdict is retried
   * from a fresh VM (see {@link preemptionRetries}). Any such stop counts, preemption or not (a guest
   * crash too): GCE's preemption record is not read. Default: `STANDARD`.
   */
  vmProvisioningModel?: pulumi.Input<VmProvisioningModel>;
  /**
   * How many times a Spot or preemptible build whose VM stopped without a verdict is retried. 0 to 5.
   * Default: 2.
   */
  preemptionRetries?: pulumi.Input<number>;
  /** Extra labels on the temporary VM and disks (same rules as {@link imageLabels}). Default: none. */
  vmLabels?: pulumi.Input<Record<string, pulumi.Input<string>>>;

  // ---- Scratch storage and limits -----------------------------------------------------------------

  /**
   * Existing Cloud Storage bucket for the temporary CIDATA archive. Default: the component creates a
   * bucket (`gcp.storage.Bucket`, in the zone's region) whose objects expire after a day.
   */
  bucket?: pulumi.Input<string>;
  /**
   * Object name prefix inside the bucket (no leading `/`). Default: `preloaded-cos-image`.
   * Objects of a build are `<prefix>/<build id>/...` and are deleted when the build ends.
   */
  bucketPrefix?: pulumi.Input<string>;
  /**
   * Deadline of the whole build in minutes (upload, VM, provisioning, image creation, cleanup). When
   * it passes, the build fails and every temporary is deleted. 5 to 1440. Default: 60.
   */
  buildTimeoutMinutes?: pulumi.Input<number>;
  /** API endpoints, for a local emulator. Default: Google's. See {@link ApiEndpointsArgs}. */
  apiEndpoints?: pulumi.Input<ApiEndpointsArgs>;
}
