import { hashCidataInputs } from "../cidata";
import type { GcpClients } from "../google/clients";
import { contextEntries, guestCodeEntries } from "../guest/cidataTree";
import {
  CONTENT_LABEL_KEY,
  MANAGED_BY,
  TEMPORARY_LABEL_KEYS,
  contentLabelOf,
  generateImageName,
} from "../naming";
import type {
  CheckedImageBuildInputs,
  ImageBuildInputs,
  ImageBuildOutputs,
} from "../provider/inputs";
import { withBoundedApi, type ComputeApi } from "../google/computeApi";
import { imageRefOfPartialUrl } from "../google/names";
import type { protos } from "@google-cloud/compute";
import type { Problem } from "../validation";
import { contentHashOf } from "./contentHash";
import { readImage } from "./outputImage";
import type { Progress } from "./progress";
import { runBuild, type BuildResult, type PipelineOptions } from "./runBuild";
import { SourceImageError, resolveSourceImage, type ResolvedSource } from "./sourceImage";
import { toBuildSpec } from "./spec";

/**
 * The two halves of one build that every face shares (the Pulumi provider's `check` and `create`,
 * `buildImage()`, the command): first what a preview needs, then the build itself.
 */

/** How long the source image may take to resolve again before a build. */
const RESOLVE_DEADLINE_MS = 5 * 60_000;

/**
 * What a preview adds to validated inputs: the resolved source image, the content hash, and the
 * output image's name (given, the source name plus suffix, the previous name, or a fresh one).
 */
export async function checkedInputs(
  api: ComputeApi,
  news: ImageBuildInputs,
  olds: Partial<ImageBuildOutputs> = {},
): Promise<CheckedImageBuildInputs> {
  const spec = toBuildSpec(news);
  const source = await resolveSourceImage(api, spec.source);
  if (source.warning) api.progress.warn(source.warning);
  // GCE refuses a disk smaller than its image; say so now rather than when the VM is made.
  if (spec.image.diskSizeGb < source.diskSizeGb) {
    throw new SourceImageError(
      `diskSizeGb: is ${spec.image.diskSizeGb}, but the source image ${source.name} is ${source.diskSizeGb} GB. Fix: set diskSizeGb to at least ${source.diskSizeGb}`,
    );
  }
  const [contextHash, guestCodeHash] = await Promise.all([
    hashCidataInputs({ entries: contextEntries(spec) }),
    hashCidataInputs({ entries: guestCodeEntries() }),
  ]);
  const contentHash = contentHashOf(spec, {
    sourceImage: source.partialUrl,
    sourceImageId: source.id,
    contextHash,
    guestCodeHash,
  });
  const imageName =
    spec.image.name ??
    (spec.image.nameSuffix !== undefined
      ? `${source.name}${spec.image.nameSuffix}`
      : olds.imageName && olds.namePrefix === news.namePrefix
        ? olds.imageName
        : generateImageName(news.namePrefix));
  return { ...news, imageName, sourceImage: source.partialUrl, contentHash };
}

/** What stands at the output image's fixed name before a build. */
export type NameStatus =
  | { kind: "free" }
  /** An image built from the same inputs: nothing to build (`pci-content` matches). */
  | { kind: "built"; image: protos.google.cloud.compute.v1.IImage }
  /** Someone else's image: the build would fail on its insert after running for its whole length. */
  | {
      kind: "taken";
      problem: Problem;
      /** The image carries this package's `managed-by` label (another build of it made the image). */
      managedByPackage: boolean;
    };

/**
 * Looks at the fixed output name (`imageName`, or source name plus suffix) before anything is made.
 * Generated names are fresh; the image this resource already has (`olds`) and a half-made image of
 * the owner's own killed build (swept at the build's start) are not in the way.
 */
export async function nameStatus(
  api: ComputeApi,
  checked: CheckedImageBuildInputs,
  olds: Partial<ImageBuildOutputs> = {},
): Promise<NameStatus> {
  const spec = toBuildSpec(checked);
  const fixed = spec.image.name !== undefined || spec.image.nameSuffix !== undefined;
  if (!fixed || olds.imageName === checked.imageName) return { kind: "free" };
  const image = await readImage(api, spec.image.project, checked.imageName);
  const labels = image?.labels ?? {};
  if (!image || labels[TEMPORARY_LABEL_KEYS.owner] === spec.ownerId) return { kind: "free" };
  if (labels[CONTENT_LABEL_KEY] === contentLabelOf(checked.contentHash)) {
    return { kind: "built", image };
  }
  const field = spec.image.name !== undefined ? "imageName" : "imageNameSuffix";
  const managedByPackage = labels[TEMPORARY_LABEL_KEYS.managedBy] === MANAGED_BY;
  const maker = managedByPackage
    ? "another build of preloaded-cos-image, from other inputs"
    : "someone else (it has no managed-by=preloaded-cos-image label)";
  return {
    kind: "taken",
    managedByPackage,
    problem: {
      field,
      message: `the image "${checked.imageName}" already exists in project "${spec.image.project}" (created ${image.creationTimestamp ?? "at an unknown time"} by ${maker})`,
      fix: `choose another ${field}, or delete that image if it may go`,
    },
  };
}

/** What one build of checked inputs needs besides them. */
export interface BuildEnvironment {
  clients: GcpClients;
  progress: Progress;
  signal?: AbortSignal;
  /** Age from which leftovers of earlier builds are swept (see `BuildRequest.leftoverAgeMs`). */
  leftoverAgeMs?: number;
  /** @internal */
  options?: PipelineOptions;
}

/**
 * Builds the image of checked inputs. The source image is read again by the URL that the preview
 * resolved: it must not move between preview and build.
 */
export async function buildChecked(
  inputs: CheckedImageBuildInputs,
  environment: BuildEnvironment,
): Promise<BuildResult & { source: ResolvedSource }> {
  const spec = toBuildSpec(inputs);
  const bounds = {
    timeoutMs: RESOLVE_DEADLINE_MS,
    signal: environment.signal,
    retry: environment.options?.retry,
  };
  const source = await withBoundedApi(environment.clients, environment.progress, bounds, (api) =>
    resolveSourceImage(api, { kind: "image", image: imageRefOfPartialUrl(inputs.sourceImage) }),
  );
  const result = await runBuild({
    spec,
    imageName: inputs.imageName,
    contentHash: inputs.contentHash,
    source,
    ...environment,
  });
  return { ...result, source };
}
