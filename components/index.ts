/**
 * preloaded-cos-image: a Pulumi component that builds customized Container-Optimized OS images on
 * Google Compute Engine.
 */
export * from "./args";
export { COMPONENT_TYPE, PreloadedCosImage } from "./preloadedCosImage";
export {
  InvalidArgumentsError,
  validateArgs,
  type Problem,
  type ValidationContext,
} from "./validation";
