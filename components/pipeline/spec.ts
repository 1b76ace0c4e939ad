import * as path from "node:path";
import type { PreloadedCosImageArgs, VmProvisioningModel } from "../args";
import {
  normalizeLicense,
  parseImageRef,
  regionOfZone,
  toPartialUrl,
  type ImageRef,
} from "../google/names";
import type { ProvisionerStep } from "../guest/protocol";
import type { ImageBuildInputs, Resolved } from "../provider/inputs";
import { mergeSecrets } from "../secrets";
import { parseOemSize } from "../validation/diskLayout";
import { COS_IMAGE_PROJECT } from "../validation/source";

/**
 * Everything one build needs, with every default applied: what `create` works from. Built from
 * resolved, validated inputs by {@link toBuildSpec}; holds secret values (never log it whole).
 */
export interface BuildSpec {
  /** Start of generated image names. */
  namePrefix: string;
  /** Owner label value of every temporary (one component instance). */
  ownerId: string;
  /** How the source image is chosen. */
  source: SourceSelector;
  /** Absolute path of the build context directory, if any. */
  contextDir?: string;
  /** Extra files: destination inside the context → absolute local path. */
  extraFiles: Array<{ destination: string; file: string }>;
  /** The steps as the provisioner runs them, secrets included. */
  steps: ProvisionerStep[];
  image: OutputImageSpec;
  vm: VmSpec;
  /** Scratch bucket and the object prefix of builds. */
  storage: { bucket: string; prefix: string };
  /** Deadline of the whole build. */
  timeoutMs: number;
  /** API endpoints (undefined: Google's). */
  endpoints: { compute?: string; storage?: string };
  /** True when any step carries secret material (such builds never put their config in metadata). */
  hasSecrets: boolean;
}

/** Exactly one way of choosing the source image. */
export type SourceSelector =
  | { kind: "image"; image: ImageRef }
  | { kind: "family"; project: string; family: string }
  | { kind: "milestone"; project: string; milestone: number };

/** The output image's fields. */
export interface OutputImageSpec {
  /** Fixed name, when `imageName` was given. */
  name?: string;
  /** Suffix appended to the source image name, when `imageNameSuffix` was given. */
  nameSuffix?: string;
  project: string;
  family?: string;
  /** Undefined: "Derivative of <source>." */
  description?: string;
  labels: Record<string, string>;
  inheritSourceLabels: boolean;
  /** Normalized to `projects/<p>/global/licenses/<l>`. */
  licenses: string[];
  deprecateOlderImages: boolean;
  deprecatedImageTtlDays?: number;
  storageLocations: string[];
  guestOsFeatures: string[];
  diskSizeGb: number;
}

/** The preload VM's fields. */
export interface VmSpec {
  project: string;
  zone: string;
  machineType: string;
  diskType: string;
  /** Partial URL `projects/<p>/global/networks/<n>`. */
  network: string;
  /** Partial URL `projects/<p>/regions/<r>/subnetworks/<s>`, or undefined for auto-mode networks. */
  subnetwork?: string;
  /** Undefined: the project's default compute service account. */
  serviceAccountEmail?: string;
  /** Full scope URLs. */
  scopes: string[];
  tags: string[];
  externalIp: boolean;
  gpu?: { type: string; count: number };
  provisioningModel: VmProvisioningModel;
  preemptionRetries: number;
  labels: Record<string, string>;
}

/** Defaults that are part of the contract (documented in `args.ts`). */
export const DEFAULTS = {
  sourceImageProject: COS_IMAGE_PROJECT,
  machineType: "e2-standard-2",
  gpuMachineType: "n1-standard-4",
  diskType: "pd-balanced",
  network: "default",
  scope: "https://www.googleapis.com/auth/cloud-platform",
  diskSizeGb: 10,
  bucketPrefix: "preloaded-cos-image",
  buildTimeoutMinutes: 60,
  preemptionRetries: 2,
  gpuDriverVersion: "default",
  gpuInstallDir: "/var/lib/nvidia",
} as const;

const SCOPE_URL_PREFIX = "https://www.googleapis.com/auth/";

/** Builds the {@link BuildSpec} from resolved inputs that passed validation. */
export function toBuildSpec(inputs: ImageBuildInputs): BuildSpec {
  const args = mergeSecrets<Resolved<PreloadedCosImageArgs>>(inputs.args, inputs.secrets);
  const project = args.project as string;
  const zone = args.zone as string;
  const gpu = args.gpuType ? { type: args.gpuType, count: args.gpuCount ?? 1 } : undefined;
  return {
    namePrefix: inputs.namePrefix,
    ownerId: inputs.ownerId,
    source: sourceSelector(args),
    contextDir: args.buildContext ? path.resolve(inputs.programDir, args.buildContext) : undefined,
    extraFiles: Object.entries(args.extraFiles ?? {}).map(([destination, file]) => ({
      destination,
      file: path.resolve(inputs.programDir, file),
    })),
    steps: (args.steps ?? []).map(toProvisionerStep),
    image: {
      name: args.imageName,
      nameSuffix: args.imageNameSuffix,
      project: args.imageProject ?? project,
      family: args.imageFamily,
      description: args.imageDescription,
      labels: { ...(args.imageLabels ?? {}) },
      inheritSourceLabels: args.inheritSourceLabels ?? false,
      licenses: (args.imageLicenses ?? []).map((l) => normalizeLicense(l) ?? l),
      deprecateOlderImages: args.deprecateOlderImages ?? false,
      deprecatedImageTtlDays: args.deprecatedImageTtlDays,
      storageLocations: [...(args.imageStorageLocations ?? [])],
      guestOsFeatures: [...(args.guestOsFeatures ?? [])],
      diskSizeGb: args.diskSizeGb ?? DEFAULTS.diskSizeGb,
    },
    vm: {
      project,
      zone,
      machineType: args.machineType ?? (gpu ? DEFAULTS.gpuMachineType : DEFAULTS.machineType),
      diskType: args.diskType ?? DEFAULTS.diskType,
      network: networkUrl(args.network ?? DEFAULTS.network, project),
      subnetwork: args.subnetwork ? subnetworkUrl(args.subnetwork, project, zone) : undefined,
      serviceAccountEmail:
        args.serviceAccountEmail && args.serviceAccountEmail !== "default"
          ? args.serviceAccountEmail
          : undefined,
      scopes: (args.serviceAccountScopes ?? [DEFAULTS.scope]).map((s) =>
        s.startsWith("https://") ? s : `${SCOPE_URL_PREFIX}${s}`,
      ),
      tags: [...(args.networkTags ?? [])],
      externalIp: args.externalIp ?? true,
      gpu,
      provisioningModel: args.vmProvisioningModel ?? "STANDARD",
      preemptionRetries: args.preemptionRetries ?? DEFAULTS.preemptionRetries,
      labels: { ...(args.vmLabels ?? {}) },
    },
    storage: {
      bucket: args.bucket as string,
      prefix: (args.bucketPrefix ?? DEFAULTS.bucketPrefix).replace(/\/+$/, ""),
    },
    timeoutMs: (args.buildTimeoutMinutes ?? DEFAULTS.buildTimeoutMinutes) * 60_000,
    endpoints: { ...(args.apiEndpoints ?? {}) },
    hasSecrets:
      Object.values(inputs.secrets?.env ?? {}).some((env) => Object.keys(env).length > 0) ||
      Object.values(inputs.secrets?.credentials ?? {}).some((list) => list.length > 0),
  };
}

function sourceSelector(args: Resolved<PreloadedCosImageArgs>): SourceSelector {
  const project = args.sourceImageProject ?? DEFAULTS.sourceImageProject;
  if (args.sourceImage) {
    const image = parseImageRef(args.sourceImage, project);
    if (!image)
      throw new Error(`sourceImage "${args.sourceImage}" passed validation but does not parse`);
    return { kind: "image", image };
  }
  if (args.sourceImageFamily) return { kind: "family", project, family: args.sourceImageFamily };
  return { kind: "milestone", project, milestone: args.sourceImageMilestone as number };
}

type StepArgs = NonNullable<Resolved<PreloadedCosImageArgs>["steps"]>[number];

function toProvisionerStep(step: StepArgs): ProvisionerStep {
  if (step.runScript) {
    const { script, env, allowReboot } = step.runScript;
    return {
      type: "runScript",
      script,
      env: { ...(env ?? {}) },
      allowReboot: allowReboot ?? false,
    };
  }
  if (step.installGpuDriver) {
    const gpu = step.installGpuDriver;
    return {
      type: "installGpuDriver",
      version: gpu.version ?? DEFAULTS.gpuDriverVersion,
      md5sum: gpu.md5sum ?? "",
      installDir: gpu.installDir ?? DEFAULTS.gpuInstallDir,
      depsDir: gpu.depsDir ?? "",
    };
  }
  if (step.preloadImages) {
    const preload = step.preloadImages;
    const runtime = preload.runtime ?? "both";
    return {
      type: "preloadImages",
      images: [...preload.images],
      runtimes: runtime === "both" ? ["containerd", "docker"] : [runtime],
      useServiceAccount: preload.useServiceAccount ?? true,
      credentials: (preload.credentials ?? []).map((c) => ({
        registry: c.registry,
        username: c.username,
        password: c.password,
      })),
    };
  }
  if (step.disableAutoUpdate) return { type: "disableAutoUpdate" };
  if (step.extendOemPartition) {
    return {
      type: "extendOemPartition",
      sizeBytes: parseOemSize(step.extendOemPartition.size) ?? 0,
    };
  }
  if (step.sealOemPartition) return { type: "sealOemPartition" };
  if (step.reclaimRootPartition) return { type: "reclaimRootPartition" };
  throw new Error("a step passed validation without a kind");
}

/** A network name or URL as `projects/<p>/global/networks/<n>`. */
export function networkUrl(network: string, project: string): string {
  const partial = toPartialUrl(network);
  return partial.includes("/") ? partial : `projects/${project}/global/networks/${partial}`;
}

/** A subnetwork name or URL as `projects/<p>/regions/<r>/subnetworks/<s>` (names are in the zone's region). */
export function subnetworkUrl(subnetwork: string, project: string, zone: string): string {
  const partial = toPartialUrl(subnetwork);
  if (partial.startsWith("projects/")) return partial;
  if (partial.startsWith("regions/")) return `projects/${project}/${partial}`;
  return `projects/${project}/regions/${regionOfZone(zone)}/subnetworks/${partial}`;
}

/** How often a preempted build VM is made again: Spot and preemptible VMs only. */
export function preemptionRetriesOf(spec: Pick<BuildSpec, "vm">): number {
  return spec.vm.provisioningModel === "STANDARD" ? 0 : spec.vm.preemptionRetries;
}
