import * as fs from "node:fs";
import * as path from "node:path";
import {
  CIDATA_FETCH_STATUS,
  FETCH_CIDATA_METADATA_KEY,
  INLINE_CIDATA_METADATA_KEY,
  MARKERS,
  PROTOCOL_VERSION,
} from "./protocol";

/**
 * The provisioner's files (`provisioner-assets/` of this package). The orchestrator ships this
 * directory, minus {@link USER_DATA_ONLY_FILES}, to the CIDATA disk under `provisioner/`.
 */
export const PROVISIONER_ASSETS_DIR = path.resolve(
  __dirname,
  "..",
  "..",
  "..",
  "provisioner-assets",
);

/** File name, inside {@link PROVISIONER_ASSETS_DIR}, of the cloud-config template. */
export const CLOUD_CONFIG_TEMPLATE_FILE = "cloud-config.yaml";

/**
 * File name, inside {@link PROVISIONER_ASSETS_DIR}, of the unit's start script: a template too,
 * embedded into the cloud-config where its `{{START_SCRIPT}}` line is, then filled in with it.
 */
export const START_SCRIPT_FILE = "start.sh";

/**
 * The files of {@link PROVISIONER_ASSETS_DIR} that reach the VM through the cloud-config (user-data)
 * only, so they are not shipped again with the provisioner on CIDATA.
 */
export const USER_DATA_ONLY_FILES: readonly string[] = [
  CLOUD_CONFIG_TEMPLATE_FILE,
  START_SCRIPT_FILE,
];

/** The systemd unit the cloud-config installs to start the provisioner. */
export const PROVISIONER_UNIT_NAME = "preloaded-cos-image.service";

/** GCE's limit on one metadata value (`user-data` holds the whole cloud-config). */
export const METADATA_VALUE_LIMIT_BYTES = 256 * 1024;

/** Options of {@link renderCloudConfig}. */
export interface CloudConfigOptions {
  /** The build id; also in the provisioner config, which must carry the same one. `[A-Za-z0-9._-]`, 1 to 128 characters. */
  buildId: string;
  /**
   * How long the unit waits for the CIDATA disk to appear (it is attached once its image import
   * finishes, possibly long after boot) before failing the build. Default: 1800 (30 minutes).
   */
  cidataWaitSeconds?: number;
  /**
   * How long the VM stays up after a `BuildFailed:` of the unit itself (no CIDATA disk, or one it
   * cannot mount), before powering off. Default: 300.
   */
  failureShutdownSeconds?: number;
}

const BUILD_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Renders the cloud-config (`user-data`) of the preload VM: it writes and enables a oneshot unit
 * whose output goes to serial port 3 and that waits for the CIDATA disk, mounts it read-only and runs
 * the provisioner on it. Pure apart from reading the template files.
 *
 * @throws Error naming the option, when an option is malformed or the result exceeds the metadata limit.
 */
export function renderCloudConfig(options: CloudConfigOptions): string {
  if (!BUILD_ID_PATTERN.test(options.buildId)) {
    throw new Error(
      `buildId must be 1 to 128 characters of [A-Za-z0-9._-], got ${JSON.stringify(options.buildId)}`,
    );
  }
  const values: Record<string, string> = {
    BUILD_ID: options.buildId,
    PROTOCOL_VERSION: String(PROTOCOL_VERSION),
    // Named like their counterparts in provisioner-assets/lib/protocol.sh.
    MARKER_PROTOCOL: MARKERS.protocol,
    MARKER_STATUS: MARKERS.status,
    MARKER_SUCCEEDED: MARKERS.succeeded,
    MARKER_FAILED: MARKERS.failed,
    INLINE_CIDATA_KEY: INLINE_CIDATA_METADATA_KEY,
    FETCH_CIDATA_KEY: FETCH_CIDATA_METADATA_KEY,
    CIDATA_FETCHED: CIDATA_FETCH_STATUS.fetched,
    CIDATA_FETCH_FAILED: CIDATA_FETCH_STATUS.failed,
    CIDATA_WAIT_SECONDS: String(wholeSeconds("cidataWaitSeconds", options.cidataWaitSeconds, 1800)),
    FAILURE_SHUTDOWN_SECONDS: String(
      wholeSeconds("failureShutdownSeconds", options.failureShutdownSeconds, 300),
    ),
  };
  const template = embedStartScript(
    readAsset(CLOUD_CONFIG_TEMPLATE_FILE),
    readAsset(START_SCRIPT_FILE),
  );
  const rendered = template.replace(/\{\{([A-Z_]+)\}\}/g, (placeholder, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new Error(`cloud-config template: unknown placeholder ${placeholder}`);
    return value;
  });
  const size = Buffer.byteLength(rendered, "utf8");
  if (size > METADATA_VALUE_LIMIT_BYTES) {
    throw new Error(
      `cloud-config is ${size} bytes, over GCE's ${METADATA_VALUE_LIMIT_BYTES}-byte metadata value limit`,
    );
  }
  return rendered;
}

function readAsset(name: string): string {
  return fs.readFileSync(path.join(PROVISIONER_ASSETS_DIR, name), "utf8");
}

/**
 * The cloud-config template with its `{{START_SCRIPT}}` line replaced by the start script, every line
 * indented as the placeholder is (the content of a YAML block scalar); empty lines stay empty.
 */
function embedStartScript(template: string, script: string): string {
  const placeholder = /^( *)\{\{START_SCRIPT\}\}$/m;
  const match = placeholder.exec(template);
  if (!match) throw new Error("cloud-config template: no {{START_SCRIPT}} line");
  const indent = match[1];
  const lines = script.replace(/\n$/, "").split("\n");
  const indented = lines.map((line) => (line === "" ? "" : indent + line)).join("\n");
  return template.replace(placeholder, () => indented);
}

function wholeSeconds(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 7 * 24 * 3600) {
    throw new Error(`${name} must be a whole number of seconds from 0 to 604800, got ${value}`);
  }
  return value;
}
