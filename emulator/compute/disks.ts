/** `disks.*`: insert (from an image or blank), get, list, delete, setLabels, resize. */
import {
  alreadyExists,
  invalid,
  invalidField,
  resourceInUse,
  resourceNotReady,
} from "../http/errors";
import { readJsonObject, sendJson } from "../http/io";
import type { RequestContext, Router } from "../http/router";
import { listResponse, replayed, setLabels, startOperation } from "./common";
import { OperationFailure } from "./operations";
import type { ComputeDeps } from "./deps";
import { listPage } from "./listing";
import { DiskRecord, type ImageRecord } from "./resources";
import { parseImageRef, zonalTypeUrl } from "./urls";
import { optionalInt, optionalString, validateLabels, validateName } from "./validation";

const BASE = "/compute/v1/projects/:project/zones/:zone/disks";

/** GCE's default size of a blank pd-standard disk, GB. */
export const DEFAULT_BLANK_DISK_GB = 500;

/** Registers the disk routes. */
export function registerDiskRoutes(router: Router, deps: ComputeDeps): void {
  router.add("POST", BASE, "compute.disks.insert", (ctx) => insertDisk(ctx, deps));
  router.add("GET", BASE, "compute.disks.list", (ctx) => {
    const { project, zone } = ctx.params;
    const page = listPage(
      deps.state.disksIn(project, zone).map((d) => d.toJSON()),
      ctx.url.searchParams,
    );
    sendJson(
      ctx.res,
      200,
      listResponse("compute#diskList", `projects/${project}/zones/${zone}/disks`, page),
    );
  });
  router.add("GET", `${BASE}/:disk`, "compute.disks.get", (ctx) => {
    const { project, zone, disk } = ctx.params;
    sendJson(ctx.res, 200, deps.state.disk(project, zone, disk).toJSON());
  });
  router.add("DELETE", `${BASE}/:disk`, "compute.disks.delete", (ctx) => deleteDisk(ctx, deps));
  router.add("POST", `${BASE}/:disk/resize`, "compute.disks.resize", (ctx) =>
    resizeDisk(ctx, deps),
  );
  router.add("POST", `${BASE}/:resource/setLabels`, "compute.disks.setLabels", async (ctx) => {
    const { project, zone, resource } = ctx.params;
    await setLabels(ctx, deps, { project, zone }, deps.state.disk(project, zone, resource));
  });
}

/** The fields of a new disk, from `disks.insert` or an instance's `initializeParams`. */
export interface NewDiskSpec {
  /** Disk name. */
  name: string;
  /** Size, GB; defaults to the image's size, or {@link DEFAULT_BLANK_DISK_GB}. */
  sizeGb?: number;
  /** Disk type (name or URL); default `pd-standard`. */
  type?: string;
  /** Source image reference. */
  sourceImage?: string;
  /** Labels (validated). */
  labels: Record<string, string>;
  /** Description. */
  description?: string;
}

/**
 * Validates a new disk and registers it in CREATING status; returns it with a function that does
 * the creation work (copy or blank file, modelled delay) and marks it READY. Throws 400/404/409.
 */
export function prepareDisk(
  deps: ComputeDeps,
  project: string,
  zone: string,
  spec: NewDiskSpec,
  fieldPrefix: string,
): { disk: DiskRecord; create: () => Promise<void> } {
  let image: ImageRecord | undefined;
  if (spec.sourceImage !== undefined) {
    image = deps.state.resolveImage(
      parseImageRef(`${fieldPrefix}.sourceImage`, spec.sourceImage, project),
    );
    if (image.status !== "READY") throw resourceNotReady(image.path);
    if (image.unusable) {
      throw invalid(
        `The resource '${image.path}' is ${image.deprecated?.state.toLowerCase()} and cannot be used.`,
      );
    }
  }
  const sizeGb = spec.sizeGb ?? image?.diskSizeGb ?? DEFAULT_BLANK_DISK_GB;
  if (!(sizeGb > 0)) throw invalidField(`${fieldPrefix}.sizeGb`, sizeGb, "Must be greater than 0.");
  if (image && sizeGb < image.diskSizeGb) {
    throw invalid(
      `Invalid value for field '${fieldPrefix}.sizeGb': '${sizeGb}'. Requested disk size cannot be smaller than the image size (${image.diskSizeGb} GB).`,
    );
  }
  const type = zonalTypeUrl(
    `${fieldPrefix}.type`,
    spec.type ?? "pd-standard",
    "diskTypes",
    project,
    zone,
  );
  const disk = new DiskRecord(project, zone, spec.name, sizeGb, type);
  if (deps.state.disks.has(disk.path)) throw alreadyExists(disk.path);
  disk.labels = spec.labels;
  disk.description = spec.description;
  if (image) {
    disk.sourceImage = image.selfLink;
    disk.sourceImageId = image.id;
    disk.licenses = [...image.licenses];
    disk.guestOsFeatures = image.guestOsFeatures.map((f) => ({ ...f }));
  }
  deps.state.disks.set(disk.path, disk);
  const source = image;
  const create = async (): Promise<void> => {
    const { diskFiles, latency } = deps;
    if (diskFiles.enabled) {
      disk.filePath = await diskFiles.diskPath(disk);
      if (source?.filePath) await diskFiles.copy(source.filePath, disk.filePath, sizeGb);
      else await diskFiles.createBlank(disk.filePath, sizeGb);
    }
    await (source ? latency.wait("diskFromImage", sizeGb) : latency.wait("blankDisk"));
    disk.status = "READY";
  };
  return { disk, create };
}

/** Removes a disk that failed to be created (GCE keeps no failed disk). */
export async function discardDisk(deps: ComputeDeps, disk: DiskRecord): Promise<void> {
  if (deps.state.disks.get(disk.path) === disk) deps.state.disks.delete(disk.path);
  await deps.diskFiles.remove(disk.filePath);
}

async function insertDisk(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const body = await readJsonObject(ctx.req);
  const sourceImage =
    optionalString("resource.sourceImage", body.sourceImage) ??
    optionalString("sourceImage", ctx.url.searchParams.get("sourceImage"));
  const { disk, create } = prepareDisk(
    deps,
    project,
    zone,
    {
      name: validateName("resource.name", body.name),
      sizeGb: optionalInt("resource.sizeGb", body.sizeGb),
      type: optionalString("resource.type", body.type),
      sourceImage,
      labels: validateLabels("resource.labels", body.labels),
      description: optionalString("resource.description", body.description),
    },
    "resource",
  );
  startOperation(ctx, deps, { project, zone }, "insert", disk, async () => {
    try {
      await create();
    } catch (err) {
      await discardDisk(deps, disk);
      throw err;
    }
  });
}

function deleteDisk(ctx: RequestContext, deps: ComputeDeps): void {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const disk = deps.state.disk(project, zone, ctx.params.disk);
  if (disk.users.length > 0)
    throw resourceInUse(disk.path, disk.users[0].replace(/^https:\/\/[^/]+\/compute\/v1\//, ""));
  const imaging = deps.state.imagesBeingCreatedFrom(disk);
  if (imaging.length > 0) throw resourceInUse(disk.path, imaging[0].path);
  disk.status = "DELETING";
  startOperation(ctx, deps, { project, zone }, "delete", disk, async () => {
    await deps.latency.wait("diskDelete");
    await discardDisk(deps, disk);
  });
}

/**
 * `disks.resize`: grows a disk, attached or not, as GCE does (a disk never shrinks; GCE's 400 wording
 * when the size is not larger). The operation grows the backing file, updates the size, then tells
 * the guests of running instances it is attached to (a QEMU machine: `block_resize`), so that the
 * guest sees the larger disk when the operation is done, without a reboot.
 */
async function resizeDisk(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const disk = deps.state.disk(project, zone, ctx.params.disk);
  const body = await readJsonObject(ctx.req);
  const sizeGb = optionalInt("sizeGb", body.sizeGb);
  if (sizeGb === undefined) throw invalidField("sizeGb", "", "Required field is not set.");
  if (disk.status !== "READY") throw resourceNotReady(disk.path);
  if (sizeGb <= disk.sizeGb) {
    throw invalidField(
      "sizeGb",
      String(sizeGb),
      `New disk size '${sizeGb}' GiB must be larger than existing size '${disk.sizeGb}' GiB.`,
    );
  }
  startOperation(ctx, deps, { project, zone }, "resizeDisk", disk, async () => {
    await deps.latency.wait("diskResize");
    checkDiskQuota(deps, disk, sizeGb);
    if (disk.filePath) await deps.diskFiles.grow(disk.filePath, sizeGb);
    disk.sizeGb = Math.max(disk.sizeGb, sizeGb);
    const users = [...deps.state.instances.values()].filter((instance) =>
      disk.users.includes(instance.record.selfLink),
    );
    await Promise.all(users.map((instance) => instance.diskResized(disk)));
  });
}

/** GCE's `DISKS_TOTAL_GB`: the project's disks in the disk's region, with `disk` at `sizeGb`. */
function checkDiskQuota(deps: ComputeDeps, disk: DiskRecord, sizeGb: number): void {
  const quota = deps.diskQuotaGb;
  if (quota === undefined) return;
  const region = disk.zone.replace(/-[a-z]$/, "");
  const used = [...deps.state.disks.values()]
    .filter((d) => d !== disk && d.project === disk.project && d.zone.startsWith(`${region}-`))
    .reduce((total, d) => total + d.sizeGb, 0);
  if (used + sizeGb > quota) {
    throw new OperationFailure(
      "QUOTA_EXCEEDED",
      `Quota 'DISKS_TOTAL_GB' exceeded.  Limit: ${quota.toFixed(1)} in region ${region}.`,
      403,
    );
  }
}
