import {
  isAcceleratorType,
  isDiskType,
  isMachineType,
  isNetworkRef,
  isNetworkTag,
  isProjectId,
  isZone,
} from "../google/names";
import type { ArgsUnderValidation, ValidationContext } from "./context";
import { checkLabels } from "./labels";
import { oneOf, type ArgsReader } from "./reader";

/** Labels the component puts on every temporary resource (build id, owner, creation time, managed-by). */
export const TEMPORARY_LABELS_ADDED = 4;
/** Provisioning models of the preload VM. */
export const PROVISIONING_MODELS = ["STANDARD", "SPOT", "PREEMPTIBLE"] as const;
/** GPU counts GCE offers per VM. */
export const GPU_COUNTS = [1, 2, 4, 8] as const;
/** Most network tags on one instance. */
export const MAX_NETWORK_TAGS = 64;

const SCOPE = /^(?:https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._-]+|[a-z][a-z0-9._-]*)$/;
const SERVICE_ACCOUNT =
  /^(?:default|[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com|\d+-compute@developer\.gserviceaccount\.com|[^@\s]+@[^@\s]+\.[a-z]+)$/;

/** Preload VM rules: project, zone, machine, disks, network, identity, GPUs, scheduling, labels. */
export function checkVm(r: ArgsReader, args: ArgsUnderValidation, ctx: ValidationContext): void {
  checkPlace(r, "project", args.project, ctx.defaultProject);
  checkPlace(r, "zone", args.zone, ctx.defaultZone);
  const machineType = checkMachineAndDisk(r, args);
  checkNetwork(r, args);
  checkServiceAccount(r, args);
  checkNetworkTags(r, args);
  r.boolean("externalIp", args.externalIp);
  checkGpu(r, args, machineType);
  checkScheduling(r, args);
  checkLabels(r, "vmLabels", args.vmLabels, TEMPORARY_LABELS_ADDED);
}

/** What `project` and `zone` must look like, and the example value of their `pulumi config set` line. */
const PLACE_RULES = {
  project: {
    stackValue: "<project-id>",
    isValid: isProjectId,
    message: "is not a valid project id",
    fix: 'use the project id (not its name or number), e.g. "my-project-123"',
  },
  zone: {
    stackValue: "us-central1-a",
    isValid: isZone,
    message: "is not a zone",
    fix: 'give a zone such as "us-central1-a" (a region like "us-central1" is not enough)',
  },
} as const;

/**
 * `project` or `zone`: a well-formed value, or none where the stack's `gcp:<field>` stands in.
 * Without either, the fix names the `pulumi config set` line, with the rule's `stackValue`.
 */
function checkPlace(
  r: ArgsReader,
  field: keyof typeof PLACE_RULES,
  input: unknown,
  stackDefault: string | undefined,
): void {
  const rule = PLACE_RULES[field];
  const value = r.string(field, input);
  if (!r.isSet(input) && !stackDefault) {
    r.report({
      field,
      message: `is not set and the stack has no gcp:${field}`,
      fix: `set ${field}, or run \`pulumi config set gcp:${field} ${rule.stackValue}\``,
    });
  } else if (value !== undefined && !rule.isValid(value)) {
    r.report({ field, value, message: rule.message, fix: rule.fix });
  }
}

/** Machine and boot-disk types; returns the machine type when it is known, for the GPU rules. */
function checkMachineAndDisk(r: ArgsReader, args: ArgsUnderValidation): string | undefined {
  const machineType = r.validString("machineType", args.machineType, isMachineType, {
    message: "is not a machine type name",
    fix: 'use a name such as "e2-standard-2" or "n1-standard-4"',
  });
  r.validString("diskType", args.diskType, isDiskType, {
    message: "is not a disk type",
    fix: "use pd-balanced, pd-ssd, pd-standard, pd-extreme or a hyperdisk type",
  });
  return machineType;
}

function checkNetwork(r: ArgsReader, args: ArgsUnderValidation): void {
  r.validString("network", args.network, (network) => isNetworkRef(network, "networks"), {
    message: "is not a network name or URL",
    fix: 'give a name such as "default" or "projects/<p>/global/networks/<name>"',
  });
  r.validString(
    "subnetwork",
    args.subnetwork,
    (subnetwork) => isNetworkRef(subnetwork, "subnetworks"),
    {
      message: "is not a subnetwork name or URL",
      fix: 'give a name or "projects/<p>/regions/<region>/subnetworks/<name>"',
    },
  );
}

function checkServiceAccount(r: ArgsReader, args: ArgsUnderValidation): void {
  r.validString(
    "serviceAccountEmail",
    args.serviceAccountEmail,
    (serviceAccount) => SERVICE_ACCOUNT.test(serviceAccount),
    {
      message: "is not a service account email",
      fix: 'give an email such as "builder@my-project.iam.gserviceaccount.com", or leave it unset for the default compute service account',
    },
  );
  r.validStrings("serviceAccountScopes", args.serviceAccountScopes, (scope) => SCOPE.test(scope), {
    message: "is not an OAuth scope",
    fix: 'use a URL such as "https://www.googleapis.com/auth/cloud-platform" or a short name such as "cloud-platform"',
  });
}

function checkNetworkTags(r: ArgsReader, args: ArgsUnderValidation): void {
  const tags = r.stringArray("networkTags", args.networkTags);
  r.reportInvalid("networkTags", tags, isNetworkTag, {
    message: "is not a valid network tag",
    fix: "use lowercase letters, digits and hyphens, starting with a letter, at most 63 characters",
  });
  if (tags && tags.length > MAX_NETWORK_TAGS) {
    r.report({
      field: "networkTags",
      value: tags.length,
      message: `has more than ${MAX_NETWORK_TAGS} tags`,
      fix: `keep at most ${MAX_NETWORK_TAGS}`,
    });
  }
}

/** Provisioning model and preemption retries. */
function checkScheduling(r: ArgsReader, args: ArgsUnderValidation): void {
  const models = oneOf(PROVISIONING_MODELS, "a provisioning model");
  r.validString("vmProvisioningModel", args.vmProvisioningModel, models.isValid, models.rule);
  r.integer("preemptionRetries", args.preemptionRetries, 0, 5);
}

function checkGpu(r: ArgsReader, args: ArgsUnderValidation, machineType: string | undefined): void {
  r.validString("gpuType", args.gpuType, isAcceleratorType, {
    message: "is not an accelerator type",
    fix: 'use a type such as "nvidia-tesla-t4", "nvidia-l4" or "nvidia-tesla-a100"',
  });
  const count = r.number("gpuCount", args.gpuCount);
  if (count !== undefined && !(GPU_COUNTS as readonly number[]).includes(count)) {
    r.report({
      field: "gpuCount",
      value: count,
      message: "is not a GPU count GCE offers",
      fix: "use 1, 2, 4 or 8",
    });
  }
  if (r.isSet(args.gpuCount) && !r.isSet(args.gpuType)) {
    r.report({
      field: "gpuCount",
      message: "is set without gpuType",
      fix: "set gpuType too, or remove gpuCount",
    });
  }
  if (r.isSet(args.gpuType) && machineType?.startsWith("e2-")) {
    r.report({
      field: "machineType",
      value: machineType,
      message: "is an E2 machine type, and E2 machines take no GPUs",
      fix: 'use an N1 machine type such as "n1-standard-4" (or leave machineType unset), or a GPU machine family such as g2 or a2',
    });
  }
}
