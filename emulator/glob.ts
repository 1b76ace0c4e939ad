/** Method-id patterns: `*` matches any run of characters, everything else matches itself. */

/** True when `value` matches the glob `pattern` (e.g. `compute.instances.*` matches `compute.instances.get`). */
export function globMatches(pattern: string, value: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`).test(value);
}
