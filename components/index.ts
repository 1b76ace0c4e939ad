/**
 * preloaded-cos-image: a Pulumi component that builds customized Container-Optimized OS images on
 * Google Compute Engine.
 */
export * from "./args";
export { COMPONENT_TYPE, PreloadedCosImage } from "./preloadedCosImage";
export {
  buildImage,
  type BuildImageArgs,
  type BuildImageEvent,
  type BuildImageOptions,
  type BuiltImage,
} from "./buildImage";
export type { PulledImage } from "./guest/serialLines";
export { BuildFailedError, ImageNameTakenError } from "./pipeline/errors";
export { BuildCancelledError, DeadlineExceededError } from "./google/deadline";
export {
  InvalidArgumentsError,
  validateArgs,
  type Problem,
  type ValidationContext,
} from "./validation";
