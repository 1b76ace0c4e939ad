import { buildInputsOf } from "../buildImage";
import { createGcpClients, endpointsFromEnv, type GcpClients } from "../google/clients";
import type { Progress } from "../pipeline/progress";
import type { ImageBuildInputs } from "../provider/inputs";
import { InvalidArgumentsError, type Problem } from "../validation";
import type { LoadedConfig } from "./configFile";
import { ConfigError } from "./errors";
import type { Reporter } from "./output";

/**
 * What `build` and `plan` share: validation without a cloud call, and clients for the configured
 * endpoints.
 */

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
