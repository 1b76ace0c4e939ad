/**
 * The output-image options set away from their defaults, as the "every field" tests pass them: the
 * validation test accepts them, the build test finds them on the image it built.
 */
export const OUTPUT_IMAGE_OPTIONS = {
  inheritSourceLabels: true,
  imageLicenses: [
    "https://www.googleapis.com/compute/v1/projects/cos-cloud/global/licenses/cos-gpu",
  ],
  deprecateOlderImages: true,
  deprecatedImageTtlDays: 30,
  imageStorageLocations: ["eu"],
  guestOsFeatures: ["UEFI_COMPATIBLE", "GVNIC"],
  diskSizeGb: 20,
};
