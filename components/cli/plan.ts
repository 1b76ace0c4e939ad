import { planCidata } from "../cidata";
import { cidataSpecFor } from "../guest/cidataTree";
import { renderCloudConfig } from "../guest/cloudConfig";
import { inlineCidata } from "../guest/inlineCidata";
import { CONTENT_LABEL_KEY, contentLabelOf, temporaryName } from "../naming";
import { hasDiskLayoutStep } from "../pipeline/bootDiskSize";
import { toBuildSpec, type BuildSpec } from "../pipeline/spec";
import type { ParsedFlags } from "./args";
import { preview } from "../buildImage";
import type { NameStatus } from "../pipeline/prepareBuild";
import type { CheckedImageBuildInputs } from "../provider/inputs";
import { clientsFor, reporterProgress, validated } from "./cloud";
import { loadConfig } from "./configFile";
import { EXIT } from "./errors";
import type { Reporter } from "./output";
import { pipelineOptions } from "./timing";

/**
 * `plan`: what a build of this configuration would do, without doing it. Only reads: the source
 * image (a family resolves to its newest image today) and the image of a fixed name.
 */

/** Stands for the build id, which a build draws when it starts. */
const BUILD_ID = "<build>";

/** The plan printed on stdout. */
export interface Plan {
  name: string;
  imageName: string;
  imageProject: string;
  sourceImage: string;
  contentHash: string;
  /** The `pci-content` label the image gets. */
  contentLabel: string;
  /** `absent`, `same-content` (a build is a no-op), `other-content` (a build refuses), `generated-name`. */
  existingImage: "absent" | "same-content" | "other-content" | "generated-name";
  /** What a build does: `build`, `nothing` (up to date) or `refuse` (the name is taken). */
  action: "build" | "nothing" | "refuse";
  /** What a build would create, temporaries first, the output image last. */
  wouldCreate: string[];
}

/** Runs `plan`; returns the exit code. */
export async function runPlan(flags: ParsedFlags, reporter: Reporter): Promise<number> {
  const config = loadConfig(flags.get("config") ?? "", flags.all("set"));
  const inputs = await validated(config);
  const clients = clientsFor(inputs);
  try {
    const looked = await preview(inputs, clients, reporterProgress(reporter), {
      pipeline: pipelineOptions(),
    });
    const plan = await planOf(config.name, looked.checked, looked.name);
    reporter.info(
      plan.action === "build"
        ? `a build would create: ${plan.wouldCreate.join("; ")}`
        : plan.action === "nothing"
          ? `image ${plan.imageName} exists with the same content: a build has nothing to do`
          : `image ${plan.imageName} exists and was built from other inputs: a build would refuse`,
    );
    reporter.result(plan);
    return plan.action === "refuse" ? EXIT.invalid : EXIT.ok;
  } finally {
    await clients.close();
  }
}

async function planOf(
  name: string,
  checked: CheckedImageBuildInputs,
  status: NameStatus,
): Promise<Plan> {
  const spec = toBuildSpec(checked);
  const fixedName = spec.image.name !== undefined || spec.image.nameSuffix !== undefined;
  const existingImage = !fixedName
    ? "generated-name"
    : status.kind === "built"
      ? "same-content"
      : status.kind === "taken"
        ? "other-content"
        : "absent";
  const action =
    existingImage === "same-content"
      ? "nothing"
      : existingImage === "other-content"
        ? "refuse"
        : "build";
  return {
    name,
    imageName: checked.imageName,
    imageProject: spec.image.project,
    sourceImage: checked.sourceImage,
    contentHash: checked.contentHash,
    contentLabel: contentLabelOf(checked.contentHash),
    existingImage,
    action,
    wouldCreate:
      action === "build" ? await creations(spec, checked.imageName, checked.sourceImage) : [],
  };
}

/** The resources a build creates, as the pipeline names them; how the CIDATA tree would travel. */
async function creations(
  spec: BuildSpec,
  imageName: string,
  sourceImage: string,
): Promise<string[]> {
  const zone = spec.vm.zone;
  const gpu = spec.steps.some((step) => step.type === "installGpuDriver");
  const list = [
    `instance ${temporaryName(BUILD_ID, "vm")} (${spec.vm.machineType}${spec.vm.gpu ? `, ${spec.vm.gpu.count}x ${spec.vm.gpu.type}` : ""}) in ${zone}`,
    `disk ${temporaryName(BUILD_ID, "boot")} (${bootDiskOf(spec)}, from ${sourceImage}) in ${zone}`,
  ];
  if (gpu) list.push(`disk ${temporaryName(BUILD_ID, "scratch")} (GPU toolchain) in ${zone}`);
  if (await travelsInMetadata(spec)) {
    list.push("instance metadata holding the CIDATA tree (no CIDATA object, image or disk)");
  } else {
    list.push(
      `object gs://${spec.storage.bucket}/${spec.storage.prefix}/${BUILD_ID}/tree-<random>.tar.gz (the CIDATA tree, fetched by the VM itself)`,
      `only if the VM cannot read it: object gs://${spec.storage.bucket}/${spec.storage.prefix}/${BUILD_ID}/cidata.tar.gz, image ${temporaryName(BUILD_ID, "cidata")} (CIDATA) and disk ${temporaryName(BUILD_ID, "cidata")} (CIDATA) in ${zone}`,
    );
  }
  list.push(`image ${spec.image.project}/${imageName} (the output, labelled ${CONTENT_LABEL_KEY})`);
  return list;
}

/** The boot disk's type and size: a disk-layout step starts it at the source image's (see bootDiskSize.ts). */
function bootDiskOf(spec: BuildSpec): string {
  return hasDiskLayoutStep(spec.steps)
    ? `${spec.vm.diskType}, at the source image's size, grown to ${spec.image.diskSizeGb} GB during the build`
    : `${spec.image.diskSizeGb} GB ${spec.vm.diskType}`;
}

/** The pipeline's own choice (deliverCidata.ts): small, secret-free trees travel in metadata. */
async function travelsInMetadata(spec: BuildSpec): Promise<boolean> {
  if (spec.hasSecrets) return false;
  const buildId = "plan";
  const plan = await planCidata(cidataSpecFor(spec, buildId, renderCloudConfig({ buildId })));
  return inlineCidata(plan) !== undefined;
}
