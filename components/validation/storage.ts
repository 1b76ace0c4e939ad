import { isBucketName } from "../google/names";
import type { ArgsUnderValidation } from "./context";
import { API_ENDPOINT_KEYS } from "./keys";
import type { ArgsReader } from "./reader";
import { unknownKeyFix } from "./suggest";

/** Longest bucket prefix we accept (object names are limited to 1024 bytes; the build adds its own parts). */
export const MAX_BUCKET_PREFIX_LENGTH = 512;

/** Scratch storage, deadline and endpoint rules. */
export function checkStorageAndLimits(r: ArgsReader, args: ArgsUnderValidation): void {
  const bucket = r.string("bucket", args.bucket);
  if (bucket !== undefined && !isBucketName(bucket)) {
    r.report({
      field: "bucket",
      value: bucket,
      message: "is not a Cloud Storage bucket name",
      fix: "give the bucket's name only (no gs:// and no path): 3 to 63 lowercase letters, digits, '-', '_' or '.'",
    });
  }
  const prefix = r.string("bucketPrefix", args.bucketPrefix);
  if (prefix !== undefined) {
    const bad =
      prefix.startsWith("/") || prefix.startsWith("gs://")
        ? "must not start with '/' or gs://"
        : prefix.split("/").some((part) => part === "." || part === "..")
          ? "must not contain '.' or '..' segments"
          : /[\r\n\0#[\]*?]/.test(prefix)
            ? "contains characters Cloud Storage object names should not hold (newline, NUL, #, [, ], *, ?)"
            : Buffer.byteLength(prefix) > MAX_BUCKET_PREFIX_LENGTH
              ? `is longer than ${MAX_BUCKET_PREFIX_LENGTH} bytes`
              : undefined;
    if (bad) {
      r.report({
        field: "bucketPrefix",
        value: prefix,
        message: bad,
        fix: 'use a plain path such as "builds/cos"',
      });
    }
  }
  r.integer("buildTimeoutMinutes", args.buildTimeoutMinutes, 5, 1440, " minutes");

  if (!r.isSet(args.apiEndpoints) || r.isPending(args.apiEndpoints)) return;
  if (typeof args.apiEndpoints !== "object" || args.apiEndpoints === null) {
    r.report({
      field: "apiEndpoints",
      message: "must be an object",
      fix: "give { compute?: url, storage?: url }",
    });
    return;
  }
  for (const [key, value] of Object.entries(args.apiEndpoints as Record<string, unknown>)) {
    const field = `apiEndpoints.${key}`;
    if (!(API_ENDPOINT_KEYS as readonly string[]).includes(key)) {
      r.report({
        field,
        message: "is not an API endpoint this component uses",
        fix: unknownKeyFix(key, API_ENDPOINT_KEYS, "endpoints"),
      });
      continue;
    }
    const url = r.string(field, value);
    if (url !== undefined && !isHttpUrl(url)) {
      r.report({
        field,
        value: url,
        message: "is not an http(s) URL",
        fix: 'give a URL such as "http://127.0.0.1:8085"',
      });
    }
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}
