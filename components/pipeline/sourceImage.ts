import type { protos } from "@google-cloud/compute";
import { isNotFound } from "../google/errors";
import { toPartialUrl } from "../google/names";
import type { ComputeApi } from "../google/computeApi";
import type { SourceSelector } from "./spec";

/** The source image, resolved to one concrete image. */
export interface ResolvedSource {
  /** `projects/<p>/global/images/<name>`. */
  partialUrl: string;
  project: string;
  name: string;
  /** Numeric id, as a string. */
  id: string;
  labels: Record<string, string>;
  licenses: string[];
  diskSizeGb: number;
  /** Something the user should know about the choice (a deprecated image), for progress. */
  warning?: string;
}

/** Thrown when the selector matches no image, or the image does not fit the build; the message names the field. */
export class SourceImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SourceImageError";
  }
}

/** A COS image name: optional channel, milestone, build triple (`cos-stable-117-18613-164-4`, `cos-117-18613-164-4`). */
const COS_IMAGE_NAME = /^cos-(?:([a-z]+)-)?(\d+)-(\d+)-(\d+)-(\d+)$/;

/**
 * Resolves the source image: by name (must exist), by family (GCE's newest non-deprecated member),
 * or by COS milestone (the highest build of that milestone among the non-deprecated COS images,
 * across channels, as COS Customizer does but without its deprecated images and with the LTS names
 * it misses).
 */
export async function resolveSourceImage(
  api: ComputeApi,
  selector: SourceSelector,
): Promise<ResolvedSource> {
  if (selector.kind === "image") {
    const { project, name } = selector.image;
    try {
      const [image] = await api.read(`reading the source image ${name}`, () =>
        api.clients.images.get({ project, image: name }, api.callOptions()),
      );
      return toResolved(image);
    } catch (error) {
      if (isNotFound(error))
        throw new SourceImageError(
          `sourceImage: there is no image "${name}" in project "${project}"`,
        );
      throw error;
    }
  }
  if (selector.kind === "family") {
    const { project, family } = selector;
    try {
      const [image] = await api.read(`resolving the image family ${family}`, () =>
        api.clients.images.getFromFamily({ project, family }, api.callOptions()),
      );
      return toResolved(image);
    } catch (error) {
      if (isNotFound(error)) {
        throw new SourceImageError(
          `sourceImageFamily: the family "${family}" has no usable image in project "${project}"`,
        );
      }
      throw error;
    }
  }
  const { project, milestone } = selector;
  const [images] = await api.read(`listing the images of COS milestone ${milestone}`, () =>
    api.clients.images.list(
      { project, filter: `name eq "cos-([a-z]+-)?${milestone}-.*"` },
      { ...api.callOptions(), autoPaginate: true },
    ),
  );
  // An end-of-life milestone has only deprecated images left: COS Customizer takes them, so do we.
  const best = newestOfMilestone(images, milestone) ?? newestOfMilestone(images, milestone, true);
  if (!best)
    throw new SourceImageError(
      `sourceImageMilestone: no image of COS milestone ${milestone} in project "${project}"`,
    );
  const resolved = toResolved(best);
  if (best.deprecated?.state === "DEPRECATED") {
    resolved.warning = `sourceImageMilestone: COS milestone ${milestone} has no current image; using ${resolved.name}, which is deprecated (the milestone may be past its end of life)`;
  }
  return resolved;
}

/**
 * The COS image of the milestone with the highest build number: among the non-deprecated ones, or
 * with `deprecatedToo`, among those deprecated as well (never obsolete or deleted ones, which GCE
 * refuses to make disks from).
 */
export function newestOfMilestone(
  images: protos.google.cloud.compute.v1.IImage[],
  milestone: number,
  deprecatedToo = false,
): protos.google.cloud.compute.v1.IImage | undefined {
  const usable = new Set(deprecatedToo ? ["ACTIVE", "DEPRECATED"] : ["ACTIVE"]);
  let best: { image: protos.google.cloud.compute.v1.IImage; build: number[] } | undefined;
  for (const image of images) {
    const match = COS_IMAGE_NAME.exec(image.name ?? "");
    if (!match || Number(match[2]) !== milestone) continue;
    if (image.deprecated?.state && !usable.has(image.deprecated.state)) continue;
    if (image.status && image.status !== "READY") continue;
    const build = [Number(match[3]), Number(match[4]), Number(match[5])];
    if (!best || compareBuilds(build, best.build) > 0) best = { image, build };
  }
  return best?.image;
}

function compareBuilds(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function toResolved(image: protos.google.cloud.compute.v1.IImage): ResolvedSource {
  const partialUrl = toPartialUrl(image.selfLink ?? "");
  const match = /^projects\/([^/]+)\/global\/images\/([^/]+)$/.exec(partialUrl);
  if (!match)
    throw new Error(`the API returned an image without a usable selfLink (${image.selfLink})`);
  return {
    partialUrl,
    project: match[1],
    name: match[2],
    id: String(image.id ?? ""),
    labels: { ...(image.labels ?? {}) },
    licenses: [...(image.licenses ?? [])].map(toPartialUrl),
    diskSizeGb: Number(image.diskSizeGb ?? 10),
  };
}
