import type { BuildStepArgs } from "../args";
import type { ContextView } from "./buildContext";
import type { ArgsUnderValidation } from "./context";
import { MIN_OEM_SIZE_BYTES, diskLayoutProblem, parseOemSize } from "./diskLayout";
import { RELATIVE_PATH_FIX, relativePathProblem } from "./paths";
import type { ArgsReader } from "./reader";

/** The step kinds, in the order they are documented. */
export const STEP_KINDS = [
  "runScript",
  "installGpuDriver",
  "preloadImages",
  "disableAutoUpdate",
  "extendOemPartition",
  "sealOemPartition",
  "reclaimRootPartition",
] as const satisfies ReadonlyArray<keyof BuildStepArgs>;

/** Step kinds that are validated but cannot be built yet (they need the disk-layout work). */
export const UNSUPPORTED_STEP_KINDS: ReadonlySet<string> = new Set([
  "extendOemPartition",
  "sealOemPartition",
  "reclaimRootPartition",
]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Environment names the provisioner keeps for itself. */
const RESERVED_ENV_PREFIX = "PCI_";
const GPU_DRIVER_VERSION = /^(?:latest|default|R\d{3,4}|\d+(?:\.\d+){1,3})$/;
const RUN_INSTALLER = /^[A-Za-z0-9._+-]+\.run$/;
const MD5 = /^[a-fA-F0-9]{32}$/;
// A container image reference: [host[:port]/]path[:tag][@algorithm:hex].
const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$/;
const REGISTRY_HOST = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;

type StepFields = Record<string, unknown>;

/** Step rules; also checks the disk-size arithmetic the layout steps imply. */
export function checkSteps(
  r: ArgsReader,
  args: ArgsUnderValidation,
  context: ContextView | undefined,
): void {
  if (!r.isSet(args.steps) || r.isPending(args.steps)) return;
  if (!Array.isArray(args.steps)) {
    r.report({
      field: "steps",
      message: "must be a list of steps",
      fix: 'give an array such as [{ runScript: { script: "setup.sh" } }]',
    });
    return;
  }
  const seen = new Map<string, number>();
  let oemSizeBytes: number | undefined;
  (args.steps as unknown[]).forEach((step, index) => {
    const field = `steps[${index}]`;
    if (typeof step !== "object" || step === null || Array.isArray(step)) {
      r.report({
        field,
        value: step,
        message: "is not a step object",
        fix: `give an object with one of ${STEP_KINDS.join(", ")}`,
      });
      return;
    }
    const kinds = Object.keys(step).filter((key) => (step as StepFields)[key] !== undefined);
    const unknownKinds = kinds.filter((key) => !(STEP_KINDS as readonly string[]).includes(key));
    if (unknownKinds.length > 0) {
      r.report({
        field,
        value: unknownKinds,
        message: "has unknown step kinds",
        fix: `use one of ${STEP_KINDS.join(", ")}`,
      });
      return;
    }
    if (kinds.length !== 1) {
      r.report({
        field,
        message:
          kinds.length === 0
            ? "sets no step kind"
            : `sets ${kinds.length} step kinds (${kinds.join(", ")})`,
        fix: "set exactly one kind per step; put each action in a step of its own",
      });
      return;
    }
    const kind = kinds[0];
    seen.set(kind, (seen.get(kind) ?? 0) + 1);
    const body: unknown = (step as StepFields)[kind];
    const bodyField = `${field}.${kind}`;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      r.report({
        field: bodyField,
        value: body,
        message: "must be an object",
        fix:
          kind === "disableAutoUpdate" || UNSUPPORTED_STEP_KINDS.has(kind)
            ? "write it as {}"
            : "give the step's options as an object",
      });
      return;
    }
    const fields = body as StepFields;
    switch (kind) {
      case "runScript":
        checkRunScript(r, bodyField, fields, context);
        break;
      case "installGpuDriver":
        checkInstallGpuDriver(r, bodyField, fields, context, args);
        break;
      case "preloadImages":
        checkPreloadImages(r, bodyField, fields);
        break;
      case "extendOemPartition": {
        const size = checkOemSize(r, bodyField, fields);
        if (size !== undefined) oemSizeBytes = size;
        break;
      }
      default:
        checkNoOptions(r, bodyField, fields);
    }
    if (UNSUPPORTED_STEP_KINDS.has(kind)) {
      r.report({
        field,
        message: `uses ${kind}, which is not available yet (the disk-layout steps are not implemented in this release)`,
        fix: "remove the step; extendOemPartition, sealOemPartition and reclaimRootPartition will come in a later release",
      });
    }
  });

  for (const [kind, count] of seen) {
    if (count > 1 && kind !== "runScript" && kind !== "preloadImages") {
      r.report({
        field: "steps",
        message: `has ${count} ${kind} steps`,
        fix: `keep a single ${kind} step`,
      });
    }
  }

  const sealOem = seen.has("sealOemPartition");
  // Only a valid size is checked against the layout; an invalid one is reported by the image rules.
  const givenSize: unknown = args.diskSizeGb ?? 10;
  const diskSizeGb =
    typeof givenSize === "number" && Number.isInteger(givenSize) && givenSize >= 10
      ? givenSize
      : undefined;
  if (diskSizeGb !== undefined) {
    const problem = diskLayoutProblem({
      oemSizeBytes,
      sealOem,
      reclaimRoot: sealOem || seen.has("reclaimRootPartition"),
      diskSizeGb,
    });
    if (problem) {
      r.report({
        field: "diskSizeGb",
        message: problem,
        fix: "raise diskSizeGb, or lower the extendOemPartition size",
      });
    }
  }
}

function checkNoOptions(r: ArgsReader, field: string, fields: StepFields): void {
  const extra = Object.keys(fields).filter((key) => fields[key] !== undefined);
  if (extra.length > 0) {
    r.report({ field, value: extra, message: "takes no options", fix: "write it as {}" });
  }
}

function checkRunScript(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  context: ContextView | undefined,
): void {
  const script = r.string(`${field}.script`, fields.script);
  if (!r.isSet(fields.script)) {
    r.report({
      field: `${field}.script`,
      message: "is required",
      fix: 'name the script to run, relative to the build context, e.g. "setup.sh"',
    });
  } else if (script !== undefined) {
    const problem = relativePathProblem(script);
    if (problem) {
      r.report({
        field: `${field}.script`,
        value: script,
        message: problem,
        fix: RELATIVE_PATH_FIX,
      });
    } else if (context) {
      const kind = context.kind(script);
      if (kind !== "file") {
        r.report({
          field: `${field}.script`,
          value: script,
          message:
            kind === "directory"
              ? "is a directory"
              : `is not in the build context ${context.description}`,
          fix: "add the script to the build context (or to extraFiles), or correct its path relative to the build context root",
        });
      }
    }
  }
  const env = r.stringRecord(`${field}.env`, fields.env, true);
  for (const name of env?.keys() ?? []) {
    if (!ENV_NAME.test(name)) {
      r.report({
        field: `${field}.env`,
        value: name,
        message: "has an invalid variable name",
        fix: "use letters, digits and underscores, not starting with a digit",
      });
    } else if (name.startsWith(RESERVED_ENV_PREFIX)) {
      r.report({
        field: `${field}.env`,
        value: name,
        message: `uses the prefix ${RESERVED_ENV_PREFIX}, which the provisioner reserves`,
        fix: "rename the variable",
      });
    }
  }
  r.boolean(`${field}.allowReboot`, fields.allowReboot);
  checkKnownKeys(r, field, fields, ["script", "env", "allowReboot"]);
}

function checkInstallGpuDriver(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  context: ContextView | undefined,
  args: ArgsUnderValidation,
): void {
  checkKnownKeys(r, field, fields, ["version", "md5sum", "installDir", "depsDir"]);
  if (!r.isSet(args.gpuType)) {
    r.report({
      field: `${field}`,
      message: "needs a GPU on the preload VM to install and verify the driver",
      fix: 'set gpuType, e.g. "nvidia-tesla-t4"',
    });
  }
  const version = r.string(`${field}.version`, fields.version);
  const isRunFile = version !== undefined && RUN_INSTALLER.test(version);
  if (version !== undefined && !isRunFile && !GPU_DRIVER_VERSION.test(version)) {
    r.report({
      field: `${field}.version`,
      value: version,
      message: "is not a driver version",
      fix: 'use a version such as "535.183.01", "latest", "default", or the file name of a .run installer in depsDir',
    });
  }
  const md5sum = r.string(`${field}.md5sum`, fields.md5sum);
  if (md5sum !== undefined && !MD5.test(md5sum)) {
    r.report({
      field: `${field}.md5sum`,
      value: md5sum,
      message: "is not an md5 checksum",
      fix: "give 32 hexadecimal digits, or leave it unset",
    });
  }
  const installDir = r.string(`${field}.installDir`, fields.installDir);
  if (
    (installDir !== undefined &&
      !/^\/(?:var|home)\/(?:[^/\0]+\/?)+$/.test(installDir.replace(/\/+$/, "/"))) ||
    installDir?.split("/").includes("..")
  ) {
    r.report({
      field: `${field}.installDir`,
      value: installDir,
      message:
        "must be an absolute directory under /var or /home (other paths are not persisted on COS)",
      fix: 'use a path such as "/var/lib/nvidia"',
    });
  }
  const depsDir = r.string(`${field}.depsDir`, fields.depsDir);
  if (isRunFile || r.isSet(fields.depsDir)) {
    // COS's GPU installer fetches driver installers only from HTTP or Cloud Storage URLs, so files
    // shipped on the CIDATA disk cannot be handed to it (see provisioner-assets/steps).
    r.report({
      field: `${field}.depsDir`,
      message:
        "and .run installer versions are not available yet (COS's GPU installer only downloads drivers itself)",
      fix: 'remove depsDir and give a driver version such as "535.183.01", "latest" or "default"',
    });
  }
  if (isRunFile && !r.isSet(fields.depsDir)) {
    r.report({
      field: `${field}.depsDir`,
      message: `is required because version names the installer file "${version}"`,
      fix: "set depsDir to the build-context directory that holds the .run file",
    });
  }
  if (depsDir !== undefined) {
    const problem = relativePathProblem(depsDir);
    if (problem) {
      r.report({
        field: `${field}.depsDir`,
        value: depsDir,
        message: problem,
        fix: RELATIVE_PATH_FIX,
      });
    } else if (context && context.kind(depsDir) !== "directory") {
      r.report({
        field: `${field}.depsDir`,
        value: depsDir,
        message: `is not a directory of the build context ${context.description}`,
        fix: "create it in the build context, or correct the path",
      });
    } else if (context && isRunFile && context.kind(`${depsDir}/${version}`) !== "file") {
      r.report({
        field: `${field}.version`,
        value: version,
        message: `is not a file in depsDir "${depsDir}"`,
        fix: "copy the NVIDIA .run installer into depsDir, or fix the file name",
      });
    }
  }
}

function checkPreloadImages(r: ArgsReader, field: string, fields: StepFields): void {
  checkKnownKeys(r, field, fields, ["images", "runtime", "useServiceAccount", "credentials"]);
  const images = r.stringArray(`${field}.images`, fields.images);
  if (
    !r.isSet(fields.images) ||
    (images !== undefined &&
      images.length === 0 &&
      Array.isArray(fields.images) &&
      fields.images.length === 0)
  ) {
    r.report({
      field: `${field}.images`,
      message: "lists no image",
      fix: 'give at least one image reference, such as "nginx:1.27"',
    });
  }
  (images ?? []).forEach((image) => {
    if (!IMAGE_REFERENCE.test(image)) {
      r.report({
        field: `${field}.images`,
        value: image,
        message: "has an invalid image reference",
        fix: 'use [registry/]repository[:tag][@sha256:digest], e.g. "us-docker.pkg.dev/p/repo/app@sha256:..."',
      });
    }
  });
  const runtime = r.string(`${field}.runtime`, fields.runtime);
  if (runtime !== undefined && !["containerd", "docker", "both"].includes(runtime)) {
    r.report({
      field: `${field}.runtime`,
      value: runtime,
      message: "is not a container runtime",
      fix: 'use "containerd", "docker" or "both"',
    });
  }
  r.boolean(`${field}.useServiceAccount`, fields.useServiceAccount);
  if (!r.isSet(fields.credentials) || r.isPending(fields.credentials)) return;
  if (!Array.isArray(fields.credentials)) {
    r.report({
      field: `${field}.credentials`,
      message: "must be a list",
      fix: "give an array of { registry, username, password }",
    });
    return;
  }
  const registries = new Set<string>();
  (fields.credentials as unknown[]).forEach((credential, index) => {
    const credentialField = `${field}.credentials[${index}]`;
    if (typeof credential !== "object" || credential === null) {
      r.report({
        field: credentialField,
        message: "must be an object",
        fix: "give { registry, username, password }",
      });
      return;
    }
    const { registry, username, password } = credential as StepFields;
    const host = r.string(`${credentialField}.registry`, registry);
    if (!r.isSet(registry)) {
      r.report({
        field: `${credentialField}.registry`,
        message: "is required",
        fix: 'name the registry host, e.g. "ghcr.io"',
      });
    } else if (host !== undefined && !REGISTRY_HOST.test(host)) {
      r.report({
        field: `${credentialField}.registry`,
        value: host,
        message: "is not a registry host name",
        fix: 'give a host name with an optional port, without scheme or path, e.g. "registry.example.com:5000"',
      });
    } else if (host !== undefined && registries.has(host)) {
      r.report({
        field: `${credentialField}.registry`,
        value: host,
        message: "has credentials twice",
        fix: "keep one credential per registry",
      });
    }
    if (host !== undefined) registries.add(host);
    for (const [name, value] of [
      ["username", username],
      ["password", password],
    ] as const) {
      if (!r.isSet(value)) {
        r.report({
          field: `${credentialField}.${name}`,
          message: "is required",
          fix: `give the registry ${name} (use pulumi.secret or config.requireSecret)`,
        });
      } else if (!r.isPending(value) && typeof value !== "string") {
        r.report({
          field: `${credentialField}.${name}`,
          message: "must be a string",
          fix: `give the ${name} as a string`,
        });
      }
    }
  });
}

function checkOemSize(r: ArgsReader, field: string, fields: StepFields): number | undefined {
  checkKnownKeys(r, field, fields, ["size"]);
  const size = r.string(`${field}.size`, fields.size);
  if (!r.isSet(fields.size)) {
    r.report({
      field: `${field}.size`,
      message: "is required",
      fix: 'give the OEM filesystem size, e.g. "1G"',
    });
    return undefined;
  }
  if (size === undefined) return undefined;
  const bytes = parseOemSize(size);
  if (bytes === undefined) {
    r.report({
      field: `${field}.size`,
      value: size,
      message: "is not a size",
      fix: 'write a number followed by B, K, M or G (e.g. "512M"), or a bare number of 512-byte sectors',
    });
    return undefined;
  }
  if (bytes < MIN_OEM_SIZE_BYTES) {
    r.report({
      field: `${field}.size`,
      value: size,
      message: "is below the 16M minimum",
      fix: 'use at least "16M"',
    });
    return undefined;
  }
  return bytes;
}

function checkKnownKeys(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) {
      r.report({
        field: `${field}.${key}`,
        message: "is not an option of this step",
        fix: `use only ${allowed.join(", ")}`,
      });
    }
  }
}
