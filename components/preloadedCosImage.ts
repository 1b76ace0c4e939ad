import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { PreloadedCosImageArgs } from "./args";
import type { PulledImage } from "./guest/serialLines";
import { regionOfZone } from "./google/names";
import { MANAGED_BY, ownerIdOf } from "./naming";
import { ImageBuild, type ImageBuildResourceInputs } from "./provider/imageBuild";
import { LeftoverSweeper } from "./provider/leftoverSweeper";
import { splitSecrets } from "./secrets";
import { InvalidArgumentsError, validateArgs, type ValidationContext } from "./validation";

/** Type token of the component; its package part is the npm package name. */
export const COMPONENT_TYPE = "preloaded-cos-image:index:PreloadedCosImage";

/** Scratch objects of killed builds expire after this many days (a safety net; builds delete their own). */
export const SCRATCH_OBJECT_TTL_DAYS = 1;

/**
 * A customized Container-Optimized OS image, built as part of `pulumi up`.
 *
 * The component boots a temporary VM from the source image, runs the build steps in it with
 * cloud-init, and turns its boot disk into a new image. Every temporary VM, disk, image and object
 * lives only inside the build and is deleted when it ends, whether it succeeds, fails or times out.
 * A change of any input that shapes the image builds a new image: with a generated name, the new one
 * is made before the old one is deleted; with a fixed name (`imageName`, `imageNameSuffix`), the old
 * one is deleted first. Label changes update the image in place.
 *
 * ```ts
 * const image = new PreloadedCosImage("web", {
 *   sourceImageFamily: "cos-stable",
 *   buildContext: "./image",
 *   steps: [{ runScript: { script: "setup.sh" } }],
 *   imageFamily: "web-cos",
 * });
 * export const imageSelfLink = image.imageSelfLink;
 * ```
 */
export class PreloadedCosImage extends pulumi.ComponentResource {
  /** Name of the output image. */
  public readonly imageName: pulumi.Output<string>;
  /** Full URL of the output image, for instance templates and node pools. */
  public readonly imageSelfLink: pulumi.Output<string>;
  /** Numeric id of the output image. */
  public readonly imageId: pulumi.Output<string>;
  /** Family of the output image, or undefined when none was set. */
  public readonly imageFamily: pulumi.Output<string | undefined>;
  /** The source image the build started from, resolved (`projects/<p>/global/images/<name>`). */
  public readonly sourceImage: pulumi.Output<string>;
  /** The scratch bucket the build used: the given `bucket`, or the one the component created. */
  public readonly bucketName: pulumi.Output<string>;
  /**
   * Every image the `preloadImages` steps pulled: `{ image, runtime, digest }` with the image as
   * given, `containerd` or `docker`, and the digest pulled (what a tag resolved to at build time).
   * Empty without such steps, or for an image built before this output existed.
   */
  public readonly preloadedImages: pulumi.Output<PulledImage[]>;

  /**
   * @param name Logical name; also the start of generated image names and of child names.
   * @param args What to build. Invalid arguments throw {@link InvalidArgumentsError}, listing every
   *   problem, before any resource is registered.
   * @param opts Component options. The build runs with the project and zone given in `args` or the
   *   stack's `gcp:` config, and with Application Default Credentials: a `gcp.Provider` passed here
   *   applies to the scratch bucket only.
   */
  constructor(name: string, args: PreloadedCosImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const context = programValidationContext();
    const problems = validateArgs(args, context);
    if (problems.length > 0) throw new InvalidArgumentsError(name, problems);
    super(COMPONENT_TYPE, name, {}, opts);

    const project = args.project ?? guaranteedByValidation(context.defaultProject);
    const zone = args.zone ?? guaranteedByValidation(context.defaultZone);
    this.bucketName = args.bucket
      ? pulumi.output(args.bucket)
      : createScratchBucket(name, project, zone, this).name;

    const ownerId = ownerIdOf(pulumi.getProject(), pulumi.getStack(), name);
    // Before the build and deleted after it: destroy sweeps every place its builds ran.
    const leftovers = new LeftoverSweeper(
      `${name}-leftovers`,
      {
        ownerId,
        namePrefix: name,
        project,
        zone,
        imageProject: args.imageProject,
        bucket: this.bucketName,
        bucketPrefix: args.bucketPrefix,
        endpoints: args.apiEndpoints ?? {},
      },
      { parent: this },
    );
    const { args: shownArgs, secrets } = splitSecrets(args);
    const inputs: ImageBuildResourceInputs = {
      namePrefix: name,
      ownerId,
      programDir: process.cwd(),
      args: { ...shownArgs, project, zone, bucket: this.bucketName },
      secrets: pulumi.secret(secrets),
    };
    const build = new ImageBuild(name, inputs, {
      parent: this,
      dependsOn: [leftovers],
      additionalSecretOutputs: ["secrets"],
    });

    this.imageName = build.imageName;
    this.imageSelfLink = build.imageSelfLink;
    this.imageId = build.imageId;
    this.imageFamily = build.imageFamily;
    this.sourceImage = build.sourceImage;
    this.preloadedImages = build.preloadedImages.apply((pulled) => pulled ?? []);
    this.registerOutputs({
      imageName: this.imageName,
      imageSelfLink: this.imageSelfLink,
      imageId: this.imageId,
      imageFamily: this.imageFamily,
      sourceImage: this.sourceImage,
      bucketName: this.bucketName,
      preloadedImages: this.preloadedImages,
    });
  }
}

/** A default that validation has already required (it reports a missing project or zone). */
function guaranteedByValidation(value: string | undefined): string {
  if (value === undefined)
    throw new Error("internal error: validation let a required default through");
  return value;
}

/**
 * The scratch bucket for builds whose user named none: in the build's region, uniform access, and a
 * lifecycle rule that deletes objects after a day, so that even the archive of a killed build goes away.
 */
function createScratchBucket(
  name: string,
  project: pulumi.Input<string>,
  zone: pulumi.Input<string>,
  parent: pulumi.Resource,
): gcp.storage.Bucket {
  return new gcp.storage.Bucket(
    `${name}-scratch`,
    {
      project,
      location: pulumi.output(zone).apply((z) => regionOfZone(z).toUpperCase()),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      forceDestroy: true,
      labels: { "managed-by": MANAGED_BY },
      lifecycleRules: [{ action: { type: "Delete" }, condition: { age: SCRATCH_OBJECT_TTL_DAYS } }],
    },
    { parent },
  );
}

/**
 * Defaults the program supplies: relative paths start at the program's directory (Pulumi runs programs
 * there), project and zone come from the stack's `gcp:` config or the variables the gcp provider reads.
 */
function programValidationContext(): ValidationContext {
  const gcpConfig = new pulumi.Config("gcp");
  const env = process.env;
  return {
    baseDir: process.cwd(),
    defaultProject:
      gcpConfig.get("project") ??
      env.GOOGLE_PROJECT ??
      env.GOOGLE_CLOUD_PROJECT ??
      env.CLOUDSDK_CORE_PROJECT,
    defaultZone: gcpConfig.get("zone") ?? env.GOOGLE_ZONE ?? env.CLOUDSDK_COMPUTE_ZONE,
  };
}
