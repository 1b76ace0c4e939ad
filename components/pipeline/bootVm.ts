import type { protos } from "@google-cloud/compute";
import { initialBootDiskSizeGb } from "./bootDiskSize";
import { enterPhase, zonalTemporary, type BuildRun } from "./buildRun";
import {
  attachCidataDisk,
  createCidataDisk,
  hasCidataImage,
  prepareCidataDisk,
  type GuestPayload,
} from "./deliverCidata";
import { TreeFetch, hedgeWanted, treeObject, uploadTree } from "./fetchedCidata";
import { instanceBody, needsScratchDisk } from "./instanceBody";
import { resizeBootDisk, type DiskResizeRequest } from "./resizeBootDisk";
import { preemptionRetriesOf } from "./spec";
import type { ZonalRef } from "./temporaries";
import { deleteDisk, deleteInstance } from "./teardown";
import { expectSuccess, watchProvisioner } from "./watchProvisioner";

/**
 * The build VM: made from the source image while the CIDATA tree travels, watched until the
 * provisioner's verdict, and made again from scratch when GCE preempts a Spot or preemptible VM.
 */

/** The temporaries of one attempt at the build VM. */
export interface VmAttempt {
  vm: ZonalRef;
  /** Deleted with the VM, until imaging: then kept, since the output image is made from it. */
  bootDisk: ZonalRef;
  /** Present when a step needs a scratch disk (GPU drivers); deleted with the VM. */
  scratchDisk?: ZonalRef;
  /** The CIDATA disk attached to it, when the tree travels on a disk; deleted with the VM. */
  cidataDisk?: ZonalRef;
  /** The fetch from the scratch bucket, when the VM gets the tree that way. */
  fetch?: TreeFetch;
}

/** What provisioning ended with: the VM that succeeded, as last read (its metadata fingerprint). */
export interface ProvisionedVm {
  attempt: VmAttempt;
  instance: protos.google.cloud.compute.v1.IInstance;
}

/** Names the temporaries of attempt `number` (0 for the first VM, then 1, 2, ... after preemptions). */
function vmAttempt(run: BuildRun, number: number, cidataDisk?: ZonalRef): VmAttempt {
  return {
    vm: zonalTemporary(run, "vm", number),
    bootDisk: zonalTemporary(run, "boot", number),
    scratchDisk: needsScratchDisk(run.spec) ? zonalTemporary(run, "scratch", number) : undefined,
    cidataDisk,
  };
}

/**
 * Creates the first build VM. With a CIDATA disk, the VM boots while the disk is packed, uploaded
 * and imported, and the disk is hot-plugged once it exists: the start script waits for it. With the
 * bucket, the VM boots while the tree is uploaded, and fetches it itself.
 */
export async function launchBuildVm(run: BuildRun, payload: GuestPayload): Promise<VmAttempt> {
  const attempt = vmAttempt(run, 0);
  const { delivery } = payload;
  if (delivery.kind === "metadata") {
    await createVm(run, payload, attempt);
    return attempt;
  }
  if (delivery.kind === "bucket") {
    const hedge = hedgeWanted(run)
      ? prepareCidataDisk(run, delivery.plan, zonalTemporary(run, "cidata"))
      : undefined;
    if (hedge) run.background.add(hedge.catch(() => undefined));
    // The VM boots while the tree is uploaded: its guest waits for the object to appear.
    const upload = treeObject(run, delivery.tree);
    await bothOrThrow(
      createVm(run, payload, attempt, upload.metadataValue),
      uploadTree(run, delivery.tree, upload),
    );
    return {
      ...attempt,
      fetch: new TreeFetch(run, delivery.plan, upload, attempt.vm, 0, hedge),
    };
  }
  const [, cidataDisk] = await bothOrThrow(
    createVm(run, payload, attempt),
    prepareCidataDisk(run, delivery.plan, zonalTemporary(run, "cidata")),
  );
  const launched = { ...attempt, cidataDisk };
  await attachCidataDisk(run, launched.vm, cidataDisk);
  return launched;
}

/** Waits for both (neither is left running unobserved), then throws the first failure, VM first. */
async function bothOrThrow<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "rejected") throw first.reason;
  if (second.status === "rejected") throw second.reason;
  return [first.value, second.value];
}

/**
 * A VM made again after a preemption. It gets the tree as the first one ended up getting it: on a
 * disk from the CIDATA image once there is one (forced, or the fallback), else from the bucket again
 * (the first VM's object may be gone already).
 */
async function relaunchBuildVm(
  run: BuildRun,
  payload: GuestPayload,
  number: number,
): Promise<VmAttempt> {
  const { delivery } = payload;
  if (delivery.kind === "metadata") {
    const attempt = vmAttempt(run, number);
    await createVm(run, payload, attempt);
    return attempt;
  }
  if (delivery.kind === "disk" || hasCidataImage(run)) {
    const attempt = vmAttempt(
      run,
      number,
      await createCidataDisk(run, zonalTemporary(run, "cidata", number)),
    );
    await createVm(run, payload, attempt);
    return attempt;
  }
  const attempt = vmAttempt(run, number);
  const upload = treeObject(run, delivery.tree);
  await bothOrThrow(
    createVm(run, payload, attempt, upload.metadataValue),
    uploadTree(run, delivery.tree, upload),
  );
  return { ...attempt, fetch: new TreeFetch(run, delivery.plan, upload, attempt.vm, number) };
}

/**
 * Watches one attempt; a fetch from the bucket follows its status lines (and may fall back), and
 * the provisioner's boot disk resize requests are served (resizeBootDisk.ts).
 */
async function watchAttempt(
  run: BuildRun,
  attempt: VmAttempt,
): Promise<Awaited<ReturnType<typeof watchProvisioner>>> {
  const fetch = attempt.fetch;
  const onDiskResize = (request: DiskResizeRequest): Promise<void> =>
    resizeBootDisk(run, attempt, request);
  if (!fetch) return watchProvisioner(run, attempt.vm, { onDiskResize });
  try {
    return await watchProvisioner(run, attempt.vm, {
      onStatus: (text) => fetch.onStatus(text),
      check: () => fetch.check(),
      onDiskResize,
    });
  } finally {
    await fetch.settle();
    // A fallback disk attached with autoDelete goes with the VM.
    if (fetch.attachedDisk) attempt.cidataDisk = fetch.attachedDisk;
  }
}

/**
 * Follows the provisioner to its verdict. A Spot or preemptible VM that stops without one was
 * preempted: it is discarded with its disks and the build starts over on a new VM, up to
 * `preemptionRetries` times. Any other outcome than success throws, naming the step.
 */
export async function provisionWithRetries(
  run: BuildRun,
  payload: GuestPayload,
  first: VmAttempt,
): Promise<ProvisionedVm> {
  await enterPhase(run, "provisioning");
  const retries = preemptionRetriesOf(run.spec);
  let attempt = first;
  let watched = await watchAttempt(run, attempt);
  for (let number = 1; watched.outcome.kind === "stopped" && number <= retries; number++) {
    run.progress.warn(
      `the build VM stopped (${watched.outcome.status}): GCE preempted it; retrying on a new VM (${number} of ${retries})`,
    );
    await discardVm(run, attempt);
    attempt = await relaunchBuildVm(run, payload, number);
    watched = await watchAttempt(run, attempt);
  }
  const instance = expectSuccess(run, watched.outcome, watched.watch);
  run.progress.info(
    `provisioner succeeded: ${watched.outcome.kind === "succeeded" ? watched.outcome.message : ""}`,
  );
  return { attempt, instance };
}

/**
 * Creates the VM of an attempt; a CIDATA disk the attempt already has is attached at creation, and
 * `fetchCidata` (the `pci-cidata-fetch` value) names a tree to fetch from the bucket.
 */
async function createVm(
  run: BuildRun,
  payload: GuestPayload,
  attempt: VmAttempt,
  fetchCidata?: string,
): Promise<void> {
  const { api, spec, temporaries } = run;
  await enterPhase(run, "vm");
  temporaries.add("instances", attempt.vm);
  temporaries.add("disks", attempt.bootDisk);
  if (attempt.scratchDisk) temporaries.add("disks", attempt.scratchDisk);
  run.progress.info(
    `creating the build VM ${attempt.vm.name} (${spec.vm.machineType} in ${spec.vm.zone})`,
  );
  const body = instanceBody(spec, {
    ...attempt,
    sourceImage: run.source.partialUrl,
    bootDiskSizeGb: initialBootDiskSizeGb(spec, run.source),
    userData: payload.userData,
    labels: run.labels,
    inlineCidata: payload.delivery.kind === "metadata" ? payload.delivery.tree : undefined,
    fetchCidata,
  });
  await api.mutate(`creating the build VM ${attempt.vm.name}`, attempt.vm, (requestId) =>
    api.clients.instances.insert(
      { project: attempt.vm.project, zone: attempt.vm.zone, requestId, instanceResource: body },
      api.callOptions(),
    ),
  );
}

/**
 * Deletes the VM, and with it the disks attached with autoDelete: the CIDATA and scratch disks, and
 * the boot disk unless imaging turned that off.
 */
export async function deleteVm(run: BuildRun, attempt: VmAttempt): Promise<void> {
  await deleteInstance(run.api, attempt.vm);
  run.temporaries.forget("instances", attempt.vm);
  // Attached with autoDelete: GCE deleted them with the VM.
  if (attempt.cidataDisk) run.temporaries.forget("disks", attempt.cidataDisk);
  if (attempt.scratchDisk) run.temporaries.forget("disks", attempt.scratchDisk);
}

/** Deletes the VM and every disk of the attempt (a preempted VM's work is lost anyway). */
async function discardVm(run: BuildRun, attempt: VmAttempt): Promise<void> {
  await deleteVm(run, attempt);
  await deleteDisk(run.api, attempt.bootDisk); // gone with the VM already: "not found" is fine
  run.temporaries.forget("disks", attempt.bootDisk);
}
