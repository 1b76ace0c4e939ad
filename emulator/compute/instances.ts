/**
 * `instances.*`: insert, get, list, stop, delete, setMetadata, setLabels, attachDisk, detachDisk,
 * getSerialPortOutput, getGuestAttributes.
 */
import {
  alreadyExists,
  invalid,
  invalidField,
  notFound,
  required,
  resourceInUse,
  resourceNotReady,
} from "../http/errors";
import { readJsonObject, sendJson } from "../http/io";
import type { RequestContext, Router } from "../http/router";
import {
  listResponse,
  replayed,
  requireFingerprint,
  setLabels,
  startFingerprintedUpdate,
  startOperation,
  stringList,
} from "./common";
import type { ComputeDeps } from "./deps";
import { discardDisk, prepareDisk } from "./disks";
import { projectNumber } from "./ids";
import { InstanceMetadata } from "./instanceMetadata";
import { listPage } from "./listing";
import { requireMachineType } from "./machineTypes";
import { OperationFailure } from "./operations";
import {
  InstanceRecord,
  type AccessConfig,
  type AttachedDisk,
  type DiskRecord,
  type NetworkInterface,
  type Scheduling,
} from "./resources";
import { parseZonalRef, selfLink, stripComputePrefix, zonalTypeUrl } from "./urls";
import {
  optionalInt,
  optionalString,
  requiredString,
  validateLabels,
  validateMetadataItems,
  validateName,
} from "./validation";

const BASE = "/compute/v1/projects/:project/zones/:zone/instances";

/** Registers the instance routes. */
export function registerInstanceRoutes(router: Router, deps: ComputeDeps): void {
  router.add("POST", BASE, "compute.instances.insert", (ctx) => insertInstance(ctx, deps));
  router.add("GET", BASE, "compute.instances.list", (ctx) => {
    const { project, zone } = ctx.params;
    const items = deps.state.instancesIn(project, zone).map((i) => i.record.toJSON());
    const page = listPage(items, ctx.url.searchParams);
    sendJson(
      ctx.res,
      200,
      listResponse("compute#instanceList", `projects/${project}/zones/${zone}/instances`, page),
    );
  });
  const one = `${BASE}/:instance`;
  router.add("GET", one, "compute.instances.get", (ctx) => {
    sendJson(ctx.res, 200, runtimeOf(ctx, deps).record.toJSON());
  });
  router.add("DELETE", one, "compute.instances.delete", (ctx) =>
    simpleInstanceOp(ctx, deps, "delete", (rt) => rt.delete()),
  );
  router.add("POST", `${one}/stop`, "compute.instances.stop", (ctx) =>
    simpleInstanceOp(ctx, deps, "stop", (rt) => rt.stop()),
  );
  router.add("POST", `${one}/setMetadata`, "compute.instances.setMetadata", (ctx) =>
    setMetadata(ctx, deps),
  );
  router.add("POST", `${BASE}/:resource/setLabels`, "compute.instances.setLabels", async (ctx) => {
    const { project, zone, resource } = ctx.params;
    await setLabels(
      ctx,
      deps,
      { project, zone },
      deps.state.instance(project, zone, resource).record,
    );
  });
  router.add("POST", `${one}/attachDisk`, "compute.instances.attachDisk", (ctx) =>
    attachDisk(ctx, deps),
  );
  router.add("POST", `${one}/detachDisk`, "compute.instances.detachDisk", (ctx) =>
    detachDisk(ctx, deps),
  );
  router.add("POST", `${one}/setDiskAutoDelete`, "compute.instances.setDiskAutoDelete", (ctx) =>
    setDiskAutoDelete(ctx, deps),
  );
  router.add("GET", `${one}/serialPort`, "compute.instances.getSerialPortOutput", (ctx) =>
    getSerialPortOutput(ctx, deps),
  );
  router.add("GET", `${one}/getGuestAttributes`, "compute.instances.getGuestAttributes", (ctx) =>
    getGuestAttributes(ctx, deps),
  );
}

function runtimeOf(ctx: RequestContext, deps: ComputeDeps) {
  const { project, zone, instance } = ctx.params;
  return deps.state.instance(project, zone, instance);
}

async function insertInstance(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const body = await readJsonObject(ctx.req);
  const name = validateName("resource.name", body.name);
  const path = `projects/${project}/zones/${zone}/instances/${name}`;
  if (deps.state.instances.has(path)) throw alreadyExists(path);
  const machineTypeRef = requiredString("resource.machineType", body.machineType);
  const machineType = zonalTypeUrl(
    "resource.machineType",
    machineTypeRef,
    "machineTypes",
    project,
    zone,
  );
  // Before anything exists (no disk, no operation), as GCE refuses an unknown type at once.
  requireMachineType("resource.machineType", machineTypeRef, project, zone);
  const metadataBody = (body.metadata ?? {}) as Record<string, unknown>;
  const metadata = new InstanceMetadata(
    validateMetadataItems("resource.metadata.items", metadataBody.items),
  );
  const record = new InstanceRecord(project, zone, name, machineType, metadata);
  record.description = optionalString("resource.description", body.description);
  record.labels = validateLabels("resource.labels", body.labels);
  record.guestAccelerators = accelerators(body.guestAccelerators, project, zone);
  record.scheduling = scheduling(body.scheduling, record.guestAccelerators.length > 0);
  record.serviceAccounts = serviceAccounts(body.serviceAccounts, project);
  record.networkInterfaces = networkInterfaces(body.networkInterfaces, project, zone);
  const tags = (body.tags ?? {}) as Record<string, unknown>;
  const tagItems = stringList("resource.tags.items", tags.items);
  if (tagItems.length) record.tags.items = tagItems;

  const { attachments, creations } = planDisks(body.disks, record, deps);
  const runtime = await deps.createInstanceRuntime(record);
  for (const attached of attachments) runtime.attach(attached);
  deps.state.instances.set(path, runtime);

  startOperation(ctx, deps, { project, zone }, "insert", record, async () => {
    const results = await Promise.allSettled(creations.map((c) => c.create()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      await runtime.dispose(false);
      for (const c of creations) await discardDisk(deps, c.disk);
      throw failed.reason;
    }
    await runtime.bringUp();
  });
}

/** Validates `resource.disks`, registering inline disks; returns the attachments and pending creations. */
function planDisks(
  value: unknown,
  record: InstanceRecord,
  deps: ComputeDeps,
): {
  attachments: AttachedDisk[];
  creations: Array<{ disk: DiskRecord; create: () => Promise<void> }>;
} {
  if (!Array.isArray(value) || value.length === 0) throw required("resource.disks");
  const { project, zone } = record;
  const entries = value as Array<Record<string, unknown>>;
  const anyBoot = entries.some((d) => d.boot === true);
  const existing: Array<{
    spec: Record<string, unknown>;
    disk: DiskRecord;
    field: string;
    index: number;
  }> = [];
  const inline: Array<{ spec: Record<string, unknown>; field: string; index: number }> = [];
  entries.forEach((spec, index) => {
    const field = `resource.disks[${index}]`;
    if (spec.source) {
      const ref = parseZonalRef(
        `${field}.source`,
        requiredString(`${field}.source`, spec.source),
        "disks",
        project,
        zone,
      );
      const disk = deps.state.disk(ref.project, ref.zone, ref.name);
      if (disk.status !== "READY") throw resourceNotReady(disk.path);
      if (disk.users.length > 0 && (spec.mode ?? "READ_WRITE") === "READ_WRITE") {
        throw resourceInUse(disk.path, stripComputePrefix(disk.users[0]));
      }
      existing.push({ spec, disk, field, index });
    } else if (spec.initializeParams) {
      inline.push({ spec, field, index });
    } else {
      throw invalid(
        `Invalid value for field '${field}': either 'source' or 'initializeParams' must be specified.`,
      );
    }
  });

  const creations: Array<{ disk: DiskRecord; create: () => Promise<void> }> = [];
  const attachments: AttachedDisk[] = [];
  const deviceNames = new Set<string>();
  const attach = (
    spec: Record<string, unknown>,
    disk: DiskRecord,
    field: string,
    index: number,
  ): void => {
    const deviceName = optionalString(`${field}.deviceName`, spec.deviceName) ?? disk.name;
    if (deviceNames.has(deviceName))
      throw invalid(
        `Invalid value for field '${field}.deviceName': '${deviceName}'. Device names must be unique.`,
      );
    deviceNames.add(deviceName);
    const mode = (optionalString(`${field}.mode`, spec.mode) ??
      "READ_WRITE") as AttachedDisk["mode"];
    if (mode !== "READ_WRITE" && mode !== "READ_ONLY")
      throw invalidField(`${field}.mode`, mode, "Must be READ_WRITE or READ_ONLY.");
    attachments.push({
      disk,
      deviceName,
      index,
      boot: anyBoot ? spec.boot === true : index === 0,
      autoDelete: spec.autoDelete === true,
      mode,
      interface: optionalString(`${field}.interface`, spec.interface) ?? "SCSI",
    });
  };
  try {
    for (const { spec, field, index } of inline) {
      const params = spec.initializeParams as Record<string, unknown>;
      const defaultName =
        index === 0 || spec.boot === true ? record.name : `${record.name}-${index}`;
      const diskName =
        params.diskName === undefined
          ? defaultName
          : validateName(`${field}.initializeParams.diskName`, params.diskName);
      const creation = prepareDisk(
        deps,
        project,
        zone,
        {
          name: diskName,
          sizeGb: optionalInt(`${field}.initializeParams.diskSizeGb`, params.diskSizeGb),
          type: optionalString(`${field}.initializeParams.diskType`, params.diskType),
          sourceImage: optionalString(`${field}.initializeParams.sourceImage`, params.sourceImage),
          labels: validateLabels(`${field}.initializeParams.labels`, params.labels),
          description: optionalString(`${field}.initializeParams.description`, params.description),
        },
        `${field}.initializeParams`,
      );
      creations.push(creation);
      attach(spec, creation.disk, field, index);
    }
    for (const { spec, disk, field, index } of existing) attach(spec, disk, field, index);
  } catch (err) {
    // Forget inline disks registered before the failing entry.
    for (const c of creations) deps.state.disks.delete(c.disk.path);
    throw err;
  }
  attachments.sort((a, b) => a.index - b.index);
  if (!attachments.some((a) => a.boot))
    throw invalid("Invalid value for field 'resource.disks': the instance needs a boot disk.");
  return { attachments, creations };
}

function accelerators(
  value: unknown,
  project: string,
  zone: string,
): InstanceRecord["guestAccelerators"] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw invalidField("resource.guestAccelerators", value, "Must be a list.");
  return (value as Array<Record<string, unknown>>).map((a, i) => {
    const field = `resource.guestAccelerators[${i}]`;
    const count = optionalInt(`${field}.acceleratorCount`, a.acceleratorCount) ?? 1;
    if (count < 1) throw invalidField(`${field}.acceleratorCount`, count, "Must be at least 1.");
    return {
      acceleratorType: zonalTypeUrl(
        `${field}.acceleratorType`,
        requiredString(`${field}.acceleratorType`, a.acceleratorType),
        "acceleratorTypes",
        project,
        zone,
      ),
      acceleratorCount: count,
    };
  });
}

function scheduling(value: unknown, hasAccelerators: boolean): Scheduling {
  const s = (value ?? {}) as Record<string, unknown>;
  const model =
    optionalString("resource.scheduling.provisioningModel", s.provisioningModel) ?? "STANDARD";
  if (model !== "STANDARD" && model !== "SPOT") {
    throw invalidField("resource.scheduling.provisioningModel", model, "Must be STANDARD or SPOT.");
  }
  const preemptible = s.preemptible === true;
  const spotLike = model === "SPOT" || preemptible;
  const onHostMaintenance =
    optionalString("resource.scheduling.onHostMaintenance", s.onHostMaintenance) ??
    (spotLike || hasAccelerators ? "TERMINATE" : "MIGRATE");
  if (onHostMaintenance !== "MIGRATE" && onHostMaintenance !== "TERMINATE") {
    throw invalidField(
      "resource.scheduling.onHostMaintenance",
      onHostMaintenance,
      "Must be MIGRATE or TERMINATE.",
    );
  }
  if (hasAccelerators && onHostMaintenance !== "TERMINATE") {
    throw invalid("Instances with guest accelerators do not support live migration.");
  }
  if (spotLike && onHostMaintenance !== "TERMINATE") {
    throw invalid(
      "Scheduling must have onHostMaintenance set to TERMINATE for preemptible or Spot instances.",
    );
  }
  const automaticRestart =
    s.automaticRestart === undefined ? !spotLike : s.automaticRestart === true;
  if (spotLike && automaticRestart) {
    throw invalid(
      "Scheduling must have automaticRestart set to false for preemptible or Spot instances.",
    );
  }
  const out: Scheduling = {
    onHostMaintenance,
    automaticRestart,
    preemptible,
    provisioningModel: model,
  };
  const action = optionalString(
    "resource.scheduling.instanceTerminationAction",
    s.instanceTerminationAction,
  );
  if (action !== undefined) out.instanceTerminationAction = action;
  if (s.maxRunDuration !== undefined) out.maxRunDuration = s.maxRunDuration;
  return out;
}

function serviceAccounts(value: unknown, project: string): InstanceRecord["serviceAccounts"] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw invalidField("resource.serviceAccounts", value, "Must be a list.");
  return (value as Array<Record<string, unknown>>).map((a, i) => {
    const email = optionalString(`resource.serviceAccounts[${i}].email`, a.email) ?? "default";
    return {
      email:
        email === "default"
          ? `${projectNumber(project)}-compute@developer.gserviceaccount.com`
          : email,
      scopes: stringList(`resource.serviceAccounts[${i}].scopes`, a.scopes),
    };
  });
}

function networkInterfaces(value: unknown, project: string, zone: string): NetworkInterface[] {
  const list = value === undefined || value === null ? [{}] : value;
  if (!Array.isArray(list))
    throw invalidField("resource.networkInterfaces", value, "Must be a list.");
  const region = zone.replace(/-[a-z]$/, "");
  return (list as Array<Record<string, unknown>>).map((nic, i) => {
    const field = `resource.networkInterfaces[${i}]`;
    const networkRef = optionalString(`${field}.network`, nic.network) ?? "default";
    const network = networkUrl(networkRef, project, "networks");
    const subnetworkRef = optionalString(`${field}.subnetwork`, nic.subnetwork);
    const subnetwork = subnetworkRef ? subnetworkUrl(subnetworkRef, project, region) : undefined;
    const accessConfigs = Array.isArray(nic.accessConfigs)
      ? (nic.accessConfigs as Array<Record<string, unknown>>).map((ac, j): AccessConfig => ({
          kind: "compute#accessConfig",
          type: optionalString(`${field}.accessConfigs[${j}].type`, ac.type) ?? "ONE_TO_ONE_NAT",
          name: optionalString(`${field}.accessConfigs[${j}].name`, ac.name) ?? "External NAT",
          natIP: `203.0.113.${(i * 8 + j + 10) % 250}`,
          networkTier:
            optionalString(`${field}.accessConfigs[${j}].networkTier`, ac.networkTier) ?? "PREMIUM",
        }))
      : undefined;
    return {
      kind: "compute#networkInterface",
      name: `nic${i}`,
      network,
      ...(subnetwork ? { subnetwork } : {}),
      networkIP: `10.128.0.${i + 2}`,
      ...(accessConfigs ? { accessConfigs } : {}),
      fingerprint: Buffer.from(`nic${i}`).toString("base64"),
      stackType: "IPV4_ONLY",
    };
  });
}

function networkUrl(ref: string, project: string, collection: string): string {
  const path = stripComputePrefix(ref);
  if (/^projects\/[^/]+\/global\//.test(path)) return selfLink(path);
  if (path.startsWith("global/")) return selfLink(`projects/${project}/${path}`);
  return selfLink(`projects/${project}/global/${collection}/${path}`);
}

function subnetworkUrl(ref: string, project: string, region: string): string {
  const path = stripComputePrefix(ref);
  if (/^projects\/[^/]+\/regions\//.test(path)) return selfLink(path);
  if (path.startsWith("regions/")) return selfLink(`projects/${project}/${path}`);
  return selfLink(`projects/${project}/regions/${region}/subnetworks/${path}`);
}

/** An operation whose work is one runtime method (stop, delete). */
function simpleInstanceOp(
  ctx: RequestContext,
  deps: ComputeDeps,
  type: string,
  work: (rt: ReturnType<typeof runtimeOf>) => Promise<void>,
): void {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const runtime = runtimeOf(ctx, deps);
  startOperation(ctx, deps, { project, zone }, type, runtime.record, () => work(runtime));
}

async function setMetadata(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const runtime = runtimeOf(ctx, deps);
  const body = await readJsonObject(ctx.req);
  const items = validateMetadataItems("metadata.items", body.items);
  const metadata = runtime.record.metadata;
  requireFingerprint(body.fingerprint, metadata.fingerprint, "metadata");
  startFingerprintedUpdate(ctx, deps, { project, zone }, "setMetadata", runtime.record, {
    what: "Metadata",
    fingerprint: () => metadata.fingerprint,
    apply: () => metadata.replace(items),
  });
}

async function attachDisk(ctx: RequestContext, deps: ComputeDeps): Promise<void> {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const runtime = runtimeOf(ctx, deps);
  const body = await readJsonObject(ctx.req);
  const ref = parseZonalRef(
    "attachedDiskResource.source",
    requiredString("attachedDiskResource.source", body.source),
    "disks",
    project,
    zone,
  );
  if (ref.zone !== zone)
    throw invalid(`Disk '${ref.name}' must be in zone ${zone} to attach to this instance.`);
  const disk = deps.state.disk(ref.project, ref.zone, ref.name);
  if (disk.status !== "READY") throw resourceNotReady(disk.path);
  const mode = (optionalString("attachedDiskResource.mode", body.mode) ??
    "READ_WRITE") as AttachedDisk["mode"];
  if (disk.users.includes(runtime.record.selfLink))
    throw invalid(`The disk '${disk.path}' is already attached to this instance.`);
  if (disk.users.length > 0 && mode === "READ_WRITE")
    throw resourceInUse(disk.path, stripComputePrefix(disk.users[0]));
  const deviceName =
    optionalString("attachedDiskResource.deviceName", body.deviceName) ?? disk.name;
  if (runtime.record.disks.some((d) => d.deviceName === deviceName)) {
    throw invalid(
      `Invalid value for field 'attachedDiskResource.deviceName': '${deviceName}'. Device name already in use.`,
    );
  }
  const attached: AttachedDisk = {
    disk,
    deviceName,
    index: runtime.nextDiskIndex(),
    boot: body.boot === true,
    autoDelete: body.autoDelete === true,
    mode,
    interface: optionalString("attachedDiskResource.interface", body.interface) ?? "SCSI",
  };
  // Claim the disk now so a concurrent attach elsewhere is refused, as GCE does.
  disk.users.push(runtime.record.selfLink);
  startOperation(ctx, deps, { project, zone }, "attachDisk", runtime.record, async () => {
    await deps.latency.wait("diskAttach");
    disk.users = disk.users.filter((u) => u !== runtime.record.selfLink);
    if (deps.state.instances.get(runtime.record.path) !== runtime) {
      throw new OperationFailure(
        "RESOURCE_NOT_FOUND",
        `The resource '${runtime.record.path}' was not found`,
        404,
      );
    }
    runtime.attach(attached);
  });
}

function detachDisk(ctx: RequestContext, deps: ComputeDeps): void {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const runtime = runtimeOf(ctx, deps);
  const deviceName = ctx.url.searchParams.get("deviceName");
  if (!deviceName) throw required("deviceName");
  const attached = runtime.record.disks.find((d) => d.deviceName === deviceName);
  if (!attached)
    throw invalid(
      `Invalid value for field 'deviceName': '${deviceName}'. No attached disk found with that device name.`,
    );
  if (attached.boot && runtime.record.status === "RUNNING") {
    throw invalid("The boot disk of a running instance cannot be detached.");
  }
  startOperation(ctx, deps, { project, zone }, "detachDisk", runtime.record, async () => {
    await deps.latency.wait("diskAttach");
    runtime.detach(deviceName);
  });
}

/** `setDiskAutoDelete?autoDelete=<bool>&deviceName=<name>`: whether the disk goes with the instance. */
function setDiskAutoDelete(ctx: RequestContext, deps: ComputeDeps): void {
  const { project, zone } = ctx.params;
  if (replayed(ctx, deps, project)) return;
  const runtime = runtimeOf(ctx, deps);
  const query = ctx.url.searchParams;
  const deviceName = query.get("deviceName");
  if (!deviceName) throw required("deviceName");
  const autoDelete = query.get("autoDelete");
  if (autoDelete !== "true" && autoDelete !== "false") throw required("autoDelete");
  const attached = runtime.record.disks.find((d) => d.deviceName === deviceName);
  if (!attached)
    throw invalid(
      `Invalid value for field 'deviceName': '${deviceName}'. No attached disk found with that device name.`,
    );
  // A metadata-only change of the instance, timed like setMetadata (it used to take no time here,
  // which flattered a build that waits for it).
  startOperation(ctx, deps, { project, zone }, "setDiskAutoDelete", runtime.record, async () => {
    await deps.latency.wait("metadataUpdate");
    attached.autoDelete = autoDelete === "true";
  });
}

function getSerialPortOutput(ctx: RequestContext, deps: ComputeDeps): void {
  const runtime = runtimeOf(ctx, deps);
  const query = ctx.url.searchParams;
  const port = query.has("port") ? Number(query.get("port")) : 1;
  if (![1, 2, 3, 4].includes(port))
    throw invalidField("port", query.get("port"), "Must be in the range [1, 4].");
  const start = query.has("start") ? Number(query.get("start")) : 0;
  if (!Number.isInteger(start))
    throw invalidField("start", query.get("start"), "Must be an integer.");
  if (runtime.record.status === "TERMINATED" && !deps.serialOutputAfterStop) {
    throw resourceNotReady(runtime.record.path);
  }
  const read = runtime.serialPort(port as 1 | 2 | 3 | 4).read(start);
  sendJson(ctx.res, 200, {
    kind: "compute#serialPortOutput",
    contents: read.contents,
    start: String(read.start),
    next: String(read.next),
    selfLink: `${runtime.record.selfLink}/serialPort?port=${port}`,
  });
}

function getGuestAttributes(ctx: RequestContext, deps: ComputeDeps): void {
  const runtime = runtimeOf(ctx, deps);
  const variableKey = ctx.url.searchParams.get("variableKey");
  const queryPath = ctx.url.searchParams.get("queryPath");
  const base = {
    kind: "compute#guestAttributes",
    selfLink: `${runtime.record.selfLink}/getGuestAttributes`,
  };
  if (variableKey) {
    const value = runtime.guestAttributes.get(variableKey);
    if (value === undefined)
      throw notFound(`${runtime.record.path}/guestAttributes/${variableKey}`);
    return sendJson(ctx.res, 200, { ...base, variableKey, variableValue: value });
  }
  const prefix = (queryPath ?? "").replace(/\/?$/, queryPath ? "/" : "");
  const items = [...runtime.guestAttributes]
    .filter(([path]) => path.startsWith(prefix))
    .map(([path, value]) => {
      const [namespace, key] = path.split("/");
      return { namespace, key, value };
    });
  if (items.length === 0)
    throw notFound(`${runtime.record.path}/guestAttributes/${queryPath ?? ""}`);
  sendJson(ctx.res, 200, { ...base, queryPath: queryPath ?? "", queryValue: { items } });
}
