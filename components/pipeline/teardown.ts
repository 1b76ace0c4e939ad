import { Deadline } from "../google/deadline";
import { apiMessage, isNotFound } from "../google/errors";
import type { ComputeApi } from "../google/computeApi";
import { MANAGED_BY, TEMPORARY_LABEL_KEYS } from "../naming";
import type { Progress } from "./progress";
import type { ImageRef, ObjectRef, Temporaries, ZonalRef } from "./temporaries";

/** Time teardown may take after the build's own deadline: cleanup is worth waiting for. */
export const TEARDOWN_GRACE_MS = 10 * 60_000;

/**
 * Deletes what is left, in dependency order (instances first: they hold disks), treating "not
 * found" as done. Never throws: what cannot be deleted is reported and left for the next sweep.
 */
export async function teardown(
  api: ComputeApi,
  temporaries: Temporaries,
  progress: Progress,
): Promise<void> {
  if (temporaries.empty) return;
  const grace = new Deadline(TEARDOWN_GRACE_MS);
  const cleanup = api.withDeadline(grace);
  try {
    await settleAll(
      [...temporaries.instances.values()].map((ref) =>
        deleteInstance(cleanup, ref).then(() => temporaries.forget("instances", ref)),
      ),
      progress,
    );
    await settleAll(
      [
        ...[...temporaries.disks.values()].map((ref) =>
          deleteDisk(cleanup, ref).then(() => temporaries.forget("disks", ref)),
        ),
        ...[...temporaries.images.values()].map((ref) =>
          deleteImage(cleanup, ref).then(() => temporaries.forget("images", ref)),
        ),
        ...[...temporaries.objects.values()].map((ref) =>
          deleteObject(cleanup, ref).then(() => temporaries.forget("objects", ref)),
        ),
      ],
      progress,
    );
  } finally {
    grace.cancel();
  }
  if (!temporaries.empty) {
    progress.warn(
      `could not delete ${temporaries.describe().join(", ")}; the next build of this image, or pulumi destroy, deletes them (they are labelled ${TEMPORARY_LABEL_KEYS.managedBy}=${MANAGED_BY})`,
    );
  }
}

async function settleAll(work: Array<Promise<unknown>>, progress: Progress): Promise<void> {
  for (const result of await Promise.allSettled(work)) {
    if (result.status === "rejected") progress.warn(`cleanup: ${apiMessage(result.reason)}`);
  }
}

/** Deletes an instance and waits for it to be gone; "not found" is success. */
export function deleteInstance(api: ComputeApi, ref: ZonalRef): Promise<void> {
  return deleteResource(api, `the instance ${ref.name}`, ref, (requestId) =>
    api.clients.instances.delete(
      { ...zoneOf(ref), instance: ref.name, requestId },
      api.callOptions(),
    ),
  );
}

/** Deletes a disk and waits for it to be gone; "not found" is success. */
export function deleteDisk(api: ComputeApi, ref: ZonalRef): Promise<void> {
  return deleteResource(api, `the disk ${ref.name}`, ref, (requestId) =>
    api.clients.disks.delete({ ...zoneOf(ref), disk: ref.name, requestId }, api.callOptions()),
  );
}

/** Deletes an image and waits for it to be gone; "not found" is success. */
export function deleteImage(api: ComputeApi, ref: ImageRef): Promise<void> {
  return deleteResource(api, `the image ${ref.name}`, { project: ref.project }, (requestId) =>
    api.clients.images.delete(
      { project: ref.project, image: ref.name, requestId },
      api.callOptions(),
    ),
  );
}

/** Starts a deletion and waits for its operation; "not found" is success. */
function deleteResource(
  api: ComputeApi,
  what: string,
  scope: { project: string; zone?: string },
  start: (requestId: string) => Promise<unknown>,
): Promise<void> {
  return ignoreNotFound(api.mutate(`deleting ${what}`, scope, start));
}

function zoneOf(ref: ZonalRef): { project: string; zone: string } {
  return { project: ref.project, zone: ref.zone };
}

/** Deletes a Cloud Storage object; "not found" is success. */
export async function deleteObject(api: ComputeApi, ref: ObjectRef): Promise<void> {
  await ignoreNotFound(
    api.read(`deleting gs://${ref.bucket}/${ref.name}`, () =>
      api.clients.storage.bucket(ref.bucket).file(ref.name).delete(),
    ),
  );
}

async function ignoreNotFound(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}
