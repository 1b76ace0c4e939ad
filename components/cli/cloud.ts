import { buildInputsOf } from "../buildImage";
import { createGcpClients, endpointsFromEnv, type GcpClients } from "../google/clients";
import { ComputeApi } from "../google/computeApi";
import { Deadline } from "../google/deadline";
import { isNotFound } from "../google/errors";
import { CONTENT_LABEL_KEY, contentLabelOf } from "../naming";
import { checkedInputs } from "../pipeline/prepareBuild";
import type { Progress } from "../pipeline/progress";
import type { PipelineOptions } from "../pipeline/runBuild";
import type { CheckedImageBuildInputs, ImageBuildInputs } from "../provider/inputs";
import { InvalidArgumentsError, type Problem } from "../validation";
import type { LoadedConfig } from "./configFile";
import { ConfigError } from "./errors";
import type { Reporter } from "./output";

/**
 * What `build` and `plan` share: validation without a cloud call, clients for the configured
 * endpoints, and the read-only look at the cloud (source image, content hash, the fixed-name image).
 */

/** How long the read-only look may take. */
const INSPECT_DEADLINE_MS = 5 * 60_000;

/**
 * The configuration validated with the component's rules (no cloud call).
 *
 * @throws ConfigError listing every problem: the file's and the component's.
 */
export async function validated(config: LoadedConfig): Promise<ImageBuildInputs> {
  let inputs: ImageBuildInputs | undefined;
  let problems: readonly Problem[] = [];
  try {
    inputs = await buildInputsOf(config.args, config.name, config.baseDir);
  } catch (error) {
    if (!(error instanceof InvalidArgumentsError)) throw error;
    problems = error.problems;
  }
  const all = [...config.problems, ...problems];
  if (all.length > 0 || inputs === undefined) throw new ConfigError(config.file, all);
  return inputs;
}

/** Clients for the configuration's `apiEndpoints`, else `PCI_COMPUTE_ENDPOINT` / `PCI_STORAGE_ENDPOINT`. */
export function clientsFor(inputs: ImageBuildInputs): GcpClients {
  const endpoints = inputs.args.apiEndpoints;
  return createGcpClients({
    endpoints: { ...endpointsFromEnv(), ...endpoints },
    projectId: inputs.args.project as string,
  });
}

/** Progress of the command's own API calls (retries, warnings), through the reporter. */
export function reporterProgress(reporter: Reporter): Progress {
  return {
    info: (message) => reporter.info(message),
    warn: (message) => reporter.info(message, "warning"),
  };
}

/** The image a fixed name points at, when it exists. */
export interface ExistingImage {
  selfLink: string;
  id: string;
  family?: string;
  /** Its `pci-content` label (undefined: not built by this tool, or before the label existed). */
  contentLabel?: string;
  /** True when its content label is this configuration's: a build would make the same image. */
  sameContent: boolean;
}

/** What a look at the cloud found. */
export interface Inspection {
  checked: CheckedImageBuildInputs;
  /** True when the image name is fixed (`imageName` / `imageNameSuffix`), not generated. */
  fixedName: boolean;
  /** The image of that fixed name, if any. */
  existing?: ExistingImage;
}

/** Resolves the source image, computes the content hash and name, and reads a fixed-name image. */
export async function inspect(
  inputs: ImageBuildInputs,
  clients: GcpClients,
  progress: Progress,
  pipeline: PipelineOptions | undefined,
  signal?: AbortSignal,
): Promise<Inspection> {
  const deadline = new Deadline(INSPECT_DEADLINE_MS, Date.now(), signal);
  try {
    const api = new ComputeApi(clients, deadline, progress, pipeline?.retry);
    const checked = await checkedInputs(api, inputs);
    const fixedName =
      inputs.args.imageName !== undefined || inputs.args.imageNameSuffix !== undefined;
    const existing = fixedName ? await existingImage(api, checked) : undefined;
    return { checked, fixedName, existing };
  } finally {
    deadline.cancel();
  }
}

async function existingImage(
  api: ComputeApi,
  checked: CheckedImageBuildInputs,
): Promise<ExistingImage | undefined> {
  const project = (checked.args.imageProject ?? checked.args.project) as string;
  try {
    const [image] = await api.read(`reading the image ${checked.imageName}`, () =>
      api.clients.images.get({ project, image: checked.imageName }, api.callOptions()),
    );
    const contentLabel = image.labels?.[CONTENT_LABEL_KEY];
    return {
      selfLink: image.selfLink ?? "",
      id: image.id != null ? String(image.id) : "",
      family: image.family ?? undefined,
      contentLabel,
      sameContent: contentLabel === contentLabelOf(checked.contentHash),
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The problem of a fixed name that another image holds (exit 2 before any VM is created). */
export function nameTakenError(config: LoadedConfig, inspection: Inspection): ConfigError {
  const field = config.args.imageName !== undefined ? "imageName" : "imageNameSuffix";
  const { existing, checked } = inspection;
  return new ConfigError(config.file, [
    {
      field,
      value: checked.imageName,
      message: `names an image that already exists and was built from other inputs (its ${CONTENT_LABEL_KEY} label is ${JSON.stringify(existing?.contentLabel ?? null)}, this configuration's is "${contentLabelOf(checked.contentHash)}")`,
      fix: "choose another name, delete that image first, or leave imageName and imageNameSuffix unset for a fresh name per build",
    },
  ]);
}
