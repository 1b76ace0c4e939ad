import type { ArgsReader } from "../reader";
import { unknownKeyFix } from "../suggest";

/** A step's options object (or the step object itself), as the user wrote it. */
export type StepFields = Record<string, unknown>;

/** Reports every option of the step that is not in `allowed`, with the nearest allowed one. */
export function checkKnownKeys(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) {
      r.report({
        field: `${field}.${key}`,
        message: "is not an option of this step",
        fix: unknownKeyFix(key, allowed, "options of this step"),
      });
    }
  }
}

/** Reports any option given to a step that takes none (written `{}`). */
export function checkNoOptions(r: ArgsReader, field: string, fields: StepFields): void {
  const extra = Object.keys(fields).filter((key) => fields[key] !== undefined);
  if (extra.length > 0) {
    r.report({ field, value: extra, message: "takes no options", fix: "write it as {}" });
  }
}
