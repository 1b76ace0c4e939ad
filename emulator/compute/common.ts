/** Pieces shared by the images, disks and instances handlers. */
import { conditionNotMet, invalidField } from "../http/errors";
import { readJsonObject, sendJson } from "../http/io";
import type { RequestContext } from "../http/router";
import type { ComputeDeps } from "./deps";
import type { Operation, OperationScope } from "./operations";
import { OperationFailure } from "./operations";
import { validateLabels } from "./validation";

/** Sends an operation as the response of a mutation. */
export function sendOperation(ctx: RequestContext, op: Operation): void {
  sendJson(ctx.res, 200, op.toJSON());
}

/**
 * Answers a mutation with a new operation that runs `work` in the background, recorded under the
 * request's `requestId`, so that a retry of the same request is answered by {@link replayed}.
 */
export function startOperation(
  ctx: RequestContext,
  deps: ComputeDeps,
  scope: OperationScope,
  operationType: string,
  target: { selfLink: string; id: string },
  work: (op: Operation) => Promise<void>,
): void {
  const requestId = ctx.url.searchParams.get("requestId");
  sendOperation(ctx, deps.operations.start(scope, operationType, target, work, requestId));
}

/**
 * When the request carries a `requestId` already seen in this project, answers with that
 * operation and returns true (the caller then does nothing else).
 */
export function replayed(ctx: RequestContext, deps: ComputeDeps, project: string): boolean {
  const earlier = deps.operations.replay(project, ctx.url.searchParams.get("requestId"));
  if (!earlier) return false;
  sendOperation(ctx, earlier);
  return true;
}

/** Throws 412 unless `given` equals `current` (a missing fingerprint is stale too, as in GCE). */
export function requireFingerprint(given: unknown, current: string, what: string): void {
  if (given !== current) {
    throw conditionNotMet(
      `Supplied fingerprint does not match current ${what} fingerprint. Please retry the request with the current fingerprint.`,
    );
  }
}

/** Something with labels guarded by a fingerprint. */
interface Labelled {
  labels: Record<string, string>;
  labelFingerprint: string;
  selfLink: string;
  id: string;
  setLabels(labels: Record<string, string>): void;
}

/**
 * Starts an update guarded by a fingerprint (labels, metadata): the caller has checked `fingerprint()`
 * against the request's; the operation checks it again when it runs and applies the change only if
 * it did not move meanwhile, so two racing updates cannot both win (GCE's 412 for the loser).
 */
export function startFingerprintedUpdate(
  ctx: RequestContext,
  deps: ComputeDeps,
  scope: OperationScope,
  operationType: string,
  target: { selfLink: string; id: string },
  guarded: { what: "Labels" | "Metadata"; fingerprint: () => string; apply: () => void },
): void {
  const expected = guarded.fingerprint();
  startOperation(ctx, deps, scope, operationType, target, async () => {
    await deps.latency.wait("metadataUpdate");
    if (guarded.fingerprint() !== expected) {
      throw new OperationFailure(
        "CONDITION_NOT_MET",
        `${guarded.what} fingerprint changed during the update.`,
        412,
      );
    }
    guarded.apply();
  });
}

/**
 * `setLabels` for any labelled resource: validates, checks the fingerprint now, and applies the
 * labels when the operation runs (re-checking, so two racing updates cannot both win).
 */
export async function setLabels(
  ctx: RequestContext,
  deps: ComputeDeps,
  scope: OperationScope,
  resource: Labelled,
): Promise<void> {
  if (replayed(ctx, deps, scope.project)) return;
  const body = await readJsonObject(ctx.req);
  const labels = validateLabels("labels", body.labels);
  requireFingerprint(body.labelFingerprint, resource.labelFingerprint, "label");
  startFingerprintedUpdate(ctx, deps, scope, "setLabels", resource, {
    what: "Labels",
    fingerprint: () => resource.labelFingerprint,
    apply: () => resource.setLabels(labels),
  });
}

/** `{kind, id, items, nextPageToken, selfLink}` of a list response. */
export function listResponse(
  kind: string,
  collectionPath: string,
  page: { items: Array<Record<string, unknown>>; nextPageToken?: string },
): Record<string, unknown> {
  return {
    kind,
    id: collectionPath,
    ...(page.items.length ? { items: page.items } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
    selfLink: `https://www.googleapis.com/compute/v1/${collectionPath}`,
  };
}

/** Reads a JSON list of strings (absent = empty), throwing 400 otherwise. */
export function stringList(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw invalidField(field, value, "Must be a list of strings.");
  }
  return value as string[];
}
