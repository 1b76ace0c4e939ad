import type { PreloadedCosImageArgs } from "../args";

/**
 * Which arguments of `PreloadedCosImage` shape the image, and so enter its content hash
 * (`contentHash.ts`), and which do not: a change to one of the first replaces the image, a change to
 * one of the second does not (labels are updated in place; the rest is how and where a build runs,
 * or what happens to older images). Tools that explain a replacement (the local engine's preview)
 * read the list rather than keep their own.
 *
 * The table names every argument (the `satisfies` below fails to compile otherwise), and
 * tests/unit/hashedArgs.test.ts checks each entry against what `contentHashOf` really reads.
 */

/** How an argument relates to the content hash. */
export type HashRole =
  /** It enters the build spec that the hash covers. */
  | "spec"
  /** It picks the source image, whose resolved name and id the hash covers. */
  | "source"
  /** It names local files, whose content the hash covers (the build context's hash). */
  | "files"
  /** It does not shape the image: the hash ignores it. */
  | "outside";

/** Every argument's {@link HashRole}. */
export const ARG_HASH_ROLES = {
  sourceImage: "source",
  sourceImageFamily: "source",
  sourceImageMilestone: "source",
  sourceImageProject: "source",
  buildContext: "files",
  extraFiles: "files",
  steps: "spec",
  // A fixed or suffixed name is where the image goes, not what it holds (a new name replaces the
  // image through its own diff, not through the hash).
  imageName: "outside",
  imageNameSuffix: "outside",
  imageProject: "spec",
  imageFamily: "spec",
  imageDescription: "spec",
  imageLabels: "outside",
  inheritSourceLabels: "outside",
  imageLicenses: "spec",
  deprecateOlderImages: "outside",
  deprecatedImageTtlDays: "outside",
  imageStorageLocations: "spec",
  guestOsFeatures: "spec",
  diskSizeGb: "spec",
  // The image's project when imageProject is not given.
  project: "spec",
  zone: "outside",
  machineType: "outside",
  diskType: "outside",
  network: "outside",
  subnetwork: "outside",
  serviceAccountEmail: "outside",
  serviceAccountScopes: "outside",
  networkTags: "outside",
  externalIp: "outside",
  // The GPU the driver is installed and verified with.
  gpuType: "spec",
  gpuCount: "spec",
  vmProvisioningModel: "outside",
  preemptionRetries: "outside",
  vmLabels: "outside",
  bucket: "outside",
  bucketPrefix: "outside",
  buildTimeoutMinutes: "outside",
  apiEndpoints: "outside",
} as const satisfies Record<keyof PreloadedCosImageArgs, HashRole>;

/** The arguments that do not shape the image (role `outside`): the content hash ignores them. */
export const ARGS_OUTSIDE_THE_HASH: ReadonlySet<keyof PreloadedCosImageArgs> = new Set(
  (Object.keys(ARG_HASH_ROLES) as Array<keyof PreloadedCosImageArgs>).filter(
    (key) => ARG_HASH_ROLES[key] === "outside",
  ),
);
