import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PreloadedCosImageArgs } from "../../components/args";
import {
  InvalidArgumentsError,
  formatProblem,
  validateArgs,
  type ValidationContext,
} from "../../components/validation";
import { minimumDiskSizeGb, parseOemSize } from "../../components/validation/diskLayout";
import { OUTPUT_IMAGE_OPTIONS } from "../support/outputImageOptions";
import { MINIMAL_ARGS } from "../support/minimalArgs";

/** A build context with a script, a directory, a GPU deps dir with a .run file, and an extra file. */
function makeFixture(): { root: string; context: string; extra: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pci-validation-"));
  const context = path.join(root, "context");
  fs.mkdirSync(path.join(context, "scripts"), { recursive: true });
  fs.mkdirSync(path.join(context, "gpu"));
  fs.writeFileSync(path.join(context, "setup.sh"), "echo hi\n");
  fs.writeFileSync(path.join(context, "scripts", "two.sh"), "echo two\n");
  fs.writeFileSync(path.join(context, "gpu", "NVIDIA-Linux-x86_64-535.183.01.run"), "fake");
  const extra = path.join(root, "extra.txt");
  fs.writeFileSync(extra, "extra");
  return { root, context, extra };
}

const fixture = makeFixture();
const ctx: ValidationContext = { baseDir: fixture.root };

const base: PreloadedCosImageArgs = MINIMAL_ARGS;

type Case = {
  name: string;
  args: PreloadedCosImageArgs;
  /** Substrings the formatted problems must contain. */
  expect: string[];
  /** Number of problems; 1 unless said otherwise. */
  count?: number;
  context?: ValidationContext;
};

const gpu = { gpuType: "nvidia-tesla-t4" };
const run = (script: string, extra: object = {}) => ({ runScript: { script, ...extra } });

const cases: Case[] = [
  // ---- source image
  {
    name: "no source image",
    args: { ...base, sourceImageFamily: undefined },
    expect: ["sourceImage: no source image is selected", "set exactly one of"],
  },
  {
    name: "two source selectors",
    args: { ...base, sourceImage: "cos-stable-117-18613-164-4" },
    expect: ["sourceImage, sourceImageFamily: select the source image in more than one way"],
  },
  {
    name: "milestone outside cos-cloud",
    args: {
      ...base,
      sourceImageFamily: undefined,
      sourceImageMilestone: 117,
      sourceImageProject: "my-images",
    },
    expect: ['sourceImageMilestone: can only select images in "cos-cloud"', '"my-images"'],
  },
  {
    name: "milestone zero",
    args: { ...base, sourceImageFamily: undefined, sourceImageMilestone: 0 },
    expect: ["sourceImageMilestone: must be a whole number from 1 to 9999 (got 0)"],
  },
  {
    name: "fractional milestone",
    args: { ...base, sourceImageFamily: undefined, sourceImageMilestone: 117.5 },
    expect: ["sourceImageMilestone: must be a whole number", "(got 117.5)"],
  },
  {
    name: "bad source image name",
    args: { ...base, sourceImageFamily: undefined, sourceImage: "Cos_Stable" },
    expect: ['sourceImage: is neither an image name nor an image URL (got "Cos_Stable")'],
  },
  {
    name: "bad project in source image URL",
    args: { ...base, sourceImageFamily: undefined, sourceImage: "projects/X/global/images/cos" },
    expect: ["sourceImage: is neither an image name nor an image URL"],
  },
  {
    name: "bad source family",
    args: { ...base, sourceImageFamily: "COS stable" },
    expect: ['sourceImageFamily: is not a valid image family name (got "COS stable")'],
  },
  {
    name: "bad source project",
    args: { ...base, sourceImageProject: "ab" },
    expect: ['sourceImageProject: is not a valid project id (got "ab")'],
  },
  {
    name: "source project of wrong type",
    args: { ...base, sourceImageProject: 42 as unknown as string },
    expect: ["sourceImageProject: must be a string (got 42)"],
  },
  // ---- build context and extra files
  {
    name: "missing build context",
    args: { ...base, buildContext: "nope" },
    expect: ["buildContext: does not exist", '(got "nope")'],
  },
  {
    name: "build context is a file",
    args: { ...base, buildContext: "extra.txt", steps: [] },
    expect: ["buildContext: is a file, not a directory"],
  },
  {
    name: "absolute extra file destination",
    args: { ...base, extraFiles: { "/etc/x": fixture.extra } },
    expect: ['extraFiles["/etc/x"]: destination is absolute'],
  },
  {
    name: "extra file destination leaves the context",
    args: { ...base, extraFiles: { "../x": fixture.extra } },
    expect: ["destination leaves the build context with '..'"],
  },
  {
    name: "extra file destination with a backslash",
    args: { ...base, extraFiles: { "a\\b": fixture.extra } },
    expect: ["destination contains a backslash"],
  },
  {
    name: "missing extra file",
    args: { ...base, extraFiles: { "x.txt": "missing.txt" } },
    expect: ['extraFiles["x.txt"]: names a local file that does not exist (got "missing.txt")'],
  },
  {
    name: "extra file is a directory",
    args: { ...base, extraFiles: { x: "context" } },
    expect: ['extraFiles["x"]: names a directory'],
  },
  {
    name: "extra file overwrites the context",
    args: { ...base, extraFiles: { "setup.sh": fixture.extra } },
    expect: ['extraFiles["setup.sh"]: would overwrite "setup.sh" of the build context'],
  },
  // ---- steps: shape
  {
    name: "steps is not a list",
    args: { ...base, steps: { runScript: { script: "setup.sh" } } as never },
    expect: ["steps: must be a list of steps"],
  },
  {
    name: "step with no kind",
    args: { ...base, steps: [{}] },
    expect: ["steps[0]: sets no step kind"],
  },
  {
    name: "step with two kinds",
    args: { ...base, steps: [{ ...run("setup.sh"), disableAutoUpdate: {} }] },
    expect: ["steps[0]: sets 2 step kinds (runScript, disableAutoUpdate)"],
  },
  {
    name: "unknown step kind",
    args: { ...base, steps: [{ runScrpt: { script: "setup.sh" } } as never] },
    expect: ['steps[0]: has unknown step kinds (got ["runScrpt"])'],
  },
  // ---- runScript
  {
    name: "script missing",
    args: { ...base, steps: [{ runScript: {} as never }] },
    expect: ["steps[0].runScript.script: is required"],
  },
  {
    name: "absolute script path",
    args: { ...base, steps: [run("/setup.sh")] },
    expect: ['steps[0].runScript.script: is absolute (got "/setup.sh")'],
  },
  {
    name: "script not in the context",
    args: { ...base, steps: [run("setup.sh"), run("nothere.sh")] },
    expect: ['steps[1].runScript.script: is not in the build context "context" (got "nothere.sh")'],
  },
  {
    name: "script is a directory",
    args: { ...base, steps: [run("scripts")] },
    expect: ["steps[0].runScript.script: is a directory"],
  },
  {
    name: "./ script path",
    args: { ...base, steps: [run("./setup.sh")] },
    expect: ["steps[0].runScript.script: has an empty or '.' segment"],
  },
  {
    name: "invalid env name",
    args: { ...base, steps: [run("setup.sh", { env: { "1ABC": "x" } })] },
    expect: ['steps[0].runScript.env: has an invalid variable name (got "1ABC")'],
  },
  {
    name: "reserved env name",
    args: { ...base, steps: [run("setup.sh", { env: { PCI_STATE: "x" } })] },
    expect: ["uses the prefix PCI_, which the provisioner reserves"],
  },
  {
    name: "non-string env value is not echoed",
    args: { ...base, steps: [run("setup.sh", { env: { TOKEN: 424242 } })] },
    expect: ["steps[0].runScript.env.TOKEN: must be a string. Fix: quote the value"],
  },
  {
    name: "allowReboot of wrong type",
    args: { ...base, steps: [run("setup.sh", { allowReboot: "yes" })] },
    expect: ['steps[0].runScript.allowReboot: must be true or false (got "yes")'],
  },
  {
    name: "unknown runScript option",
    args: { ...base, steps: [run("setup.sh", { environment: {} })] },
    expect: ["steps[0].runScript.environment: is not an option of this step"],
  },
  // ---- installGpuDriver
  {
    name: "GPU driver without a GPU",
    args: { ...base, steps: [{ installGpuDriver: {} }] },
    expect: ["steps[0].installGpuDriver: needs a GPU on the preload VM", "set gpuType"],
  },
  {
    name: "two GPU driver steps",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: {} }, { installGpuDriver: {} }] },
    expect: ["steps: has 2 installGpuDriver steps"],
  },
  {
    name: "bad md5sum",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { md5sum: "abc" } }] },
    expect: ['steps[0].installGpuDriver.md5sum: is not an md5 checksum (got "abc")'],
  },
  {
    name: "install dir not persisted",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { installDir: "/opt/nvidia" } }] },
    expect: ["installDir: must be an absolute directory under /var or /home"],
  },
  {
    name: "install dir with ..",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { installDir: "/var/../etc" } }] },
    expect: ["installDir: must be an absolute directory under /var or /home"],
  },
  {
    name: "bad driver version",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { version: "newest" } }] },
    expect: ['steps[0].installGpuDriver.version: is not a driver version (got "newest")'],
  },
  {
    name: ".run installer without depsDir",
    args: {
      ...base,
      ...gpu,
      steps: [{ installGpuDriver: { version: "NVIDIA-Linux-x86_64-535.183.01.run" } }],
    },
    count: 2,
    expect: [
      "steps[0].installGpuDriver.depsDir: is required because version names the installer file",
      "steps[0].installGpuDriver.depsDir: and .run installer versions are not available yet",
    ],
  },
  {
    name: "depsDir not in the context",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { depsDir: "drivers" } }] },
    count: 2,
    expect: ["steps[0].installGpuDriver.depsDir: is not a directory of the build context"],
  },
  {
    name: "depsDir not available yet",
    args: { ...base, ...gpu, steps: [{ installGpuDriver: { depsDir: "gpu" } }] },
    expect: [
      "steps[0].installGpuDriver.depsDir: and .run installer versions are not available yet",
      'remove depsDir and give a driver version such as "535.183.01"',
    ],
  },
  {
    name: ".run installer missing from depsDir",
    args: {
      ...base,
      ...gpu,
      steps: [{ installGpuDriver: { version: "NVIDIA-Linux-x86_64-550.run", depsDir: "gpu" } }],
    },
    count: 2,
    expect: ['steps[0].installGpuDriver.version: is not a file in depsDir "gpu"'],
  },
  // ---- preloadImages
  {
    name: "no images to preload",
    args: { ...base, steps: [{ preloadImages: { images: [] } }] },
    expect: ["steps[0].preloadImages.images: lists no image"],
  },
  {
    name: "bad image reference",
    args: { ...base, steps: [{ preloadImages: { images: ["nginx:1.27", "Bad Image"] } }] },
    expect: ['steps[0].preloadImages.images: has an invalid image reference (got "Bad Image")'],
  },
  {
    name: "unknown runtime",
    args: {
      ...base,
      steps: [{ preloadImages: { images: ["nginx"], runtime: "podman" as never } }],
    },
    expect: ['steps[0].preloadImages.runtime: is not a container runtime (got "podman")'],
  },
  {
    name: "credential without password",
    args: {
      ...base,
      steps: [
        {
          preloadImages: {
            images: ["ghcr.io/o/a:1"],
            credentials: [{ registry: "ghcr.io", username: "me" } as never],
          },
        },
      ],
    },
    expect: ["steps[0].preloadImages.credentials[0].password: is required"],
  },
  {
    name: "credentials for one registry twice",
    args: {
      ...base,
      steps: [
        {
          preloadImages: {
            images: ["ghcr.io/o/a:1"],
            credentials: [
              { registry: "ghcr.io", username: "a", password: "b" },
              { registry: "ghcr.io", username: "c", password: "d" },
            ],
          },
        },
      ],
    },
    expect: [
      'steps[0].preloadImages.credentials[1].registry: has credentials twice (got "ghcr.io")',
    ],
  },
  {
    name: "registry with a scheme",
    args: {
      ...base,
      steps: [
        {
          preloadImages: {
            images: ["ghcr.io/o/a:1"],
            credentials: [{ registry: "https://ghcr.io", username: "a", password: "b" }],
          },
        },
      ],
    },
    expect: ['credentials[0].registry: is not a registry host name (got "https://ghcr.io")'],
  },
  // ---- options-free steps and disk layout
  {
    name: "disableAutoUpdate with options",
    args: { ...base, steps: [{ disableAutoUpdate: { now: true } as never }] },
    expect: ["steps[0].disableAutoUpdate: takes no options", "write it as {}"],
  },
  {
    name: "disableAutoUpdate as a boolean",
    args: { ...base, steps: [{ disableAutoUpdate: true as never }] },
    expect: ["steps[0].disableAutoUpdate: must be an object (got true). Fix: write it as {}"],
  },
  {
    name: "malformed OEM size",
    args: { ...base, steps: [{ extendOemPartition: { size: "1T" } }] },
    expect: ['steps[0].extendOemPartition.size: is not a size (got "1T")'],
  },
  {
    name: "OEM size below the minimum",
    args: { ...base, steps: [{ extendOemPartition: { size: "8M" } }] },
    expect: ['steps[0].extendOemPartition.size: is below the 16M minimum (got "8M")'],
  },
  {
    name: "disk too small for the OEM size",
    args: { ...base, steps: [{ extendOemPartition: { size: "2G" } }] },
    expect: [
      "diskSizeGb: is 10 GB, but the disk layout needs at least 12 GB (OEM size + image size (10 GB))",
    ],
  },
  {
    name: "disk too small for a sealed OEM",
    args: {
      ...base,
      diskSizeGb: 12,
      steps: [{ extendOemPartition: { size: "2G" } }, { sealOemPartition: {} }],
    },
    expect: [
      "diskSizeGb: is 12 GB, but the disk layout needs at least 13 GB (OEM size x 2 - reclaimed space (2046 MiB) + image size (10 GB))",
    ],
  },
  {
    name: "disk too small with the root partition reclaimed",
    args: {
      ...base,
      steps: [{ extendOemPartition: { size: "4G" } }, { reclaimRootPartition: {} }],
    },
    expect: ["needs at least 13 GB (OEM size - reclaimed space (2046 MiB) + image size (10 GB))"],
  },
  {
    name: "disk too small with the root partition reclaimed by disableAutoUpdate",
    args: {
      ...base,
      diskSizeGb: 12,
      steps: [{ extendOemPartition: { size: "4G" } }, { disableAutoUpdate: {} }],
    },
    expect: [
      "diskSizeGb: is 12 GB, but the disk layout needs at least 13 GB (OEM size - reclaimed space (2046 MiB) + image size (10 GB))",
      "raise diskSizeGb, or lower the extendOemPartition size",
    ],
  },
  {
    name: "extendOemPartition without options",
    args: { ...base, steps: [{ extendOemPartition: true as never }] },
    expect: [
      "steps[0].extendOemPartition: must be an object (got true). Fix: give the step's options as an object",
    ],
  },
  {
    name: "sealOemPartition with options",
    args: { ...base, steps: [{ sealOemPartition: { size: "1G" } as never }] },
    expect: ["steps[0].sealOemPartition: takes no options", "write it as {}"],
  },
  // ---- output image
  {
    name: "name and suffix together",
    args: { ...base, imageName: "web", imageNameSuffix: "-x" },
    expect: ["imageName, imageNameSuffix: are mutually exclusive"],
  },
  {
    name: "bad image name",
    args: { ...base, imageName: "Web_Image" },
    expect: ['imageName: is not a valid image name (got "Web_Image")'],
  },
  {
    name: "image name too long",
    args: { ...base, imageName: `a${"b".repeat(63)}` },
    expect: ["imageName: is not a valid image name"],
  },
  {
    name: "bad suffix characters",
    args: { ...base, imageNameSuffix: "_preloaded" },
    expect: ["imageNameSuffix: can only hold lowercase letters, digits and hyphens"],
  },
  {
    name: "suffix makes the name too long",
    args: {
      ...base,
      sourceImageFamily: undefined,
      sourceImage: "cos-stable-117-18613-164-4",
      imageNameSuffix: `-${"x".repeat(40)}`,
    },
    expect: [
      'imageNameSuffix: makes the image name "cos-stable-117-18613-164-4-xxxx',
      "longer than 63 characters",
    ],
  },
  {
    name: "bad image project",
    args: { ...base, imageProject: "Images" },
    expect: ['imageProject: is not a valid project id (got "Images")'],
  },
  {
    name: "bad image family",
    args: { ...base, imageFamily: "web-" },
    expect: ['imageFamily: is not a valid family name (got "web-")'],
  },
  {
    name: "description too long",
    args: { ...base, imageDescription: "d".repeat(2049) },
    expect: ["imageDescription: is 2049 characters long; GCE allows 2048"],
  },
  {
    name: "bad label key",
    args: { ...base, imageLabels: { Env: "prod" } },
    expect: ['imageLabels: has an invalid label key (got "Env")'],
  },
  {
    name: "bad label value",
    args: { ...base, imageLabels: { env: "Prod!" } },
    expect: ['imageLabels.env: is not a valid label value (got "Prod!")'],
  },
  {
    name: "too many labels",
    args: {
      ...base,
      imageLabels: Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`k${i}`, "v"])),
    },
    expect: ["imageLabels: has too many labels (GCE allows 64, and the component adds 5) (got 61)"],
  },
  {
    name: "bad license",
    args: { ...base, imageLicenses: ["cos-gpu"] },
    expect: ['imageLicenses: is not a license reference (got "cos-gpu")'],
  },
  {
    name: "deprecation without a family",
    args: { ...base, deprecateOlderImages: true },
    expect: ["deprecateOlderImages: needs an image family"],
  },
  {
    name: "TTL without deprecation",
    args: { ...base, imageFamily: "web", deprecatedImageTtlDays: 30 },
    expect: ["deprecatedImageTtlDays: only applies to images deprecated by deprecateOlderImages"],
  },
  {
    name: "TTL out of range",
    args: { ...base, imageFamily: "web", deprecateOlderImages: true, deprecatedImageTtlDays: 0 },
    expect: ["deprecatedImageTtlDays: must be a whole number from 1 to 3650 days (got 0)"],
  },
  {
    name: "two storage locations",
    args: { ...base, imageStorageLocations: ["us", "eu"] },
    expect: ["imageStorageLocations: lists more than one location"],
  },
  {
    name: "bad storage location",
    args: { ...base, imageStorageLocations: ["mars"] },
    expect: ['imageStorageLocations: is not a storage location (got "mars")'],
  },
  {
    name: "unknown guest OS feature",
    args: { ...base, guestOsFeatures: ["FAST_BOOT"] },
    expect: ['guestOsFeatures: is not a guest OS feature (got "FAST_BOOT")'],
  },
  {
    name: "disk smaller than COS",
    args: { ...base, diskSizeGb: 8 },
    expect: ["diskSizeGb: must be a whole number from 10 to 65536 GB (got 8)"],
  },
  // ---- preload VM
  {
    name: "no project anywhere",
    args: { ...base, project: undefined },
    expect: [
      "project: is not set and the stack has no gcp:project",
      "pulumi config set gcp:project",
    ],
  },
  {
    name: "bad project",
    args: { ...base, project: "My Project" },
    expect: ['project: is not a valid project id (got "My Project")'],
  },
  {
    name: "no zone anywhere",
    args: { ...base, zone: undefined },
    expect: ["zone: is not set and the stack has no gcp:zone"],
  },
  {
    name: "region given as zone",
    args: { ...base, zone: "us-central1" },
    expect: ['zone: is not a zone (got "us-central1")', "a region like"],
  },
  {
    name: "bad machine type",
    args: { ...base, machineType: "Big Machine" },
    expect: ['machineType: is not a machine type name (got "Big Machine")'],
  },
  {
    name: "E2 machine with a GPU",
    args: { ...base, ...gpu, machineType: "e2-standard-4" },
    expect: ["machineType: is an E2 machine type, and E2 machines take no GPUs"],
  },
  {
    name: "bad disk type",
    args: { ...base, diskType: "pd-fast" },
    expect: ['diskType: is not a disk type (got "pd-fast")'],
  },
  {
    name: "bad GPU count",
    args: { ...base, ...gpu, gpuCount: 3 },
    expect: ["gpuCount: is not a GPU count GCE offers (got 3)"],
  },
  {
    name: "GPU count without type",
    args: { ...base, gpuCount: 1 },
    expect: ["gpuCount: is set without gpuType"],
  },
  {
    name: "bad GPU type",
    args: { ...base, gpuType: "tesla" },
    expect: ['gpuType: is not an accelerator type (got "tesla")'],
  },
  {
    name: "bad provisioning model",
    args: { ...base, vmProvisioningModel: "CHEAP" as never },
    expect: ['vmProvisioningModel: is not a provisioning model (got "CHEAP")'],
  },
  {
    name: "too many preemption retries",
    args: { ...base, preemptionRetries: 9 },
    expect: ["preemptionRetries: must be a whole number from 0 to 5 (got 9)"],
  },
  {
    name: "bad VM label",
    args: { ...base, vmLabels: { team: "Core Team" } },
    expect: ['vmLabels.team: is not a valid label value (got "Core Team")'],
  },
  {
    name: "bad network",
    args: { ...base, network: "my network" },
    expect: ['network: is not a network name or URL (got "my network")'],
  },
  {
    name: "bad subnetwork URL",
    args: { ...base, subnetwork: "projects/p/global/subnetworks/s" },
    expect: ["subnetwork: is not a subnetwork name or URL"],
  },
  {
    name: "bad service account",
    args: { ...base, serviceAccountEmail: "builder" },
    expect: ['serviceAccountEmail: is not a service account email (got "builder")'],
  },
  {
    name: "bad scope",
    args: { ...base, serviceAccountScopes: ["Cloud Platform"] },
    expect: ['serviceAccountScopes: is not an OAuth scope (got "Cloud Platform")'],
  },
  {
    name: "bad network tag",
    args: { ...base, networkTags: ["web_server"] },
    expect: ['networkTags: is not a valid network tag (got "web_server")'],
  },
  {
    name: "externalIp of wrong type",
    args: { ...base, externalIp: "no" as never },
    expect: ['externalIp: must be true or false (got "no")'],
  },
  // ---- scratch storage, limits, endpoints
  {
    name: "bucket as a URL",
    args: { ...base, bucket: "gs://my-bucket" },
    expect: ['bucket: is not a Cloud Storage bucket name (got "gs://my-bucket")'],
  },
  {
    name: "absolute bucket prefix",
    args: { ...base, bucketPrefix: "/builds" },
    expect: ["bucketPrefix: must not start with '/' or gs:// (got \"/builds\")"],
  },
  {
    name: "bucket prefix with ..",
    args: { ...base, bucketPrefix: "a/../b" },
    expect: ["bucketPrefix: must not contain '.' or '..' segments"],
  },
  {
    name: "timeout too short",
    args: { ...base, buildTimeoutMinutes: 2 },
    expect: ["buildTimeoutMinutes: must be a whole number from 5 to 1440 minutes (got 2)"],
  },
  {
    name: "endpoint without scheme",
    args: { ...base, apiEndpoints: { compute: "localhost:8085" } },
    expect: ['apiEndpoints.compute: is not an http(s) URL (got "localhost:8085")'],
  },
  {
    name: "unknown endpoint",
    args: { ...base, apiEndpoints: { pubsub: "http://127.0.0.1:1" } as never },
    expect: ["apiEndpoints.pubsub: is not an API endpoint this component uses"],
  },
];

describe("validateArgs", () => {
  it("accepts the base configuration", () => {
    expect(validateArgs(base, ctx)).to.deep.equal([]);
  });

  it("accepts a configuration that uses every option", () => {
    const full: PreloadedCosImageArgs = {
      sourceImage: "projects/cos-cloud/global/images/cos-stable-117-18613-164-4",
      buildContext: "context",
      extraFiles: { "extra/notes.txt": "extra.txt" },
      steps: [
        run("setup.sh", { env: { A: "x,y", B: '"quoted"\n' }, allowReboot: true }),
        run("extra/notes.txt"),
        {
          installGpuDriver: {
            version: "535.183.01",
            md5sum: "0123456789abcdef0123456789abcdef",
            installDir: "/var/lib/nvidia",
          },
        },
        {
          preloadImages: {
            images: ["nginx:1.27", "us-docker.pkg.dev/p/r/app@sha256:" + "a".repeat(64)],
            runtime: "both",
            credentials: [{ registry: "ghcr.io", username: "u", password: "p" }],
          },
        },
        { disableAutoUpdate: {} },
      ],
      imageNameSuffix: "-web",
      imageProject: "my-images",
      imageFamily: "web-cos",
      imageDescription: "Web servers",
      imageLabels: { team: "web" },
      ...OUTPUT_IMAGE_OPTIONS,
      project: "my-project",
      zone: "europe-west4-b",
      machineType: "n1-standard-4",
      diskType: "pd-ssd",
      network: "projects/host/global/networks/shared",
      subnetwork: "regions/europe-west4/subnetworks/builders",
      serviceAccountEmail: "builder@my-project.iam.gserviceaccount.com",
      serviceAccountScopes: ["cloud-platform"],
      networkTags: ["image-builder"],
      externalIp: false,
      gpuType: "nvidia-tesla-t4",
      gpuCount: 1,
      vmProvisioningModel: "SPOT",
      preemptionRetries: 3,
      vmLabels: { team: "web" },
      bucket: "my-scratch-bucket",
      bucketPrefix: "builds/cos",
      buildTimeoutMinutes: 90,
      apiEndpoints: { compute: "http://127.0.0.1:8085", storage: "http://127.0.0.1:8085" },
    };
    expect(validateArgs(full, ctx).map(formatProblem)).to.deep.equal([]);
  });

  it("accepts the disk-layout steps on disks that hold them (COS Customizer's exact fits)", () => {
    const layouts: Array<Pick<PreloadedCosImageArgs, "diskSizeGb" | "steps">> = [
      { diskSizeGb: 11, steps: [{ extendOemPartition: { size: "1G" } }] },
      { steps: [{ sealOemPartition: {} }] },
      { steps: [{ extendOemPartition: { size: "50M" } }, { sealOemPartition: {} }] },
      { diskSizeGb: 11, steps: [{ extendOemPartition: { size: "1G" } }, { sealOemPartition: {} }] },
      { steps: [{ reclaimRootPartition: {} }, { disableAutoUpdate: {} }] },
      { steps: [{ extendOemPartition: { size: "2046M" } }, { disableAutoUpdate: {} }] },
    ];
    for (const layout of layouts) {
      const problems = validateArgs({ ...base, ...layout }, ctx).map(formatProblem);
      expect(problems, JSON.stringify(layout)).to.deep.equal([]);
    }
  });

  it("has a table of at least 40 distinct invalid configurations", () => {
    expect(cases.length).to.be.at.least(40);
    expect(new Set(cases.map((c) => c.name)).size).to.equal(cases.length);
  });

  for (const c of cases) {
    it(`rejects: ${c.name}`, () => {
      const problems = validateArgs(c.args, c.context ?? ctx);
      const text = problems.map(formatProblem).join("\n");
      expect(problems, text).to.have.length(c.count ?? 1);
      for (const fragment of c.expect) expect(text).to.include(fragment);
      for (const problem of problems) expect(problem.fix, text).to.be.a("string").and.not.empty;
    });
  }

  it("never echoes environment values, even invalid ones", () => {
    const problems = validateArgs(
      { ...base, steps: [run("setup.sh", { env: { TOKEN: 424242, "bad name": "s3cret" } })] },
      ctx,
    );
    const text = problems.map(formatProblem).join("\n");
    expect(problems).to.have.length(2);
    expect(text).not.to.include("424242");
    expect(text).not.to.include("s3cret");
  });

  it("takes project and zone from the stack's defaults", () => {
    const args = { ...base, project: undefined, zone: undefined };
    expect(
      validateArgs(args, { ...ctx, defaultProject: "p-123456", defaultZone: "us-east1-b" }),
    ).to.deep.equal([]);
  });

  it("leaves values that are not known yet to the provider's check", () => {
    const args: PreloadedCosImageArgs = {
      ...base,
      zone: pulumi.output("not a zone"),
      buildContext: pulumi.output("missing-dir"),
      steps: [run("not-checked-yet.sh", { env: pulumi.output({ "1BAD": "x" }) })],
      imageLabels: { env: pulumi.output("Not Valid") },
    };
    expect(validateArgs(args, ctx)).to.deep.equal([]);
  });

  it("treats the engine's unknown placeholder as not known yet", () => {
    const args = {
      ...base,
      bucket: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
      zone: "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
    };
    expect(validateArgs(args, ctx)).to.deep.equal([]);
  });

  it("reports every problem in one error that names the component", () => {
    const problems = validateArgs(
      { ...base, zone: "nowhere", imageFamily: "Bad", diskSizeGb: 1 },
      ctx,
    );
    const error = new InvalidArgumentsError("web", problems);
    expect(error.message.split("\n")[0]).to.equal(
      'PreloadedCosImage "web" has 3 invalid arguments:',
    );
    expect(error.message).to.include("- zone: is not a zone");
    expect(error.message).to.include("- imageFamily: is not a valid family name");
    expect(error.message).to.include("- diskSizeGb: must be a whole number");
    expect(error.problems).to.have.length(3);
  });
});

describe("OEM size arithmetic", () => {
  it("parses COS Customizer's size formats", () => {
    expect(parseOemSize("16M")).to.equal(16 * 2 ** 20);
    expect(parseOemSize("1G")).to.equal(2 ** 30);
    expect(parseOemSize("512K")).to.equal(512 * 1024);
    expect(parseOemSize("100B")).to.equal(100);
    expect(parseOemSize("2048")).to.equal(2048 * 512);
    expect(parseOemSize("1.5G")).to.equal(undefined);
    expect(parseOemSize("G")).to.equal(undefined);
  });

  it("matches COS Customizer's integration-test matrix", () => {
    // extend_oem_test: 1G/11, 2G/12, 10G/20, 1024G/1034 (no reclaim)
    for (const [oem, disk] of [
      ["1G", 11],
      ["2G", 12],
      ["10G", 20],
      ["1024G", 1034],
    ] as const) {
      expect(
        minimumDiskSizeGb({ oemSizeBytes: parseOemSize(oem), sealOem: false, reclaimRoot: false }),
      ).to.equal(disk);
    }
    // seal_oem_test: 50M/10, 1G/12 (fits in 11), 2G/14 (fits in 13)
    const sealed = (oem: string) =>
      minimumDiskSizeGb({ oemSizeBytes: parseOemSize(oem), sealOem: true, reclaimRoot: true });
    expect(sealed("50M")).to.equal(10);
    expect(sealed("1G")).to.be.at.most(12);
    expect(sealed("2G")).to.be.at.most(14);
    expect(minimumDiskSizeGb({ sealOem: true, reclaimRoot: true })).to.equal(10);
  });
});
