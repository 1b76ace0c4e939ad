/**
 * How the local engine performs each kind of registration against the emulator:
 *
 * - a dynamic resource runs through its own serialized provider, exactly as Pulumi's dynamic
 *   provider host does: `require-from-string` on `__provider`, `.handler()`, then `check` (at
 *   preview too, with the previous state's outputs as olds), `diff` against the previous state, and
 *   `create`, `update` or (old copy) `delete`;
 * - a `gcp.storage.Bucket` becomes a bucket in the emulator (with Pulumi's auto-naming), in the
 *   clients' project (the stack's `gcp:project`);
 * - components and provider resources carry no cloud state;
 * - anything else is not emulated: it is announced as such and keeps its inputs as its state, with
 *   the name and self link Compute Engine would give templates and groups; the engine diffs its
 *   inputs itself (`changes.ts`).
 */
import { randomBytes } from "node:crypto";
import * as nodeModule from "node:module";
import * as pulumi from "@pulumi/pulumi";
import type { LifecycleRule } from "@google-cloud/storage";
import type { GcpClients } from "../components/google/clients";
import { buildFileDigests, contentHashReasons, diffInputs, type Change } from "./changes";
import { resourceKey, type StoredResource } from "./engineState";
import type { HandledResource, Registration, ResourceHandler } from "./localEngine";

/** The key under which a dynamic resource carries its serialized provider. */
const PROVIDER_KEY = "__provider";

/** Where the handlers report what they do. */
export interface ResourceLog {
  /** A line for the person watching. */
  (line: string): void;
}

/** Observes dynamic resources' `create` calls (benchmarks time the build with it). */
export interface DynamicCreateTiming {
  (registration: Registration, startedAt: number, endedAt: number): void;
}

/** What the engine knew before this run, and what it learns during it. */
export interface ResourceLedger {
  /** The resources of the previous run, by {@link resourceKey}. */
  previous: Map<string, StoredResource>;
  /** The resources as this run leaves them, by key (filled by the update pass). */
  next: Map<string, StoredResource>;
  /** Old copies of replaced resources, deleted once the update pass is over. */
  replaced: StoredResource[];
  /** What the update pass did, in order. */
  steps: Step[];
  /** Names generated for auto-named resources, shared by a run's preview and update. */
  autoNames: Map<string, string>;
  /** The stack's project (`gcp:project`): where resources without their own are. */
  project: string;
  /** The stack's zone (`gcp:zone`): where zonal resources without their own are. */
  zone: string;
}

/** One thing the update pass did to one resource. */
export interface Step {
  /** What was done. `delete-replaced`: the old copy of a replaced resource, after its successor. */
  operation: "create" | "same" | "update" | "create-replacement" | "delete-replaced" | "delete";
  /** Type token. */
  type: string;
  /** Logical name. */
  name: string;
  /** Why (the inputs that changed), for updates and replacements. */
  reasons: string[];
}

/** An empty ledger for a stack's first run. */
export function newLedger(
  previous: StoredResource[],
  where: { project: string; zone: string },
): ResourceLedger {
  return {
    previous: new Map(previous.map((resource) => [resourceKey(resource), resource])),
    next: new Map(),
    replaced: [],
    steps: [],
    autoNames: new Map(),
    ...where,
  };
}

/** Builds the handler of the local engine. */
export function localResourceHandler(
  clients: GcpClients,
  log: ResourceLog,
  ledger: ResourceLedger,
  onDynamicCreate?: DynamicCreateTiming,
): ResourceHandler {
  const autoNames = ledger.autoNames;
  /** Pulumi-style auto-naming: the same name in the preview and the update, kept across runs. */
  const autoName = (key: string, prefix: string, old: StoredResource | undefined): string => {
    const oldName = old?.state.name;
    const name =
      autoNames.get(key) ??
      (typeof oldName === "string"
        ? oldName
        : `${prefix}${randomBytes(4).toString("hex").slice(0, 7)}`);
    autoNames.set(key, name);
    return name;
  };
  return async (given, preview) => {
    // Providers here do not accept secrets, so the engine hands them plain values; so does this one.
    const registration = {
      ...given,
      inputs: withoutSecretMarkers(given.inputs) as Record<string, unknown>,
    };
    const { type, name } = registration;
    if (!registration.custom || type.startsWith("pulumi:providers:")) {
      return { id: "", state: registration.inputs };
    }
    const key = resourceKey(registration);
    const old = ledger.previous.get(key);
    if (type.startsWith("pulumi-nodejs:dynamic/")) {
      return dynamicResource(registration, old, preview, ledger, log, onDynamicCreate);
    }
    const change: Change = old
      ? diffInputs(type, old.inputs ?? {}, registration.inputs)
      : { operation: "create", reasons: [] };
    if (change.operation === "same" && old) {
      if (!preview) record(ledger, { ...old }, "same", change.reasons);
      return { id: old.id, state: old.state, change };
    }
    if (type === "gcp:storage/bucket:Bucket") {
      // Auto-naming, like the engine: the logical name plus 7 random hex digits.
      const bucketName =
        (registration.inputs.name as string | undefined) ?? autoName(key, `${name}-`, old);
      const done = await bucket(
        registration,
        bucketName,
        preview || change.operation !== "create",
        clients,
        log,
      );
      if (!preview) {
        if (change.operation !== "create") {
          log(
            `  ${type} "${name}": ${change.reasons.join(", ")}; recorded (the emulator keeps buckets as they are)`,
          );
        }
        record(
          ledger,
          { type, name, id: done.id, inputs: registration.inputs, state: done.state },
          change.operation === "create" ? "create" : "update",
          change.reasons,
        );
      }
      return { ...done, change };
    }
    // Not emulated: its inputs stand in for its state, with the name and self link Compute Engine
    // would give it (unknown in a preview of a create, as in Pulumi), so dependents can follow it.
    const replacing = change.operation === "replace" || change.operation === "create";
    const computed =
      preview && replacing
        ? {}
        : computedOutputs(registration, ledger, (prefix) =>
            change.operation === "replace" ? freshName(prefix) : autoName(key, prefix, old),
          );
    const state = {
      ...registration.inputs,
      ...computed,
      ...(preview || replacing ? {} : keptOutputs(old)),
    };
    const id = typeof state.name === "string" ? state.name : `${name}-not-emulated`;
    if (!preview) {
      log(
        `  ${type} "${name}": NOT EMULATED (the emulator has images, disks, instances and buckets only); recorded${change.reasons.length ? ` (${change.reasons.join(", ")})` : ""}`,
      );
      const stored = { type, name, id, inputs: registration.inputs, state };
      if (change.operation === "replace" && old) ledger.replaced.push(old);
      record(ledger, stored, stepOf(change), change.reasons);
    }
    return { id, state, change };
  };
}

/** The step an update pass records for a change. */
function stepOf(change: Change): Step["operation"] {
  return change.operation === "replace" ? "create-replacement" : change.operation;
}

function record(
  ledger: ResourceLedger,
  stored: StoredResource,
  operation: Step["operation"],
  reasons: string[],
): void {
  ledger.next.set(resourceKey(stored), stored);
  ledger.steps.push({ operation, type: stored.type, name: stored.name, reasons });
}

/** A name for a replacement: the prefix plus a fresh suffix, as the gcp provider's `namePrefix` does. */
export function freshName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString("hex").slice(0, 7)}`;
}

/** An updated resource keeps the outputs it was created with (its name, self link). */
export function keptOutputs(old: StoredResource | undefined): Record<string, unknown> {
  if (!old) return {};
  return Object.fromEntries(
    ["name", "selfLink", "selfLinkUnique", "instanceGroup"]
      .filter((key) => old.state[key] !== undefined)
      .map((key) => [key, old.state[key]]),
  );
}

/** Where Compute Engine keeps each recorded type, for its self link. */
const COMPUTE_COLLECTIONS: Readonly<
  Record<string, { scope: "global" | "zonal"; collection: string }>
> = {
  "gcp:compute/instanceTemplate:InstanceTemplate": {
    scope: "global",
    collection: "instanceTemplates",
  },
  "gcp:compute/instanceGroupManager:InstanceGroupManager": {
    scope: "zonal",
    collection: "instanceGroupManagers",
  },
};

/** The name and self link of a recorded Compute Engine resource (none for other types). */
export function computedOutputs(
  registration: Registration,
  ledger: Pick<ResourceLedger, "project" | "zone">,
  nameFrom: (prefix: string) => string,
): Record<string, unknown> {
  const where = COMPUTE_COLLECTIONS[registration.type];
  if (!where) return {};
  const inputs = registration.inputs;
  const resourceName =
    typeof inputs.name === "string"
      ? inputs.name
      : nameFrom(
          typeof inputs.namePrefix === "string" ? inputs.namePrefix : `${registration.name}-`,
        );
  const project = typeof inputs.project === "string" ? inputs.project : ledger.project;
  const zone = typeof inputs.zone === "string" ? inputs.zone : ledger.zone;
  const scope = where.scope === "global" ? "global" : `zones/${zone}`;
  const selfLink = `https://www.googleapis.com/compute/v1/projects/${project}/${scope}/${where.collection}/${resourceName}`;
  return {
    name: resourceName,
    selfLink,
    ...(where.collection === "instanceTemplates"
      ? { selfLinkUnique: `${selfLink}?uniqueId=${BigInt(`0x${randomBytes(6).toString("hex")}`)}` }
      : {}),
    ...(where.collection === "instanceGroupManagers"
      ? { instanceGroup: selfLink.replace("instanceGroupManagers", "instanceGroups") }
      : {}),
  };
}

/**
 * Deletes a resource the program no longer has, or the old copy of a replaced one: a dynamic one
 * through its own provider's `delete`, a bucket in the emulator; others are only forgotten.
 */
export async function deleteResource(
  resource: StoredResource,
  clients: GcpClients,
  log: ResourceLog,
): Promise<void> {
  const { type, name } = resource;
  if (type.startsWith("pulumi-nodejs:dynamic/")) {
    const serialized = resource.state[PROVIDER_KEY];
    if (typeof serialized !== "string") {
      throw new Error(`${type} "${name}" in the state carries no serialized provider`);
    }
    const provider = deserializeProvider(serialized);
    log(`  ${type} "${name}": deleting ${resource.id} (this runs the provider's delete)`);
    await provider.delete?.(resource.id, resource.state);
    return;
  }
  if (type === "gcp:storage/bucket:Bucket") {
    log(`  ${type} "${name}": deleting gs://${resource.id} in the emulator`);
    await clients.storage.bucket(resource.id).delete({ ignoreNotFound: true });
    return;
  }
  log(`  ${type} "${name}": deleted ${resource.id} (recorded; not emulated)`);
}

/** `value` with every secret marker of Pulumi's wire format replaced by the value it wraps. */
export function withoutSecretMarkers(value: unknown): unknown {
  if (pulumi.runtime.isRpcSecret(value)) {
    return withoutSecretMarkers(pulumi.runtime.unwrapRpcSecret(value) as unknown);
  }
  if (Array.isArray(value)) return value.map(withoutSecretMarkers);
  if (
    typeof value === "object" &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, withoutSecretMarkers(child)]),
    );
  }
  return value;
}

/** The provider as Pulumi's dynamic provider host deserializes it. */
function deserializeProvider(serialized: string): pulumi.dynamic.ResourceProvider {
  // The same require-from-string that @pulumi/pulumi's dynamic provider host uses.
  const fromPulumi = nodeModule.createRequire(require.resolve("@pulumi/pulumi/package.json"));
  const requireFromString = fromPulumi("require-from-string") as (code: string) => {
    handler(): pulumi.dynamic.ResourceProvider;
  };
  return requireFromString(serialized).handler();
}

async function dynamicResource(
  registration: Registration,
  old: StoredResource | undefined,
  preview: boolean,
  ledger: ResourceLedger,
  log: ResourceLog,
  onCreate?: DynamicCreateTiming,
): Promise<HandledResource> {
  const { type, name, inputs } = registration;
  const serialized = inputs[PROVIDER_KEY];
  if (typeof serialized !== "string") {
    throw new Error(`${type} "${name}" carries no serialized provider (${PROVIDER_KEY})`);
  }
  const provider = deserializeProvider(serialized);
  const check = async (olds: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const checked: pulumi.dynamic.CheckResult = provider.check
      ? await provider.check(olds, inputs)
      : { inputs };
    if (checked.failures?.length) {
      const reasons = checked.failures.map((f) => `  ${f.property}: ${f.reason}`).join("\n");
      throw new Error(`${type} "${name}" failed its check:\n${reasons}`);
    }
    return {
      ...((checked.inputs as Record<string, unknown> | undefined) ?? inputs),
      [PROVIDER_KEY]: serialized,
    };
  };
  let checkedInputs = await check(old?.state ?? {});
  const files = type.endsWith(":ImageBuild") ? await buildFileDigests(checkedInputs) : undefined;
  const change = old
    ? await dynamicChange(provider, old, checkedInputs, files)
    : ({ operation: "create", reasons: [] } satisfies Change);
  if (change.operation === "replace" && !change.deleteBeforeReplace) {
    // As the engine does: a replacement is checked again without the old state, so that a
    // generated name is fresh (old and new exist side by side until the old one is deleted).
    checkedInputs = await check({});
  }
  if (preview) {
    if (old && change.operation === "same") return { id: old.id, state: old.state, change };
    if (old && change.operation === "update") {
      return { id: old.id, state: { ...old.state, ...checkedInputs }, change };
    }
    return { id: "", state: checkedInputs, change };
  }

  const stored = (id: string, outs: Record<string, unknown>): StoredResource => ({
    type,
    name,
    id,
    state: { ...outs, [PROVIDER_KEY]: serialized },
    ...(files ? { files } : {}),
  });
  if (old && change.operation === "same") {
    record(ledger, { ...old, ...(files ? { files } : {}) }, "same", []);
    return { id: old.id, state: old.state, change };
  }
  if (old && change.operation === "update") {
    log(`  ${type} "${name}": updating (${change.reasons.join(", ")})`);
    const updated = provider.update
      ? await provider.update(old.id, old.state, checkedInputs)
      : { outs: checkedInputs };
    const outs = { ...old.state, ...((updated.outs as Record<string, unknown> | undefined) ?? {}) };
    const resource = stored(old.id, outs);
    record(ledger, resource, "update", change.reasons);
    return { id: old.id, state: resource.state, change };
  }
  if (old && change.operation === "replace") {
    if (change.deleteBeforeReplace) {
      log(`  ${type} "${name}": replacing, the old one first (${change.reasons.join(", ")})`);
      await provider.delete?.(old.id, old.state);
      ledger.steps.push({ operation: "delete-replaced", type, name, reasons: change.reasons });
    } else {
      ledger.replaced.push(old);
      log(
        `  ${type} "${name}": replacing (${change.reasons.join(", ")}); the old one goes at the end`,
      );
    }
  }
  log(`  ${type} "${name}": creating (this runs the provider's create)`);
  const startedAt = Date.now();
  const created: pulumi.dynamic.CreateResult = await provider.create(checkedInputs);
  onCreate?.(registration, startedAt, Date.now());
  const resource = stored(created.id, (created.outs as Record<string, unknown> | undefined) ?? {});
  record(ledger, resource, stepOf(change), change.reasons);
  return { id: created.id, state: resource.state, change };
}

/** A dynamic resource's change, from its own provider's `diff` (as the engine asks it). */
async function dynamicChange(
  provider: pulumi.dynamic.ResourceProvider,
  old: StoredResource,
  news: Record<string, unknown>,
  files: Record<string, string> | undefined,
): Promise<Change> {
  const olds = old.state;
  if (!provider.diff) return diffInputs(old.type, olds, news);
  const diff = await provider.diff(old.id, olds, news);
  if (diff.changes === false) return { operation: "same", reasons: [] };
  const replaces = diff.replaces ?? [];
  const explain = (key: string): string[] =>
    key === "contentHash" && files
      ? contentHashReasons(olds, news, old.files, files)
      : [`${key} changed`];
  if (replaces.length > 0) {
    return {
      operation: "replace",
      reasons: replaces.flatMap(explain),
      deleteBeforeReplace: diff.deleteBeforeReplace ?? false,
    };
  }
  const changed = diffInputs(old.type, olds, news).reasons;
  return {
    operation: "update",
    reasons: changed.length > 0 ? changed : ["the provider reports a change"],
  };
}

/** A lifecycle rule as `gcp.storage.Bucket` takes it. */
interface BucketLifecycleRule {
  action?: { type?: LifecycleRule["action"]["type"] };
  condition?: { age?: number };
}

/** A `gcp.storage.Bucket` made in the emulator (planned only, when `preview`), and its outputs. */
export async function bucket(
  registration: Registration,
  bucketName: string,
  preview: boolean,
  clients: GcpClients,
  log: ResourceLog,
): Promise<HandledResource> {
  const inputs = registration.inputs;
  const state = {
    ...inputs,
    name: bucketName,
    url: `gs://${bucketName}`,
    selfLink: `https://www.googleapis.com/storage/v1/b/${bucketName}`,
  };
  if (preview) return { id: bucketName, state };
  const rules = (inputs.lifecycleRules as BucketLifecycleRule[] | undefined) ?? [];
  await clients.storage.createBucket(bucketName, {
    ...(typeof inputs.location === "string" ? { location: inputs.location } : {}),
    ...(inputs.labels ? { labels: inputs.labels as Record<string, string> } : {}),
    ...(rules.length
      ? {
          lifecycle: {
            rule: rules.map((rule) => ({
              action: { type: rule.action?.type ?? "Delete" },
              condition: {
                ...(rule.condition?.age !== undefined ? { age: rule.condition.age } : {}),
              },
            })),
          },
        }
      : {}),
  });
  log(
    `  gcp:storage/bucket:Bucket "${registration.name}": created gs://${bucketName} in the emulator`,
  );
  return { id: bucketName, state };
}
