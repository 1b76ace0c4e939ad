import type { protos } from "@google-cloud/compute";
import { Deadline } from "../google/deadline";
import { DEVICE_NAMES } from "../guest/protocol";
import { TEMPORARY_LABEL_KEYS } from "../naming";
import { hasDiskLayoutStep } from "./bootDiskSize";
import { enterPhase, type BuildRun } from "./buildRun";
import { waitForPowerOff } from "./acknowledgeAndStop";
import { deleteVm, type VmAttempt } from "./bootVm";
import { deleteCidataImage, hasCidataImage } from "./deliverCidata";
import { diskUrl } from "./instanceBody";
import { outputImageBody, readImage, setImageLabels } from "./outputImage";
import { growBootDiskBeforeImaging } from "./resizeBootDisk";
import { teardown } from "./teardown";
import { temporaryLabels, type ImageRef } from "./temporaries";

/**
 * The output image, made from the stopped VM's boot disk. Until the build is done, the image is
 * labelled like a temporary: if this process dies before the end, the next build sweeps it instead of
 * leaving an image that no Pulumi state knows about. Its final labels come with the last deletions.
 */

/** The output image as created, still labelled as a temporary. */
export interface MadeImage {
  ref: ImageRef;
  /** The image as GCE reports it. */
  image: protos.google.cloud.compute.v1.IImage;
  selfLink: string;
  /** The labels it gets once the build is done. */
  finalLabels: Record<string, string>;
}

/**
 * Waits for the acknowledged guest to power off while the boot disk stops going with the VM. GCE
 * changes a disk's autoDelete on a running VM too, so the change overlaps the power-off instead of
 * delaying the image by an operation. From then on, a VM deleted by its run-time limit (a dead
 * orchestrator) leaves its boot disk behind, labelled: the next build's sweep or `pulumi destroy`
 * deletes it, and teardown does when the build fails (the disk stays among its temporaries).
 */
export async function powerOffKeepingBootDisk(run: BuildRun, attempt: VmAttempt): Promise<void> {
  const [off, kept] = await Promise.allSettled([
    waitForPowerOff(run, attempt.vm),
    keepBootDisk(run, attempt),
  ]);
  if (off.status === "rejected") throw off.reason;
  if (kept.status === "rejected") throw kept.reason;
}

/**
 * Creates the output image from the boot disk of the stopped VM, which
 * {@link powerOffKeepingBootDisk} kept. Meanwhile the VM goes (its auto-delete disks with it) and so
 * does the CIDATA image: neither is needed any more.
 */
export async function imageBootDisk(run: BuildRun, attempt: VmAttempt): Promise<MadeImage> {
  await enterPhase(run, "image");
  const { api, spec, imageName } = run;
  run.progress.info(`creating the image ${imageName} from ${attempt.bootDisk.name}`);
  const ref: ImageRef = { project: spec.image.project, name: imageName };
  if (hasDiskLayoutStep(spec.steps)) await growBootDiskBeforeImaging(run, attempt.bootDisk);
  const body = outputImageBody(
    spec.image,
    imageName,
    run.source,
    diskUrl(attempt.bootDisk),
    run.contentHash,
  );
  const [imageMade] = await Promise.allSettled([
    api.mutate(`creating the image ${imageName}`, { project: ref.project }, (requestId) =>
      api.clients.images.insert(
        {
          project: ref.project,
          requestId,
          imageResource: {
            ...body,
            labels: { ...body.labels, ...temporaryLabels(run.buildId, spec.ownerId, run.now()) },
          },
        },
        api.callOptions(),
      ),
    ),
    deleteVm(run, attempt),
    hasCidataImage(run) ? deleteCidataImage(run) : Promise.resolve(),
  ]);
  if (imageMade.status === "rejected") {
    await adoptIfOurs(run, ref);
    throw imageMade.reason;
  }
  // Ours only once created: an image of the same name that existed before, refused with 409, is
  // never ours to delete.
  run.temporaries.add("images", ref);
  const image = await readImage(api, ref.project, imageName);
  if (!image?.selfLink) {
    throw new Error(`the image ${imageName} was created but cannot be read back`);
  }
  run.progress.info(`image ${image.selfLink} is ${image.status ?? "READY"}`);
  return { ref, image, selfLink: image.selfLink, finalLabels: body.labels ?? {} };
}

/** The boot disk stops going with the VM: the image is made from it while the VM is deleted. */
async function keepBootDisk(run: BuildRun, attempt: VmAttempt): Promise<void> {
  const { vm } = attempt;
  await run.api.mutate(`keeping the boot disk of ${vm.name}`, vm, (requestId) =>
    run.api.clients.instances.setDiskAutoDelete(
      {
        project: vm.project,
        zone: vm.zone,
        instance: vm.name,
        deviceName: DEVICE_NAMES.boot,
        autoDelete: false,
        requestId,
      },
      run.api.callOptions(),
    ),
  );
}

/**
 * After a failed insert: an image that carries this build's label was made by it (the insert went
 * through, then the wait for it was cancelled or timed out), so it goes with the other temporaries.
 * Any other image of that name is someone else's.
 */
async function adoptIfOurs(run: BuildRun, ref: ImageRef): Promise<void> {
  const grace = new Deadline(ADOPT_DEADLINE_MS);
  try {
    const image = await readImage(run.api.withDeadline(grace), ref.project, ref.name);
    if (image?.labels?.[TEMPORARY_LABEL_KEYS.build] === run.buildId) {
      run.temporaries.add("images", ref);
    }
  } catch {
    // Unreadable: if it is ours, its labels let the next build's sweep find it.
  } finally {
    grace.cancel();
  }
}

/** How long looking at a half-made image may take after the build's own deadline or cancellation. */
const ADOPT_DEADLINE_MS = 60_000;

/**
 * Deletes every other temporary (the boot disk, by now) while the image gets its final labels.
 * Either order leaves only labelled temporaries to a build killed in between: the image until its
 * labels change, the boot disk until it is gone. So the two go at once, and the labels do not wait
 * for the disk's deletion.
 */
export async function finalizeImage(run: BuildRun, made: MadeImage): Promise<void> {
  await enterPhase(run, "teardown");
  run.temporaries.forget("images", made.ref); // the image stays; everything else goes
  const [, labelled] = await Promise.allSettled([
    // Warns about anything it cannot delete; labelled, it is swept by the next build or by destroy.
    teardown(run.api, run.temporaries, run.progress),
    setImageLabels(run.api, made.ref.project, made.ref.name, made.finalLabels),
  ]);
  if (labelled.status === "rejected") {
    run.temporaries.add("images", made.ref); // not final: delete it with the rest
    throw labelled.reason;
  }
  made.image.labels = made.finalLabels;
}
