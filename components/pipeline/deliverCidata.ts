import * as path from "node:path";
import { planCidata, writeCidataArchive, type CidataPlan } from "../cidata";
import { cidataSpecFor } from "../guest/cidataTree";
import { renderCloudConfig } from "../guest/cloudConfig";
import { inlineCidata } from "../guest/inlineCidata";
import { packTree, type PackedTree } from "../guest/treeArchive";
import { scopesAllowFetch } from "./fetchedCidata";
import { temporaryName } from "../naming";
import { enterPhase, formatBytes, type BuildRun } from "./buildRun";
import { makePackedTreeDir } from "./packedTreeDir";
import { cidataAttachment } from "./instanceBody";
import type { ImageRef, ObjectRef, ZonalRef } from "./temporaries";
import { deleteImage, deleteObject } from "./teardown";

/**
 * Delivering the CIDATA tree (the provisioner, its config and the build context) to the build VM.
 * Small, secret-free trees travel in instance metadata, so no disk import stands on the critical
 * path; the rest goes to the scratch bucket, for the VM to fetch itself (`fetchedCidata.ts`). The
 * CIDATA disk (a FAT disk, uploaded, imported as an image and attached while the VM boots) is the
 * fallback of a VM that cannot read the bucket, and can be forced.
 */

/** How the CIDATA tree reaches the VM. */
export type CidataDelivery =
  | { kind: "metadata"; /** base64 of a gzip'd tar (see `guest/inlineCidata.ts`). */ tree: string }
  | {
      kind: "bucket";
      plan: CidataPlan;
      /** The tree packed locally, before any cloud call (its size and digest go in metadata). */
      tree: PackedTree;
    }
  | {
      kind: "disk";
      plan: CidataPlan;
      /** Why the tree does not go through the bucket, when it was not forced. */
      reason?: string;
    };

/** What the VM is given at creation: its cloud-config, and how its CIDATA tree travels. */
export interface GuestPayload {
  userData: string;
  delivery: CidataDelivery;
  /** Removes what planning left on the local disk (the packed tree). */
  dispose(): void;
}

/**
 * Renders the cloud-config and plans the CIDATA tree, locally: a bad build context fails here,
 * before any cloud call.
 */
export async function planGuestPayload(run: BuildRun): Promise<GuestPayload> {
  const userData = renderCloudConfig({ buildId: run.buildId });
  const plan = await planCidata(cidataSpecFor(run.spec, run.buildId, userData));
  const choice = run.options.cidataDelivery ?? "auto";
  const tree =
    choice === "disk" || choice === "bucket" || run.spec.hasSecrets
      ? undefined
      : inlineCidata(plan);
  if (choice === "metadata" && !tree) {
    throw new Error(
      run.spec.hasSecrets
        ? "the CIDATA tree cannot travel in metadata: the build has secrets"
        : "the CIDATA tree is too large for instance metadata",
    );
  }
  if (tree) return { userData, delivery: { kind: "metadata", tree }, dispose: () => undefined };
  if (choice === "disk")
    return { userData, delivery: { kind: "disk", plan }, dispose: () => undefined };
  if (choice === "auto" && !scopesAllowFetch(run.spec)) {
    const reason = "the VM's serviceAccountScopes do not allow reading Cloud Storage";
    return { userData, delivery: { kind: "disk", plan, reason }, dispose: () => undefined };
  }
  const directory = makePackedTreeDir();
  const dispose = (): void => directory.remove();
  try {
    const packed = await packTree(plan, path.join(directory.path, "cidata.tar.gz"));
    return { userData, delivery: { kind: "bucket", plan, tree: packed }, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** The progress line that says how the tree travels. */
export function describeDelivery(delivery: CidataDelivery): string {
  switch (delivery.kind) {
    case "metadata":
      return `the CIDATA tree travels in instance metadata (${formatBytes(delivery.tree.length)}): no disk to import`;
    case "bucket":
      return `the build VM fetches the CIDATA tree (${formatBytes(delivery.tree.bytes)}) from the scratch bucket itself: no disk to import unless it cannot`;
    case "disk":
      return `the CIDATA tree travels on a disk${delivery.reason ? ` (${delivery.reason})` : ""}`;
  }
}

/** The image the CIDATA disk is made from (one per build, kept until the output image exists). */
export function cidataImageOf(run: BuildRun): ImageRef {
  return { project: run.spec.vm.project, name: temporaryName(run.buildId, "cidata") };
}

/** Packs and uploads the CIDATA archive, imports it as an image, and makes the disk from it. */
export async function prepareCidataDisk(
  run: BuildRun,
  plan: CidataPlan,
  disk: ZonalRef,
): Promise<ZonalRef> {
  const { api, spec, temporaries } = run;
  await enterPhase(run, "upload");
  const object: ObjectRef = {
    bucket: spec.storage.bucket,
    name: `${spec.storage.prefix}/${run.buildId}/cidata.tar.gz`,
  };
  temporaries.add("objects", object);
  // Packing is deterministic, so a failed upload is simply packed and sent again.
  const sizes = await api.read("uploading the CIDATA disk", () =>
    writeCidataArchive(
      plan,
      api.clients.storage
        .bucket(object.bucket)
        .file(object.name)
        .createWriteStream({
          resumable: true,
          metadata: { contentType: "application/gzip", metadata: run.labels },
        }),
    ),
  );
  run.progress.info(
    `uploaded the CIDATA disk (${formatBytes(sizes.archiveBytes)} archive of a ${formatBytes(sizes.diskBytes)} disk)`,
  );

  await enterPhase(run, "cidata-image");
  const image = cidataImageOf(run);
  temporaries.add("images", image);
  await api.mutate(`importing the CIDATA image ${image.name}`, image, (requestId) =>
    api.clients.images.insert(
      {
        project: image.project,
        requestId,
        imageResource: {
          name: image.name,
          rawDisk: { source: `https://storage.googleapis.com/${object.bucket}/${object.name}` },
          labels: run.labels,
        },
      },
      api.callOptions(),
    ),
  );
  // The archive has served its purpose; delete it now rather than at the end.
  await deleteObject(api, object).then(() => temporaries.forget("objects", object));
  return createCidataDisk(run, disk);
}

/** Makes a CIDATA disk from the build's CIDATA image (again, for a VM made after a preemption). */
export async function createCidataDisk(run: BuildRun, disk: ZonalRef): Promise<ZonalRef> {
  const { api, spec } = run;
  await enterPhase(run, "cidata-disk");
  run.temporaries.add("disks", disk);
  const image = cidataImageOf(run);
  await api.mutate(`creating the CIDATA disk ${disk.name}`, disk, (requestId) =>
    api.clients.disks.insert(
      {
        project: disk.project,
        zone: disk.zone,
        requestId,
        diskResource: {
          name: disk.name,
          sourceImage: `projects/${image.project}/global/images/${image.name}`,
          type: `zones/${disk.zone}/diskTypes/${spec.vm.diskType}`,
          labels: run.labels,
        },
      },
      api.callOptions(),
    ),
  );
  return disk;
}

/** Hot-plugs the CIDATA disk into the running VM (the start script waits for it). */
export async function attachCidataDisk(run: BuildRun, vm: ZonalRef, disk: ZonalRef): Promise<void> {
  await enterPhase(run, "attach");
  await run.api.mutate(`attaching the CIDATA disk to ${vm.name}`, vm, (requestId) =>
    run.api.clients.instances.attachDisk(
      {
        project: vm.project,
        zone: vm.zone,
        instance: vm.name,
        requestId,
        attachedDiskResource: cidataAttachment(disk),
      },
      run.api.callOptions(),
    ),
  );
}

/** True when the build made (or is making) its CIDATA image. */
export function hasCidataImage(run: BuildRun): boolean {
  return run.temporaries.images.has(`${run.spec.vm.project}/${cidataImageOf(run).name}`);
}

/** Deletes the CIDATA image once nothing will be made from it again. */
export async function deleteCidataImage(run: BuildRun): Promise<void> {
  const image = cidataImageOf(run);
  await deleteImage(run.api, image);
  run.temporaries.forget("images", image);
}
