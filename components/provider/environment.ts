import { endpointsFromEnv, type GcpClients } from "../google/clients";
import { sharedGcpClients } from "../google/sharedClients";
import { withBoundedApi, type ComputeApi } from "../google/computeApi";
import { streamProgress, type Progress } from "../pipeline/progress";
import type { PipelineOptions } from "../pipeline/runBuild";
import type { BuildSpec } from "../pipeline/spec";

/**
 * What the provider methods run with: clients, progress and pipeline knobs. Production builds them
 * from the inputs; tests, benchmarks and the local engine replace them with {@link configureRuntime}.
 */

/**
 * What the methods use.
 *
 * @internal
 */
export interface RuntimeEnvironment {
  /** Clients for the given endpoints (default: the real Google clients). */
  clients(endpoints: BuildSpec["endpoints"], project: string): GcpClients;
  /** Where progress goes (default: standard output). */
  progress(name: string): Progress;
  /** Pipeline knobs (default: none). */
  pipeline?: PipelineOptions;
}

const defaultEnvironment: RuntimeEnvironment = {
  // Endpoints given as inputs win; PCI_COMPUTE_ENDPOINT / PCI_STORAGE_ENDPOINT point a whole
  // program at the local emulator without changing it. Builds that overlap share their clients.
  clients: (endpoints, project) =>
    sharedGcpClients({ endpoints: { ...endpointsFromEnv(), ...endpoints }, projectId: project }),
  progress: (name) => streamProgress(name),
};

let current: RuntimeEnvironment = defaultEnvironment;

/**
 * The environment the methods run with now.
 *
 * @internal
 */
export function environment(): RuntimeEnvironment {
  return current;
}

/**
 * Replaces parts of the environment (tests, benchmarks, the local engine); returns a function that
 * restores it. A test seam, not an API: left out of the published type declarations.
 *
 * @internal
 */
export function configureRuntime(overrides: Partial<RuntimeEnvironment>): () => void {
  const previous = current;
  current = { ...current, ...overrides };
  return () => {
    current = previous;
  };
}

/** How long reads in check/read/update/delete may take in all. */
export const SHORT_DEADLINE_MS = 5 * 60_000;

/** Runs `work` with clients for the spec's endpoints and a short deadline, and closes the clients. */
export async function withApi<T>(
  spec: Pick<BuildSpec, "endpoints" | "namePrefix"> & { vm: Pick<BuildSpec["vm"], "project"> },
  work: (api: ComputeApi, progress: Progress) => Promise<T>,
): Promise<T> {
  const clients = current.clients(spec.endpoints, spec.vm.project);
  const progress = current.progress(spec.namePrefix);
  const bounds = { timeoutMs: SHORT_DEADLINE_MS, retry: current.pipeline?.retry };
  try {
    return await withBoundedApi(clients, progress, bounds, (api) => work(api, progress));
  } finally {
    await clients.close();
  }
}
