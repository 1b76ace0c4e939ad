import { isProjectId, isResourceName, parseImageRef } from "../google/names";
import type { ArgsUnderValidation } from "./context";
import type { ArgsReader } from "./reader";

/** Project that publishes COS images; the default source project and the only one with milestones. */
export const COS_IMAGE_PROJECT = "cos-cloud";

const SELECTORS = ["sourceImage", "sourceImageFamily", "sourceImageMilestone"] as const;

/** Source image rules: exactly one selector, well-formed names, milestones only in cos-cloud. */
export function checkSourceImage(r: ArgsReader, args: ArgsUnderValidation): void {
  const chosen = SELECTORS.filter((key) => r.isSet(args[key]));
  if (chosen.length === 0) {
    r.report({
      field: "sourceImage",
      message: "no source image is selected",
      fix: 'set exactly one of sourceImage, sourceImageFamily (e.g. "cos-stable") or sourceImageMilestone (e.g. 121)',
    });
  } else if (chosen.length > 1) {
    r.report({
      field: chosen.join(", "),
      message: "select the source image in more than one way",
      fix: `keep exactly one of ${chosen.join(", ")}`,
    });
  }

  const project = r.validString("sourceImageProject", args.sourceImageProject, isProjectId, {
    message: "is not a valid project id",
    fix: 'use a project id of 6 to 30 lowercase letters, digits and hyphens, such as "cos-cloud"',
  });

  r.validString(
    "sourceImage",
    args.sourceImage,
    (image) => parseImageRef(image, project ?? COS_IMAGE_PROJECT) !== undefined,
    {
      message: "is neither an image name nor an image URL",
      fix: 'give a name such as "cos-stable-117-18613-164-4" or a URL such as "projects/cos-cloud/global/images/cos-stable-117-18613-164-4"',
    },
  );

  r.validString("sourceImageFamily", args.sourceImageFamily, isResourceName, {
    message: "is not a valid image family name",
    fix: 'use lowercase letters, digits and hyphens, starting with a letter, such as "cos-stable" or "cos-121-lts"',
  });

  const milestone = r.integer("sourceImageMilestone", args.sourceImageMilestone, 1, 9999);
  if (milestone !== undefined && project !== undefined && project !== COS_IMAGE_PROJECT) {
    r.report({
      field: "sourceImageMilestone",
      value: milestone,
      message: `can only select images in "${COS_IMAGE_PROJECT}", but sourceImageProject is "${project}"`,
      fix: `remove sourceImageProject (it defaults to "${COS_IMAGE_PROJECT}") or select the image by name or family`,
    });
  }
}
