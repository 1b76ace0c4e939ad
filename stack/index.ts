import * as pulumi from "@pulumi/pulumi";
import { PreloadedCosImage, type PreloadedCosImageArgs } from "../components";
import { stackKeyProblems } from "./stackKeys";

/**
 * The repository's own Pulumi program: builds one image from stack configuration, so that the
 * component can be used without writing a program.
 *
 *   pulumi config set --path image.sourceImageFamily cos-stable
 *   pulumi config set --path image.buildContext ./my-image
 *   pulumi config set --path 'image.steps[0].runScript.script' setup.sh
 *   pulumi config set --secret --path secretEnv.API_TOKEN s3cr3t   # optional
 *
 * `image` takes every field of PreloadedCosImageArgs; `secretEnv` adds secret environment variables
 * to every runScript step; `name` (default "image") names the component.
 */
const config = new pulumi.Config();
checkStackKeys();
const args = config.requireObject<PreloadedCosImageArgs>("image");
const secretEnv = config.getSecretObject<Record<string, string>>("secretEnv");

const steps =
  secretEnv === undefined ? args.steps : args.steps?.map((step) => withSecretEnv(step, secretEnv));
const image = new PreloadedCosImage(config.get("name") ?? "image", { ...args, steps });

function checkStackKeys(): void {
  const problems = stackKeyProblems(pulumi.runtime.allConfig(), pulumi.getProject());
  if (problems.length > 0) {
    throw new Error(`invalid stack configuration:\n${problems.join("\n")}`);
  }
}

function withSecretEnv(
  step: NonNullable<PreloadedCosImageArgs["steps"]>[number],
  env: pulumi.Output<Record<string, string>>,
): NonNullable<PreloadedCosImageArgs["steps"]>[number] {
  if (!step.runScript) return step;
  const merged = pulumi
    .all([step.runScript.env ?? {}, env])
    .apply(([own, extra]) => ({ ...own, ...extra }));
  return { ...step, runScript: { ...step.runScript, env: merged } };
}

export const imageName = image.imageName;
export const imageSelfLink = image.imageSelfLink;
export const imageId = image.imageId;
export const imageFamily = image.imageFamily;
export const sourceImage = image.sourceImage;
