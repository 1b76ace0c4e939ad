/**
 * Images that exist before any API call: by default a set of Container-Optimized OS images in
 * project `cos-cloud`, named like COS's real ones (`cos-<milestone>-<build>-<branch>-<patch>` for
 * LTS families, `cos-<channel>-...` for channel families), some deprecated, so family resolution
 * and "newest non-deprecated" logic meet realistic data.
 */
import { createHash } from "node:crypto";
import { invalid } from "../http/errors";
import { rfc3339 } from "./ids";
import { ImageRecord, type DeprecationStatus } from "./resources";
import type { ComputeState } from "./state";
import { selfLink, stripComputePrefix } from "./urls";
import { validateLabels, validateName } from "./validation";

/** An image to create at start. */
export interface SeedImage {
  /** Project holding the image. */
  project: string;
  /** Image name (GCE name rules). */
  name: string;
  /** Family. */
  family?: string;
  /** Description. */
  description?: string;
  /** Numeric id (uint64 as a decimal string). Default: derived from project and name (stable). */
  id?: string;
  /** Size of disks created from it, GB. Default 10. */
  diskSizeGb?: number;
  /** Labels. */
  labels?: Record<string, string>;
  /** Licenses as `projects/<p>/global/licenses/<l>` paths or URLs. */
  licenses?: string[];
  /** Guest OS feature names. */
  guestOsFeatures?: string[];
  /** Architecture, e.g. `X86_64`. */
  architecture?: string;
  /** Deprecation status. */
  deprecated?: DeprecationStatus;
  /** Creation time (RFC 3339); orders family members. Default now. */
  creationTimestamp?: string;
  /**
   * A raw disk file backing the image (for VM-backed guests with `diskFiles`). Disks created from
   * the image copy it; the emulator never modifies or deletes this file.
   */
  filePath?: string;
}

const COS_LICENSES = [
  "projects/cos-cloud/global/licenses/cos",
  "projects/cos-cloud-shielded/global/licenses/shielded-cos",
  "projects/cos-cloud/global/licenses/cos-pcid",
];
const COS_FEATURES = [
  "VIRTIO_SCSI_MULTIQUEUE",
  "SEV_CAPABLE",
  "SEV_SNP_CAPABLE",
  "UEFI_COMPATIBLE",
  "GVNIC",
  "IDPF",
];

function cos(
  name: string,
  family: string,
  version: string,
  created: string,
  extra: Partial<SeedImage> = {},
): SeedImage {
  const milestone = version.split("-")[0];
  return {
    project: "cos-cloud",
    name,
    family,
    description: `Google, Container-Optimized OS, ${version}, Family: ${family}, supports Shielded VM features`,
    diskSizeGb: 10,
    labels: { milestone, channel: family.replace(/^cos-(arm64-)?/, "").replace(/^\d+-/, "") },
    licenses: COS_LICENSES,
    guestOsFeatures: COS_FEATURES,
    architecture: "X86_64",
    creationTimestamp: created,
    ...extra,
  };
}

const replacedBy = (name: string): DeprecationStatus => ({
  state: "DEPRECATED",
  replacement: selfLink(`projects/cos-cloud/global/images/${name}`),
  deprecated: "2025-07-22T10:00:00.000-07:00",
});

/** The default `cos-cloud` images. */
export const COS_IMAGES: readonly SeedImage[] = [
  cos(
    "cos-117-18613-164-4",
    "cos-117-lts",
    "117-18613.164.4 LTS",
    "2025-05-10T09:21:07.123-07:00",
    {
      deprecated: replacedBy("cos-117-18613-164-13"),
    },
  ),
  cos(
    "cos-117-18613-164-13",
    "cos-117-lts",
    "117-18613.164.13 LTS",
    "2025-07-22T09:40:11.456-07:00",
  ),
  cos("cos-121-18867-199-1", "cos-121-lts", "121-18867.199.1 LTS", "2025-08-12T11:02:45.789-07:00"),
  cos(
    "cos-stable-117-18613-164-4",
    "cos-stable",
    "117-18613.164.4",
    "2025-05-10T09:25:37.001-07:00",
    {
      deprecated: replacedBy("cos-stable-121-18867-199-1"),
    },
  ),
  cos(
    "cos-stable-121-18867-199-1",
    "cos-stable",
    "121-18867.199.1",
    "2025-08-12T11:06:12.002-07:00",
  ),
  cos("cos-beta-125-19216-0-28", "cos-beta", "125-19216.0.28", "2025-09-02T14:12:09.003-07:00"),
  cos("cos-dev-129-19455-0-0", "cos-dev", "129-19455.0.0", "2025-09-30T08:55:31.004-07:00"),
  cos(
    "cos-arm64-stable-121-18867-199-1",
    "cos-arm64-stable",
    "121-18867.199.1",
    "2025-08-12T11:08:40.005-07:00",
    {
      architecture: "ARM64",
    },
  ),
];

/** A uint64 id (top bit clear) derived from the image's path. */
function stableSeedId(imagePath: string): string {
  return (createHash("sha256").update(imagePath).digest().readBigUInt64BE() >> 1n).toString();
}

/** Creates a READY image from a seed (replacing nothing: 400 if the name is taken). */
export function seedImage(state: ComputeState, seed: SeedImage): ImageRecord {
  const image = new ImageRecord(seed.project, validateName("seed.name", seed.name));
  if (state.images.has(image.path)) throw invalid(`Seed image ${image.path} already exists.`);
  // A seed has the same id in every emulator, as an image keeps its id in GCE: builds hash their
  // source image's id, so a fresh emulator must not look like a recreated source image.
  Object.assign(image, { id: seed.id ?? stableSeedId(image.path) });
  image.family = seed.family;
  image.description = seed.description;
  image.diskSizeGb = seed.diskSizeGb ?? 10;
  image.labels = validateLabels("seed.labels", seed.labels);
  image.licenses = (seed.licenses ?? []).map((l) => selfLink(stripComputePrefix(l)));
  image.guestOsFeatures = (seed.guestOsFeatures ?? []).map((type) => ({ type }));
  image.architecture = seed.architecture;
  image.deprecated = seed.deprecated;
  image.creationTimestamp = seed.creationTimestamp ?? rfc3339();
  image.archiveSizeBytes = Math.round(image.diskSizeGb * 1024 ** 3 * 0.12);
  if (seed.filePath) {
    image.filePath = seed.filePath;
    image.externalFile = true;
  }
  image.seeded = true;
  image.status = "READY";
  state.images.set(image.path, image);
  return image;
}
