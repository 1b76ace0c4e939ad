import { hashCidataInputs } from "../cidata";
import type { GcpClients } from "../google/clients";
import { Deadline } from "../google/deadline";
import { contextEntries } from "../guest/cidataTree";
import { generateImageName } from "../naming";
import type {
  CheckedImageBuildInputs,
  ImageBuildInputs,
  ImageBuildOutputs,
} from "../provider/inputs";
import { ComputeApi } from "../google/computeApi";
import { contentHashOf } from "./contentHash";
import type { Progress } from "./progress";
import { runBuild, type BuildRequest, type BuildResult, type PipelineOptions } from "./runBuild";
import { resolveSourceImage, type ResolvedSource } from "./sourceImage";
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
  const contextHash = await hashCidataInputs({ entries: contextEntries(spec) });
  const contentHash = contentHashOf(spec, {
    sourceImage: source.partialUrl,
    sourceImageId: source.id,
    contextHash,
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

/** What one build of checked inputs needs besides them. */
export interface BuildEnvironment {
  clients: GcpClients;
  progress: Progress;
  signal?: AbortSignal;
  /** See {@link BuildRequest.leftoverAgeMs}. */
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
  const deadline = new Deadline(RESOLVE_DEADLINE_MS, Date.now(), environment.signal);
  let source: ResolvedSource;
  try {
    const [, project, , , name] = inputs.sourceImage.split("/");
    source = await resolveSourceImage(
      new ComputeApi(
        environment.clients,
        deadline,
        environment.progress,
        environment.options?.retry,
      ),
      { kind: "image", image: { project, name } },
    );
  } finally {
    deadline.cancel();
  }
  const result = await runBuild({
    spec,
    imageName: inputs.imageName,
    contentHash: inputs.contentHash,
    source,
    ...environment,
  });
  return { ...result, source };
}
