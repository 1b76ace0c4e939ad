/**
 * How validation reports bad input: every problem names the field, the offending value and the fix,
 * and all problems of a configuration are reported together, in one error.
 */

/** One thing wrong with the arguments. */
export interface Problem {
  /** Path of the argument, as the user wrote it: `zone`, `steps[2].runScript.env`. */
  field: string;
  /** What is wrong, in a sentence fragment (`is not a valid zone`). */
  message: string;
  /** How to fix it. */
  fix: string;
  /**
   * The offending value, quoted in the message. Leave undefined for secret or bulky values: they are
   * never echoed.
   */
  value?: unknown;
}

/** Renders one problem as a line: `- zone: "us-central1" is not a zone. Fix: ...`. */
export function formatProblem(problem: Problem): string {
  const shown = problem.value === undefined ? "" : ` (got ${JSON.stringify(problem.value)})`;
  return `- ${problem.field}: ${problem.message}${shown}. Fix: ${problem.fix}`;
}

/** Thrown by the component (before any resource is registered) when its arguments are invalid. */
export class InvalidArgumentsError extends Error {
  /** Every problem found, in argument order. */
  readonly problems: readonly Problem[];

  constructor(componentName: string, problems: readonly Problem[]) {
    const count =
      problems.length === 1 ? "1 invalid argument" : `${problems.length} invalid arguments`;
    super(
      `PreloadedCosImage "${componentName}" has ${count}:\n${problems.map(formatProblem).join("\n")}`,
    );
    this.name = "InvalidArgumentsError";
    this.problems = problems;
  }
}
