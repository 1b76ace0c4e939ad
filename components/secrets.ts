import type { BuildStepArgs, PreloadedCosImageArgs } from "./args";
import { isOutputOrPromise } from "./pendingValues";

/**
 * Secret material travels to the build resource apart from the other arguments, so that previews
 * keep showing readable diffs of everything else: when a nested value is secret, Pulumi makes the
 * whole enclosing input secret.
 *
 * What moves: every environment value given as an Output or Promise (a literal in the program is not a
 * secret; `config.requireSecret(...)` and other resources' outputs might be), and every registry
 * username and password.
 */
export interface BuildSecrets {
  /** Environment values of `runScript` steps that were Outputs, by step index, then variable name. */
  env: Record<string, Record<string, unknown>>;
  /** Registry credentials of `preloadImages` steps, by step index, in the order given. */
  credentials: Record<string, Array<{ username: unknown; password: unknown }>>;
}

/**
 * Splits the arguments into what may be shown and what must stay secret. Only the step list changes;
 * a step list that is itself an Output is left whole (it is then as secret as Pulumi makes it).
 */
export function splitSecrets(args: PreloadedCosImageArgs): {
  args: PreloadedCosImageArgs;
  secrets: BuildSecrets;
} {
  const secrets: BuildSecrets = { env: {}, credentials: {} };
  if (!Array.isArray(args.steps)) return { args, secrets };
  const steps = args.steps.map((step, index): BuildStepArgs => {
    const runScript = step?.runScript;
    if (runScript?.env && !isOutputOrPromise(runScript.env) && typeof runScript.env === "object") {
      const shown: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(runScript.env)) {
        if (isOutputOrPromise(value)) (secrets.env[index] ??= {})[name] = value;
        else shown[name] = value;
      }
      return { ...step, runScript: { ...runScript, env: shown as Record<string, string> } };
    }
    const preload = step?.preloadImages;
    if (preload?.credentials && Array.isArray(preload.credentials)) {
      secrets.credentials[index] = preload.credentials.map((c) => ({
        username: c?.username,
        password: c?.password,
      }));
      const registriesOnly = preload.credentials.map((c) => ({ registry: c?.registry }));
      return { ...step, preloadImages: { ...preload, credentials: registriesOnly as never } };
    }
    return step;
  });
  return { args: { ...args, steps }, secrets };
}

/** Puts the secrets back into resolved arguments: the inverse of {@link splitSecrets}. */
export function mergeSecrets<T extends { steps?: unknown }>(
  args: T,
  secrets: BuildSecrets | undefined,
): T {
  if (!secrets || !Array.isArray(args.steps)) return args;
  const steps = (args.steps as Array<Record<string, Record<string, unknown>> | undefined>).map(
    (step, index) => {
      const env = secrets.env[index];
      if (env && step?.runScript) {
        const given = (step.runScript.env as Record<string, unknown> | undefined) ?? {};
        return { ...step, runScript: { ...step.runScript, env: { ...given, ...env } } };
      }
      const credentials = secrets.credentials[index];
      if (credentials && step?.preloadImages && Array.isArray(step.preloadImages.credentials)) {
        const merged = (step.preloadImages.credentials as Array<Record<string, unknown>>).map(
          (c, i) => ({ ...c, ...credentials[i] }),
        );
        return { ...step, preloadImages: { ...step.preloadImages, credentials: merged } };
      }
      return step;
    },
  );
  return { ...args, steps };
}
