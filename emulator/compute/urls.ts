/**
 * Resource URLs. Like GCE, the emulator reports `selfLink`s under
 * `https://www.googleapis.com/compute/v1/` (they are identifiers, never fetched), and accepts
 * references as full URLs, `projects/...` paths or paths relative to the request's project.
 */
import { invalidField } from "../http/errors";

/** The prefix of every `selfLink`. */
export const COMPUTE_URL_PREFIX = "https://www.googleapis.com/compute/v1/";

/** `https://www.googleapis.com/compute/v1/<path>`. */
export function selfLink(path: string): string {
  return COMPUTE_URL_PREFIX + path;
}

/** Strips scheme/host/version so `https://.../compute/v1/projects/p/...` becomes `projects/p/...`. */
export function stripComputePrefix(ref: string): string {
  const match = /^(?:https?:\/\/[^/]+)?\/?(?:compute\/(?:v1|beta|alpha)\/)?(.*)$/.exec(ref);
  return (match?.[1] ?? ref).replace(/^\/+/, "");
}

/** A parsed image reference: by name or by family. */
export interface ImageRef {
  /** Project holding the image. */
  project: string;
  /** Image name, when the reference names one. */
  name?: string;
  /** Family, for `.../images/family/<family>` references. */
  family?: string;
}

/** Parses `sourceImage`-style references. */
export function parseImageRef(field: string, ref: string, requestProject: string): ImageRef {
  const path = stripComputePrefix(ref);
  let m = /^projects\/([^/]+)\/global\/images\/family\/([^/]+)$/.exec(path);
  if (m) return { project: m[1], family: m[2] };
  m = /^projects\/([^/]+)\/global\/images\/([^/]+)$/.exec(path);
  if (m) return { project: m[1], name: m[2] };
  m = /^global\/images\/family\/([^/]+)$/.exec(path);
  if (m) return { project: requestProject, family: m[1] };
  m = /^global\/images\/([^/]+)$/.exec(path);
  if (m) return { project: requestProject, name: m[1] };
  throw invalidField(field, ref, "The URL is malformed.");
}

/** A parsed zonal resource reference (disk, instance). */
export interface ZonalRef {
  /** Project. */
  project: string;
  /** Zone. */
  zone: string;
  /** Resource name. */
  name: string;
}

/**
 * The parts of a zonal reference of `collection`: a full URL, `projects/p/zones/z/<collection>/n`,
 * `zones/z/<collection>/n` (in the request's project), or a bare name matching `bareName` (in the
 * request's project and zone); undefined for anything else.
 */
function zonalParts(
  ref: string,
  collection: string,
  requestProject: string,
  requestZone: string,
  bareName: RegExp,
): ZonalRef | undefined {
  const path = stripComputePrefix(ref);
  let m = new RegExp(`^projects/([^/]+)/zones/([^/]+)/${collection}/([^/]+)$`).exec(path);
  if (m) return { project: m[1], zone: m[2], name: m[3] };
  m = new RegExp(`^zones/([^/]+)/${collection}/([^/]+)$`).exec(path);
  if (m) return { project: requestProject, zone: m[1], name: m[2] };
  if (bareName.test(path)) return { project: requestProject, zone: requestZone, name: path };
  return undefined;
}

/**
 * Parses a zonal reference of `collection` (`disks`, `instances`): a full URL, `projects/p/zones/z/
 * <collection>/n`, `zones/z/<collection>/n`, or a bare name in the request's zone.
 */
export function parseZonalRef(
  field: string,
  ref: string,
  collection: string,
  requestProject: string,
  requestZone: string,
): ZonalRef {
  const parts = zonalParts(ref, collection, requestProject, requestZone, /^[a-z][-a-z0-9]*$/);
  if (!parts) throw invalidField(field, ref, "The URL is malformed.");
  return parts;
}

/**
 * Normalizes a zonal type reference (`machineTypes`, `diskTypes`, `acceleratorTypes`) given as a
 * bare name, `zones/z/<collection>/t`, `projects/p/zones/z/<collection>/t` or a URL, to a full URL.
 */
export function zonalTypeUrl(
  field: string,
  ref: string,
  collection: string,
  project: string,
  zone: string,
): string {
  // Type names may start with a digit, unlike resource names.
  const parts = zonalParts(ref, collection, project, zone, /^[a-z0-9][-a-z0-9]*$/);
  if (!parts) throw invalidField(field, ref, "The URL is malformed.");
  return selfLink(`projects/${parts.project}/zones/${parts.zone}/${collection}/${parts.name}`);
}

/** The last path segment of a URL or path (`.../machineTypes/e2-small` → `e2-small`). */
export function lastSegment(ref: string): string {
  const parts = ref.split("/");
  return parts[parts.length - 1] ?? ref;
}
