/**
 * How Google API errors are classified. Both client libraries report the HTTP status (the Compute
 * client in REST mode as `httpStatusCode`, the Storage client as `code`); network-level failures
 * carry a Node error code instead.
 */

/** The HTTP status of an API error, if it has one. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as {
    httpStatusCode?: unknown;
    code?: unknown;
    status?: unknown;
    response?: { status?: unknown };
  };
  for (const candidate of [e.httpStatusCode, e.response?.status, e.code, e.status]) {
    if (typeof candidate === "number" && candidate >= 100 && candidate < 600) return candidate;
  }
  // The Storage client's resumable upload gives up with "Retry limit exceeded - status: 429 - ...".
  const match = error instanceof Error ? /\bstatus: (\d{3})\b/.exec(error.message) : null;
  return match ? Number(match[1]) : undefined;
}

/** True for "not found": deleting something already gone is success. */
export function isNotFound(error: unknown): boolean {
  return httpStatusOf(error) === 404;
}

/** True for "already exists": a retried insert whose first attempt went through. */
export function isAlreadyExists(error: unknown): boolean {
  return httpStatusOf(error) === 409;
}

/** True for a stale fingerprint (412 conditionNotMet). */
export function isStaleFingerprint(error: unknown): boolean {
  return httpStatusOf(error) === 412;
}

const TRANSIENT_NETWORK_CODES = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

/**
 * True when retrying may succeed: 429, 5xx, 403 rate-limit answers (GCE reports per-minute quota
 * exhaustion as 403 rateLimitExceeded) and dropped connections. Every other 4xx is final.
 */
export function isTransient(error: unknown): boolean {
  const status = httpStatusOf(error);
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 403)
    return /rate ?limit|per minute|per 100 seconds|userRateLimitExceeded/i.test(message);
  if (status !== undefined) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (typeof code === "string" && TRANSIENT_NETWORK_CODES.has(code)) ||
    /socket hang up|network timeout/i.test(message)
  );
}

/** The API's own message, without the client library's decorations. */
export function apiMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const status = httpStatusOf(error);
  return status ? `${message} (HTTP ${status})` : message;
}

/** A Compute Engine operation ended with an error. */
export class OperationError extends Error {
  constructor(
    /** What the operation was for (`creating the build VM pci-x-vm`). */
    readonly what: string,
    /** GCE's error code, such as `ZONE_RESOURCE_POOL_EXHAUSTED` or `QUOTA_EXCEEDED`. */
    readonly code: string,
    detail: string,
  ) {
    super(`${what} failed: ${code}: ${detail}${adviceFor(code)}`);
    this.name = "OperationError";
  }
}

function adviceFor(code: string): string {
  if (code.startsWith("ZONE_RESOURCE_POOL_EXHAUSTED")) {
    return " (the zone has no capacity for this machine type right now: retry later, or set another zone or machineType)";
  }
  if (code === "QUOTA_EXCEEDED")
    return " (raise the quota named above, or use a smaller machineType / gpuCount)";
  return "";
}
