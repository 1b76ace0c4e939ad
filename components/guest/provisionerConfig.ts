import { CIDATA_PATHS, type ProvisionerConfig, type ProvisionerStep } from "./protocol";

/** One file of the rendered config: a path relative to the CIDATA root, and its exact content. */
export interface ConfigFile {
  /** `/`-separated, under {@link CIDATA_PATHS.config}; lowercase names only (FAT is case-insensitive). */
  path: string;
  /** The value, exactly: no newline is added. */
  content: string;
}

/**
 * Renders a {@link ProvisionerConfig} as the tree the provisioner reads (`lib/config.sh`): one value
 * per file, so values need no quoting or parsing and may hold any character except NUL. User-chosen
 * names (environment variable names) are values, never file names. Lists are a `count` file and
 * entries `0` .. `count - 1`. The layout, under `config/`:
 *
 * ```text
 * protocol                      PROTOCOL_VERSION
 * build-id, ack-key             strings
 * ack-timeout-seconds           whole number
 * failure-shutdown-seconds      whole number
 * disk-size-gb                  whole number (GB the boot disk ends with)
 * disk-resize-timeout-seconds   whole number
 * steps/count                   number of steps
 * steps/<n>/type                runScript | installGpuDriver | preloadImages | disableAutoUpdate |
 *                               extendOemPartition | sealOemPartition | reclaimRootPartition
 *   runScript:          script, allow-reboot (true|false), env/count, env/<i>/name, env/<i>/value
 *   installGpuDriver:   version, md5sum, install-dir, deps-dir (empty when unset)
 *   preloadImages:      images/count, images/<i>, runtimes/count, runtimes/<i>,
 *                       use-service-account (true|false), credentials/count,
 *                       credentials/<i>/registry, credentials/<i>/username, credentials/<i>/password
 *   extendOemPartition: size-bytes
 * ```
 *
 * @throws Error naming the field, for values the provisioner could not read back intact.
 */
export function renderProvisionerConfig(config: ProvisionerConfig): ConfigFile[] {
  const files: ConfigFile[] = [];
  const put = (relativePath: string, content: string): void => {
    if (content.includes("\0"))
      throw new Error(`provisioner config: ${relativePath} contains a NUL character`);
    files.push({ path: `${CIDATA_PATHS.config}/${relativePath}`, content });
  };
  put("protocol", wholeNumber("protocol", config.protocol));
  put("build-id", matching("buildId", config.buildId, /^[A-Za-z0-9._-]{1,128}$/));
  put("ack-key", matching("ackKey", config.ackKey, /^[A-Za-z0-9_-]{1,127}$/));
  put("ack-timeout-seconds", wholeNumber("ackTimeoutSeconds", config.ackTimeoutSeconds));
  put(
    "failure-shutdown-seconds",
    wholeNumber("failureShutdownSeconds", config.failureShutdownSeconds),
  );
  put("disk-size-gb", wholeNumber("diskSizeGb", config.diskSizeGb));
  put(
    "disk-resize-timeout-seconds",
    wholeNumber("diskResizeTimeoutSeconds", config.diskResizeTimeoutSeconds),
  );
  put("steps/count", String(config.steps.length));
  config.steps.forEach((step, index) => {
    for (const [name, value] of stepEntries(step, `steps[${index}]`))
      put(`steps/${index}/${name}`, value);
  });
  return files;
}

type Entry = [name: string, value: string];

function stepEntries(step: ProvisionerStep, where: string): Entry[] {
  const entries: Entry[] = [["type", step.type]];
  switch (step.type) {
    case "runScript":
      entries.push(["script", step.script], ["allow-reboot", String(step.allowReboot)]);
      entries.push(
        ...listEntries(
          "env",
          Object.entries(step.env).map(([name, value]) => [
            ["name", matching(`${where}.env name`, name, /^[A-Za-z_][A-Za-z0-9_]*$/)],
            ["value", value],
          ]),
        ),
      );
      break;
    case "installGpuDriver":
      entries.push(
        ["version", step.version],
        ["md5sum", step.md5sum],
        ["install-dir", step.installDir],
        ["deps-dir", step.depsDir],
      );
      break;
    case "preloadImages":
      entries.push(...valueList("images", step.images), ...valueList("runtimes", step.runtimes));
      entries.push(["use-service-account", String(step.useServiceAccount)]);
      entries.push(
        ...listEntries(
          "credentials",
          step.credentials.map((credential) => [
            ["registry", credential.registry],
            ["username", credential.username],
            ["password", credential.password],
          ]),
        ),
      );
      break;
    case "extendOemPartition":
      entries.push(["size-bytes", wholeNumber(`${where}.sizeBytes`, step.sizeBytes)]);
      break;
    case "disableAutoUpdate":
    case "sealOemPartition":
    case "reclaimRootPartition":
      break;
  }
  return entries;
}

/** `<name>/count` and `<name>/<i>` for a list of plain values. */
function valueList(name: string, values: readonly string[]): Entry[] {
  return [
    [`${name}/count`, String(values.length)],
    ...values.map((value, i): Entry => [`${name}/${i}`, value]),
  ];
}

/** `<name>/count` and `<name>/<i>/<field>` for a list of records. */
function listEntries(name: string, records: Entry[][]): Entry[] {
  return [
    [`${name}/count`, String(records.length)],
    ...records.flatMap((fields, i) =>
      fields.map(([field, value]): Entry => [`${name}/${i}/${field}`, value]),
    ),
  ];
}

function wholeNumber(field: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`provisioner config: ${field} must be a whole number, got ${value}`);
  }
  return String(value);
}

function matching(field: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) {
    throw new Error(
      `provisioner config: ${field} ${JSON.stringify(value)} does not match ${String(pattern)}`,
    );
  }
  return value;
}
