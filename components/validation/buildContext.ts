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
  const given = r.string("buildContext", args.buildContext);
  const contextDir = given === undefined ? undefined : checkContextDir(r, given, ctx.baseDir);
  const extra = checkExtraFiles(r, args.extraFiles, ctx.baseDir, contextDir);
  // A pending or unusable context, or a pending extra file, leaves the shipped contents unknown.
  const known =
    !r.isPending(args.buildContext) &&
    (given === undefined || contextDir !== undefined) &&
    extra.known;
  if (!known) return undefined;
  return contextView(given, contextDir, extra.destinations);
}

/** The resolved build context directory, or undefined (reported) when it is not a directory. */
function checkContextDir(r: ArgsReader, given: string, baseDir: string): string | undefined {
  const resolved = path.resolve(baseDir, given);
  const kind = statKind(resolved);
  if (kind === "directory") return resolved;
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
  return undefined;
}

/** The extra files' valid destinations, and whether every one of them is known yet. */
interface ExtraFiles {
  destinations: Set<string>;
  known: boolean;
}

function checkExtraFiles(
  r: ArgsReader,
  input: unknown,
  baseDir: string,
  contextDir: string | undefined,
): ExtraFiles {
  const extraFiles = r.stringRecord("extraFiles", input);
  const extra: ExtraFiles = { destinations: new Set<string>(), known: !r.isPending(input) };
  for (const [destination, source] of extraFiles ?? []) {
    const field = `extraFiles["${destination}"]`;
    if (!checkExtraDestination(r, field, destination, contextDir)) continue;
    extra.destinations.add(destination);
    if (source === undefined) {
      extra.known = false;
      continue;
    }
    checkExtraSource(r, field, source, baseDir);
  }
  return extra;
}

/** False (reported) when the destination is not a clean relative path; also reports overwrites. */
function checkExtraDestination(
  r: ArgsReader,
  field: string,
  destination: string,
  contextDir: string | undefined,
): boolean {
  const problem = relativePathProblem(destination);
  if (problem) {
    r.report({
      field,
      value: destination,
      message: `destination ${problem}`,
      fix: RELATIVE_PATH_FIX,
    });
    return false;
  }
  if (contextDir !== undefined && statKind(path.join(contextDir, destination)) !== "missing") {
    r.report({
      field,
      value: destination,
      message: `would overwrite "${destination}" of the build context`,
      fix: "choose another destination, or remove the file from the build context",
    });
  }
  return true;
}

function checkExtraSource(r: ArgsReader, field: string, source: string, baseDir: string): void {
  const kind = statKind(path.resolve(baseDir, source));
  if (kind !== "file") {
    r.report({
      field,
      value: source,
      message: kind === "missing" ? "names a local file that does not exist" : "names a directory",
      fix: "give the path of an existing regular file (relative paths start at the Pulumi program's directory)",
    });
  }
}

/** The shipped context: the extra files over the context directory (when there is one). */
function contextView(
  given: string | undefined,
  contextDir: string | undefined,
  extraDestinations: ReadonlySet<string>,
): ContextView {
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
