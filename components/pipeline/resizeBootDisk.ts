import { BuildCancelledError, DeadlineExceededError } from "../google/deadline";
import { apiMessage } from "../google/errors";
import { DISK_RESIZED_METADATA_KEY, MARKERS } from "../guest/protocol";
import type { BuildRun } from "./buildRun";
import { readInstance, setInstanceMetadataItem } from "./instanceMetadata";
import type { ZonalRef } from "./temporaries";

/**
 * Serves the provisioner's `BuildDiskResize: <sizeGb>` request (protocol.ts): a disk-layout step has
 * made room (ROOT-A reclaimed, STATE and OEM about to move) and needs the boot disk, created at the
 * source image's size (bootDiskSize.ts), grown to the build's `diskSizeGb`. Compute's `disks.resize`
 * grows the disk under the running VM, which sees the larger disk without a reboot; then
 * `pci-disk-resized=<sizeGb>` in the instance metadata tells the provisioner to go on.
 */

/** One `BuildDiskResize:` line, with the step that was running when it came. */
export interface DiskResizeRequest {
  /** The size asked for, in GB; NaN when the line names no whole number. */
  sizeGb: number;
  /** The line's text after the marker, for messages. */
  text: string;
  /** The step that asked (the last `step n/m ...: started` status line), for messages. */
  step: string;
}

/** The request could not be served: the build fails in `step` with `reason`. */
export class DiskResizeFailure extends Error {
  constructor(
    /** The step that asked. */
    readonly step: string,
    /** Why: a protocol error, or GCE's refusal with its message. */
    readonly reason: string,
  ) {
    super(`${step}: ${reason}`);
    this.name = "DiskResizeFailure";
  }
}

/** The VM and its boot disk. */
export interface ResizeTarget {
  vm: ZonalRef;
  bootDisk: ZonalRef;
}

/**
 * Grows the boot disk to the requested size (when it is not that size already: a repeated request
 * after a reboot is acknowledged again), then sets {@link DISK_RESIZED_METADATA_KEY}. Runs under the
 * build's deadline.
 *
 * @throws DiskResizeFailure for a request that breaks the protocol (no size, more than `diskSizeGb`,
 *   less than the disk has) or a resize GCE refuses; deadline and cancellation errors pass through.
 */
export async function resizeBootDisk(
  run: BuildRun,
  target: ResizeTarget,
  request: DiskResizeRequest,
): Promise<void> {
  const { api, progress } = run;
  const { bootDisk, vm } = target;
  const wanted = request.sizeGb;
  const limit = run.spec.image.diskSizeGb;
  const refuse = (reason: string): never => {
    throw new DiskResizeFailure(request.step, reason);
  };
  if (!Number.isSafeInteger(wanted) || wanted <= 0)
    refuse(
      `protocol error: "${MARKERS.diskResize} ${request.text}" names no size in GB (a whole number)`,
    );
  if (wanted > limit)
    refuse(
      `protocol error: the provisioner asked for a ${wanted} GB boot disk, more than diskSizeGb (${limit} GB)`,
    );
  const [disk] = await api.read(`reading the boot disk ${bootDisk.name}`, () =>
    api.clients.disks.get(
      { project: bootDisk.project, zone: bootDisk.zone, disk: bootDisk.name },
      api.callOptions(),
    ),
  );
  const current = Number(disk.sizeGb);
  if (wanted < current)
    refuse(
      `protocol error: the provisioner asked for a ${wanted} GB boot disk, but the disk is ${current} GB already (a disk cannot shrink)`,
    );
  if (wanted > current) {
    progress.info(`resizing the boot disk to ${wanted} GB for the disk layout`);
    try {
      await growDisk(run, bootDisk, wanted);
    } catch (error) {
      if (error instanceof DeadlineExceededError || error instanceof BuildCancelledError)
        throw error;
      refuse(`the boot disk could not be resized to ${wanted} GB: ${apiMessage(error)}`);
    }
  } else {
    progress.info(
      `the boot disk is ${wanted} GB already (asked again after a reboot); acknowledging again`,
    );
  }
  await setInstanceMetadataItem(
    api,
    vm,
    { key: DISK_RESIZED_METADATA_KEY, value: String(wanted) },
    `acknowledging the disk resize to ${vm.name}`,
    await readInstance(api, vm),
  );
  progress.info(`boot disk resized to ${wanted} GB; the provisioner goes on`);
}

/**
 * Before imaging: a build whose boot disk started at the source image's size (bootDiskSize.ts) but
 * whose provisioner never asked for more is grown to `diskSizeGb` now, with a warning, so that the
 * image always has the size the user asked for (COS then gives the space to its stateful partition
 * at the image's first boot, as for any larger disk).
 */
export async function growBootDiskBeforeImaging(run: BuildRun, bootDisk: ZonalRef): Promise<void> {
  const { api } = run;
  const wanted = run.spec.image.diskSizeGb;
  const [disk] = await api.read(`reading the boot disk ${bootDisk.name}`, () =>
    api.clients.disks.get(
      { project: bootDisk.project, zone: bootDisk.zone, disk: bootDisk.name },
      api.callOptions(),
    ),
  );
  const current = Number(disk.sizeGb);
  if (current >= wanted) return;
  run.progress.warn(
    `the provisioner never asked for the boot disk to grow (${MARKERS.diskResize}); growing it from ${current} to ${wanted} GB before imaging`,
  );
  await growDisk(run, bootDisk, wanted);
}

/** `disks.resize` of the boot disk to `sizeGb`, waiting for its operation. */
async function growDisk(run: BuildRun, bootDisk: ZonalRef, sizeGb: number): Promise<void> {
  const { api } = run;
  await api.mutate(
    `resizing the boot disk ${bootDisk.name} to ${sizeGb} GB`,
    bootDisk,
    (requestId) =>
      api.clients.disks.resize(
        {
          project: bootDisk.project,
          zone: bootDisk.zone,
          disk: bootDisk.name,
          requestId,
          disksResizeRequestResource: { sizeGb: String(sizeGb) },
        },
        api.callOptions(),
      ),
  );
}
