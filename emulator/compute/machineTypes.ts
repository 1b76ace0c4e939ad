/**
 * `machineTypes.get` and `machineTypes.list` (zonal), from the catalog in machineTypeCatalog.ts, and
 * the check `instances.insert` makes of `resource.machineType`.
 */
import { invalidField, notFound } from "../http/errors";
import { sendJson } from "../http/io";
import type { Router } from "../http/router";
import { listResponse } from "./common";
import { stableNumber } from "./ids";
import { listPage } from "./listing";
import {
  lookUpMachineType,
  predefinedMachineTypes,
  type MachineTypeShape,
} from "./machineTypeCatalog";
import { parseZonalRef, selfLink } from "./urls";

const BASE = "/compute/v1/projects/:project/zones/:zone/machineTypes";

/** GCE's persistent-disk limits: shared-core types take 16 disks and 3 TB, the others 128 and 257 TB. */
const DISK_LIMITS = {
  shared: { maximumPersistentDisks: 16, maximumPersistentDisksSizeGb: "3072" },
  dedicated: { maximumPersistentDisks: 128, maximumPersistentDisksSizeGb: "263168" },
} as const;

/** The `compute#machineType` resource of `shape` in `project`/`zone`. */
export function machineTypeResource(
  shape: MachineTypeShape,
  project: string,
  zone: string,
): Record<string, unknown> {
  return {
    kind: "compute#machineType",
    // GCE's machine type ids are fixed numbers, the same in every project and zone.
    id: stableNumber(shape.name),
    // GCE's predefined types carry their launch date; one fixed date stands for all of them.
    creationTimestamp: "2015-01-01T00:00:00.000-08:00",
    name: shape.name,
    description: shape.description,
    guestCpus: shape.guestCpus,
    memoryMb: shape.memoryMb,
    ...(shape.isSharedCpu ? DISK_LIMITS.shared : DISK_LIMITS.dedicated),
    // A machine type's `zone` is the zone's name, not a URL (unlike an instance's).
    zone,
    selfLink: selfLink(`projects/${project}/zones/${zone}/machineTypes/${shape.name}`),
    isSharedCpu: shape.isSharedCpu,
  };
}

/** Registers the machine type routes. */
export function registerMachineTypeRoutes(router: Router): void {
  router.add("GET", BASE, "compute.machineTypes.list", (ctx) => {
    const { project, zone } = ctx.params;
    // Like GCE's, the list holds the predefined types only; custom ones are made by naming them.
    const items = predefinedMachineTypes().map((s) => machineTypeResource(s, project, zone));
    const page = listPage(items, ctx.url.searchParams);
    sendJson(
      ctx.res,
      200,
      listResponse(
        "compute#machineTypeList",
        `projects/${project}/zones/${zone}/machineTypes`,
        page,
      ),
    );
  });
  router.add("GET", `${BASE}/:machineType`, "compute.machineTypes.get", (ctx) => {
    const { project, zone, machineType } = ctx.params;
    const found = lookUpMachineType(machineType, zone);
    if (!("shape" in found)) {
      throw notFound(`projects/${project}/zones/${zone}/machineTypes/${machineType}`);
    }
    sendJson(ctx.res, 200, machineTypeResource(found.shape, project, zone));
  });
}

/**
 * The machine type an instance insert names, given as the request gave it (`ref`, any form
 * `zonalTypeUrl` accepts); throws GCE's 400 `invalid` for a type that does not exist, echoing the
 * value as sent, as GCE does: `Invalid value for field 'resource.machineType': '<ref>'. Machine
 * type with name 'x' does not exist in zone 'z'.`
 */
export function requireMachineType(
  field: string,
  ref: string,
  project: string,
  zone: string,
): MachineTypeShape {
  const parsed = parseZonalRef(field, ref, "machineTypes", project, zone);
  const found = lookUpMachineType(parsed.name, parsed.zone);
  if ("error" in found) throw invalidField(field, ref, found.error);
  return found.shape;
}
