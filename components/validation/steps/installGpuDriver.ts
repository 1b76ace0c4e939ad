import type { ContextView } from "../buildContext";
import type { ArgsUnderValidation } from "../context";
import { RELATIVE_PATH_FIX, relativePathProblem } from "../paths";
import type { ArgsReader } from "../reader";
import { type StepFields, checkKnownKeys } from "./options";

const GPU_DRIVER_VERSION = /^(?:latest|default|R\d{3,4}|\d+(?:\.\d+){1,3})$/;
const RUN_INSTALLER = /^[A-Za-z0-9._+-]+\.run$/;
const MD5 = /^[a-fA-F0-9]{32}$/;
// COS persists only /var and /home across reboots and image builds.
const PERSISTED_DIR = /^\/(?:var|home)\/(?:[^/\0]+\/?)+$/;

/** `installGpuDriver` rules: a GPU to verify on, the driver version, checksum and directories. */
export function checkInstallGpuDriver(
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
  const version = checkVersion(r, `${field}.version`, fields.version);
  checkMd5sum(r, `${field}.md5sum`, fields.md5sum);
  checkInstallDir(r, `${field}.installDir`, fields.installDir);
  checkDepsDir(r, field, fields, version, context);
}

/** The driver version, or undefined when it is not known (pending, absent or not a string). */
function checkVersion(r: ArgsReader, field: string, input: unknown): string | undefined {
  const version = r.string(field, input);
  if (version !== undefined && !isRunInstaller(version) && !GPU_DRIVER_VERSION.test(version)) {
    r.report({
      field,
      value: version,
      message: "is not a driver version",
      fix: 'use a version such as "535.183.01", "latest", "default", or the file name of a .run installer in depsDir',
    });
  }
  return version;
}

function isRunInstaller(version: string | undefined): boolean {
  return version !== undefined && RUN_INSTALLER.test(version);
}

function checkMd5sum(r: ArgsReader, field: string, input: unknown): void {
  const md5sum = r.string(field, input);
  if (md5sum !== undefined && !MD5.test(md5sum)) {
    r.report({
      field,
      value: md5sum,
      message: "is not an md5 checksum",
      fix: "give 32 hexadecimal digits, or leave it unset",
    });
  }
}

function checkInstallDir(r: ArgsReader, field: string, input: unknown): void {
  const installDir = r.string(field, input);
  if (
    (installDir !== undefined && !PERSISTED_DIR.test(installDir.replace(/\/+$/, "/"))) ||
    installDir?.split("/").includes("..")
  ) {
    r.report({
      field,
      value: installDir,
      message:
        "must be an absolute directory under /var or /home (other paths are not persisted on COS)",
      fix: 'use a path such as "/var/lib/nvidia"',
    });
  }
}

/** `depsDir` and `.run` installer versions: not available yet, and checked against the context. */
function checkDepsDir(
  r: ArgsReader,
  field: string,
  fields: StepFields,
  version: string | undefined,
  context: ContextView | undefined,
): void {
  const depsDir = r.string(`${field}.depsDir`, fields.depsDir);
  const isRunFile = isRunInstaller(version);
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
  if (depsDir !== undefined) checkDepsDirInContext(r, field, depsDir, version, context);
}

function checkDepsDirInContext(
  r: ArgsReader,
  field: string,
  depsDir: string,
  version: string | undefined,
  context: ContextView | undefined,
): void {
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
  } else if (
    context &&
    isRunInstaller(version) &&
    context.kind(`${depsDir}/${version}`) !== "file"
  ) {
    r.report({
      field: `${field}.version`,
      value: version,
      message: `is not a file in depsDir "${depsDir}"`,
      fix: "copy the NVIDIA .run installer into depsDir, or fix the file name",
    });
  }
}
