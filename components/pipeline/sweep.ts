import { apiMessage } from "../google/errors";
import type { ComputeApi } from "../google/computeApi";
import { TEMPORARY_LABEL_KEYS } from "../naming";
import type { Progress } from "./progress";
import type { BuildRun } from "./buildRun";
import type { BuildSpec } from "./spec";
import { teardown } from "./teardown";
import { Temporaries, createdBefore } from "./temporaries";

/** Where a sweep looks, and what it takes. */
export interface SweepScope {
  project: string;
  zone: string;
  /**
   * Projects whose images may hold temporaries: the build project (CIDATA images) and the output
   * image's project (an output image is a temporary until its build has finished).
   */
  imageProjects: string[];
  bucket: string;
  /** Object prefix of builds (`<bucketPrefix>/`). */
  prefix: string;
  ownerId: string;
  /** The running build, whose temporaries are never swept. */
  currentBuildId?: string;
  /** Only temporaries created before this time (ms since epoch) are swept. */
  createdBefore: number;
}

/**
 * Finds temporaries of earlier builds of the same owner that were created before `createdBefore`
 * and deletes them. Returns how many it deleted. Failures are reported, never thrown: a sweep must
 * not fail a build.
 */
export async function sweep(
  api: ComputeApi,
  scope: SweepScope,
  progress: Progress,
): Promise<number> {
  const filter = `labels.${TEMPORARY_LABEL_KEYS.owner} = "${scope.ownerId}"`;
  const stale = (labels: Record<string, string> | null | undefined): boolean =>
    labels?.[TEMPORARY_LABEL_KEYS.build] !== scope.currentBuildId &&
    createdBefore(labels, scope.createdBefore);
  const found = new Temporaries();
  try {
    const [[instances], [disks], imageLists, [objects]] = await Promise.all([
      api.read("listing leftover instances", () =>
        api.clients.instances.list(
          { project: scope.project, zone: scope.zone, filter },
          { ...api.callOptions(), autoPaginate: true },
        ),
      ),
      api.read("listing leftover disks", () =>
        api.clients.disks.list(
          { project: scope.project, zone: scope.zone, filter },
          { ...api.callOptions(), autoPaginate: true },
        ),
      ),
      Promise.all(
        scope.imageProjects.map((project) =>
          api
            .read(`listing leftover images in ${project}`, () =>
              api.clients.images.list(
                { project, filter },
                { ...api.callOptions(), autoPaginate: true },
              ),
            )
            .then(([images]) => images.map((image) => ({ project, image }))),
        ),
      ),
      api.read("listing leftover objects", () =>
        api.clients.storage
          .bucket(scope.bucket)
          .getFiles({ prefix: scope.prefix, autoPaginate: true }),
      ),
    ]);
    for (const i of instances)
      if (i.name && stale(i.labels))
        found.add("instances", { project: scope.project, zone: scope.zone, name: i.name });
    for (const d of disks)
      if (d.name && stale(d.labels))
        found.add("disks", { project: scope.project, zone: scope.zone, name: d.name });
    for (const { project, image } of imageLists.flat())
      if (image.name && stale(image.labels)) found.add("images", { project, name: image.name });
    for (const o of objects) {
      const metadata = (o.metadata.metadata ?? {}) as Record<string, string>;
      if (metadata[TEMPORARY_LABEL_KEYS.owner] === scope.ownerId && stale(metadata))
        found.add("objects", { bucket: scope.bucket, name: o.name });
    }
  } catch (error) {
    progress.warn(`could not look for leftovers of earlier builds: ${apiMessage(error)}`);
    return 0;
  }
  if (found.empty) return 0;
  const count = found.describe().length;
  progress.info(`deleting ${count} leftover(s) of earlier builds: ${found.describe().join(", ")}`);
  await teardown(api, found, progress);
  return count - found.describe().length;
}

/** Where the leftovers of a component's builds are: its build project, zone, bucket prefix and owner. */
export function sweepScopeOf(
  spec: Pick<BuildSpec, "vm" | "image" | "storage" | "ownerId">,
  limits: Pick<SweepScope, "currentBuildId" | "createdBefore">,
): SweepScope {
  return {
    project: spec.vm.project,
    zone: spec.vm.zone,
    imageProjects: [...new Set([spec.vm.project, spec.image.project])],
    bucket: spec.storage.bucket,
    prefix: `${spec.storage.prefix}/`,
    ownerId: spec.ownerId,
    ...limits,
  };
}

/**
 * Sweeps what earlier builds of this component left behind (a killed process, a cleanup that failed),
 * while this build runs: temporaries from the leftover age on, never this build's own.
 */
export function sweepEarlierBuilds(run: BuildRun): Promise<number> {
  const scope = sweepScopeOf(run.spec, {
    currentBuildId: run.buildId,
    createdBefore: run.now() - run.leftoverAgeMs,
  });
  return sweep(run.api, scope, run.progress);
}
