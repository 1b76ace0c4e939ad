/**
 * Relative paths inside the build context, as the user writes them in `script`, `depsDir` and the
 * keys of `extraFiles`: `/`-separated, no leading `/`, no `.`/`..` segments, no backslashes.
 */

/** Why `path` is not a clean relative path, or undefined when it is one. */
export function relativePathProblem(path: string): string | undefined {
  if (path.length === 0) return "is empty";
  if (path.startsWith("/")) return "is absolute";
  if (/^[A-Za-z]:/.test(path)) return "is absolute";
  if (path.includes("\\")) return "contains a backslash";
  if (path.includes("\0")) return "contains a NUL character";
  const segments = path.split("/");
  if (segments.some((segment) => segment === "..")) return "leaves the build context with '..'";
  if (segments.some((segment) => segment === "" || segment === ".")) {
    return "has an empty or '.' segment";
  }
  return undefined;
}

/** The fix shown for every bad relative path. */
export const RELATIVE_PATH_FIX =
  "write the path relative to the build context root, with '/' separators and no '.' or '..' segments, e.g. \"scripts/setup.sh\"";
