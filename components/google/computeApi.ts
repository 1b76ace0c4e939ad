import { randomUUID } from "node:crypto";
import type { protos } from "@google-cloud/compute";
import type { GcpClients } from "./clients";
import { Deadline } from "./deadline";
import { OperationError, apiMessage } from "./errors";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";
import type { Progress } from "../pipeline/progress";

/** A Compute Engine operation. */
export type Operation = protos.google.cloud.compute.v1.IOperation;

/** Where an operation lives: zonal operations have a zone, global ones do not. */
export interface OperationScope {
  project: string;
  zone?: string;
}

/** The longest a single `operations.wait` call blocks (GCE returns after about two minutes anyway). */
const WAIT_CALL_CAP_MS = 150_000;

/**
 * The Compute Engine calls of a build, with the API hygiene Google recommends: reads and mutations
 * retried on transient errors with jittered backoff, mutations carrying a `requestId` that stays
 * the same across retries (so a retry never creates a second resource), and operations awaited with
 * the server-side `wait` call in a loop instead of tight polling. Everything stops at the deadline.
 */
export class ComputeApi {
  constructor(
    readonly clients: GcpClients,
    readonly deadline: Deadline,
    /** Where retries and warnings of the calls are reported. */
    readonly progress: Progress,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  /** The same API with another deadline (cleanup after the build's own deadline has passed). */
  withDeadline(deadline: Deadline): ComputeApi {
    return new ComputeApi(this.clients, deadline, this.progress, this.retry);
  }

  /**
   * Call options for one request: never longer than the deadline. (The client library may also retry
   * idempotent reads on UNAVAILABLE by itself; our own retries cover everything else.)
   */
  callOptions(capMs = 60_000): { timeout: number } {
    return { timeout: Math.max(1_000, Math.min(capMs, this.deadline.remainingMs())) };
  }

  /** A read (get, list), retried on transient errors. */
  read<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withRetry(what, call, this.deadline, this.retry, (attempt, error, delayMs) =>
      this.progress.info(
        `retrying ${what} in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt}): ${apiMessage(error)}`,
      ),
    );
  }

  /**
   * Starts a mutation and waits until its operation is done. `start` receives the request id to send;
   * it returns whatever the client returned (the operation is read from it).
   *
   * @throws OperationError when the operation ends with an error (with GCE's code and message).
   */
  async mutate(
    what: string,
    scope: OperationScope,
    start: (requestId: string) => Promise<unknown>,
  ): Promise<Operation> {
    const requestId = randomUUID();
    const started = await this.read(what, () => start(requestId));
    return this.waitFor(what, scope, operationOf(started));
  }

  /** Waits for an operation with `operations.wait`, in a loop (the call may return before it is done). */
  async waitFor(what: string, scope: OperationScope, operation: Operation): Promise<Operation> {
    let current = operation;
    while (current.status !== "DONE") {
      this.deadline.check(what);
      const name = current.name;
      if (!name) throw new Error(`${what}: the API returned an operation without a name`);
      const options = this.callOptions(WAIT_CALL_CAP_MS);
      const [next] = await this.read(`waiting for ${what}`, () =>
        scope.zone
          ? this.clients.zoneOperations.wait(
              { project: scope.project, zone: scope.zone, operation: name },
              options,
            )
          : this.clients.globalOperations.wait(
              { project: scope.project, operation: name },
              options,
            ),
      );
      current = next;
    }
    const failure = current.error?.errors?.[0];
    if (failure)
      throw new OperationError(what, failure.code ?? "UNKNOWN", failure.message ?? "no message");
    return current;
  }
}

/**
 * The operation inside a client's answer to a mutation: the Compute clients return
 * `[LROperation, Operation, ...]`, where the LROperation wraps the latest Operation.
 */
export function operationOf(answer: unknown): Operation {
  const first: unknown = Array.isArray(answer) ? answer[0] : answer;
  const wrapped = (first as { latestResponse?: Operation } | undefined)?.latestResponse;
  const operation = wrapped ?? (first as Operation | undefined);
  if (!operation || typeof operation !== "object") throw new Error("the API returned no operation");
  return operation;
}

/** Bounds of {@link withBoundedApi}. */
export interface ApiBounds {
  timeoutMs: number;
  /** Cancels the calls (they then throw `BuildCancelledError`). */
  signal?: AbortSignal;
  retry?: RetryPolicy;
}

/** Runs `work` with an API under a deadline of its own, which is cancelled when `work` ends. */
export async function withBoundedApi<T>(
  clients: GcpClients,
  progress: Progress,
  bounds: ApiBounds,
  work: (api: ComputeApi) => Promise<T>,
): Promise<T> {
  const deadline = new Deadline(bounds.timeoutMs, Date.now(), bounds.signal);
  try {
    return await work(new ComputeApi(clients, deadline, progress, bounds.retry));
  } finally {
    deadline.cancel();
  }
}
