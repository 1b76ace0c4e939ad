/**
 * How the local engine performs each kind of registration against the emulator:
 *
 * - a dynamic resource runs through its own serialized provider, exactly as Pulumi's dynamic
 *   provider host does: `require-from-string` on `__provider`, `.handler()`, then `check` (at
 *   preview too) and `create`;
 * - a `gcp.storage.Bucket` becomes a bucket in the emulator (with Pulumi's auto-naming), in the
 *   clients' project (the stack's `gcp:project`);
 * - components and provider resources carry no cloud state;
 * - anything else is not emulated: it is announced as such and keeps its inputs as its state.
 */
import { randomBytes } from "node:crypto";
import * as nodeModule from "node:module";
import * as pulumi from "@pulumi/pulumi";
import type { LifecycleRule } from "@google-cloud/storage";
import type { GcpClients } from "../components/google/clients";
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

/** Builds the handler of the local engine. */
export function localResourceHandler(
  clients: GcpClients,
  log: ResourceLog,
  onDynamicCreate?: DynamicCreateTiming,
): ResourceHandler {
  const bucketNames = new Map<string, string>();
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
    if (type.startsWith("pulumi-nodejs:dynamic/")) {
      return dynamicResource(registration, preview, log, onDynamicCreate);
    }
    if (type === "gcp:storage/bucket:Bucket") {
      // Auto-naming, like the engine: the logical name plus 7 random hex digits, the same in
      // the preview and the update.
      const key = `${type}::${name}`;
      const bucketName =
        (registration.inputs.name as string | undefined) ??
        bucketNames.get(key) ??
        `${name}-${randomBytes(4).toString("hex").slice(0, 7)}`;
      bucketNames.set(key, bucketName);
      return bucket(registration, bucketName, preview, clients, log);
    }
    if (!preview) {
      log(
        `  ${type} "${name}": NOT EMULATED (the emulator has images, disks, instances and buckets only); its inputs stand in for its state`,
      );
    }
    return { id: `${name}-not-emulated`, state: registration.inputs };
  };
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
  preview: boolean,
  log: ResourceLog,
  onCreate?: DynamicCreateTiming,
): Promise<HandledResource> {
  const { type, name, inputs } = registration;
  const serialized = inputs[PROVIDER_KEY];
  if (typeof serialized !== "string") {
    throw new Error(`${type} "${name}" carries no serialized provider (${PROVIDER_KEY})`);
  }
  const provider = deserializeProvider(serialized);
  const checked: pulumi.dynamic.CheckResult = provider.check
    ? await provider.check({}, inputs)
    : { inputs };
  if (checked.failures?.length) {
    const reasons = checked.failures.map((f) => `  ${f.property}: ${f.reason}`).join("\n");
    throw new Error(`${type} "${name}" failed its check:\n${reasons}`);
  }
  const checkedInputs: Record<string, unknown> = {
    ...((checked.inputs as Record<string, unknown> | undefined) ?? inputs),
    [PROVIDER_KEY]: serialized,
  };
  if (preview) return { id: "", state: checkedInputs };

  log(`  ${type} "${name}": creating (this runs the provider's create)`);
  const startedAt = Date.now();
  const created: pulumi.dynamic.CreateResult = await provider.create(checkedInputs);
  onCreate?.(registration, startedAt, Date.now());
  const outs = (created.outs as Record<string, unknown> | undefined) ?? {};
  return { id: created.id, state: { ...outs, [PROVIDER_KEY]: serialized } };
}

/** A lifecycle rule as `gcp.storage.Bucket` takes it. */
interface BucketLifecycleRule {
  action?: { type?: LifecycleRule["action"]["type"] };
  condition?: { age?: number };
}

async function bucket(
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
