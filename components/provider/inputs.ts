import type * as pulumi from "@pulumi/pulumi";
import type { PreloadedCosImageArgs } from "../args";
import type { PulledImage } from "../guest/serialLines";
import type { BuildSecrets } from "../secrets";

/**
 * Replaces every `pulumi.Input<T>` in a type by `T`, deeply: what the dynamic provider's methods
 * receive once the engine has resolved the component's inputs.
 */
export type Resolved<T> = pulumi.Unwrap<T>;

/** Inputs of the build resource, as the component registers them. */
export interface ImageBuildInputs {
  /** Start of generated image names: the component's name. */
  namePrefix: string;
  /** Identifies the component instance (project, stack, name); labels every temporary of its builds. */
  ownerId: string;
  /** The Pulumi program's directory, which relative local paths are resolved against. */
  programDir: string;
  /** The user's arguments, with the defaults that need the program (project, zone, scratch bucket) applied. */
  args: Resolved<PreloadedCosImageArgs>;
  /**
   * Environment values given as Outputs and registry credentials, moved out of `args` so that `args`
   * stays readable in previews (see `secrets.ts`); always a secret input.
   */
  secrets: BuildSecrets;
}

/** What `check` adds to the inputs before `diff` and `create` see them. */
export interface CheckedImageBuildInputs extends ImageBuildInputs {
  /** Name of the output image: given, derived from the suffix, or generated. */
  imageName: string;
  /** Resolved source image, as a partial URL `projects/<p>/global/images/<name>`. */
  sourceImage: string;
  /** Content hash of everything that shapes the image (see `contentHash.ts`). */
  contentHash: string;
}

/** The build resource's state: the checked inputs (secrets redacted) plus what the build produced. */
export interface ImageBuildOutputs extends CheckedImageBuildInputs {
  /**
   * Id of the build that produced the image: the `pci-build` label of its temporaries (the image
   * carries it only until the build has finished).
   */
  buildId: string;
  /** Full URL of the output image. */
  imageSelfLink: string;
  /** Numeric id of the output image, as a string. */
  imageId: string;
  /** Family of the output image, or undefined. */
  imageFamily?: string;
  /** Labels on the output image. */
  imageLabels: Record<string, string>;
  /**
   * Every image the `preloadImages` steps pulled into the image, with the runtime and the digest
   * pulled (what a tag resolved to at build time), in pull order. Empty without such steps.
   * Optional: states written before this output existed lack it.
   */
  preloadedImages?: PulledImage[];
  /** True when the image exists but deprecating older family images failed; update finishes it. */
  deprecationPending?: boolean;
}
