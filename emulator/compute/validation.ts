/** GCE's validation rules for names, labels and metadata, with GCE's error wording. */
import { invalid, invalidField, required } from "../http/errors";

/** GCE resource names: RFC 1035 labels of at most 63 characters. */
export const NAME_PATTERN = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_REGEX_TEXT = "(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)";

/** Label keys: start with a lowercase letter; lowercase letters, digits, `_` and `-`; 1-63 chars. */
const LABEL_KEY_PATTERN = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
/** Label values: lowercase letters, digits, `_` and `-`; 0-63 chars. */
const LABEL_VALUE_PATTERN = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
/** GCE allows at most 64 labels per resource. */
export const MAX_LABELS = 64;

/** Metadata keys: letters, digits, `-` and `_`, under 128 bytes. */
const METADATA_KEY_PATTERN = /^[a-zA-Z0-9_-]{1,127}$/;
/** One metadata value: at most 256 KiB. */
export const MAX_METADATA_VALUE_BYTES = 256 * 1024;
/** All metadata keys and values together: at most 512 KiB. */
export const MAX_METADATA_TOTAL_BYTES = 512 * 1024;

/** Throws 400 unless `value` is a valid resource name; `field` is e.g. `resource.name`. */
export function validateName(field: string, value: unknown): string {
  if (value === undefined || value === null || value === "") throw required(field);
  if (typeof value !== "string" || !NAME_PATTERN.test(value)) {
    throw invalidField(field, value, `Must be a match of regex '${NAME_REGEX_TEXT}'`);
  }
  return value;
}

/** Throws 400 unless `labels` is absent or a valid label map; returns a copy ({} when absent). */
export function validateLabels(field: string, labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== "object" || Array.isArray(labels)) {
    throw invalidField(field, labels, "Labels must be a map of strings.");
  }
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > MAX_LABELS) {
    throw invalid(
      `Invalid value for field '${field}': too many labels (${entries.length} > ${MAX_LABELS}).`,
    );
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!LABEL_KEY_PATTERN.test(key)) {
      throw invalidField(
        `${field}.key`,
        key,
        "Label keys must start with a lowercase letter and contain only lowercase letters, numeric characters, underscores and dashes; at most 63 characters.",
      );
    }
    if (typeof value !== "string" || !LABEL_VALUE_PATTERN.test(value)) {
      throw invalidField(
        `${field}.value`,
        value,
        "Label values can only contain lowercase letters, numeric characters, underscores and dashes; at most 63 characters.",
      );
    }
    copy[key] = value;
  }
  return copy;
}

/** A metadata item as the API carries it. */
export interface MetadataItem {
  /** Key, `[a-zA-Z0-9-_]+`, under 128 bytes. */
  key: string;
  /** Value, at most 256 KiB. */
  value: string;
}

/** Validates `metadata.items` (absent = none) and returns them as a key→value map. */
export function validateMetadataItems(field: string, items: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (items === undefined || items === null) return map;
  if (!Array.isArray(items)) throw invalidField(field, items, "Must be a list of key/value items.");
  let total = 0;
  for (const [i, raw] of items.entries()) {
    const item = raw as Partial<MetadataItem> | null;
    const key = item?.key;
    if (typeof key !== "string" || !METADATA_KEY_PATTERN.test(key)) {
      throw invalidField(
        `${field}[${i}].key`,
        key,
        "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'",
      );
    }
    if (map.has(key)) throw invalid(`Duplicate metadata key '${key}'.`);
    const value = item?.value ?? "";
    if (typeof value !== "string")
      throw invalidField(`${field}[${i}].value`, value, "Must be a string.");
    const size = Buffer.byteLength(value);
    if (size > MAX_METADATA_VALUE_BYTES) {
      throw invalid(
        `Value for field '${field}[${i}].value' is too large: maximum size 262144 character(s); actual size ${size}.`,
      );
    }
    total += size + Buffer.byteLength(key);
    map.set(key, value);
  }
  if (total > MAX_METADATA_TOTAL_BYTES) {
    throw invalid(`Metadata is too large: maximum size 524288 bytes; actual size ${total}.`);
  }
  return map;
}

/** Reads an optional string field, throwing 400 if present with another type. */
export function optionalString(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw invalidField(field, value, "Must be a string.");
  return value;
}

/** Reads a required string field: 400 `required` when absent, 400 `invalid` when not a string. */
export function requiredString(field: string, value: unknown): string {
  if (value === undefined || value === null || value === "") throw required(field);
  if (typeof value !== "string") throw invalidField(field, value, "Must be a string.");
  return value;
}

/** Reads an optional int64 field (JSON number or decimal string). */
export function optionalInt(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n))
    throw invalidField(field, value, "Must be an integer.");
  return n;
}
