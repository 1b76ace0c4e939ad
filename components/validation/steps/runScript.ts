import type { ContextView } from "../buildContext";
import { RELATIVE_PATH_FIX, relativePathProblem } from "../paths";
import type { ArgsReader } from "../reader";
import { type StepFields, checkKnownKeys } from "./options";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment names the provisioner keeps for itself. */
const RESERVED_ENV_PREFIX = "PCI_";

/** `runScript` rules: the script is a file of the build context, env names are usable. */
export function checkRunScript(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  context: ContextView | undefined,
): void {
  checkScript(r, `${field}.script`, fields.script, context);
  checkEnvNames(r, `${field}.env`, fields.env);
  r.boolean(`${field}.allowReboot`, fields.allowReboot);
  checkKnownKeys(r, field, fields, ["script", "env", "allowReboot"]);
}

function checkScript(
  r: ArgsReader,
  field: string,
  input: unknown,
  context: ContextView | undefined,
): void {
  const script = r.string(field, input);
  if (!r.isSet(input)) {
    r.report({
      field,
      message: "is required",
      fix: 'name the script to run, relative to the build context, e.g. "setup.sh"',
    });
    return;
  }
  if (script === undefined) return;
  const problem = relativePathProblem(script);
  if (problem) {
    r.report({ field, value: script, message: problem, fix: RELATIVE_PATH_FIX });
    return;
  }
  // Without a known context (an Output), the provider's check looks for the file later.
  const kind = context?.kind(script);
  if (context && kind !== "file") {
    r.report({
      field,
      value: script,
      message:
        kind === "directory"
          ? "is a directory"
          : `is not in the build context ${context.description}`,
      fix: "add the script to the build context (or to extraFiles), or correct its path relative to the build context root",
    });
  }
}

function checkEnvNames(r: ArgsReader, field: string, input: unknown): void {
  // Secret: env values are never echoed, even when they are the wrong type.
  const env = r.stringRecord(field, input, true);
  for (const name of env?.keys() ?? []) {
    if (!ENV_NAME.test(name)) {
      r.report({
        field,
        value: name,
        message: "has an invalid variable name",
        fix: "use letters, digits and underscores, not starting with a digit",
      });
    } else if (name.startsWith(RESERVED_ENV_PREFIX)) {
      r.report({
        field,
        value: name,
        message: `uses the prefix ${RESERVED_ENV_PREFIX}, which the provisioner reserves`,
        fix: "rename the variable",
      });
    }
  }
}
