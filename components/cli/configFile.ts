import * as fs from "node:fs";
import * as path from "node:path";
import YAML from "yaml";
import type { BuildImageArgs } from "../buildImage";
import { ARG_KEYS, unknownKeyProblems, type Problem } from "../validation";
import { ConfigError } from "./errors";
import { applySet } from "./overrides";
import { resolveFromEnv } from "./fromEnv";

/**
 * The command's configuration file: YAML or JSON holding the component's arguments and an optional
 * `name`, with `--set` overrides applied and `{ fromEnv: VAR }` values read from the environment.
 * Every problem (file, overrides, environment, unknown keys) is collected before anything else runs.
 */

/** A loaded configuration, ready for `buildImage` / `buildInputsOf`. */
export interface LoadedConfig {
  /** The file, absolute. */
  file: string;
  /** `name` of the file (default `preloaded-cos-image`): names the build and its generated images. */
  name: string;
  /** The arguments; values read from the environment are Promises (secrets). */
  args: BuildImageArgs;
  /** The file's directory: where relative paths (`buildContext`, `extraFiles`) start. */
  baseDir: string;
  /**
   * Problems of the file itself (unknown keys, `--set`, missing environment variables), reported
   * together with the component's own (see `cloud.ts`'s `validated`).
   */
  problems: readonly Problem[];
}

/** Keys of the file besides the component's arguments. */
const FILE_KEYS = ["name"] as const;
const DEFAULT_NAME = "preloaded-cos-image";

/**
 * Reads, overrides and checks a configuration file; problems of its content are returned, so that
 * they are listed with the component's.
 *
 * @throws ConfigError when the file cannot be read or parsed.
 */
export function loadConfig(
  file: string,
  sets: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const absolute = path.resolve(file);
  const data = parseFile(absolute);
  const problems: Problem[] = [];
  for (const set of sets) {
    const problem = applySet(data, set);
    if (problem) problems.push(problem);
  }
  problems.push(
    ...unknownKeyProblems(
      "",
      data,
      [...ARG_KEYS, ...FILE_KEYS],
      "is not a key of the configuration",
      "keys (the component's arguments and name)",
    ),
  );
  const { name, ...rest } = data;
  if (name !== undefined && typeof name !== "string") {
    problems.push({
      field: "name",
      value: name,
      message: "must be a string",
      fix: "give a string",
    });
  }
  const args = resolveFromEnv(withoutUnknown(rest), env, problems) as BuildImageArgs;
  return {
    problems,
    file: absolute,
    name: typeof name === "string" ? name : DEFAULT_NAME,
    args,
    baseDir: path.dirname(absolute),
  };
}

/** The file's top-level object; a missing file or bad syntax is a ConfigError. */
function parseFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(file, [
      {
        field: "--config",
        message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        fix: "give the path of a YAML or JSON configuration file",
      },
    ]);
  }
  let data: unknown;
  try {
    // YAML 1.2 is a superset of JSON: one parser reads both.
    data = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError(file, [
      {
        field: "--config",
        message: `is not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`,
        fix: "correct the syntax at the position given",
      },
    ]);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(file, [
      {
        field: "--config",
        message: "does not hold a mapping of arguments",
        fix: "write the arguments as a mapping, e.g. sourceImageFamily: cos-stable",
      },
    ]);
  }
  return data as Record<string, unknown>;
}

/** Unknown keys are reported here; dropping them keeps validateArgs from reporting them twice. */
function withoutUnknown(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(data).filter(([key]) => (ARG_KEYS as readonly string[]).includes(key)),
  );
}
