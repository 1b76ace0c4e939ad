import { unknownKeyFix, type Problem } from "../validation";

/**
 * Values the configuration takes from the environment, written `{ fromEnv: CI_TOKEN }`, so that a
 * token never sits in the file. They are allowed where secrets go (`runScript.env` values, registry
 * `username` / `password`) and handed to `buildImage` as Promises, which it treats as secrets.
 */

const FROM_ENV = "fromEnv";

/**
 * A copy of `args` with every `{ fromEnv }` value read from `env`; a missing variable or a malformed
 * reference adds a problem naming both the field and the variable.
 */
export function resolveFromEnv(
  args: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): Record<string, unknown> {
  if (!Array.isArray(args.steps)) return args;
  const steps = (args.steps as unknown[]).map((step, index) =>
    resolveStep(step, `steps[${index}]`, env, problems),
  );
  return { ...args, steps };
}

function resolveStep(
  step: unknown,
  field: string,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): unknown {
  if (!isObject(step)) return step;
  const copy = { ...step };
  if (isObject(step.runScript) && isObject(step.runScript.env)) {
    const resolved = Object.entries(step.runScript.env).map(([name, value]): [string, unknown] => [
      name,
      resolveValue(value, `${field}.runScript.env.${name}`, env, problems),
    ]);
    copy.runScript = { ...step.runScript, env: Object.fromEntries(resolved) };
  }
  if (isObject(step.preloadImages) && Array.isArray(step.preloadImages.credentials)) {
    const credentials = (step.preloadImages.credentials as unknown[]).map((credential, i) => {
      if (!isObject(credential)) return credential;
      const where = `${field}.preloadImages.credentials[${i}]`;
      return {
        ...credential,
        username: resolveValue(credential.username, `${where}.username`, env, problems),
        password: resolveValue(credential.password, `${where}.password`, env, problems),
      };
    });
    copy.preloadImages = { ...step.preloadImages, credentials };
  }
  return copy;
}

/** A plain value as it is; `{ fromEnv: VAR }` as a Promise of the variable's value. */
function resolveValue(
  value: unknown,
  field: string,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): unknown {
  if (!isObject(value)) return value;
  const extra = Object.keys(value).filter((key) => key !== FROM_ENV);
  if (extra.length > 0 || typeof value.fromEnv !== "string") {
    problems.push({
      field,
      message: `is an object, and the only object allowed here is { ${FROM_ENV}: <variable> }`,
      fix:
        extra.length > 0
          ? `${extra[0]}: ${unknownKeyFix(extra[0], [FROM_ENV], "keys")}`
          : "give a string, or { fromEnv: NAME_OF_AN_ENVIRONMENT_VARIABLE }",
    });
    return undefined;
  }
  const variable = value.fromEnv;
  const text = env[variable];
  if (text === undefined) {
    problems.push({
      field,
      message: `is taken from the environment variable ${variable}, which is not set`,
      fix: `export ${variable} before running the command (an empty value is allowed), or change ${field}`,
    });
    // A stand-in, so that the component's rules do not report the same value again.
    return Promise.resolve("");
  }
  return Promise.resolve(text);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
