import { ComputeApi } from "../google/computeApi";
import type { GcpClients } from "../google/clients";
import { Deadline } from "../google/deadline";
import type { RetryPolicy } from "../google/retry";
import { generateBuildId, temporaryName } from "../naming";
import type { Progress } from "./progress";
import type { ResolvedSource } from "./sourceImage";
import type { BuildSpec } from "./spec";
import { Temporaries, temporaryLabels, type ZonalRef } from "./temporaries";
import type { WatchTiming } from "./watchProvisioner";

/**
 * Knobs for tests and benchmarks; production uses the defaults.
 *
 * @internal
 */
export interface PipelineOptions {
  /** Serial and status polling rhythm. */
  watch?: WatchTiming;
  /**
   * First wait between instance reads while the VM powers off; it grows by half each time, up to
   * four times this. Default 500 ms.
   */
  stopPollMs?: number;
  /** How long the guest may take to power off after the acknowledgement before the VM is stopped. Default 3 min. */
  stopGraceMs?: number;
  /** Clock for creation labels and the sweep's age limit. Default `Date.now`. */
  now?: () => number;
  /** Backoff of API retries. */
  retry?: RetryPolicy;
  /** Deadline of the build, overriding the spec's (tests; validation keeps users at 5 minutes or more). */
  timeoutMs?: number;
  /** Called as each phase starts (tests stop a build at chosen points; benchmarks time phases). */
  onPhase?: (phase: BuildPhase) => void | Promise<void>;
  /**
   * How the CIDATA tree reaches the VM: `auto` (default) puts small, secret-free trees in instance
   * metadata and the rest on a CIDATA disk; `disk` and `metadata` force one (tests, benchmarks).
   */
  cidataDelivery?: "auto" | "disk" | "metadata" | "bucket";
  /**
   * When the tree goes through the bucket, also prepare the CIDATA disk from the start (a hedge
   * against a VM that cannot fetch it), rather than only once the VM reports that it cannot.
   * Default: only where a fallback is plausible (see `hedgeWanted` in fetchedCidata.ts).
   */
  cidataHedge?: boolean;
}

/** The phases of a build, in order. */
export type BuildPhase =
  | "sweep"
  | "upload"
  | "cidata-image"
  | "cidata-disk"
  | "vm"
  | "attach"
  | "provisioning"
  | "acknowledge"
  | "stop"
  | "image"
  | "deprecate"
  | "teardown";

/** What a build needs. */
export interface BuildRequest {
  spec: BuildSpec;
  /** Name of the output image. */
  imageName: string;
  /** Content hash of the inputs (recorded on the image: `pci-content`). */
  contentHash: string;
  source: ResolvedSource;
  clients: GcpClients;
  progress: Progress;
  /** Cancels the build: it stops, deletes everything it made, and rejects with `BuildCancelledError`. */
  signal?: AbortSignal;
  /**
   * Age from which temporaries of the owner's earlier builds are swept. 0 where a lock guarantees
   * that no other build of the owner runs (Pulumi's stack lock): everything left is a killed
   * build's. Default: the build timeout (no lock: a younger temporary may belong to a running build).
   */
  leftoverAgeMs?: number;
  /** @internal */
  options?: PipelineOptions;
}

/**
 * What every phase of one build shares. Nothing in it changes during the build except the record of
 * temporaries, which each phase keeps up to date as it creates and deletes things.
 */
export interface BuildRun {
  readonly spec: BuildSpec;
  readonly source: ResolvedSource;
  readonly imageName: string;
  readonly contentHash: string;
  readonly buildId: string;
  readonly api: ComputeApi;
  readonly deadline: Deadline;
  /** The build's own deadline in milliseconds. */
  readonly timeoutMs: number;
  /** Temporaries of earlier builds are swept from this age on. */
  readonly leftoverAgeMs: number;
  readonly progress: Progress;
  /** Everything of this build that may exist now; teardown deletes what is left. */
  readonly temporaries: Temporaries;
  /** Labels of every temporary: build, owner, creation time, and the user's VM labels. */
  readonly labels: Record<string, string>;
  /** @internal */
  readonly options: PipelineOptions;
  readonly now: () => number;
  /**
   * Work running beside the main line of phases (deleting a fetched tree, delivering a fallback
   * disk); teardown waits for it, so nothing is created after the build has cleaned up.
   */
  readonly background: Set<Promise<unknown>>;
}

/** Starts the record of one build: a fresh build id, its deadline, its labels and its API. */
export function startBuildRun(request: BuildRequest): BuildRun {
  const options = request.options ?? {};
  const now = options.now ?? Date.now;
  const buildId = generateBuildId();
  const timeoutMs = options.timeoutMs ?? request.spec.timeoutMs;
  const deadline = new Deadline(timeoutMs, Date.now(), request.signal);
  return {
    spec: request.spec,
    source: request.source,
    imageName: request.imageName,
    contentHash: request.contentHash,
    buildId,
    api: new ComputeApi(request.clients, deadline, request.progress, options.retry),
    deadline,
    timeoutMs,
    leftoverAgeMs: request.leftoverAgeMs ?? timeoutMs,
    progress: request.progress,
    temporaries: new Temporaries(),
    labels: temporaryLabels(buildId, request.spec.ownerId, now(), request.spec.vm.labels),
    options,
    now,
    background: new Set(),
  };
}

/** Tells whoever follows the build (and the test and benchmark hook) that a phase starts. */
export async function enterPhase(run: BuildRun, phase: BuildPhase): Promise<void> {
  run.progress.phase?.(phase);
  await run.options.onPhase?.(phase);
}

/**
 * A zonal temporary of the build, named `pci-<buildId>-<role>`; attempts after the first (a VM
 * preempted and made again) add `-<attempt>`.
 */
export function zonalTemporary(
  run: BuildRun,
  role: Parameters<typeof temporaryName>[1],
  attempt = 0,
): ZonalRef {
  const base = temporaryName(run.buildId, role);
  return {
    project: run.spec.vm.project,
    zone: run.spec.vm.zone,
    name: attempt ? `${base}-${attempt}` : base,
  };
}

/** A size for progress lines: KiB below 1 MiB, so small inline trees do not show as "0.0 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}
