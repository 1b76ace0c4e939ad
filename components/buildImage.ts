import * as path from "node:path";
import type { PreloadedCosImageArgs } from "./args";
import { createGcpClients, endpointsFromEnv, type GcpClients } from "./google/clients";
import { withBoundedApi } from "./google/computeApi";
import { BuildCancelledError } from "./google/deadline";
import { parseBuildLine, parsePulledImage, type PulledImage } from "./guest/serialLines";
import { ownerIdOf } from "./naming";
import { isOutputOrPromise } from "./pendingValues";
import type { protos } from "@google-cloud/compute";
import { ImageNameTakenError } from "./pipeline/errors";
import { buildChecked, checkedInputs, nameStatus, type NameStatus } from "./pipeline/prepareBuild";
import type { Progress } from "./pipeline/progress";
import type { BuildPhase, PipelineOptions } from "./pipeline/runBuild";
import { toBuildSpec } from "./pipeline/spec";
import type { CheckedImageBuildInputs, ImageBuildInputs } from "./provider/inputs";
import { mergeSecrets, splitSecrets } from "./secrets";
import { InvalidArgumentsError, validateArgs, type Problem } from "./validation";

/**
 * The build without Pulumi: the same pipeline as the component's `pulumi up`, as one call, for CI
 * pipelines and scripts. No state is kept: the caller owns the image it returns.
 */

/**
 * Arguments of {@link buildImage}: the component's, with plain values. A value may also be a Promise
 * (resolved before the build); a `runScript.env` value given as a Promise is treated as a secret, as
 * an Output is by the component. Without a Pulumi stack, `project`, `zone` and `bucket` are required.
 */
export type BuildImageArgs = PreloadedCosImageArgs;

/** What happens during a build, for progress displays and CI logs. `elapsedMs` counts from the call. */
export type BuildImageEvent =
  | { type: "progress"; level: "info" | "warning"; message: string; elapsedMs: number }
  /** The build drew its id: its temporaries carry it (`pci-build`), and `sweep --build` takes it. */
  | { type: "started"; buildId: string; elapsedMs: number }
  | { type: "phase"; phase: BuildPhase; elapsedMs: number }
  | { type: "serial"; line: string; elapsedMs: number };

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /**
   * Names the build: the start of a generated image name, and, with the project, the owner of its
   * temporaries (builds of the same name sweep each other's leftovers). Default `preloaded-cos-image`.
   */
  name?: string;
  /** Where relative paths (`buildContext`, `extraFiles`) start. Default: the current directory. */
  baseDir?: string;
  /** Cancels the build: it deletes everything it made and rejects with `BuildCancelledError`. */
  signal?: AbortSignal;
  /** Receives every event as it happens. Default: none (the call is silent). */
  onEvent?: (event: BuildImageEvent) => void;
  /** @internal Clients to use instead of ones made from the endpoints (tests). */
  clients?: GcpClients;
  /** @internal */
  pipeline?: PipelineOptions;
}

/** What {@link buildImage} made. */
export interface BuiltImage {
  /** Name of the output image. */
  imageName: string;
  /** Full URL of the output image. */
  selfLink: string;
  /** Numeric id of the output image, as a string. */
  id: string;
  /** Project of the output image. */
  project: string;
  /** Family of the output image, if any. */
  family?: string;
  /** The source image, resolved (`projects/<p>/global/images/<name>`). */
  sourceImage: string;
  /** Content hash of everything that shapes the image: equal hashes, equal images. */
  contentHash: string;
  /**
   * True when nothing was built: the fixed-name image exists and carries these inputs' content label
   * (`pci-content`). COS Customizer skips such a build silently; this says so.
   */
  upToDate: boolean;
  /** Id of the build (the `pci-build` label of its temporaries); empty when `upToDate`. */
  buildId: string;
  /** Every image the `preloadImages` steps pulled, with the digest pulled. */
  preloadedImages: PulledImage[];
  /** Older images of the family that were deprecated. */
  deprecated: string[];
  /** Set when the image exists but deprecating older images failed. */
  deprecationError?: string;
}

const DEFAULT_NAME = "preloaded-cos-image";
/** How long the preview half (source image resolution) may take. */
const CHECK_DEADLINE_MS = 5 * 60_000;

/**
 * Builds an image: validates the arguments (every problem at once, before any cloud call), resolves
 * the source image, runs the build, and deletes every temporary whatever the outcome.
 *
 * @throws InvalidArgumentsError listing every problem; BuildFailedError naming the failing step,
 *   with the serial tail; BuildCancelledError after `signal` fired; DeadlineExceededError.
 */
export async function buildImage(
  args: BuildImageArgs,
  options: BuildImageOptions = {},
): Promise<BuiltImage> {
  const name = options.name ?? DEFAULT_NAME;
  const started = Date.now();
  const emit = (event: DistributiveOmit<BuildImageEvent, "elapsedMs">): void =>
    options.onEvent?.({ ...event, elapsedMs: Date.now() - started });
  const pulled: PulledImage[] = [];
  const progress: Progress = {
    info: (message) => emit({ type: "progress", level: "info", message }),
    warn: (message) => emit({ type: "progress", level: "warning", message }),
    started: (buildId) => emit({ type: "started", buildId }),
    phase: (phase) => emit({ type: "phase", phase: phase as BuildPhase }),
    serialLine: (line) => {
      emit({ type: "serial", line });
      const event = parseBuildLine(line);
      const image = event.kind === "status" ? parsePulledImage(event.text) : undefined;
      if (image) pulled.push(image);
    },
  };

  const inputs = await buildInputsOf(args, name, path.resolve(options.baseDir ?? "."));
  if (options.signal?.aborted) throw new BuildCancelledError("starting");
  const spec = toBuildSpec(inputs);
  const clients =
    options.clients ??
    createGcpClients({
      endpoints: { ...endpointsFromEnv(), ...spec.endpoints },
      projectId: spec.vm.project,
    });
  try {
    const { checked, name: status } = await preview(inputs, clients, progress, options);
    if (status.kind === "taken") throw new ImageNameTakenError(status.problem);
    if (status.kind === "built") {
      // COS Customizer skips a build whose output image exists, silently; this says so.
      progress.info(
        `the image ${checked.imageName} exists and was built from these same inputs (label pci-content): nothing to build`,
      );
      return builtImageOf(checked, status.image, spec.image.project, {
        upToDate: true,
        buildId: "",
        deprecated: [],
      });
    }
    const result = await buildChecked(checked, {
      clients,
      progress,
      signal: options.signal,
      options: options.pipeline,
    });
    if (result.deprecationError) progress.warn(result.deprecationError.message);
    return builtImageOf(checked, result.image, spec.image.project, {
      upToDate: false,
      buildId: result.buildId,
      preloadedImages: pulled,
      deprecated: result.deprecated,
      deprecationError: result.deprecationError?.message,
    });
  } finally {
    if (!options.clients) await clients.close();
  }
}

function builtImageOf(
  checked: CheckedImageBuildInputs,
  image: protos.google.cloud.compute.v1.IImage,
  project: string,
  build: Pick<BuiltImage, "upToDate" | "buildId" | "deprecated" | "deprecationError"> &
    Partial<Pick<BuiltImage, "preloadedImages">>,
): BuiltImage {
  return {
    imageName: checked.imageName,
    selfLink: image.selfLink ?? "",
    id: image.id != null ? String(image.id) : "",
    project,
    family: image.family ?? undefined,
    sourceImage: checked.sourceImage,
    contentHash: checked.contentHash,
    preloadedImages: [],
    ...build,
  };
}

/**
 * The preview half: source image, content hash, image name, and what stands at a fixed name.
 *
 * @internal Also the command's `plan`.
 */
export async function preview(
  inputs: ImageBuildInputs,
  clients: GcpClients,
  progress: Progress,
  options: Pick<BuildImageOptions, "signal" | "pipeline">,
): Promise<{ checked: CheckedImageBuildInputs; name: NameStatus }> {
  const bounds = {
    timeoutMs: CHECK_DEADLINE_MS,
    signal: options.signal,
    retry: options.pipeline?.retry,
  };
  return withBoundedApi(clients, progress, bounds, async (api) => {
    const checked = await checkedInputs(api, inputs);
    return { checked, name: await nameStatus(api, checked) };
  });
}

/**
 * The build resource's inputs from plain arguments: Promises resolved (the env values among them as
 * secrets), validated with the component's rules plus what a build without Pulumi needs.
 *
 * @internal Also used by the command's `plan`.
 */
export async function buildInputsOf(
  args: BuildImageArgs,
  name: string,
  baseDir: string,
): Promise<ImageBuildInputs> {
  const { args: shown, secrets } = splitSecrets(args);
  const [plainArgs, plainSecrets] = (await Promise.all([
    resolveDeep(shown),
    resolveDeep(secrets),
  ])) as [ImageBuildInputs["args"], ImageBuildInputs["secrets"]];
  const problems = [
    ...validateArgs(mergeSecrets(plainArgs, plainSecrets), { baseDir }),
    ...withoutPulumiProblems(plainArgs),
  ];
  if (problems.length > 0) throw new InvalidArgumentsError(name, problems);
  const project = plainArgs.project as string;
  return {
    namePrefix: name,
    ownerId: ownerIdOf(project, "build-image", name),
    programDir: baseDir,
    args: plainArgs,
    secrets: plainSecrets,
  };
}

/** A build without Pulumi has no stack config to fall back on and no bucket resource to create. */
function withoutPulumiProblems(args: ImageBuildInputs["args"]): Problem[] {
  return args.bucket === undefined
    ? [
        {
          field: "bucket",
          message: "is required without Pulumi (there is no stack to create a scratch bucket in)",
          fix: "give an existing Cloud Storage bucket of the build project; the build writes one temporary object there and deletes it",
        },
      ]
    : [];
}

/** Awaits every Promise in a value, deeply. Outputs cannot be resolved without the Pulumi engine. */
async function resolveDeep(value: unknown): Promise<unknown> {
  if (value && typeof value === "object" && "__pulumiOutput" in value) {
    throw new TypeError(
      "buildImage() takes plain values or Promises, not Pulumi Outputs: inside a Pulumi program, use the PreloadedCosImage component",
    );
  }
  const known = isOutputOrPromise(value) ? await (value as Promise<unknown>) : value;
  if (Array.isArray(known)) return Promise.all(known.map(resolveDeep));
  if (known && typeof known === "object") {
    const entries = await Promise.all(
      Object.entries(known).map(async ([key, inner]) => [key, await resolveDeep(inner)] as const),
    );
    return Object.fromEntries(entries);
  }
  return known;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
