/**
 * Errors in the shape Google's JSON APIs return them, so that the real clients parse them into the
 * same `GoogleError`/`ApiError` objects (code, reason, message) they build from production answers.
 */

/** Canonical `status` strings Google puts next to each HTTP code in an error body. */
const STATUS_BY_CODE: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  412: "FAILED_PRECONDITION",
  413: "OUT_OF_RANGE",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

/** The JSON body of an error response: `{"error":{code,message,errors:[{reason,message,domain}],status}}`. */
export interface GoogleErrorBody {
  /** The error itself. */
  error: {
    /** HTTP status code. */
    code: number;
    /** Human-readable message, repeated in `errors[0].message`. */
    message: string;
    /** One entry per problem; the emulator always reports exactly one. */
    errors: Array<{ message: string; domain: string; reason: string }>;
    /** Canonical status name, e.g. `NOT_FOUND`. */
    status: string;
  };
}

/** An error that the HTTP layer turns into a Google-style JSON error response. */
export class ApiError extends Error {
  /**
   * @param httpStatus HTTP status code of the response.
   * @param reason Google's machine-readable reason, e.g. `notFound`, `alreadyExists`, `invalid`.
   * @param message Human-readable message.
   */
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The response body for this error. */
  toBody(): GoogleErrorBody {
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason }],
        status: STATUS_BY_CODE[this.httpStatus] ?? "UNKNOWN",
      },
    };
  }
}

/** 404 `notFound` for a resource path such as `projects/p/global/images/x`. */
export function notFound(resourcePath: string): ApiError {
  return new ApiError(404, "notFound", `The resource '${resourcePath}' was not found`);
}

/** 409 `alreadyExists` for a resource path. */
export function alreadyExists(resourcePath: string): ApiError {
  return new ApiError(409, "alreadyExists", `The resource '${resourcePath}' already exists`);
}

/** 400 `invalid` with GCE's "Invalid value for field" wording. */
export function invalidField(field: string, value: unknown, why: string): ApiError {
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  return new ApiError(400, "invalid", `Invalid value for field '${field}': '${shown}'. ${why}`);
}

/** 400 `invalid` with a free-form message. */
export function invalid(message: string): ApiError {
  return new ApiError(400, "invalid", message);
}

/** 400 `required` for a missing field. */
export function required(field: string): ApiError {
  return new ApiError(400, "required", `Required field '${field}' not specified`);
}

/** 412 `conditionNotMet`, returned for a stale fingerprint. */
export function conditionNotMet(message: string): ApiError {
  return new ApiError(412, "conditionNotMet", message);
}

/** 400 `resourceInUseByAnotherResource`, e.g. deleting a disk that an instance still uses. */
export function resourceInUse(resourcePath: string, userPath: string): ApiError {
  return new ApiError(
    400,
    "resourceInUseByAnotherResource",
    `The ${kindOf(resourcePath)} resource '${resourcePath}' is already being used by '${userPath}'`,
  );
}

/** 400 `resourceNotReady`, e.g. attaching a disk that is still being created. */
export function resourceNotReady(resourcePath: string): ApiError {
  return new ApiError(400, "resourceNotReady", `The resource '${resourcePath}' is not ready`);
}

/** 429 `rateLimitExceeded`, as injected by the fault model. */
export function rateLimitExceeded(method: string): ApiError {
  return new ApiError(
    429,
    "rateLimitExceeded",
    `Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service (method ${method}).`,
  );
}

/** 503 `backendError`, as injected by the fault model. */
export function backendError(): ApiError {
  return new ApiError(503, "backendError", "Backend Error");
}

/** 401 for a request without `Authorization: Bearer`. */
export function unauthenticated(): ApiError {
  return new ApiError(
    401,
    "required",
    "Request is missing required authentication credential. Expected OAuth 2 access token.",
  );
}

/** The singular resource kind of a path such as `projects/p/zones/z/disks/d` ("disk"). */
function kindOf(resourcePath: string): string {
  const parts = resourcePath.split("/");
  const collection = parts[parts.length - 2] ?? "resource";
  return collection.endsWith("s") ? collection.slice(0, -1) : collection;
}
