import { createHash, pbkdf2Sync } from "node:crypto";
import { PROTOCOL_VERSION } from "../guest/protocol";
import type { BuildSpec } from "./spec";

/**
 * The content hash decides rebuilds: it covers everything that shapes the image and nothing that
 * does not (labels are updated in place; the VM's network, the bucket or the timeout change how a
 * build runs, not what it makes). It is computed at every preview without packing anything.
 *
 * Secret values (environment values, registry credentials) enter only through a slow, salted digest,
 * so that the hash in Pulumi state reveals nothing practical about them.
 */

/** What the hash covers, besides the spec: the resolved source and the build context's content. */
export interface HashedFacts {
  /** Resolved source image, as a partial URL. */
  sourceImage: string;
  /** The source image's numeric id: a recreated image of the same name is another image. */
  sourceImageId: string;
  /** Content hash of the build context and extra files (`hashCidataInputs`). */
  contextHash: string;
  /**
   * Content hash of the code that runs in the guest (the provisioner, the cloud-config template,
   * the start script): a package upgrade that changes them rebuilds the images at the next `up`.
   */
  guestCodeHash: string;
}

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/** PBKDF2 work factor of the secrets digest: slow enough to make guessing short secrets costly. */
export const SECRETS_DIGEST_ITERATIONS = 100_000;

/** A salted, slow digest of every environment value and registry credential of the steps. */
export function secretsDigest(spec: Pick<BuildSpec, "steps" | "ownerId">): string {
  const material = spec.steps.map((step) =>
    step.type === "runScript"
      ? step.env
      : step.type === "preloadImages"
        ? step.credentials.map((c) => [c.registry, c.username, c.password])
        : null,
  );
  const salt = `preloaded-cos-image/${spec.ownerId}`;
  return pbkdf2Sync(
    canonicalJson(material),
    salt,
    SECRETS_DIGEST_ITERATIONS,
    32,
    "sha256",
  ).toString("hex");
}

/** The steps with secret values replaced by their variable names: safe to hash in the clear and to show. */
export function redactedSteps(spec: Pick<BuildSpec, "steps">): unknown[] {
  return spec.steps.map((step) => {
    if (step.type === "runScript") return { ...step, env: Object.keys(step.env).sort() };
    if (step.type === "preloadImages") {
      return { ...step, credentials: step.credentials.map((c) => c.registry) };
    }
    return step;
  });
}

/** The content hash (hex sha256) of a build. */
export function contentHashOf(spec: BuildSpec, facts: HashedFacts): string {
  const shape = {
    protocol: PROTOCOL_VERSION,
    source: { image: facts.sourceImage, id: facts.sourceImageId },
    context: facts.contextHash,
    guestCode: facts.guestCodeHash,
    steps: redactedSteps(spec),
    secrets: secretsDigest(spec),
    image: {
      project: spec.image.project,
      family: spec.image.family ?? null,
      description: spec.image.description ?? null,
      licenses: spec.image.licenses,
      storageLocations: spec.image.storageLocations,
      guestOsFeatures: [...spec.image.guestOsFeatures].sort(),
      diskSizeGb: spec.image.diskSizeGb,
    },
    // The GPU the driver is installed and verified with shapes the image.
    gpu: spec.vm.gpu ?? null,
  };
  return createHash("sha256").update(canonicalJson(shape)).digest("hex");
}
