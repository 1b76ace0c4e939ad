/**
 * Compute Engine's naming rules, as pure predicates. Sources: the Compute Engine API reference
 * (resource `name` fields: RFC 1035, `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters) and the
 * labels documentation (keys and values of at most 63 characters of lowercase letters, digits, `_`
 * and `-`; keys start with a lowercase letter; at most 64 labels per resource).
 */

/** Longest name of an image, disk, instance or family. */
export const MAX_NAME_LENGTH = 63;

const RESOURCE_NAME = /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/;

/** True when `name` is a valid name for a GCE image, disk, instance or image family. */
export function isResourceName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && RESOURCE_NAME.test(name);
}

/** Longest label key or value. */
export const MAX_LABEL_LENGTH = 63;
/** Most labels on one resource. */
export const MAX_LABELS = 64;

// GCE allows international lowercase letters too; we accept the ASCII subset everywhere and the
// Unicode lowercase letters (\p{Ll}) the API also takes.
const LABEL_KEY = /^\p{Ll}[\p{Ll}0-9_-]*$/u;
const LABEL_VALUE = /^[\p{Ll}0-9_-]*$/u;

/** True when `key` is a valid label key. */
export function isLabelKey(key: string): boolean {
  return key.length >= 1 && [...key].length <= MAX_LABEL_LENGTH && LABEL_KEY.test(key);
}

/** True when `value` is a valid label value (may be empty). */
export function isLabelValue(value: string): boolean {
  return [...value].length <= MAX_LABEL_LENGTH && LABEL_VALUE.test(value);
}

// Project ids: 6 to 30 characters, lowercase letters, digits and hyphens, starting with a letter and
// not ending with a hyphen; legacy domain-scoped ids look like `example.com:my-project`.
const PROJECT_ID = /^(?:[a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$/;

/** True when `id` is a valid project id. */
export function isProjectId(id: string): boolean {
  return PROJECT_ID.test(id);
}

const ZONE = /^([a-z]+-[a-z]+[0-9]+)-[a-z]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]+$/;

/** True when `zone` looks like a GCE zone, such as `us-central1-a` or `europe-west4-b`. */
export function isZone(zone: string): boolean {
  return ZONE.test(zone);
}

/** True when `region` looks like a GCE region, such as `us-central1`. */
export function isRegion(region: string): boolean {
  return REGION.test(region);
}

/** The region of a zone: `us-central1-a` → `us-central1`. */
export function regionOfZone(zone: string): string {
  const match = ZONE.exec(zone);
  if (!match) throw new Error(`"${zone}" is not a zone name`);
  return match[1];
}

/** The URL prefix GCE uses in `selfLink`s; accepted and stripped wherever a partial URL is expected. */
export const COMPUTE_URL_PREFIX = "https://www.googleapis.com/compute/v1/";

/** Strips {@link COMPUTE_URL_PREFIX} (or its `beta`/`alpha` variants) from a resource URL. */
export function toPartialUrl(url: string): string {
  return url.replace(
    /^https:\/\/(?:www|compute)\.googleapis\.com\/compute\/(?:v1|beta|alpha)\//,
    "",
  );
}

/** A parsed reference to a global image: `projects/<project>/global/images/<name>`. */
export interface ImageRef {
  project: string;
  name: string;
}

const IMAGE_URL = /^projects\/([^/]+)\/global\/images\/([^/]+)$/;

/**
 * Parses an image given by name or by (full or partial) URL. A bare name takes `defaultProject`.
 * Returns undefined when the text is neither.
 */
export function parseImageRef(text: string, defaultProject: string): ImageRef | undefined {
  const partial = toPartialUrl(text);
  const match = IMAGE_URL.exec(partial);
  if (match) {
    return isProjectId(match[1]) && isResourceName(match[2])
      ? { project: match[1], name: match[2] }
      : undefined;
  }
  return isResourceName(text) ? { project: defaultProject, name: text } : undefined;
}

/** The project and name of an image's partial URL (`projects/<p>/global/images/<name>`), as resolved. */
export function imageRefOfPartialUrl(partialUrl: string): ImageRef {
  const [, project, , , name] = partialUrl.split("/");
  return { project, name };
}

const LICENSE_URL = /^projects\/([^/]+)\/global\/licenses\/([^/]+)$/;

/**
 * Normalizes a license to `projects/<p>/global/licenses/<l>` (stripping the API URL prefix, as COS
 * Customizer does). Returns undefined when it is not a license reference.
 */
export function normalizeLicense(text: string): string | undefined {
  const partial = toPartialUrl(text.trim());
  const match = LICENSE_URL.exec(partial);
  return match && isProjectId(match[1]) && isResourceName(match[2]) ? partial : undefined;
}

// Machine types: predefined (`e2-standard-2`, `n1-highmem-8`, `a2-highgpu-1g`, `c3-standard-4-lssd`)
// or custom (`n2-custom-4-16384`, `custom-2-7680-ext`).
const MACHINE_TYPE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/;

/** True when `machineType` is shaped like a GCE machine type name. */
export function isMachineType(machineType: string): boolean {
  return machineType.length <= MAX_NAME_LENGTH && MACHINE_TYPE.test(machineType);
}

/** True for GCE's usual persistent disk types. */
export function isDiskType(diskType: string): boolean {
  return /^(?:pd-(?:standard|balanced|ssd|extreme)|hyperdisk-(?:balanced|extreme|throughput))$/.test(
    diskType,
  );
}

/**
 * Guest OS features an image may declare (Compute Engine `GuestOsFeature.type`; `FEATURE_TYPE_UNSPECIFIED`
 * excluded).
 */
export const GUEST_OS_FEATURES = [
  "MULTI_IP_SUBNET",
  "SECURE_BOOT",
  "SEV_CAPABLE",
  "SEV_LIVE_MIGRATABLE",
  "SEV_LIVE_MIGRATABLE_V2",
  "SEV_SNP_CAPABLE",
  "TDX_CAPABLE",
  "UEFI_COMPATIBLE",
  "VIRTIO_SCSI_MULTIQUEUE",
  "WINDOWS",
  "GVNIC",
  "IDPF",
  "SUSPEND_RESUME_COMPATIBLE",
] as const;

// Cloud Storage bucket names: 3 to 63 characters (up to 222 with dots, each part at most 63) of
// lowercase letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
const BUCKET = /^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$/;

/** True when `name` is a valid Cloud Storage bucket name. */
export function isBucketName(name: string): boolean {
  if (!BUCKET.test(name) || name.startsWith("goog") || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    return false;
  }
  const parts = name.split(".");
  return (
    (name.includes(".") || name.length <= 63) && parts.every((p) => p.length && p.length <= 63)
  );
}

/** Storage locations accepted for images: a region or one of the multi-regions. */
export function isStorageLocation(location: string): boolean {
  return /^(?:us|eu|asia)$/.test(location) || isRegion(location);
}

/** True for network tags: RFC 1035 names, at most 63 characters. */
export function isNetworkTag(tag: string): boolean {
  return isResourceName(tag);
}

/** Accelerator types look like `nvidia-tesla-t4`, `nvidia-l4`, `nvidia-h100-80gb`. */
export function isAcceleratorType(type: string): boolean {
  return /^nvidia-[a-z0-9]+(?:-[a-z0-9]+)*$/.test(type);
}

/** A network or subnetwork given by name or by (partial) URL. */
export function isNetworkRef(text: string, kind: "networks" | "subnetworks"): boolean {
  const partial = toPartialUrl(text);
  if (isResourceName(partial)) return true;
  const global = new RegExp(`^projects/[^/]+/global/${kind}/[a-z](?:[-a-z0-9]*[a-z0-9])?$`);
  const regional = new RegExp(
    `^(?:projects/[^/]+/)?regions/[a-z0-9-]+/${kind}/[a-z](?:[-a-z0-9]*[a-z0-9])?$`,
  );
  return kind === "networks" ? global.test(partial) : regional.test(partial);
}
