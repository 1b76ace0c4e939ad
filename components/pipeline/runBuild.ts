import type { protos } from "@google-cloud/compute";
import { launchBuildVm, provisionWithRetries } from "./bootVm";
import { enterPhase, startBuildRun, type BuildRequest } from "./buildRun";
import { describeDelivery, planGuestPayload } from "./deliverCidata";
import { deprecateFamily } from "./deprecateOlderImages";
import { acknowledge } from "./acknowledgeAndStop";
import { finalizeImage, imageBootDisk, powerOffKeepingBootDisk } from "./imageBootDisk";
import { sweepEarlierBuilds } from "./sweep";
import { teardown } from "./teardown";

export type { BuildPhase, BuildRequest } from "./buildRun";
/** @internal */
export type { PipelineOptions } from "./buildRun";

/** What a build made. */
export interface BuildResult {
  buildId: string;
  /** The output image as GCE reports it. */
  image: protos.google.cloud.compute.v1.IImage;
  /** Images of the family that were deprecated. */
  deprecated: string[];
  /** Set when the image exists but deprecating older images failed. */
  deprecationError?: Error;
}

/**
 * Runs one build, phase by phase, and deletes every temporary whatever the outcome (success,
 * failure, timeout). Each phase lives in its own module, with the cleanup of what it creates.
 */
export async function runBuild(request: BuildRequest): Promise<BuildResult> {
  const run = startBuildRun(request);
  run.progress.started?.(run.buildId);
  const { spec, source, imageName } = run;
  // Local work first: a bad build context fails here, before any cloud call.
  const payload = await planGuestPayload(run);
  run.progress.info(
    `build ${run.buildId}: ${spec.steps.length} step(s) on ${source.partialUrl}, output image ${spec.image.project}/${imageName}`,
  );
  run.progress.info(describeDelivery(payload.delivery));

  await enterPhase(run, "sweep");
  const sweeping = sweepEarlierBuilds(run);
  try {
    const firstVm = await launchBuildVm(run, payload);
    const { attempt, instance } = await provisionWithRetries(run, payload, firstVm);
    await acknowledge(run, attempt.vm, instance);
    await powerOffKeepingBootDisk(run, attempt);
    const made = await imageBootDisk(run, attempt);
    await finalizeImage(run, made);
    const deprecation = await deprecateFamily(run, made);
    return {
      buildId: run.buildId,
      image: made.image,
      deprecated: deprecation.deprecated,
      deprecationError: deprecation.error,
    };
  } finally {
    run.deadline.cancel();
    await Promise.allSettled([...run.background]);
    payload.dispose();
    await enterPhase(run, "teardown");
    await teardown(run.api, run.temporaries, run.progress);
    await sweeping;
  }
}
