import type * as pulumi from "@pulumi/pulumi";
import type { ComputeApi } from "../google/computeApi";
import { canonicalJson } from "../pipeline/contentHash";
import { deprecateOlderImages } from "../pipeline/deprecateOlderImages";
import { ImageNameTakenError } from "../pipeline/errors";
import { outputImageLabels, readImage, setImageLabels } from "../pipeline/outputImage";
import { buildChecked, checkedInputs, nameStatus } from "../pipeline/prepareBuild";
import { resolveSourceImage } from "../pipeline/sourceImage";
import { toBuildSpec, type BuildSpec } from "../pipeline/spec";
import { sweep, sweepScopeOf } from "../pipeline/sweep";
import { deleteImage } from "../pipeline/teardown";
import { CONTENT_LABEL_KEY, TEMPORARY_LABEL_KEYS } from "../naming";
import { imageRefOfPartialUrl } from "../google/names";
import { mergeSecrets } from "../secrets";
import { formatProblem, validateArgs } from "../validation";
import type { CheckedImageBuildInputs, ImageBuildInputs, ImageBuildOutputs } from "./inputs";
import { classifyDiff } from "./diff";
import { environment, withApi } from "./environment";
import { parseBuildLine, parsePulledImage, type PulledImage } from "../guest/serialLines";
import type { Progress } from "../pipeline/progress";

/**
 * The build resource's provider implementation, loaded by package name from the serialized provider
 * (`preloaded-cos-image/provider-runtime`). Each method is a thin shell around the build modules;
 * {@link configureRuntime} lets tests and the local engine inject clients, progress and timing.
 */

/** @internal */
export { configureRuntime } from "./environment";
export * as leftovers from "./leftoversRuntime";

/**
 * Validates the resolved inputs (the same rules as the component, now that every Output is known),
 * resolves the source image, computes the content hash, and names the output image: the given name,
 * the source name plus suffix, the previous name (no replacement), or a fresh one.
 */
export async function check(
  olds: Partial<ImageBuildOutputs>,
  news: ImageBuildInputs,
): Promise<pulumi.dynamic.CheckResult> {
  const problems = validateArgs(mergeSecrets(news.args, news.secrets), {
    baseDir: news.programDir,
  });
  if (problems.length > 0) {
    return {
      inputs: news,
      failures: problems.map((p) => ({
        property: `args.${p.field}`,
        reason: formatProblem(p).slice(2),
      })),
    };
  }
  const spec = toBuildSpec(news);
  return withApi(spec, async (api) => {
    const checked = await checkedInputs(api, news, olds);
    // A name taken by another image fails here, at preview, not after a whole build. Except one
    // case: the real engine checks a replacement a second time with no olds (to name the new
    // resource), and then an image of this package under the fixed name may be the very one the
    // replacement deletes first; create looks again once that delete has run.
    const status = await nameStatus(api, checked, olds);
    const replacementRecheck =
      olds.imageName === undefined && status.kind === "taken" && status.managedByPackage;
    if (!replacementRecheck) throwUnlessFree(status, checked.imageName);
    return { inputs: checked };
  });
}

/** Throws {@link ImageNameTakenError} unless the fixed output name is free (or ours already). */
function throwUnlessFree(status: Awaited<ReturnType<typeof nameStatus>>, imageName: string): void {
  if (status.kind === "free") return;
  throw new ImageNameTakenError(
    status.kind === "taken"
      ? status.problem
      : {
          field: "imageName",
          message: `the image "${imageName}" already exists, built from these same inputs, but this stack does not hold it`,
          fix: "import it (pulumi import), or delete it and run again",
        },
  );
}

/** Replace on content or name changes; update in place for labels and build settings. */
export function diff(
  _id: string,
  olds: ImageBuildOutputs,
  news: CheckedImageBuildInputs,
): Promise<pulumi.dynamic.DiffResult> {
  return Promise.resolve(classifyDiff(olds, news));
}

/** Runs the build. If the image exists but a later step failed, the error carries it, so state keeps it. */
export async function create(
  inputs: CheckedImageBuildInputs,
): Promise<pulumi.dynamic.CreateResult> {
  const spec = toBuildSpec(inputs);
  // check may have let a fixed name through for a replacement (see there): look again, now that a
  // delete-before-replace has run, before anything is built.
  const status = await withApi(spec, (api) => nameStatus(api, inputs));
  throwUnlessFree(status, inputs.imageName);
  const clients = environment().clients(spec.endpoints, spec.vm.project);
  const pulled: PulledImage[] = [];
  const progress = recordingPulls(environment().progress(spec.namePrefix), pulled);
  try {
    const result = await buildChecked(inputs, {
      clients,
      progress,
      // Pulumi's stack lock: no other build of this component runs now, so whatever its earlier
      // builds left is a killed build's, whatever its age.
      leftoverAgeMs: 0,
      options: environment().pipeline,
    });
    const outs = { ...outputsOf(inputs, result.buildId, result.image), preloadedImages: pulled };
    if (result.deprecationError) {
      // The image exists: record it (with init errors); the next `up` retries the deprecation in update.
      throw Object.assign(result.deprecationError, {
        id: idOf(outs),
        properties: { ...outs, deprecationPending: true },
        reasons: [result.deprecationError.message],
      });
    }
    return { id: idOf(outs), outs };
  } finally {
    await clients.close();
  }
}

/** Reports the image as it is: its labels, or that it is gone (then the next `up` builds it again). */
export async function read(
  id: string,
  props: ImageBuildOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const spec = toBuildSpec(props);
  const image = await withApi(spec, (api) => readImage(api, spec.image.project, props.imageName));
  if (!image) return { id: "", props: {} };
  return {
    id,
    props: {
      ...props,
      imageSelfLink: image.selfLink ?? props.imageSelfLink,
      imageLabels: { ...(image.labels ?? {}) },
      imageFamily: image.family ?? undefined,
    },
  };
}

/** Updates labels in place, and finishes a deprecation that failed during create. */
export async function update(
  _id: string,
  olds: ImageBuildOutputs,
  news: CheckedImageBuildInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  const spec = toBuildSpec(news);
  return withApi(spec, async (api, progress) => {
    // A label change never changes the content: the image keeps the content label it was built with.
    const labels = outputImageLabels(
      spec.image,
      { labels: await inheritedLabels(api, olds, spec) },
      olds.contentHash,
    );
    if (canonicalJson(labels) !== canonicalJson(olds.imageLabels)) {
      progress.info(`updating the labels of the image ${olds.imageName}`);
      await setImageLabels(api, spec.image.project, olds.imageName, labels);
    }
    // Only a deprecation that failed during create is finished here: deprecating at every update
    // could deprecate a newer image that someone else added to the family since.
    if (olds.deprecationPending && spec.image.deprecateOlderImages && spec.image.family) {
      await deprecateOlderImages(
        api,
        {
          project: spec.image.project,
          name: olds.imageName,
          family: spec.image.family,
          selfLink: olds.imageSelfLink,
        },
        spec.image.deprecatedImageTtlDays,
      );
    }
    return {
      outs: {
        ...outputsOf(news, olds.buildId, undefined, olds),
        imageLabels: labels,
        deprecationPending: false,
      },
    };
  });
}

/**
 * The source labels the image carries: none without inheritSourceLabels; what it inherited at build
 * time when it already did (the source image may be gone by now); otherwise the source's, read now.
 */
async function inheritedLabels(
  api: ComputeApi,
  olds: ImageBuildOutputs,
  spec: BuildSpec,
): Promise<Record<string, string>> {
  if (!spec.image.inheritSourceLabels) return {};
  if (olds.args.inheritSourceLabels) {
    const own = new Set([
      ...Object.keys(olds.args.imageLabels ?? {}),
      TEMPORARY_LABEL_KEYS.managedBy,
      CONTENT_LABEL_KEY,
    ]);
    return Object.fromEntries(Object.entries(olds.imageLabels).filter(([key]) => !own.has(key)));
  }
  return (
    await resolveSourceImage(api, { kind: "image", image: imageRefOfPartialUrl(olds.sourceImage) })
  ).labels;
}

/** Deletes the image ("not found" is fine) and every leftover temporary of this component. */
async function deleteBuild(_id: string, props: ImageBuildOutputs): Promise<void> {
  const spec = toBuildSpec(props);
  await withApi(spec, async (api, progress) => {
    await deleteImage(api, { project: spec.image.project, name: props.imageName });
    // Everything the component's builds left, whatever its age: the image is going too.
    await sweep(api, sweepScopeOf(spec, { createdBefore: Date.now() + 60_000 }), progress);
  });
}
export { deleteBuild as delete };

/** The resource's state: checked inputs with secrets removed, plus what the build produced. */
function outputsOf(
  inputs: CheckedImageBuildInputs,
  buildId: string,
  image?: {
    selfLink?: string | null;
    id?: { toString(): string } | null;
    family?: string | null;
    labels?: Record<string, string> | null;
  },
  previous?: ImageBuildOutputs,
): ImageBuildOutputs {
  return {
    ...inputs,
    // Secret values never reach the state's outputs; the content hash covers them.
    secrets: { env: {}, credentials: {} },
    buildId,
    imageSelfLink: image?.selfLink ?? previous?.imageSelfLink ?? "",
    imageId: image?.id != null ? String(image.id) : (previous?.imageId ?? ""),
    imageFamily: image ? (image.family ?? undefined) : previous?.imageFamily,
    imageLabels: { ...(image?.labels ?? previous?.imageLabels ?? {}) },
    // An update changes no content, so what the build pulled stays what the image holds.
    ...(previous?.preloadedImages ? { preloadedImages: previous.preloadedImages } : {}),
  };
}

/** `progress`, also adding to `pulled` every image the guest reports it pulled (serial port 3). */
function recordingPulls(progress: Progress, pulled: PulledImage[]): Progress {
  return {
    info: (message) => progress.info(message),
    warn: (message) => progress.warn(message),
    started: (buildId) => progress.started?.(buildId),
    phase: (phase) => progress.phase?.(phase),
    serialLine: (line) => {
      progress.serialLine?.(line);
      const event = parseBuildLine(line);
      const image = event.kind === "status" ? parsePulledImage(event.text) : undefined;
      if (image) pulled.push(image);
    },
  };
}

function idOf(outs: ImageBuildOutputs): string {
  return `projects/${outs.args.imageProject ?? outs.args.project}/global/images/${outs.imageName}`;
}
