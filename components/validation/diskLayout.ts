/**
 * COS Customizer's OEM-size and disk-size rules (its `finish-image-build -oem-size` and
 * `-disk-size-gb` checks, in `src/cmd/cos_customizer/finish_image_build.go`), unchanged so that
 * images built by either tool agree: the source image is assumed to be 10 GB with a 16 MiB OEM
 * filesystem, and reclaiming the unused root partition (ROOT-A) frees 2046 MiB.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Size of COS images, in GB: the smallest allowed disk. */
export const COS_IMAGE_SIZE_GB = 10;
/** Smallest OEM filesystem size. */
export const MIN_OEM_SIZE_BYTES = 16 * MiB;
/** Space the reclaimed ROOT-A partition gives back (2 GiB minus a 2 MiB alignment margin). */
export const RECLAIMED_ROOT_BYTES = 2046 * MiB;

/**
 * Parses an OEM size: a number followed by `B`, `K`, `M` or `G` (binary multiples), or a bare number
 * of 512-byte sectors. Returns the size in bytes, or undefined when the text is malformed.
 */
export function parseOemSize(text: string): number | undefined {
  const match = /^(\d+)([BKMG]?)$/.exec(text);
  if (!match) return undefined;
  const count = Number(match[1]);
  const unit = { "": 512, B: 1, K: 1024, M: MiB, G: GiB }[match[2] as "" | "B" | "K" | "M" | "G"];
  const bytes = count * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The disk-layout choices of a build. */
export interface DiskLayout {
  /** Requested OEM filesystem size in bytes, when `extendOemPartition` is used. */
  oemSizeBytes?: number;
  /** A `sealOemPartition` step is present (doubles the OEM partition for the hash tree). */
  sealOem: boolean;
  /**
   * ROOT-A is reclaimed (`reclaimRootPartition`, or implied by `sealOemPartition` and
   * `disableAutoUpdate`, as COS Customizer's `seal-oem` and `disable-auto-update` do).
   */
  reclaimRoot: boolean;
  /** Boot disk size in GB. */
  diskSizeGb: number;
}

/** The smallest disk, in GB, that holds the layout. */
export function minimumDiskSizeGb(layout: Omit<DiskLayout, "diskSizeGb">): number {
  if (layout.oemSizeBytes === undefined) return COS_IMAGE_SIZE_GB;
  const needed = layout.oemSizeBytes * (layout.sealOem ? 2 : 1);
  const extra = Math.max(0, needed - (layout.reclaimRoot ? RECLAIMED_ROOT_BYTES : 0));
  return COS_IMAGE_SIZE_GB + Math.ceil(extra / GiB);
}

/** Why the disk is too small for the layout (COS Customizer's wording of the three cases), or undefined. */
export function diskLayoutProblem(layout: DiskLayout): string | undefined {
  const minimum = minimumDiskSizeGb(layout);
  if (layout.diskSizeGb >= minimum) return undefined;
  const formula = layout.sealOem
    ? "OEM size x 2 - reclaimed space (2046 MiB) + image size (10 GB)"
    : layout.reclaimRoot
      ? "OEM size - reclaimed space (2046 MiB) + image size (10 GB)"
      : "OEM size + image size (10 GB)";
  return `is ${layout.diskSizeGb} GB, but the disk layout needs at least ${minimum} GB (${formula})`;
}
