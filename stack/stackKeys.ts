import { unknownKeyFix } from "../components/validation";

/** The settings of this program: everything else under the project's namespace is a typo. */
export const STACK_KEYS = ["name", "image", "secretEnv"] as const;

/**
 * Strict stack configuration: a misspelt key of this program (`imag`) fails the preview naming the
 * nearest valid key, instead of being ignored. Keys inside `image` are checked by the component.
 * Other namespaces (`gcp:`, other packages) are not this program's to judge.
 */
export function stackKeyProblems(config: Record<string, string>, project: string): string[] {
  const prefix = `${project}:`;
  return Object.keys(config)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length))
    .filter((key) => !(STACK_KEYS as readonly string[]).includes(key))
    .map(
      (key) =>
        `- ${prefix}${key}: is not a setting of this program. Fix: ${unknownKeyFix(key, [...STACK_KEYS], "settings")}`,
    );
}
