import type { protos } from "@google-cloud/compute";
import { enterPhase, zonalTemporary, type BuildRun } from "./buildRun";
import {
  attachCidataDisk,
  createCidataDisk,
  prepareCidataDisk,
  type GuestPayload,
} from "./deliverCidata";
import { instanceBody, needsScratchDisk } from "./instanceBody";
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
 * and imported, and the disk is hot-plugged once it exists: the start script waits for it.
 */
export async function launchBuildVm(run: BuildRun, payload: GuestPayload): Promise<VmAttempt> {
  const attempt = vmAttempt(run, 0);
  if (payload.delivery.kind === "metadata") {
    await createVm(run, payload, attempt);
    return attempt;
  }
  const [vmReady, cidataReady] = await Promise.allSettled([
    createVm(run, payload, attempt),
    prepareCidataDisk(run, payload.delivery.plan, zonalTemporary(run, "cidata")),
  ]);
  if (vmReady.status === "rejected") throw vmReady.reason;
  if (cidataReady.status === "rejected") throw cidataReady.reason;
  const launched = { ...attempt, cidataDisk: cidataReady.value };
  await attachCidataDisk(run, launched.vm, cidataReady.value);
  return launched;
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
  let watched = await watchProvisioner(run, attempt.vm);
  for (let number = 1; watched.outcome.kind === "stopped" && number <= retries; number++) {
    run.progress.warn(
      `the build VM stopped (${watched.outcome.status}): GCE preempted it; retrying on a new VM (${number} of ${retries})`,
    );
    await discardVm(run, attempt);
    const cidataDisk =
      payload.delivery.kind === "disk"
        ? await createCidataDisk(run, zonalTemporary(run, "cidata", number))
        : undefined;
    attempt = vmAttempt(run, number, cidataDisk);
    await createVm(run, payload, attempt);
    watched = await watchProvisioner(run, attempt.vm);
  }
  const instance = expectSuccess(run, watched.outcome, watched.watch);
  run.progress.info(
    `provisioner succeeded: ${watched.outcome.kind === "succeeded" ? watched.outcome.message : ""}`,
  );
  return { attempt, instance };
}

/** Creates the VM of an attempt; a CIDATA disk the attempt already has is attached at creation. */
async function createVm(run: BuildRun, payload: GuestPayload, attempt: VmAttempt): Promise<void> {
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
    userData: payload.userData,
    labels: run.labels,
    inlineCidata: payload.delivery.kind === "metadata" ? payload.delivery.tree : undefined,
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
