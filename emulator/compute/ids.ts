/** Ids, fingerprints and timestamps in the formats GCE uses. */
import { randomBytes } from "node:crypto";

/** A random unsigned 64-bit id as a decimal string (GCE ids are uint64 serialized as strings). */
export function newResourceId(): string {
  // Keep the top bit clear so the value also fits a signed int64 parser.
  return (randomBytes(8).readBigUInt64BE() >> 1n).toString();
}

/** A fresh opaque fingerprint (8 random bytes, base64), as GCE uses for optimistic locking. */
export function newFingerprint(): string {
  return randomBytes(8).toString("base64");
}

/** RFC 3339 timestamp with GCE's millisecond precision and numeric offset (`-07:00` style). */
export function rfc3339(date = new Date()): string {
  return date.toISOString().replace("Z", "+00:00");
}

/** A 12-digit number derived from `text` (the same for the same text, across runs). */
export function stableNumber(text: string): string {
  let hash = 0n;
  for (const ch of text) hash = (hash * 131n + BigInt(ch.codePointAt(0) ?? 0)) % 900_000_000_000n;
  return (100_000_000_000n + hash).toString();
}

/** A 12-digit numeric project number derived from the project id (stable across runs). */
export function projectNumber(projectId: string): string {
  return stableNumber(projectId);
}
