#!/usr/bin/env node
import { BuildCancelledError } from "../google/deadline";
import { BuildFailedError } from "../pipeline/errors";
import { nearestKey } from "../validation";
import { parseFlags } from "./args";
import { runBuild } from "./build";
import { ConfigError, EXIT, UsageError } from "./errors";
import { MAIN_USAGE, SUBCOMMANDS, mainHelp, subcommandHelp } from "./help";
import { Reporter } from "./output";
import { runPlan } from "./plan";
import { runSweep } from "./sweep";

/**
 * `preloaded-cos-image`: the build without Pulumi, as a command for CI. A thin layer: flags and the
 * configuration file in, `buildImage()` / the pipeline's functions, results and exit codes out.
 */

const RUNNERS = { build: runBuild, plan: runPlan, sweep: runSweep } as const;

/** Runs the command with `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const reporter = new Reporter(argv.includes("--json"));
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "--help" || name === "-h") {
      if (name === undefined) throw new UsageError("no subcommand given", MAIN_USAGE);
      reporter.help(mainHelp());
      return EXIT.ok;
    }
    const spec = SUBCOMMANDS.find((s) => s.name === name);
    if (!spec) {
      const nearest = nearestKey(
        name,
        SUBCOMMANDS.map((s) => s.name),
      );
      throw new UsageError(
        `unknown subcommand "${name}"${nearest ? ` (did you mean ${nearest}?)` : ""}`,
        MAIN_USAGE,
      );
    }
    const flags = parseFlags(rest, spec);
    if (flags.has("help")) {
      reporter.help(subcommandHelp(spec));
      return EXIT.ok;
    }
    if (spec.name !== "sweep" && !flags.has("config")) {
      throw new UsageError("--config <file> is required", spec.usage);
    }
    return await RUNNERS[spec.name](flags, reporter);
  } catch (error) {
    return reportError(reporter, error);
  }
}

/** Prints the error the way its kind calls for; returns its exit code. */
function reportError(reporter: Reporter, error: unknown): number {
  if (error instanceof UsageError) {
    reporter.error(EXIT.invalid, error);
    if (!reporter.json) reporter.plain(error.usage);
    return EXIT.invalid;
  }
  if (error instanceof ConfigError) {
    reporter.error(EXIT.invalid, error, { problems: error.problems, nothingCreated: true });
    return EXIT.invalid;
  }
  if (error instanceof BuildCancelledError) {
    reporter.error(EXIT.cancelled, error);
    if (!reporter.json) reporter.plain("cancelled: everything the build had made was deleted");
    return EXIT.cancelled;
  }
  if (error instanceof BuildFailedError) {
    reporter.error(EXIT.failed, error, { step: error.step, serialTail: error.serialTail });
    return EXIT.failed;
  }
  reporter.error(EXIT.failed, error instanceof Error ? error : new Error(String(error)));
  return EXIT.failed;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
