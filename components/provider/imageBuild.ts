import * as pulumi from "@pulumi/pulumi";
import { providerLoadedByName } from "./serializedProvider";
import type { PulledImage } from "../guest/serialLines";
import type { PreloadedCosImageArgs } from "../args";
import type { BuildSecrets } from "../secrets";
import type { ImageBuildInputs } from "./inputs";

/** Module and type of the build resource: its token is `pulumi-nodejs:dynamic/preloaded-cos-image:ImageBuild`. */
export const IMAGE_BUILD_MODULE = "preloaded-cos-image";
export const IMAGE_BUILD_TYPE = "ImageBuild";

/**
 * {@link ImageBuildInputs} as the program has them: `args` still holds the user's Inputs (the engine
 * resolves them, deeply, before `check`), and the secrets are one secret Output.
 */
export type ImageBuildResourceInputs = {
  [K in Exclude<keyof ImageBuildInputs, "args" | "secrets">]: pulumi.Input<ImageBuildInputs[K]>;
} & {
  args: PreloadedCosImageArgs;
  secrets: pulumi.Input<BuildSecrets>;
};

/**
 * The output image and the build that makes it. `create` runs the whole build (every temporary VM,
 * disk, image and object lives and dies inside it), `delete` deletes the image and sweeps leftovers.
 */
export class ImageBuild extends pulumi.dynamic.Resource {
  /** Name of the output image. */
  declare readonly imageName: pulumi.Output<string>;
  /** Full URL of the output image. */
  declare readonly imageSelfLink: pulumi.Output<string>;
  /** Numeric id of the output image. */
  declare readonly imageId: pulumi.Output<string>;
  /** Family of the output image, if any. */
  declare readonly imageFamily: pulumi.Output<string | undefined>;
  /** Labels of the output image. */
  declare readonly imageLabels: pulumi.Output<Record<string, string>>;
  /** The resolved source image (`projects/<p>/global/images/<name>`). */
  declare readonly sourceImage: pulumi.Output<string>;
  /** Content hash of the build's inputs. */
  declare readonly contentHash: pulumi.Output<string>;
  /** Id of the build that made the image. */
  declare readonly buildId: pulumi.Output<string>;
  /** The images the `preloadImages` steps pulled, with runtime and digest (see ImageBuildOutputs). */
  declare readonly preloadedImages: pulumi.Output<PulledImage[] | undefined>;

  constructor(name: string, inputs: ImageBuildResourceInputs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerLoadedByName("build"),
      name,
      {
        ...inputs,
        // Declared here so that they become output properties of the resource.
        imageName: undefined,
        imageSelfLink: undefined,
        imageId: undefined,
        imageFamily: undefined,
        imageLabels: undefined,
        sourceImage: undefined,
        contentHash: undefined,
        buildId: undefined,
        preloadedImages: undefined,
      },
      opts,
      IMAGE_BUILD_MODULE,
      IMAGE_BUILD_TYPE,
    );
  }
}
