import type { ArgsUnderValidation } from "../context";
import { MIN_OEM_SIZE_BYTES, diskLayoutProblem, parseOemSize } from "../diskLayout";
import type { ArgsReader } from "../reader";
import { type StepFields, checkKnownKeys } from "./options";

/** `extendOemPartition` rules; returns the requested OEM size in bytes when it is valid. */
export function checkOemSize(r: ArgsReader, field: string, fields: StepFields): number | undefined {
  checkKnownKeys(r, field, fields, ["size"]);
  const size = r.string(`${field}.size`, fields.size);
  if (!r.isSet(fields.size)) {
    r.report({
      field: `${field}.size`,
      message: "is required",
      fix: 'give the OEM filesystem size, e.g. "1G"',
    });
    return undefined;
  }
  if (size === undefined) return undefined;
  const bytes = parseOemSize(size);
  if (bytes === undefined || bytes < MIN_OEM_SIZE_BYTES) {
    r.report({
      field: `${field}.size`,
      value: size,
      ...(bytes === undefined
        ? {
            message: "is not a size",
            fix: 'write a number followed by B, K, M or G (e.g. "512M"), or a bare number of 512-byte sectors',
          }
        : { message: "is below the 16M minimum", fix: 'use at least "16M"' }),
    });
    return undefined;
  }
  return bytes;
}

/**
 * The disk-size arithmetic the layout steps imply: `diskSizeGb` must hold the OEM partition.
 * `kindCounts` counts the steps of each kind; `oemSizeBytes` is the valid extendOemPartition size.
 */
export function checkDiskSizeForLayout(
  r: ArgsReader,
  args: ArgsUnderValidation,
  kindCounts: ReadonlyMap<string, number>,
  oemSizeBytes: number | undefined,
): void {
  const sealOem = kindCounts.has("sealOemPartition");
  // Only a valid size is checked against the layout; an invalid one is reported by the image rules.
  const givenSize: unknown = args.diskSizeGb ?? 10;
  const diskSizeGb =
    typeof givenSize === "number" && Number.isInteger(givenSize) && givenSize >= 10
      ? givenSize
      : undefined;
  if (diskSizeGb === undefined) return;
  const problem = diskLayoutProblem({
    oemSizeBytes,
    sealOem,
    // ROOT-A is reclaimed by reclaimRootPartition, and by sealOemPartition and disableAutoUpdate as
    // COS Customizer's do (its ReclaimSDA3): the layout may use that space.
    reclaimRoot:
      sealOem || kindCounts.has("reclaimRootPartition") || kindCounts.has("disableAutoUpdate"),
    diskSizeGb,
  });
  if (problem) {
    r.report({
      field: "diskSizeGb",
      message: problem,
      fix: "raise diskSizeGb, or lower the extendOemPartition size",
    });
  }
}
