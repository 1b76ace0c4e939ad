import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/compute";
import { planCidata, writeCidataArchive } from "../cidata";
import { renderCloudConfig } from "../guest/cloudConfig";
import type { GcpClients } from "../google/clients";
import { Deadline } from "../google/deadline";
import { apiMessage, isStaleFingerprint } from "../google/errors";
import { generateBuildId, temporaryName } from "../naming";
import { ACK_METADATA_KEY, PROTOCOL_VERSION } from "../guest/protocol";
import { ComputeApi } from "../google/computeApi";
import { cidataSpecFor } from "../guest/cidataTree";
import { inlineCidata } from "../guest/inlineCidata";
import { BuildFailedError } from "./errors";
import { deprecateOlderImages, outputImageBody, readImage, setImageLabels } from "./outputImage";
import type { Progress } from "./progress";
import { SerialWatch, type WatchOutcome, type WatchTiming } from "./watchProvisioner";
import type { ResolvedSource } from "./sourceImage";
import type { BuildSpec } from "./spec";
import {
  Temporaries,
  deleteDisk,
  deleteImage,
  deleteInstance,
  deleteObject,
  sweep,
  teardown,
  temporaryLabels,
  type ObjectRef,
  type ZonalRef,
} from "./temporaries";
import { cidataAttachment, diskUrl, instanceBody, needsScratchDisk, type VmPlan } from "./buildVm";
import type { RetryPolicy } from "../google/retry";

type Image = protos.google.cloud.compute.v1.IImage;

/** Knobs for tests and benchmarks; production uses the defaults. */
export interface PipelineOptions {
  /** Serial and status polling rhythm. */
  watch?: WatchTiming;
  /**
   * First wait between instance reads while the VM powers off; it grows by half each time, up to
   * four times this. Default 500 ms.
   */
  stopPollMs?: number;
  /** How long the guest may take to power off after the acknowledgement before the VM is stopped. Default 3 min. */
  stopGraceMs?: number;
  /** Clock for creation labels and the sweep's age limit. Default `Date.now`. */
  now?: () => number;
  /** Backoff of API retries. */
  retry?: RetryPolicy;
  /** Deadline of the build, overriding the spec's (tests; validation keeps users at 5 minutes or more). */
  timeoutMs?: number;
  /** Called as each phase starts (tests stop a build at chosen points; benchmarks time phases). */
  onPhase?: (phase: BuildPhase) => void | Promise<void>;
  /**
   * How the CIDATA tree reaches the VM: `auto` (default) puts small, secret-free trees in instance
   * metadata and the rest on a CIDATA disk; `disk` and `metadata` force one (tests, benchmarks).
   */
  cidataDelivery?: "auto" | "disk" | "metadata";
}

/** The phases of a build, in order. */
export type BuildPhase =
  | "sweep"
  | "upload"
  | "cidata-image"
  | "cidata-disk"
  | "vm"
  | "attach"
  | "provisioning"
  | "acknowledge"
  | "stop"
  | "image"
  | "deprecate"
  | "teardown";

/** What a build needs. */
export interface BuildRequest {
  spec: BuildSpec;
  /** Name of the output image. */
  imageName: string;
  source: ResolvedSource;
  clients: GcpClients;
  progress: Progress;
  options?: PipelineOptions;
}

/** What a build made. */
export interface BuildResult {
  buildId: string;
  /** The output image as GCE reports it. */
  image: Image;
  /** Images of the family that were deprecated. */
  deprecated: string[];
  /** Set when the image exists but deprecating older images failed. */
  deprecationError?: Error;
}

/**
 * Runs one build: pack and upload the CIDATA disk while the VM boots, attach the disk, follow the
 * provisioner on serial port 3, acknowledge, wait for the VM to stop, image its boot disk, deprecate
 * older family images, and delete every temporary — on success, failure or timeout alike. Before any
 * cloud call, the CIDATA disk is planned locally, so bad build contexts fail without side effects.
 */
export async function runBuild(request: BuildRequest): Promise<BuildResult> {
  const { spec, source, progress, imageName } = request;
  const options = request.options ?? {};
  const now = options.now ?? Date.now;
  const phase = async (name: BuildPhase): Promise<void> => {
    await options.onPhase?.(name);
  };

  const buildId = generateBuildId();
  const userData = renderCloudConfig({ buildId });
  const cidataPlan = await planCidata(cidataSpecFor(spec, buildId, userData));
  const inline = chooseInlineCidata(spec, cidataPlan, options.cidataDelivery ?? "auto");

  const timeoutMs = options.timeoutMs ?? spec.timeoutMs;
  const deadline = new Deadline(timeoutMs);
  const api = new ComputeApi(request.clients, deadline, progress, options.retry);
  const temporaries = new Temporaries();
  const labels = temporaryLabels(buildId, spec.ownerId, now(), spec.vm.labels);
  const { project, zone } = spec.vm;
  const zonal = (name: string): ZonalRef => ({ project, zone, name });
  progress.info(
    `build ${buildId}: ${spec.steps.length} step(s) on ${source.partialUrl}, output image ${spec.image.project}/${imageName}`,
  );
  progress.info(
    inline
      ? `the CIDATA tree travels in instance metadata (${formatBytes(inline.length)}): no disk to import`
      : "the CIDATA tree travels on a disk",
  );

  await phase("sweep");
  const sweeping = sweep(
    api,
    {
      project,
      zone,
      imageProject: project,
      bucket: spec.storage.bucket,
      prefix: `${spec.storage.prefix}/`,
      ownerId: spec.ownerId,
      currentBuildId: buildId,
      createdBefore: now() - timeoutMs,
    },
    progress,
  );

  try {
    const cidataImage = { project, name: temporaryName(buildId, "cidata") };
    const vmPlan: VmPlan = {
      vm: zonal(temporaryName(buildId, "vm")),
      bootDisk: zonal(temporaryName(buildId, "boot")),
      scratchDisk: needsScratchDisk(spec) ? zonal(temporaryName(buildId, "scratch")) : undefined,
      sourceImage: source.partialUrl,
      userData,
      buildId,
      labels,
      inlineCidata: inline,
    };

    let cidataDisk: ZonalRef | undefined;
    if (inline) {
      await createVm();
    } else {
      // The VM boots while the CIDATA disk is packed, uploaded and imported: the provisioner waits for it.
      const [vmReady, cidataReady] = await Promise.allSettled([
        createVm(),
        prepareCidataDisk(zonal(temporaryName(buildId, "cidata"))),
      ]);
      if (vmReady.status === "rejected") throw vmReady.reason;
      if (cidataReady.status === "rejected") throw cidataReady.reason;
      const disk = cidataReady.value;
      cidataDisk = disk;
      await phase("attach");
      await api.mutate(`attaching the CIDATA disk to ${vmPlan.vm.name}`, vmPlan.vm, (requestId) =>
        api.clients.instances.attachDisk(
          { ...instanceKey(vmPlan.vm), requestId, attachedDiskResource: cidataAttachment(disk) },
          api.callOptions(),
        ),
      );
    }

    await phase("provisioning");
    let watch = new SerialWatch(api, vmPlan.vm, progress, options.watch);
    let outcome = await watch.run();
    for (let attempt = 1; outcome.kind === "stopped" && attempt <= retriesFor(spec); attempt++) {
      progress.warn(
        `the build VM stopped (${outcome.status}): GCE preempted it; retrying on a new VM (${attempt} of ${retriesFor(spec)})`,
      );
      await discardVm();
      cidataDisk = inline
        ? undefined
        : await createCidataDisk(zonal(`${temporaryName(buildId, "cidata")}-${attempt}`));
      vmPlan.vm = zonal(`${temporaryName(buildId, "vm")}-${attempt}`);
      vmPlan.bootDisk = zonal(`${temporaryName(buildId, "boot")}-${attempt}`);
      if (vmPlan.scratchDisk)
        vmPlan.scratchDisk = zonal(`${temporaryName(buildId, "scratch")}-${attempt}`);
      await createVm(cidataDisk);
      watch = new SerialWatch(api, vmPlan.vm, progress, options.watch);
      outcome = await watch.run();
    }
    const instance = expectSuccess(outcome, watch);
    progress.info(`provisioner succeeded: ${outcome.kind === "succeeded" ? outcome.message : ""}`);

    await phase("acknowledge");
    await acknowledge(instance);
    await phase("stop");
    await waitForStop();

    await phase("image");
    progress.info(`creating the image ${imageName} from ${vmPlan.bootDisk.name}`);
    const outputRef = { project: spec.image.project, name: imageName };
    const finalImage = outputImageBody(spec.image, imageName, source, diskUrl(vmPlan.bootDisk));
    // Until the build is done, the image is labelled like a temporary: if this process dies now, the
    // next build sweeps it instead of leaving an image that no Pulumi state knows about. (It joins
    // this build's temporaries only once created: an image of the same name that existed before,
    // refused with 409, is never ours to delete.)
    const [imageMade] = await Promise.allSettled([
      api.mutate(`creating the image ${imageName}`, { project: spec.image.project }, (requestId) =>
        api.clients.images.insert(
          {
            project: spec.image.project,
            requestId,
            imageResource: {
              ...finalImage,
              labels: { ...finalImage.labels, ...temporaryLabels(buildId, spec.ownerId, now()) },
            },
          },
          api.callOptions(),
        ),
      ),
      // Meanwhile, what is no longer needed goes (the boot disk is kept: autoDelete is off).
      discardVmKeepingBootDisk(),
      inline
        ? Promise.resolve()
        : deleteImage(api, cidataImage).then(() => temporaries.forget("images", cidataImage)),
    ]);
    if (imageMade.status === "rejected") throw imageMade.reason;
    temporaries.add("images", outputRef);
    const image = await readImage(api, spec.image.project, imageName);
    if (!image?.selfLink) {
      throw new Error(`the image ${imageName} was created but cannot be read back`);
    }
    progress.info(`image ${image.selfLink} is ${image.status ?? "READY"}`);

    // Every temporary goes before the image is declared final, and finalizing is the build's last
    // request: a build killed at any earlier moment leaves only labelled temporaries behind.
    await phase("teardown");
    temporaries.forget("images", outputRef); // the image stays; everything else goes
    // Warns about anything it cannot delete; labelled, it is swept by the next build or by destroy.
    await teardown(api, temporaries, progress);
    try {
      await setImageLabels(api, outputRef.project, imageName, finalImage.labels ?? {});
    } catch (error) {
      temporaries.add("images", outputRef); // not final: delete it with the rest
      throw error;
    }
    image.labels = finalImage.labels;

    await phase("deprecate");
    let deprecated: string[] = [];
    let deprecationError: Error | undefined;
    if (spec.image.deprecateOlderImages && spec.image.family) {
      try {
        deprecated = await deprecateOlderImages(
          api,
          {
            project: spec.image.project,
            name: imageName,
            family: spec.image.family,
            selfLink: image.selfLink,
          },
          spec.image.deprecatedImageTtlDays,
          now(),
        );
        if (deprecated.length) progress.info(`deprecated ${deprecated.join(", ")}`);
      } catch (error) {
        deprecationError = new Error(
          `deprecating older images of the family ${spec.image.family} failed: ${apiMessage(error)}`,
        );
      }
    }
    return { buildId, image, deprecated, deprecationError };

    // ---- the phases, sharing the build's state ----------------------------------------------

    async function createVm(attachedCidata?: ZonalRef): Promise<void> {
      await phase("vm");
      temporaries.add("instances", vmPlan.vm);
      temporaries.add("disks", vmPlan.bootDisk);
      if (vmPlan.scratchDisk) temporaries.add("disks", vmPlan.scratchDisk);
      progress.info(`creating the build VM ${vmPlan.vm.name} (${spec.vm.machineType} in ${zone})`);
      await api.mutate(`creating the build VM ${vmPlan.vm.name}`, vmPlan.vm, (requestId) =>
        api.clients.instances.insert(
          {
            project,
            zone,
            requestId,
            instanceResource: instanceBody(spec, { ...vmPlan, cidataDisk: attachedCidata }),
          },
          api.callOptions(),
        ),
      );
    }

    async function prepareCidataDisk(disk: ZonalRef): Promise<ZonalRef> {
      await phase("upload");
      const object: ObjectRef = {
        bucket: spec.storage.bucket,
        name: `${spec.storage.prefix}/${buildId}/cidata.tar.gz`,
      };
      temporaries.add("objects", object);
      // Packing is deterministic, so a failed upload is simply packed and sent again.
      const sizes = await api.read("uploading the CIDATA disk", () =>
        writeCidataArchive(
          cidataPlan,
          api.clients.storage
            .bucket(object.bucket)
            .file(object.name)
            .createWriteStream({
              resumable: true,
              metadata: { contentType: "application/gzip", metadata: labels },
            }),
        ),
      );
      progress.info(
        `uploaded the CIDATA disk (${formatBytes(sizes.archiveBytes)} archive of a ${formatBytes(sizes.diskBytes)} disk)`,
      );

      await phase("cidata-image");
      temporaries.add("images", cidataImage);
      await api.mutate(`importing the CIDATA image ${cidataImage.name}`, { project }, (requestId) =>
        api.clients.images.insert(
          {
            project,
            requestId,
            imageResource: {
              name: cidataImage.name,
              rawDisk: { source: `https://storage.googleapis.com/${object.bucket}/${object.name}` },
              labels,
            },
          },
          api.callOptions(),
        ),
      );
      // The archive has served its purpose; delete it now rather than at the end.
      await deleteObject(api, object).then(() => temporaries.forget("objects", object));
      return createCidataDisk(disk);
    }

    async function createCidataDisk(disk: ZonalRef): Promise<ZonalRef> {
      await phase("cidata-disk");
      temporaries.add("disks", disk);
      await api.mutate(`creating the CIDATA disk ${disk.name}`, disk, (requestId) =>
        api.clients.disks.insert(
          {
            project,
            zone,
            requestId,
            diskResource: {
              name: disk.name,
              sourceImage: `projects/${cidataImage.project}/global/images/${cidataImage.name}`,
              type: `zones/${zone}/diskTypes/${spec.vm.diskType}`,
              labels,
            },
          },
          api.callOptions(),
        ),
      );
      return disk;
    }

    function expectSuccess(
      result: WatchOutcome,
      seen: SerialWatch,
    ): protos.google.cloud.compute.v1.IInstance {
      switch (result.kind) {
        case "succeeded":
          return result.instance;
        case "failed":
          throw new BuildFailedError(result.step, result.reason, seen.lastLines());
        case "protocol-mismatch":
          throw new BuildFailedError(
            "setup",
            `the provisioner on the CIDATA disk speaks protocol ${result.version}, this orchestrator ${PROTOCOL_VERSION} (mixed package versions?)`,
            seen.lastLines(),
          );
        case "stopped":
          throw new BuildFailedError(
            "the build VM",
            `it stopped (${result.status}) before the provisioner reported a result: it crashed, was stopped from outside${retriesFor(spec) ? ", or was preempted more often than preemptionRetries allows" : ""}`,
            seen.lastLines(),
          );
      }
    }

    async function acknowledge(seen: protos.google.cloud.compute.v1.IInstance): Promise<void> {
      let current = seen;
      for (let attempt = 1; ; attempt++) {
        const items = (current.metadata?.items ?? []).filter(
          (item) => item.key !== ACK_METADATA_KEY,
        );
        try {
          await api.mutate(`acknowledging the build to ${vmPlan.vm.name}`, vmPlan.vm, (requestId) =>
            api.clients.instances.setMetadata(
              {
                ...instanceKey(vmPlan.vm),
                requestId,
                metadataResource: {
                  fingerprint: current.metadata?.fingerprint,
                  items: [...items, { key: ACK_METADATA_KEY, value: buildId }],
                },
              },
              api.callOptions(),
            ),
          );
          return;
        } catch (error) {
          if (!isStaleFingerprint(error) || attempt >= 5) throw error;
          [current] = await api.read(`reading the instance ${vmPlan.vm.name}`, () =>
            api.clients.instances.get(instanceKey(vmPlan.vm), api.callOptions()),
          );
        }
      }
    }

    async function waitForStop(): Promise<void> {
      const firstPollMs = options.stopPollMs ?? 500;
      let pollMs = firstPollMs;
      const graceUntil = Date.now() + (options.stopGraceMs ?? 3 * 60_000);
      let stopRequested = false;
      for (;;) {
        deadline.check("waiting for the build VM to power off");
        const [instance] = await api.read(`reading the instance ${vmPlan.vm.name}`, () =>
          api.clients.instances.get(instanceKey(vmPlan.vm), api.callOptions()),
        );
        if (instance.status === "TERMINATED" || instance.status === "STOPPED") return;
        if (!stopRequested && Date.now() > graceUntil) {
          progress.warn(`the build VM did not power off by itself; stopping it`);
          stopRequested = true;
          await api.mutate(`stopping ${vmPlan.vm.name}`, vmPlan.vm, (requestId) =>
            api.clients.instances.stop({ ...instanceKey(vmPlan.vm), requestId }, api.callOptions()),
          );
        }
        await sleep(pollMs, undefined, { signal: deadline.signal }).catch(() => undefined);
        pollMs = Math.min(4 * firstPollMs, Math.round(pollMs * 1.5));
      }
    }

    async function discardVmKeepingBootDisk(): Promise<void> {
      await deleteInstance(api, vmPlan.vm);
      temporaries.forget("instances", vmPlan.vm);
      // Attached with autoDelete: GCE deleted them with the VM.
      if (cidataDisk) temporaries.forget("disks", cidataDisk);
      if (vmPlan.scratchDisk) temporaries.forget("disks", vmPlan.scratchDisk);
    }

    async function discardVm(): Promise<void> {
      await discardVmKeepingBootDisk();
      await deleteDisk(api, vmPlan.bootDisk);
      temporaries.forget("disks", vmPlan.bootDisk);
    }
  } finally {
    deadline.cancel();
    await phase("teardown");
    await teardown(api, temporaries, progress);
    await sweeping;
  }
}

/** The inline CIDATA tree when the build may and can use it (see inlineCidata.ts), else undefined. */
function chooseInlineCidata(
  spec: BuildSpec,
  plan: Awaited<ReturnType<typeof planCidata>>,
  delivery: "auto" | "disk" | "metadata",
): string | undefined {
  if (delivery === "disk") return undefined;
  const inline = spec.hasSecrets ? undefined : inlineCidata(plan);
  if (delivery === "metadata" && !inline) {
    throw new Error(
      spec.hasSecrets
        ? "the CIDATA tree cannot travel in metadata: the build has secrets"
        : "the CIDATA tree is too large for instance metadata",
    );
  }
  return inline;
}

function instanceKey(vm: ZonalRef): { project: string; zone: string; instance: string } {
  return { project: vm.project, zone: vm.zone, instance: vm.name };
}

/** Retries after preemption apply to Spot and preemptible VMs only. */
function retriesFor(spec: BuildSpec): number {
  return spec.vm.provisioningModel === "STANDARD" ? 0 : spec.vm.preemptionRetries;
}

/** A size for progress lines: KiB below 1 MiB, so small inline trees do not show as "0.0 MiB". */
function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}
