import {
  GUEST_OS_FEATURES,
  MAX_NAME_LENGTH,
  isProjectId,
  isResourceName,
  isStorageLocation,
  normalizeLicense,
  parseImageRef,
} from "../google/names";
import type { ArgsUnderValidation } from "./context";
import { checkLabels } from "./labels";
import { oneOf, type ArgsReader } from "./reader";
import { COS_IMAGE_PROJECT } from "./source";

/**
 * Labels the component puts on the output image: `managed-by` for good, and while the build is not
 * finished, the three labels of temporaries (build, owner, creation time), so that the image of a
 * build killed before it returned is swept like any temporary, and the content label.
 */
export const IMAGE_LABELS_ADDED = 5;
/** Longest image description GCE accepts. */
export const MAX_DESCRIPTION_LENGTH = 2048;

const NAME_FIX =
  "use lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen, at most 63 characters";

/** Output image rules: name or suffix, family, description, labels, licenses, deprecation, size. */
export function checkOutputImage(r: ArgsReader, args: ArgsUnderValidation): void {
  checkImageName(r, args);
  checkImageProjectAndFamily(r, args);
  checkImageDescription(r, args);
  checkLabels(r, "imageLabels", args.imageLabels, IMAGE_LABELS_ADDED);
  r.boolean("inheritSourceLabels", args.inheritSourceLabels);
  checkImageLicenses(r, args);
  checkDeprecation(r, args);
  checkStorageLocations(r, args);
  checkGuestOsFeatures(r, args);
  r.integer("diskSizeGb", args.diskSizeGb, 10, 65536, " GB");
}

/** `imageName` or `imageNameSuffix` (not both), each a valid part of an image name. */
function checkImageName(r: ArgsReader, args: ArgsUnderValidation): void {
  if (r.isSet(args.imageName) && r.isSet(args.imageNameSuffix)) {
    r.report({
      field: "imageName, imageNameSuffix",
      message: "are mutually exclusive",
      fix: "set imageName for a fixed name, or imageNameSuffix to append to the source image name, not both",
    });
  }
  r.validString("imageName", args.imageName, isResourceName, {
    message: "is not a valid image name",
    fix: NAME_FIX,
  });
  const suffix = r.string("imageNameSuffix", args.imageNameSuffix);
  if (suffix !== undefined) checkImageNameSuffix(r, args, suffix);
}

/** The suffix uses name characters, and the source image's name with it fits the name limit. */
function checkImageNameSuffix(r: ArgsReader, args: ArgsUnderValidation, suffix: string): void {
  // The length can only be checked against a known source image name.
  const source =
    typeof args.sourceImage === "string"
      ? parseImageRef(args.sourceImage, COS_IMAGE_PROJECT)
      : undefined;
  if (!/^[-a-z0-9]+$/.test(suffix) || suffix.endsWith("-")) {
    r.report({
      field: "imageNameSuffix",
      value: suffix,
      message:
        "can only hold lowercase letters, digits and hyphens, and must not end with a hyphen",
      fix: 'use a suffix such as "-preloaded"',
    });
  } else if (source && source.name.length + suffix.length > MAX_NAME_LENGTH) {
    r.report({
      field: "imageNameSuffix",
      value: suffix,
      message: `makes the image name "${source.name}${suffix}" longer than ${MAX_NAME_LENGTH} characters`,
      fix: "shorten the suffix, or set imageName instead",
    });
  }
}

function checkImageProjectAndFamily(r: ArgsReader, args: ArgsUnderValidation): void {
  r.validString("imageProject", args.imageProject, isProjectId, {
    message: "is not a valid project id",
    fix: 'use a project id such as "my-images-project"',
  });
  r.validString("imageFamily", args.imageFamily, isResourceName, {
    message: "is not a valid family name",
    fix: NAME_FIX,
  });
}

function checkImageDescription(r: ArgsReader, args: ArgsUnderValidation): void {
  const description = r.string("imageDescription", args.imageDescription);
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    r.report({
      field: "imageDescription",
      value: `${description.slice(0, 40)}...`,
      message: `is ${description.length} characters long; GCE allows ${MAX_DESCRIPTION_LENGTH}`,
      fix: "shorten the description",
    });
  }
}

function checkImageLicenses(r: ArgsReader, args: ArgsUnderValidation): void {
  const isLicense = (license: string): boolean => normalizeLicense(license) !== undefined;
  r.validStrings("imageLicenses", args.imageLicenses, isLicense, {
    message: "is not a license reference",
    fix: 'use "projects/<project>/global/licenses/<license>", e.g. "projects/cos-cloud/global/licenses/cos-gpu"',
  });
}

/** `deprecateOlderImages` needs a family; its TTL needs it turned on. */
function checkDeprecation(r: ArgsReader, args: ArgsUnderValidation): void {
  const deprecate = r.boolean("deprecateOlderImages", args.deprecateOlderImages);
  if (deprecate === true && !r.isSet(args.imageFamily)) {
    r.report({
      field: "deprecateOlderImages",
      message: "needs an image family: only images of the output image's family are deprecated",
      fix: "set imageFamily, or remove deprecateOlderImages",
    });
  }
  r.integer("deprecatedImageTtlDays", args.deprecatedImageTtlDays, 1, 3650, " days");
  if (
    r.isSet(args.deprecatedImageTtlDays) &&
    deprecate !== true &&
    !r.isPending(args.deprecateOlderImages)
  ) {
    r.report({
      field: "deprecatedImageTtlDays",
      message: "only applies to images deprecated by deprecateOlderImages",
      fix: "set deprecateOlderImages: true, or remove deprecatedImageTtlDays",
    });
  }
}

function checkStorageLocations(r: ArgsReader, args: ArgsUnderValidation): void {
  const locations = r.stringArray("imageStorageLocations", args.imageStorageLocations);
  if (locations && locations.length > 1) {
    r.report({
      field: "imageStorageLocations",
      value: locations,
      message: "lists more than one location; GCE stores an image in exactly one",
      fix: "keep a single region or multi-region",
    });
  }
  r.reportInvalid("imageStorageLocations", locations, isStorageLocation, {
    message: "is not a storage location",
    fix: 'use a region such as "us-central1" or a multi-region: "us", "eu" or "asia"',
  });
}

function checkGuestOsFeatures(r: ArgsReader, args: ArgsUnderValidation): void {
  const features = oneOf(GUEST_OS_FEATURES, "a guest OS feature");
  r.validStrings("guestOsFeatures", args.guestOsFeatures, features.isValid, features.rule);
}
