/** `images.*`: insert (from a raw disk archive, a disk or an image), get, getFromFamily, list, delete, deprecate, setLabels. */
import {
  alreadyExists,
  invalid,
  invalidField,
  resourceInUse,
  resourceNotReady,
} from "../http/errors";
import { readJsonObject, sendJson } from "../http/io";
import type { RequestContext, Router } from "../http/router";
import { listResponse, replayed, setLabels, startOperation, stringList } from "./common";
import type { ComputeDeps } from "./deps";
import { listPage } from "./listing";
import { OperationFailure } from "./operations";
import { GIB, InvalidRawDiskArchive, readRawDiskArchive } from "./rawDiskArchive";
import {
  ImageRecord,
  type DeprecationStatus,
  type DiskRecord,
  type GuestOsFeature,
} from "./resources";
import { parseImageRef, parseZonalRef, selfLink, stripComputePrefix } from "./urls";
import {
  NAME_PATTERN,
  optionalInt,
  optionalString,
  requiredString,
  validateLabels,
  validateName,
} from "./validation";

const BASE = "/compute/v1/projects/:project/global/images";
const DEPRECATION_STATES = new Set(["ACTIVE", "DEPRECATED", "OBSOLETE", "DELETED"]);

/** Registers the image routes. */
export function registerImageRoutes(router: Router, deps: ComputeDeps): void {
  router.add("POST", BASE, "compute.images.insert", (ctx) => insertImage(ctx, deps));
  router.add("GET", BASE, "compute.images.list", (ctx) => {
    const project = ctx.params.project;
    const page = listPage(
      deps.state.imagesIn(project).map((i) => i.toJSON()),
      ctx.url.searchParams,
    );
    sendJson(
      ctx.res,
      200,
      listResponse("compute#imageList", `projects/${project}/global/images`, page),
    );
  });
  router.add("GET", `${BASE}/family/:family`, "compute.images.getFromFamily", (ctx) => {
    sendJson(
      ctx.res,
      200,
      deps.state.newestInFamily(ctx.params.project, ctx.params.family).toJSON(),
    );
  });
  router.add("GET", `${BASE}/:image`, "compute.images.get", (ctx) => {
    sendJson(ctx.res, 200, deps.state.image(ctx.params.project, ctx.params.image).toJSON());
  });
  router.add("DELETE", `${BASE}/:image`, "compute.images.delete", (ctx) => deleteImage(ctx, deps));
  router.add("POST", `${BASE}/:image/deprecate`, "compute.images.deprecate", (ctx) =>
    deprecateImage(ctx, deps),
  );
  router.add("POST", `${BASE}/:resource/setLabels`, "compute.images.setLabels", async (ctx) => {
    const image = deps.state.image(ctx.params.project, ctx.params.resource);
    await setLabels(ctx, deps, { project: ctx.params.project }, image);
  });
}

/** Where an image's bytes come from. */
type ImageSource =
  | { kind: "rawDisk"; url: string; bucket: string; object: string }
  | { kind: "disk"; disk: DiskRecord }
  | { kind: "image"; image: ImageRecord };

async function insertImage(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const project = ctx.params.project;
  if (replayed(ctx, deps, project)) return;
  const body = await readJsonObject(ctx.req);
  const name = validateName("resource.name", body.name);
  const image = new ImageRecord(project, name);
  if (deps.state.images.has(image.path)) throw alreadyExists(image.path);

  image.description = optionalString("resource.description", body.description);
  image.labels = validateLabels("resource.labels", body.labels);
  const family = optionalString("resource.family", body.family);
  if (family !== undefined && !NAME_PATTERN.test(family)) {
    throw invalidField(
      "resource.family",
      family,
      "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
    );
  }
  image.family = family;
  image.licenses = stringList("resource.licenses", body.licenses).map((l) =>
    licenseUrl(l, project),
  );
  const locations = stringList("resource.storageLocations", body.storageLocations);
  if (locations.length > 1)
    throw invalidField(
      "resource.storageLocations",
      locations,
      "At most one storage location may be given.",
    );
  if (locations.length) image.storageLocations = locations;
  image.guestOsFeatures = guestOsFeatures(body.guestOsFeatures);
  image.architecture = optionalString("resource.architecture", body.architecture);
  const requestedSizeGb = optionalInt("resource.diskSizeGb", body.diskSizeGb);

  const source = resolveSource(
    body,
    project,
    deps,
    ctx.url.searchParams.get("forceCreate") === "true",
  );
  if (source.kind === "rawDisk") image.rawDisk = { source: source.url, containerType: "TAR" };
  if (source.kind === "disk") {
    image.sourceDisk = source.disk.selfLink;
    image.sourceDiskId = source.disk.id;
    image.diskSizeGb = source.disk.sizeGb;
    image.licenses = union(source.disk.licenses, image.licenses);
    image.guestOsFeatures = unionFeatures(source.disk.guestOsFeatures, image.guestOsFeatures);
  }
  if (source.kind === "image") {
    image.diskSizeGb = source.image.diskSizeGb;
    image.licenses = union(source.image.licenses, image.licenses);
    image.guestOsFeatures = unionFeatures(source.image.guestOsFeatures, image.guestOsFeatures);
  }
  if (requestedSizeGb !== undefined && source.kind !== "rawDisk")
    image.diskSizeGb = requestedSizeGb;

  deps.state.images.set(image.path, image);
  startOperation(ctx, deps, { project }, "insert", image, async () => {
    try {
      await buildImage(image, source, deps);
      image.status = "READY";
    } catch (err) {
      // GCE does not keep an image whose creation failed.
      if (deps.state.images.get(image.path) === image) deps.state.images.delete(image.path);
      await deps.diskFiles.remove(image.filePath);
      throw err;
    }
  });
}

function resolveSource(
  body: Record<string, unknown>,
  project: string,
  deps: ComputeDeps,
  forceCreate: boolean,
): ImageSource {
  const given = ["rawDisk", "sourceDisk", "sourceImage", "sourceSnapshot"].filter(
    (key) => body[key] !== undefined && body[key] !== null && body[key] !== "",
  );
  if (given.length !== 1) {
    throw invalid(
      `Invalid value for field 'resource': exactly one of 'rawDisk', 'sourceDisk', 'sourceImage' or 'sourceSnapshot' must be specified (got ${given.length}).`,
    );
  }
  switch (given[0]) {
    case "rawDisk": {
      const raw = body.rawDisk as Record<string, unknown>;
      const url = optionalString("resource.rawDisk.source", raw.source);
      if (!url) throw invalidField("resource.rawDisk.source", "", "The source URL is required.");
      const location = parseStorageUrl(url);
      if (!location) {
        throw invalidField(
          "resource.rawDisk.source",
          url,
          "Expected https://storage.googleapis.com/<bucket>/<object>.",
        );
      }
      if (raw.containerType !== undefined && raw.containerType !== "TAR") {
        throw invalidField("resource.rawDisk.containerType", raw.containerType, "Must be TAR.");
      }
      return { kind: "rawDisk", url, ...location };
    }
    case "sourceDisk": {
      const ref = parseZonalRef(
        "resource.sourceDisk",
        requiredString("resource.sourceDisk", body.sourceDisk),
        "disks",
        project,
        "",
      );
      if (ref.zone === "")
        throw invalidField(
          "resource.sourceDisk",
          body.sourceDisk,
          "The disk URL must name its zone.",
        );
      const disk = deps.state.disk(ref.project, ref.zone, ref.name);
      if (disk.status !== "READY") throw resourceNotReady(disk.path);
      if (!forceCreate) {
        for (const user of disk.users) {
          const instance = deps.state.instances.get(stripComputePrefix(user));
          if (instance && instance.record.status !== "TERMINATED")
            throw resourceInUse(disk.path, instance.record.path);
        }
      }
      return { kind: "disk", disk };
    }
    case "sourceImage": {
      const ref = parseImageRef(
        "resource.sourceImage",
        requiredString("resource.sourceImage", body.sourceImage),
        project,
      );
      const image = deps.state.resolveImage(ref);
      if (image.status !== "READY") throw resourceNotReady(image.path);
      return { kind: "image", image };
    }
    default:
      throw invalidField(
        "resource.sourceSnapshot",
        body.sourceSnapshot,
        "Snapshots are not supported by the emulator.",
      );
  }
}

/** Does the work of an image insert: reads/extracts the source and waits the modelled time. */
async function buildImage(
  image: ImageRecord,
  source: ImageSource,
  deps: ComputeDeps,
): Promise<void> {
  const { diskFiles, latency } = deps;
  if (source.kind === "rawDisk") {
    const object = deps.objectFile(source.bucket, source.object);
    if (!object) {
      throw new OperationFailure(
        "RESOURCE_NOT_FOUND",
        `The resource '${source.url}' of type 'Google Cloud Storage object' was not found.`,
        404,
      );
    }
    image.archiveSizeBytes = object.size;
    if (diskFiles.enabled) image.filePath = await diskFiles.imagePath(image);
    try {
      const { diskRawBytes } = await readRawDiskArchive(object.path, image.filePath);
      image.diskSizeGb = diskRawBytes / GIB;
    } catch (err) {
      if (err instanceof InvalidRawDiskArchive) {
        throw new OperationFailure(
          "INVALID_IMAGE_FILE",
          `Image import failed: ${err.message}`,
          400,
        );
      }
      throw err;
    }
    await latency.wait("imageFromRawDisk", image.diskSizeGb);
    return;
  }
  const from = source.kind === "disk" ? source.disk.filePath : source.image.filePath;
  if (diskFiles.enabled && from) {
    image.filePath = await diskFiles.imagePath(image);
    await diskFiles.copy(from, image.filePath);
    image.archiveSizeBytes = await diskFiles.allocatedBytes(image.filePath);
  }
  await latency.wait("imageFromDisk", image.diskSizeGb);
}

function deleteImage(ctx: RequestContext, deps: ComputeDeps): void {
  const project = ctx.params.project;
  if (replayed(ctx, deps, project)) return;
  const image = deps.state.image(project, ctx.params.image);
  image.status = "DELETING";
  startOperation(ctx, deps, { project }, "delete", image, async () => {
    await deps.latency.wait("imageDelete");
    if (deps.state.images.get(image.path) === image) deps.state.images.delete(image.path);
    if (!image.externalFile) await deps.diskFiles.remove(image.filePath);
  });
}

async function deprecateImage(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const project = ctx.params.project;
  if (replayed(ctx, deps, project)) return;
  const image = deps.state.image(project, ctx.params.image);
  const body = await readJsonObject(ctx.req);
  const state = body.state ?? "ACTIVE";
  if (typeof state !== "string" || !DEPRECATION_STATES.has(state)) {
    throw invalidField(
      "deprecationStatusResource.state",
      state,
      "Must be one of ACTIVE, DEPRECATED, OBSOLETE, DELETED.",
    );
  }
  const status: DeprecationStatus = { state: state as DeprecationStatus["state"] };
  for (const key of ["replacement", "deprecated", "obsolete", "deleted"] as const) {
    const value = optionalString(`deprecationStatusResource.${key}`, body[key]);
    if (value === undefined) continue;
    if (key !== "replacement" && isNaN(Date.parse(value))) {
      throw invalidField(
        `deprecationStatusResource.${key}`,
        value,
        "Must be an RFC 3339 timestamp.",
      );
    }
    status[key] = value;
  }
  if (status.replacement !== undefined) {
    const ref = parseImageRef("deprecationStatusResource.replacement", status.replacement, project);
    if (ref.name === undefined) {
      throw invalidField(
        "deprecationStatusResource.replacement",
        status.replacement,
        "Must name an image.",
      );
    }
    status.replacement = selfLink(`projects/${ref.project}/global/images/${ref.name}`);
  }
  startOperation(ctx, deps, { project }, "deprecate", image, async () => {
    await deps.latency.wait("metadataUpdate");
    // Deprecating to ACTIVE clears the deprecation status, as GCE does.
    image.deprecated = status.state === "ACTIVE" ? undefined : status;
  });
}

/** `https://storage.googleapis.com/<bucket>/<object>` (or `gs://`) → bucket and object. */
export function parseStorageUrl(url: string): { bucket: string; object: string } | undefined {
  const m =
    /^https:\/\/(?:storage\.googleapis\.com|storage\.cloud\.google\.com)\/([^/]+)\/(.+)$/.exec(
      url,
    ) ?? /^gs:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) return undefined;
  try {
    return { bucket: m[1], object: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

function licenseUrl(license: string, project: string): string {
  const path = stripComputePrefix(license);
  if (/^projects\/[^/]+\/global\/licenses\/[^/]+$/.test(path)) return selfLink(path);
  if (/^global\/licenses\/[^/]+$/.test(path)) return selfLink(`projects/${project}/${path}`);
  throw invalidField(
    "resource.licenses",
    license,
    "Expected projects/<project>/global/licenses/<license>.",
  );
}

function guestOsFeatures(value: unknown): GuestOsFeature[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw invalidField("resource.guestOsFeatures", value, "Must be a list.");
  return value.map((f: unknown, i) => {
    const type = (f as { type?: unknown } | null)?.type;
    if (typeof type !== "string" || !/^[A-Z0-9_]+$/.test(type)) {
      throw invalidField(
        `resource.guestOsFeatures[${i}].type`,
        type,
        "Must be a feature name such as UEFI_COMPATIBLE.",
      );
    }
    return { type };
  });
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

function unionFeatures(a: GuestOsFeature[], b: GuestOsFeature[]): GuestOsFeature[] {
  return union(
    a.map((f) => f.type),
    b.map((f) => f.type),
  ).map((type) => ({ type }));
}
