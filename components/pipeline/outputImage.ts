import type { protos } from "@google-cloud/compute";
import { COMPUTE_URL_PREFIX } from "../google/names";
import { isNotFound, isStaleFingerprint } from "../google/errors";
import { CONTENT_LABEL_KEY, MANAGED_BY, TEMPORARY_LABEL_KEYS, contentLabelOf } from "../naming";
import type { ComputeApi } from "../google/computeApi";
import type { ResolvedSource } from "./sourceImage";
import type { OutputImageSpec } from "./spec";

type Image = protos.google.cloud.compute.v1.IImage;

/**
 * The labels the output image gets: inherited source labels, then the user's, then `managed-by` and
 * the content label (what the image was built from).
 */
export function outputImageLabels(
  spec: OutputImageSpec,
  source: Pick<ResolvedSource, "labels">,
  contentHash: string,
): Record<string, string> {
  return {
    ...(spec.inheritSourceLabels ? source.labels : {}),
    ...spec.labels,
    [TEMPORARY_LABEL_KEYS.managedBy]: spec.labels[TEMPORARY_LABEL_KEYS.managedBy] ?? MANAGED_BY,
    [CONTENT_LABEL_KEY]: contentLabelOf(contentHash),
  };
}

/** The `images.insert` body of the output image, made from the stopped VM's boot disk. */
export function outputImageBody(
  spec: OutputImageSpec,
  name: string,
  source: ResolvedSource,
  bootDiskUrl: string,
  contentHash: string,
): Image {
  return {
    name,
    sourceDisk: bootDiskUrl,
    description: spec.description ?? `Derivative of ${COMPUTE_URL_PREFIX}${source.partialUrl}.`,
    labels: outputImageLabels(spec, source, contentHash),
    ...(spec.family ? { family: spec.family } : {}),
    // GCE carries the source disk's licenses over by itself; these are added to them.
    ...(spec.licenses.length ? { licenses: spec.licenses } : {}),
    ...(spec.storageLocations.length ? { storageLocations: spec.storageLocations } : {}),
    ...(spec.guestOsFeatures.length
      ? { guestOsFeatures: spec.guestOsFeatures.map((type) => ({ type })) }
      : {}),
  };
}

/** Reads an image; undefined when it does not exist. */
export async function readImage(
  api: ComputeApi,
  project: string,
  name: string,
): Promise<Image | undefined> {
  try {
    const [image] = await api.read(`reading the image ${name}`, () =>
      api.clients.images.get({ project, image: name }, api.callOptions()),
    );
    return image;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Sets the image's labels (retrying on a stale fingerprint, since someone else may have changed them). */
export async function setImageLabels(
  api: ComputeApi,
  project: string,
  name: string,
  labels: Record<string, string>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const image = await readImage(api, project, name);
    if (!image) throw new Error(`the image ${name} no longer exists in project ${project}`);
    try {
      // images.setLabels takes no requestId; a repeated call sets the same labels again.
      await api.mutate(`updating the labels of the image ${name}`, { project }, () =>
        api.clients.images.setLabels(
          {
            project,
            resource: name,
            globalSetLabelsRequestResource: { labels, labelFingerprint: image.labelFingerprint },
          },
          api.callOptions(),
        ),
      );
      return;
    } catch (error) {
      if (!isStaleFingerprint(error) || attempt >= 5) throw error;
    }
  }
}
