/**
 * The build resource's inputs as the component registers them (components/provider/inputs.ts), for
 * builds against the local emulator, and `check` + `create` as the engine runs them for a new
 * resource: the one place tests, end-to-end runs and benchmarks assemble a build.
 */
import { expect } from "chai";
import type {
  CheckedImageBuildInputs,
  ImageBuildInputs,
  ImageBuildOutputs,
} from "../../components/provider/inputs";
import * as runtime from "../../components/provider/runtime";
import type { BuildSecrets } from "../../components/secrets";

/** The user's arguments of a build. */
export type BuildArgs = ImageBuildInputs["args"];

/** Where builds go and what they build by default. */
export interface BuildTarget {
  /** Directory standing in for the Pulumi program's directory. */
  programDir: string;
  /** The emulator's endpoint, for both APIs. */
  endpoint: string;
  project: string;
  zone: string;
  bucket: string;
  /** The build context directory, relative to `programDir`. */
  buildContext: string;
  /** Default steps (none when absent). */
  steps?: BuildArgs["steps"];
  /** The component instance's owner id for a component named `name`. */
  ownerId(name: string): string;
}

/** Where in the cloud a build goes. */
export type BuildPlace = Pick<BuildTarget, "project" | "zone" | "bucket">;

/** A target whose build context is `image/` and whose one step runs `script` from it. */
export function oneScriptTarget(
  programDir: string,
  endpoint: string,
  place: BuildPlace,
  script: string,
  ownerId: BuildTarget["ownerId"],
): BuildTarget {
  return {
    programDir,
    endpoint,
    ...place,
    buildContext: "image",
    steps: [{ runScript: { script } }],
    ownerId,
  };
}

/** Inputs of a build of `name` from `cos-stable`, with `args` and `secrets` merged over the defaults. */
export function buildInputs(
  target: BuildTarget,
  name: string,
  args: Partial<BuildArgs> = {},
  secrets: Partial<BuildSecrets> = {},
): ImageBuildInputs {
  return {
    namePrefix: name,
    ownerId: target.ownerId(name),
    programDir: target.programDir,
    args: {
      sourceImageFamily: "cos-stable",
      project: target.project,
      zone: target.zone,
      bucket: target.bucket,
      buildContext: target.buildContext,
      ...(target.steps ? { steps: target.steps } : {}),
      apiEndpoints: { compute: target.endpoint, storage: target.endpoint },
      ...args,
    },
    secrets: { env: {}, credentials: {}, ...secrets },
  };
}

/** `check`, as the engine runs it on new inputs; check failures fail the test. */
export async function checkBuild(inputs: ImageBuildInputs): Promise<CheckedImageBuildInputs> {
  const checked = await runtime.check({}, inputs);
  expect(checked.failures ?? [], JSON.stringify(checked.failures)).to.deep.equal([]);
  return checked.inputs as CheckedImageBuildInputs;
}

/** `create` of checked inputs: the build. */
export async function createBuild(
  checked: CheckedImageBuildInputs,
): Promise<{ id: string; outs: ImageBuildOutputs }> {
  const result = await runtime.create(checked);
  return { id: result.id, outs: result.outs as ImageBuildOutputs };
}

/** `check` then `create`, as the engine runs a new build resource; check failures fail the test. */
export async function checkAndCreate(
  inputs: ImageBuildInputs,
): Promise<{ id: string; outs: ImageBuildOutputs }> {
  return createBuild(await checkBuild(inputs));
}
