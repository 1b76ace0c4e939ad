import type { PreloadedCosImageArgs } from "../args";

/** What validation needs besides the arguments themselves. */
export interface ValidationContext {
  /** Directory that relative local paths (build context, extra files) are resolved against. */
  baseDir: string;
  /** Project from the stack's `gcp:project` config or the environment, used when `project` is unset. */
  defaultProject?: string;
  /** Zone from the stack's `gcp:zone` config or the environment, used when `zone` is unset. */
  defaultZone?: string;
}

/** The arguments being validated: the user's args, whose values may still be Outputs. */
export type ArgsUnderValidation = PreloadedCosImageArgs;
