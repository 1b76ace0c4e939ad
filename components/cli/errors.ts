import { formatProblem, type Problem } from "../validation";

/** Exit codes of the command (see the README): each names one outcome a CI step can act on. */
export const EXIT = {
  /** Done: built, nothing to do, planned, swept. */
  ok: 0,
  /** The build failed (or an API error stopped it). */
  failed: 1,
  /** Invalid command line or configuration: nothing was created. */
  invalid: 2,
  /** Cancelled by SIGINT/SIGTERM (128 + SIGINT, as shells report it). */
  cancelled: 130,
} as const;

/** A bad command line: unknown subcommand or flag, missing value. Printed with the usage line. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage line of the subcommand (or of the command). */
    readonly usage: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A bad configuration (file, `--set`, environment, flags' values): every problem at once. */
export class ConfigError extends Error {
  constructor(
    /** What was read: the file, or `sweep flags`. */
    readonly source: string,
    /** Every problem, each naming the field and the fix. */
    readonly problems: readonly Problem[],
  ) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`${source} has ${count}:\n${problems.map(formatProblem).join("\n")}`);
    this.name = "ConfigError";
  }
}
