import { Deadline } from "../google/deadline";
import { apiMessage, isNotFound } from "../google/errors";
import { MANAGED_BY, TEMPORARY_LABEL_KEYS } from "../naming";
import type { ComputeApi } from "../google/computeApi";
import type { Progress } from "./progress";

/**
 * Every temporary of a build — VM, disks, images, objects — is recorded here before it is requested,
 * labelled with the build, its owner and its creation time, and deleted when the build ends,
 * whatever the outcome. What a killed build leaves behind is found by its labels and swept by a later
 * build of the same component (or by `pulumi destroy`).
 */

/** Labels of every temporary of a build. */
export function temporaryLabels(
  buildId: string,
  ownerId: string,
  now = Date.now(),
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    [TEMPORARY_LABEL_KEYS.managedBy]: MANAGED_BY,
    [TEMPORARY_LABEL_KEYS.build]: buildId,
    [TEMPORARY_LABEL_KEYS.owner]: ownerId,
    [TEMPORARY_LABEL_KEYS.createdAt]: String(Math.floor(now / 1000)),
  };
}

/** A zonal resource (instance, disk). */
export interface ZonalRef {
  project: string;
  zone: string;
  name: string;
}

/** A global image. */
export interface ImageRef {
  project: string;
  name: string;
}

/** A Cloud Storage object. */
export interface ObjectRef {
  bucket: string;
  name: string;
}

/** The temporaries of one build that may exist. */
export class Temporaries {
  readonly instances = new Map<string, ZonalRef>();
  readonly disks = new Map<string, ZonalRef>();
  readonly images = new Map<string, ImageRef>();
  readonly objects = new Map<string, ObjectRef>();

  /** Records a resource about to be requested. */
  add(kind: "instances" | "disks", ref: ZonalRef): void;
  add(kind: "images", ref: ImageRef): void;
  add(kind: "objects", ref: ObjectRef): void;
  add(
    kind: "instances" | "disks" | "images" | "objects",
    ref: ZonalRef | ImageRef | ObjectRef,
  ): void {
    (this[kind] as Map<string, typeof ref>).set(keyOf(ref), ref);
  }

  /** Forgets a resource that is gone (deleted by us, or by GCE as an auto-delete disk). */
  forget(
    kind: "instances" | "disks" | "images" | "objects",
    ref: ZonalRef | ImageRef | ObjectRef,
  ): void {
    this[kind].delete(keyOf(ref));
  }

  /** True when nothing is left. */
  get empty(): boolean {
    return this.instances.size + this.disks.size + this.images.size + this.objects.size === 0;
  }

  /** Human-readable list of what is left, for warnings. */
  describe(): string[] {
    return [
      ...[...this.instances.values()].map((r) => `instance ${r.name} (${r.zone})`),
      ...[...this.disks.values()].map((r) => `disk ${r.name} (${r.zone})`),
      ...[...this.images.values()].map((r) => `image ${r.name}`),
      ...[...this.objects.values()].map((r) => `object gs://${r.bucket}/${r.name}`),
    ];
  }
}

function keyOf(ref: ZonalRef | ImageRef | ObjectRef): string {
  return "bucket" in ref
    ? `${ref.bucket}/${ref.name}`
    : "zone" in ref
      ? `${ref.project}/${ref.zone}/${ref.name}`
      : `${ref.project}/${ref.name}`;
}

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
export async function deleteInstance(api: ComputeApi, ref: ZonalRef): Promise<void> {
  await ignoreNotFound(
    api.mutate(`deleting the instance ${ref.name}`, ref, (requestId) =>
      api.clients.instances.delete(
        { project: ref.project, zone: ref.zone, instance: ref.name, requestId },
        api.callOptions(),
      ),
    ),
  );
}

/** Deletes a disk and waits for it to be gone; "not found" is success. */
export async function deleteDisk(api: ComputeApi, ref: ZonalRef): Promise<void> {
  await ignoreNotFound(
    api.mutate(`deleting the disk ${ref.name}`, ref, (requestId) =>
      api.clients.disks.delete(
        { project: ref.project, zone: ref.zone, disk: ref.name, requestId },
        api.callOptions(),
      ),
    ),
  );
}

/** Deletes an image and waits for it to be gone; "not found" is success. */
export async function deleteImage(api: ComputeApi, ref: ImageRef): Promise<void> {
  await ignoreNotFound(
    api.mutate(`deleting the image ${ref.name}`, { project: ref.project }, (requestId) =>
      api.clients.images.delete(
        { project: ref.project, image: ref.name, requestId },
        api.callOptions(),
      ),
    ),
  );
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

/** Where a sweep looks, and what it takes. */
export interface SweepScope {
  project: string;
  zone: string;
  /** Projects whose images may hold temporaries (the build project). */
  imageProject: string;
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
  const stale = (labels: Record<string, string> | null | undefined): boolean => {
    const created = Number(labels?.[TEMPORARY_LABEL_KEYS.createdAt]);
    const build = labels?.[TEMPORARY_LABEL_KEYS.build];
    return (
      build !== scope.currentBuildId &&
      Number.isFinite(created) &&
      created * 1000 < scope.createdBefore
    );
  };
  const found = new Temporaries();
  try {
    const [[instances], [disks], [images], [objects]] = await Promise.all([
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
      api.read("listing leftover images", () =>
        api.clients.images.list(
          { project: scope.imageProject, filter },
          { ...api.callOptions(), autoPaginate: true },
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
    for (const i of images)
      if (i.name && stale(i.labels))
        found.add("images", { project: scope.imageProject, name: i.name });
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
