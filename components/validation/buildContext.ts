import * as fs from "node:fs";
import * as path from "node:path";
import type { ArgsUnderValidation, ValidationContext } from "./context";
import { RELATIVE_PATH_FIX, relativePathProblem } from "./paths";
import type { ArgsReader } from "./reader";

/** What a relative path names in the build context as it will be shipped (context plus extra files). */
export type ContextEntryKind = "file" | "directory" | "missing";

/**
 * The build context as the steps will see it. `undefined` from {@link checkBuildContext} means it is
 * not known yet (an Output), so rules about files inside it are skipped until the provider's check.
 */
export interface ContextView {
  /** Display name of the context in messages. */
  readonly description: string;
  /** What `relativePath` is in the shipped context. */
  kind(relativePath: string): ContextEntryKind;
}

function statKind(file: string): ContextEntryKind {
  try {
    const stats = fs.statSync(file);
    if (stats.isDirectory()) return "directory";
    return stats.isFile() ? "file" : "missing";
  } catch {
    return "missing";
  }
}

/**
 * Build context and extra-files rules: the directory exists, extra files exist, are regular files,
 * have clean destinations and do not overwrite files of the context.
 */
export function checkBuildContext(
  r: ArgsReader,
  args: ArgsUnderValidation,
  ctx: ValidationContext,
): ContextView | undefined {
  let contextDir: string | undefined;
  let contextKnown = !r.isPending(args.buildContext);
  const given = r.string("buildContext", args.buildContext);
  if (given !== undefined) {
    const resolved = path.resolve(ctx.baseDir, given);
    const kind = statKind(resolved);
    if (kind === "directory") {
      contextDir = resolved;
    } else {
      contextKnown = false;
      r.report({
        field: "buildContext",
        value: given,
        message:
          kind === "missing"
            ? `does not exist (resolved to ${resolved})`
            : "is a file, not a directory",
        fix:
          kind === "missing"
            ? "create the directory, or give its path relative to the Pulumi program's directory"
            : "give the directory that holds your scripts; put a single file in a directory of its own",
      });
    }
  }

  const extraFiles = r.stringRecord("extraFiles", args.extraFiles);
  const extraDestinations = new Set<string>();
  if (r.isPending(args.extraFiles)) contextKnown = false;
  for (const [destination, source] of extraFiles ?? []) {
    const field = `extraFiles["${destination}"]`;
    const problem = relativePathProblem(destination);
    if (problem) {
      r.report({
        field,
        value: destination,
        message: `destination ${problem}`,
        fix: RELATIVE_PATH_FIX,
      });
      continue;
    }
    if (contextDir !== undefined && statKind(path.join(contextDir, destination)) !== "missing") {
      r.report({
        field,
        value: destination,
        message: `would overwrite "${destination}" of the build context`,
        fix: "choose another destination, or remove the file from the build context",
      });
    }
    extraDestinations.add(destination);
    if (source === undefined) {
      contextKnown = false;
      continue;
    }
    const kind = statKind(path.resolve(ctx.baseDir, source));
    if (kind !== "file") {
      r.report({
        field,
        value: source,
        message:
          kind === "missing" ? "names a local file that does not exist" : "names a directory",
        fix: "give the path of an existing regular file (relative paths start at the Pulumi program's directory)",
      });
    }
  }

  if (!contextKnown) return undefined;
  return {
    description: given === undefined ? "(no build context, only extraFiles)" : `"${given}"`,
    kind(relativePath: string): ContextEntryKind {
      if (extraDestinations.has(relativePath)) return "file";
      const prefix = `${relativePath}/`;
      if ([...extraDestinations].some((d) => d.startsWith(prefix))) return "directory";
      return contextDir === undefined ? "missing" : statKind(path.join(contextDir, relativePath));
    },
  };
}
