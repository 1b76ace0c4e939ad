/**
 * Compute Engine operations: every mutation returns one, its status goes PENDING → RUNNING → DONE,
 * and a failure lands in `error.errors[]` with `httpErrorStatusCode` instead of in the HTTP answer.
 */
import { randomBytes } from "node:crypto";
import { invalidField, notFound } from "../http/errors";
import { sleep, type Latency } from "../latency";
import { newResourceId, rfc3339 } from "./ids";
import { selfLink } from "./urls";

/** Operation status values. */
export type OperationStatus = "PENDING" | "RUNNING" | "DONE";

/** Where an operation lives: global (images) or in a zone (disks, instances). */
export interface OperationScope {
  /** Project id. */
  project: string;
  /** Zone for zonal operations; absent for global ones. */
  zone?: string;
}

/** Makes an operation end with an error (as GCE reports asynchronous failures). */
export class OperationFailure extends Error {
  /**
   * @param code GCE error code, e.g. `RESOURCE_NOT_FOUND`, `INVALID_IMAGE_FILE`.
   * @param message Human-readable message.
   * @param httpStatus The HTTP status GCE would have used (`httpErrorStatusCode`). Default 400.
   */
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
    this.name = "OperationFailure";
  }
}

const HTTP_MESSAGES: Record<number, string> = {
  400: "BAD REQUEST",
  403: "FORBIDDEN",
  404: "NOT FOUND",
  409: "CONFLICT",
  412: "PRECONDITION FAILED",
  500: "INTERNAL SERVER ERROR",
  503: "SERVICE UNAVAILABLE",
};

/** One operation. */
export class Operation {
  /** Numeric id (uint64 as a decimal string). */
  readonly id = newResourceId();
  /** Name, unique in its scope: `operation-<ms>-<hex>`. */
  readonly name = `operation-${Date.now()}-${randomBytes(6).toString("hex")}`;
  /** RFC 3339 creation time. */
  readonly insertTime = rfc3339();
  /** Current status. */
  status: OperationStatus = "PENDING";
  /** Percentage done, 0-100 (coarse: 0 until DONE). */
  progress = 0;
  /** RFC 3339 time the work started. */
  startTime?: string;
  /** RFC 3339 time the operation finished. */
  endTime?: string;
  /** Errors of a failed operation. */
  errors?: Array<{ code: string; message: string }>;
  /** HTTP status of a failed operation. */
  httpErrorStatusCode?: number;
  /** Resolves when the operation is DONE (never rejects). */
  readonly finished: Promise<void>;
  private markFinished!: () => void;

  /**
   * @param scope Project and optional zone.
   * @param operationType e.g. `insert`, `delete`, `stop`, `setMetadata`, `compute.instances.preempted`.
   * @param targetLink selfLink of the resource acted upon.
   * @param targetId id of that resource.
   */
  constructor(
    readonly scope: OperationScope,
    readonly operationType: string,
    readonly targetLink: string,
    readonly targetId: string,
  ) {
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
  }

  /** `projects/p/global/operations/x` or `projects/p/zones/z/operations/x`. */
  get path(): string {
    const { project, zone } = this.scope;
    return zone
      ? `projects/${project}/zones/${zone}/operations/${this.name}`
      : `projects/${project}/global/operations/${this.name}`;
  }

  /** Moves to RUNNING. */
  markRunning(): void {
    if (this.status !== "PENDING") return;
    this.status = "RUNNING";
    this.startTime = rfc3339();
  }

  /** Moves to DONE, with an error when `failure` is given. Idempotent. */
  complete(failure?: OperationFailure): void {
    if (this.status === "DONE") return;
    if (!this.startTime) this.startTime = rfc3339();
    this.status = "DONE";
    this.progress = 100;
    this.endTime = rfc3339();
    if (failure) {
      this.errors = [{ code: failure.code, message: failure.message }];
      this.httpErrorStatusCode = failure.httpStatus;
    }
    this.markFinished();
  }

  /** The API representation. */
  toJSON(): Record<string, unknown> {
    const { project, zone } = this.scope;
    return {
      kind: "compute#operation",
      id: this.id,
      name: this.name,
      operationType: this.operationType,
      targetLink: this.targetLink,
      targetId: this.targetId,
      status: this.status,
      user: "emulator@example.com",
      progress: this.progress,
      insertTime: this.insertTime,
      ...(this.startTime ? { startTime: this.startTime } : {}),
      ...(this.endTime ? { endTime: this.endTime } : {}),
      ...(this.errors ? { error: { errors: this.errors } } : {}),
      ...(this.httpErrorStatusCode !== undefined
        ? {
            httpErrorStatusCode: this.httpErrorStatusCode,
            httpErrorMessage: HTTP_MESSAGES[this.httpErrorStatusCode] ?? "ERROR",
          }
        : {}),
      selfLink: selfLink(this.path),
      ...(zone ? { zone: selfLink(`projects/${project}/zones/${zone}`) } : {}),
    };
  }
}

/** `requestId` must be a UUID other than the zero UUID. */
const REQUEST_ID_PATTERN =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** All operations, by scope and by request id. */
export class OperationStore {
  private readonly byPath = new Map<string, Operation>();
  private readonly byRequestId = new Map<string, Operation>();

  /**
   * @param latency Delays (`operationStart` between PENDING and RUNNING).
   * @param waitCapMs How long `wait` blocks at most before answering with the current state.
   */
  constructor(
    private readonly latency: Latency,
    private readonly waitCapMs: number,
  ) {}

  /**
   * The operation an earlier request with the same `requestId` created in this project, if any.
   * Throws 400 when `requestId` is not a valid UUID.
   */
  replay(project: string, requestId: string | null): Operation | undefined {
    if (!requestId) return undefined;
    if (!REQUEST_ID_PATTERN.test(requestId) || /^[0-]+$/.test(requestId)) {
      throw invalidField("requestId", requestId, "Must be a valid UUID other than the zero UUID.");
    }
    return this.byRequestId.get(`${project}/${requestId}`);
  }

  /**
   * Creates an operation and runs `work` for it in the background: PENDING, then RUNNING after the
   * `operationStart` delay, then DONE when `work` settles (with an error if it throws).
   */
  start(
    scope: OperationScope,
    operationType: string,
    target: { selfLink: string; id: string },
    work: (op: Operation) => Promise<void>,
    requestId?: string | null,
  ): Operation {
    const op = this.record(
      new Operation(scope, operationType, target.selfLink, target.id),
      requestId,
    );
    void (async () => {
      await this.latency.wait("operationStart");
      op.markRunning();
      try {
        await work(op);
        op.complete();
      } catch (err) {
        op.complete(
          err instanceof OperationFailure
            ? err
            : new OperationFailure("INTERNAL_ERROR", `Internal error: ${String(err)}`, 500),
        );
      }
    })();
    return op;
  }

  /** Records an operation that is already DONE (e.g. `compute.instances.preempted`). */
  recordDone(
    scope: OperationScope,
    operationType: string,
    target: { selfLink: string; id: string },
  ): Operation {
    const op = this.record(new Operation(scope, operationType, target.selfLink, target.id));
    op.complete();
    return op;
  }

  /** The operation named `name` in the scope, or 404. */
  get(scope: OperationScope, name: string): Operation {
    const path = scope.zone
      ? `projects/${scope.project}/zones/${scope.zone}/operations/${name}`
      : `projects/${scope.project}/global/operations/${name}`;
    const op = this.byPath.get(path);
    if (!op) throw notFound(path);
    return op;
  }

  /** Blocks until the operation is DONE or the wait cap passes (or `signal` aborts). */
  async wait(op: Operation, signal?: AbortSignal): Promise<void> {
    if (op.status === "DONE") return;
    const capped = new AbortController();
    const onAbort = (): void => capped.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    await Promise.race([op.finished, sleep(this.waitCapMs, capped.signal)]);
    capped.abort();
    signal?.removeEventListener("abort", onAbort);
  }

  /** Every operation, oldest first. */
  all(): Operation[] {
    return [...this.byPath.values()];
  }

  private record(op: Operation, requestId?: string | null): Operation {
    this.byPath.set(op.path, op);
    if (requestId) this.byRequestId.set(`${op.scope.project}/${requestId}`, op);
    return op;
  }
}
