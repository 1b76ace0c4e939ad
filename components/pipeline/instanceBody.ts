import type { protos } from "@google-cloud/compute";
import {
  DEVICE_NAMES,
  FETCH_CIDATA_METADATA_KEY,
  INLINE_CIDATA_METADATA_KEY,
} from "../guest/protocol";
import type { BuildSpec } from "./spec";
import type { ZonalRef } from "./temporaries";

/** Size of the blank scratch disk that keeps the GPU toolchain off the image. */
export const SCRATCH_DISK_GB = 20;
/**
 * Margin added to the build timeout for the VM's own run-time limit: if the orchestrator dies, GCE
 * deletes the VM itself once the limit passes (`scheduling.maxRunDuration` with action DELETE).
 */
export const VM_RUN_LIMIT_MARGIN_SECONDS = 15 * 60;

/** What the VM is made of, besides the spec. */
export interface VmPlan {
  vm: ZonalRef;
  bootDisk: ZonalRef;
  /** Present when a step needs a scratch disk (GPU drivers). */
  scratchDisk?: ZonalRef;
  /** An existing CIDATA disk to attach at creation (a retry after preemption); otherwise it is attached later. */
  cidataDisk?: ZonalRef;
  /** The CIDATA tree for the metadata, when the build takes no disk (see inlineCidata.ts). */
  inlineCidata?: string;
  /** Where the VM fetches its CIDATA tree, with its size and digest (see fetchedCidata.ts). */
  fetchCidata?: string;
  /** Partial URL of the source image. */
  sourceImage: string;
  /** Size the boot disk is created with, in GB (see bootDiskSize.ts). */
  bootDiskSizeGb: number;
  userData: string;
  labels: Record<string, string>;
}

/** True when a step needs the scratch disk. */
export function needsScratchDisk(spec: Pick<BuildSpec, "steps">): boolean {
  return spec.steps.some((step) => step.type === "installGpuDriver");
}

/** Partial URL of a zonal disk. */
export function diskUrl(ref: ZonalRef): string {
  return `projects/${ref.project}/zones/${ref.zone}/disks/${ref.name}`;
}

/**
 * The `instances.insert` body of the preload VM: boot disk created with it (kept after the VM is
 * deleted, since the image is made from it), optional scratch disk (deleted with the VM), user-data,
 * COS safety switches, the GPU and scheduling the spec asks for, and a run-time limit as a guard.
 */
export function instanceBody(
  spec: BuildSpec,
  plan: VmPlan,
): protos.google.cloud.compute.v1.IInstance {
  const { vm } = spec;
  return {
    name: plan.vm.name,
    machineType: `zones/${vm.zone}/machineTypes/${vm.machineType}`,
    disks: attachedDisks(spec, plan),
    metadata: {
      items: [
        { key: "user-data", value: plan.userData },
        { key: "block-project-ssh-keys", value: "TRUE" },
        { key: "cos-update-strategy", value: "update_disabled" },
        ...(plan.inlineCidata
          ? [{ key: INLINE_CIDATA_METADATA_KEY, value: plan.inlineCidata }]
          : []),
        ...(plan.fetchCidata ? [{ key: FETCH_CIDATA_METADATA_KEY, value: plan.fetchCidata }] : []),
      ],
    },
    labels: plan.labels,
    networkInterfaces: [
      {
        network: vm.network,
        ...(vm.subnetwork ? { subnetwork: vm.subnetwork } : {}),
        accessConfigs: vm.externalIp ? [{ name: "External NAT", type: "ONE_TO_ONE_NAT" }] : [],
      },
    ],
    serviceAccounts: [{ email: vm.serviceAccountEmail ?? "default", scopes: vm.scopes }],
    ...(vm.tags.length ? { tags: { items: vm.tags } } : {}),
    scheduling: scheduling(spec),
    ...(vm.gpu
      ? {
          guestAccelerators: [
            {
              acceleratorType: `projects/${vm.project}/zones/${vm.zone}/acceleratorTypes/${vm.gpu.type}`,
              acceleratorCount: vm.gpu.count,
            },
          ],
        }
      : {}),
  };
}

/** The boot disk (kept when the VM goes), the scratch disk and an existing CIDATA disk (deleted with it). */
function attachedDisks(
  spec: BuildSpec,
  plan: VmPlan,
): protos.google.cloud.compute.v1.IAttachedDisk[] {
  const diskType = `zones/${spec.vm.zone}/diskTypes/${spec.vm.diskType}`;
  const disks: protos.google.cloud.compute.v1.IAttachedDisk[] = [
    {
      boot: true,
      // Goes with the VM, so that the VM's run-time limit (the guard for a dead orchestrator) takes
      // the disk along; the build turns this off just before it images the disk.
      autoDelete: true,
      deviceName: DEVICE_NAMES.boot,
      initializeParams: {
        diskName: plan.bootDisk.name,
        sourceImage: plan.sourceImage,
        diskSizeGb: String(plan.bootDiskSizeGb),
        diskType,
        labels: plan.labels,
      },
    },
  ];
  if (plan.scratchDisk) {
    disks.push({
      autoDelete: true,
      deviceName: DEVICE_NAMES.scratch,
      initializeParams: {
        diskName: plan.scratchDisk.name,
        diskSizeGb: String(SCRATCH_DISK_GB),
        diskType,
        labels: plan.labels,
      },
    });
  }
  if (plan.cidataDisk) disks.push(cidataAttachment(plan.cidataDisk));
  return disks;
}

/**
 * GPUs, Spot and preemptible VMs cannot live-migrate; Spot and preemptible VMs are not restarted by
 * GCE (a preempted build starts over instead). The run-time limit deletes the VM of a dead orchestrator.
 */
function scheduling(spec: BuildSpec): protos.google.cloud.compute.v1.IScheduling {
  const { vm } = spec;
  const spot = vm.provisioningModel === "SPOT";
  const preemptible = vm.provisioningModel === "PREEMPTIBLE";
  const mustTerminate = Boolean(vm.gpu) || spot || preemptible;
  return {
    onHostMaintenance: mustTerminate ? "TERMINATE" : "MIGRATE",
    automaticRestart: !(spot || preemptible),
    ...(spot ? { provisioningModel: "SPOT" } : {}),
    ...(preemptible ? { preemptible: true } : {}),
    maxRunDuration: {
      seconds: String(Math.ceil(spec.timeoutMs / 1000) + VM_RUN_LIMIT_MARGIN_SECONDS),
    },
    instanceTerminationAction: "DELETE",
  };
}

/** How the CIDATA disk is attached: read-only, deleted with the VM. */
export function cidataAttachment(disk: ZonalRef): protos.google.cloud.compute.v1.IAttachedDisk {
  return {
    source: diskUrl(disk),
    deviceName: DEVICE_NAMES.cidata,
    mode: "READ_ONLY",
    autoDelete: true,
  };
}
