import { MANAGED_BY, TEMPORARY_LABEL_KEYS } from "../naming";

/**
 * Every temporary of a build — VM, disks, images, objects — is recorded here before it is requested,
 * labelled with the build, its owner and its creation time, and deleted when the build ends,
 * whatever the outcome (`teardown.ts`). What a killed build leaves behind is found by its labels and
 * swept by a later build of the same component, or by `pulumi destroy` (`sweep.ts`).
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

/** True when the labels are a temporary's and say it was created before `cutoffMs` (ms since epoch). */
export function createdBefore(
  labels: Record<string, string> | null | undefined,
  cutoffMs: number,
): boolean {
  const created = Number(labels?.[TEMPORARY_LABEL_KEYS.createdAt]);
  return Number.isFinite(created) && created * 1000 < cutoffMs;
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
