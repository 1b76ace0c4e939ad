import type * as pulumi from "@pulumi/pulumi";
import { canonicalJson } from "../pipeline/contentHash";
import type { CheckedImageBuildInputs, ImageBuildOutputs } from "./inputs";

function hasFixedName(inputs: CheckedImageBuildInputs): boolean {
  return Boolean(inputs.args.imageName) || inputs.args.imageNameSuffix !== undefined;
}

/** Arguments that only change the output image's labels: updated in place. */
const LABEL_ARGUMENTS = ["imageLabels", "inheritSourceLabels"] as const;

/**
 * Decides what a change means. Images are immutable, so anything that shapes the image (the content
 * hash covers all of it, secrets included) or its name replaces it; with a fixed name the old image
 * must go first. Labels are updated in place. Everything else (how the build runs: VM, network,
 * bucket, timeout, endpoints) is recorded without touching the image.
 */
export function classifyDiff(
  olds: ImageBuildOutputs,
  news: CheckedImageBuildInputs,
): pulumi.dynamic.DiffResult {
  const replaces: string[] = [];
  if (olds.contentHash !== news.contentHash) replaces.push("contentHash");
  if (olds.imageName !== news.imageName) replaces.push("imageName");
  const sameArgs = canonicalJson(olds.args) === canonicalJson(news.args);
  const labelsChanged = LABEL_ARGUMENTS.some(
    (key) => canonicalJson(olds.args[key] ?? null) !== canonicalJson(news.args[key] ?? null),
  );
  return {
    changes: replaces.length > 0 || !sameArgs || labelsChanged,
    replaces,
    // A fixed name (imageName, or source name + suffix) cannot exist twice: the old image must go
    // first. Generated names are fresh for the replacement (the engine checks it again without olds).
    deleteBeforeReplace: replaces.length > 0 && hasFixedName(news),
  };
}
