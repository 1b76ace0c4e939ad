import { checkBuildContext } from "./buildContext";
import type { ArgsUnderValidation, ValidationContext } from "./context";
import { checkArgKeys } from "./keys";
import { checkOutputImage } from "./outputImage";
import type { Problem } from "./problems";
import { ArgsReader } from "./reader";
import { checkSourceImage } from "./source";
import { checkSteps } from "./steps";
import { checkStorageAndLimits } from "./storage";
import { checkVm } from "./vm";

export type { ValidationContext } from "./context";
export { InvalidArgumentsError, formatProblem, type Problem } from "./problems";
export { ARG_KEYS } from "./keys";
export { nearestKey, unknownKeyFix, unknownKeyProblems } from "./suggest";

/**
 * Every rule of the component, over whatever part of the arguments is already known. Pure apart from
 * reading the local file system (the build context and extra files must exist). Returns all problems,
 * in argument order; an empty list means valid.
 */
export function validateArgs(args: ArgsUnderValidation, ctx: ValidationContext): Problem[] {
  const reader = new ArgsReader();
  if (typeof args !== "object" || args === null) {
    reader.report({
      field: "args",
      message: "is missing",
      fix: "pass an arguments object with at least a source image",
    });
    return reader.problems;
  }
  // Unknown keys first: a misspelt key explains the "is required" problems that may follow.
  checkArgKeys(reader, args);
  checkSourceImage(reader, args);
  const context = checkBuildContext(reader, args, ctx);
  checkSteps(reader, args, context);
  checkOutputImage(reader, args);
  checkVm(reader, args, ctx);
  checkStorageAndLimits(reader, args);
  return reader.problems;
}
