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
const secretEnv = secretEnvValues();

const steps =
  secretEnv === undefined ? args.steps : args.steps?.map((step) => withSecretEnv(step, secretEnv));
const image = new PreloadedCosImage(config.get("name") ?? "image", { ...args, steps });

function checkStackKeys(): void {
  const problems = stackKeyProblems(pulumi.runtime.allConfig(), pulumi.getProject());
  if (problems.length > 0) {
    throw new Error(`invalid stack configuration:\n${problems.join("\n")}`);
  }
}

/**
 * Each `secretEnv` value as a secret Output of its own. One Output per variable (not one for the
 * whole map) is what lets the component move them apart from the readable arguments: a whole `env`
 * given as an Output would stay in the build's arguments, as secret as Pulumi makes it, and make
 * them unreadable in previews. The variable names come from the raw configuration (names are not
 * secret); the values only through the secret Output.
 */
function secretEnvValues(): Record<string, pulumi.Output<string>> | undefined {
  const all = config.getSecretObject<Record<string, string>>("secretEnv");
  if (all === undefined) return undefined;
  const raw = pulumi.runtime.allConfig()[`${pulumi.getProject()}:secretEnv`] ?? "{}";
  const names = Object.keys(JSON.parse(raw) as Record<string, unknown>);
  return Object.fromEntries(names.map((name) => [name, all.apply((values) => values[name] ?? "")]));
}

function withSecretEnv(
  step: NonNullable<PreloadedCosImageArgs["steps"]>[number],
  env: Record<string, pulumi.Output<string>>,
): NonNullable<PreloadedCosImageArgs["steps"]>[number] {
  if (!step.runScript) return step;
  // From stack configuration, a step's own env is a plain object (never an Output).
  const own = (step.runScript.env ?? {}) as Record<string, string>;
  return { ...step, runScript: { ...step.runScript, env: { ...own, ...env } } };
}

export const imageName = image.imageName;
export const imageSelfLink = image.imageSelfLink;
export const imageId = image.imageId;
export const imageFamily = image.imageFamily;
export const sourceImage = image.sourceImage;
