import type { ProvisionerStep } from "../guest/protocol";
import type { BuildSpec } from "./spec";
import type { ResolvedSource } from "./sourceImage";

/**
 * How big the build VM's boot disk is made. COS grows its stateful partition (STATE) into the whole
 * disk on the first boot; a build that changes the partition layout needs that space free instead,
 * so its boot disk starts at the source image's size and the provisioner asks for the rest
 * (`BuildDiskResize:`, served by resizeBootDisk.ts) once the layout has made room for it, as COS
 * Customizer does.
 */

/** The steps that change the partition layout (disableAutoUpdate reclaims ROOT-A, as COS Customizer's does). */
export const DISK_LAYOUT_STEP_TYPES: ReadonlySet<ProvisionerStep["type"]> = new Set([
  "extendOemPartition",
  "sealOemPartition",
  "reclaimRootPartition",
  "disableAutoUpdate",
]);

/** True when a step of the build changes the partition layout. */
export function hasDiskLayoutStep(steps: readonly ProvisionerStep[]): boolean {
  return steps.some((step) => DISK_LAYOUT_STEP_TYPES.has(step.type));
}

/**
 * Size in GB the boot disk is created with: the source image's with a disk-layout step, the
 * output's (`diskSizeGb`) otherwise. Never more than `diskSizeGb` (checked at preview: the source
 * image is never larger).
 */
export function initialBootDiskSizeGb(
  spec: Pick<BuildSpec, "steps"> & { image: Pick<BuildSpec["image"], "diskSizeGb"> },
  source: Pick<ResolvedSource, "diskSizeGb">,
): number {
  if (!hasDiskLayoutStep(spec.steps)) return spec.image.diskSizeGb;
  return Math.min(source.diskSizeGb, spec.image.diskSizeGb);
}
