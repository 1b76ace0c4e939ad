import { MAX_LABELS, isLabelKey, isLabelValue } from "../google/names";
import type { ArgsReader } from "./reader";

/**
 * Label rules for `imageLabels` and `vmLabels`. `reserved` is how many labels the component adds
 * itself, which count against GCE's limit of 64.
 */
export function checkLabels(r: ArgsReader, field: string, input: unknown, reserved: number): void {
  const labels = r.stringRecord(field, input);
  if (!labels) return;
  for (const [key, value] of labels) {
    if (!isLabelKey(key)) {
      r.report({
        field,
        value: key,
        message: "has an invalid label key",
        fix: "use 1 to 63 lowercase letters, digits, '_' or '-', starting with a lowercase letter",
      });
    }
    if (value !== undefined && !isLabelValue(value)) {
      r.report({
        field: `${field}.${key}`,
        value,
        message: "is not a valid label value",
        fix: "use at most 63 lowercase letters, digits, '_' or '-'",
      });
    }
  }
  if (labels.size + reserved > MAX_LABELS) {
    r.report({
      field,
      value: labels.size,
      message: `has too many labels (GCE allows ${MAX_LABELS}, and the component adds ${reserved})`,
      fix: `keep at most ${MAX_LABELS - reserved} labels`,
    });
  }
}
