/** Every Compute Engine resource of the emulator, with lookups that answer 404 like GCE. */
import { notFound } from "../http/errors";
import type { InstanceRuntime } from "./instanceRuntime";
import type { DiskRecord, ImageRecord } from "./resources";
import type { ImageRef } from "./urls";

/** Images, disks and instances, keyed by their `projects/...` paths. */
export class ComputeState {
  /** Images by path. */
  readonly images = new Map<string, ImageRecord>();
  /** Disks by path. */
  readonly disks = new Map<string, DiskRecord>();
  /** Instances by path. */
  readonly instances = new Map<string, InstanceRuntime>();

  /** The image or 404. */
  image(project: string, name: string): ImageRecord {
    const path = `projects/${project}/global/images/${name}`;
    const image = this.images.get(path);
    if (!image) throw notFound(path);
    return image;
  }

  /** The disk or 404. */
  disk(project: string, zone: string, name: string): DiskRecord {
    const path = `projects/${project}/zones/${zone}/disks/${name}`;
    const disk = this.disks.get(path);
    if (!disk) throw notFound(path);
    return disk;
  }

  /** The instance or 404. */
  instance(project: string, zone: string, name: string): InstanceRuntime {
    const path = `projects/${project}/zones/${zone}/instances/${name}`;
    const instance = this.instances.get(path);
    if (!instance) throw notFound(path);
    return instance;
  }

  /** Images of a project. */
  imagesIn(project: string): ImageRecord[] {
    return [...this.images.values()].filter((i) => i.project === project);
  }

  /** Disks of a project and zone. */
  disksIn(project: string, zone: string): DiskRecord[] {
    return [...this.disks.values()].filter((d) => d.project === project && d.zone === zone);
  }

  /** Instances of a project and zone. */
  instancesIn(project: string, zone: string): InstanceRuntime[] {
    return [...this.instances.values()].filter(
      (i) => i.record.project === project && i.record.zone === zone,
    );
  }

  /** The newest READY, non-deprecated image of a family (what `getFromFamily` returns), or 404. */
  newestInFamily(project: string, family: string): ImageRecord {
    const candidates = this.imagesIn(project).filter(
      (i) =>
        i.family === family &&
        i.status === "READY" &&
        (i.deprecated === undefined || i.deprecated.state === "ACTIVE"),
    );
    candidates.sort((a, b) => b.creationTimestamp.localeCompare(a.creationTimestamp));
    const newest = candidates[0];
    if (!newest) throw notFound(`projects/${project}/global/images/family/${family}`);
    return newest;
  }

  /** Resolves an image reference (by name or family), or 404. */
  resolveImage(ref: ImageRef): ImageRecord {
    return ref.family !== undefined
      ? this.newestInFamily(ref.project, ref.family)
      : this.image(ref.project, ref.name ?? "");
  }

  /** Images still being created from `disk` (which GCE counts as users of the disk). */
  imagesBeingCreatedFrom(disk: DiskRecord): ImageRecord[] {
    return [...this.images.values()].filter(
      (i) => i.status === "PENDING" && i.sourceDiskId === disk.id,
    );
  }
}
