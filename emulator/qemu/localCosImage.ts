/**
 * The Debian guest image registered in the emulator as a Container-Optimized OS source image, so
 * that a program asking for `cos-stable` in `cos-cloud` (the component's defaults) builds on it.
 */
import type { SeedImage } from "../compute/seedImages";
import type { GuestImage } from "./guestImage";

/** The project COS images live in, and where the stand-in is registered. */
export const LOCAL_COS_PROJECT = "cos-cloud";

/** The family the stand-in joins as its newest member. */
export const LOCAL_COS_FAMILY = "cos-stable";

/** Size of disks created from the stand-in by default, GB (the size of COS images). */
export const LOCAL_COS_DISK_SIZE_GB = 10;

/** Name of the stand-in image: `cos-stable-local-debian-<first 8 hex digits of the recipe hash>`. */
export function localCosImageName(image: Pick<GuestImage, "hash">): string {
  return `${LOCAL_COS_FAMILY}-local-debian-${image.hash.slice(0, 8)}`;
}

/**
 * The seed that registers `image` as the newest member of `cos-stable` in `cos-cloud`, backed by the
 * guest image's root disk file (which the emulator copies for each disk and never modifies).
 */
export function localCosSeedImage(image: Pick<GuestImage, "hash" | "rootDisk">): SeedImage {
  return {
    project: LOCAL_COS_PROJECT,
    name: localCosImageName(image),
    family: LOCAL_COS_FAMILY,
    description:
      "Local stand-in for Container-Optimized OS: a Debian guest built with debootstrap " +
      `(preloaded-cos-image guest recipe ${image.hash.slice(0, 16)}). Not COS.`,
    diskSizeGb: LOCAL_COS_DISK_SIZE_GB,
    labels: { "stand-in": "debian" },
    architecture: "X86_64",
    filePath: image.rootDisk,
  };
}
