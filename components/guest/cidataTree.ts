import * as fs from "node:fs";
import * as path from "node:path";
import type { CidataEntry, CidataSpec } from "../cidata";
import { PROVISIONER_ASSETS_DIR, USER_DATA_ONLY_FILES } from "./cloudConfig";
import {
  ACK_METADATA_KEY,
  CIDATA_PATHS,
  PROTOCOL_VERSION,
  type ProvisionerConfig,
} from "./protocol";
import { renderProvisionerConfig } from "./provisionerConfig";
import type { BuildSpec } from "../pipeline/spec";

/**
 * What goes on the CIDATA disk of a build (protocol.ts, CIDATA_PATHS): NoCloud user-data and
 * meta-data, the provisioner's config, the provisioner itself, and the build context with the extra
 * files.
 */

/**
 * How long the provisioner waits for the acknowledgement, and after a failure, before powering off;
 * and how long it waits for a boot disk resize it asked for before failing the step.
 */
export const GUEST_WAIT_SECONDS = { ack: 300, failureShutdown: 300, diskResize: 600 } as const;

/** The build context and extra files, as they appear under `context/`. Also what the content hash reads. */
export function contextEntries(spec: Pick<BuildSpec, "contextDir" | "extraFiles">): CidataEntry[] {
  const entries: CidataEntry[] = [];
  if (spec.contextDir)
    entries.push({ path: CIDATA_PATHS.contextDir, source: { directory: spec.contextDir } });
  for (const extra of spec.extraFiles) {
    entries.push({
      path: `${CIDATA_PATHS.contextDir}/${extra.destination}`,
      source: { file: extra.file },
    });
  }
  return entries;
}

/** The provisioner's config for a build. */
export function provisionerConfigFor(
  spec: Pick<BuildSpec, "steps"> & { image: Pick<BuildSpec["image"], "diskSizeGb"> },
  buildId: string,
): ProvisionerConfig {
  return {
    protocol: PROTOCOL_VERSION,
    buildId,
    ackKey: ACK_METADATA_KEY,
    ackTimeoutSeconds: GUEST_WAIT_SECONDS.ack,
    failureShutdownSeconds: GUEST_WAIT_SECONDS.failureShutdown,
    diskSizeGb: spec.image.diskSizeGb,
    diskResizeTimeoutSeconds: GUEST_WAIT_SECONDS.diskResize,
    steps: spec.steps,
  };
}

/**
 * The provisioner's own files: everything in `provisioner-assets/` but what the cloud-config
 * delivers (its template and the start script embedded in it).
 */
export function provisionerEntries(assetsDir = PROVISIONER_ASSETS_DIR): CidataEntry[] {
  return fs
    .readdirSync(assetsDir, { withFileTypes: true })
    .filter((entry) => !USER_DATA_ONLY_FILES.includes(entry.name))
    .map((entry) => {
      const source = path.join(assetsDir, entry.name);
      return {
        path: `${CIDATA_PATHS.provisionerDir}/${entry.name}`,
        source: entry.isDirectory() ? { directory: source } : { file: source },
      };
    });
}

/**
 * Everything of this package that runs in the guest: the provisioner's files and what travels in
 * user-data (the cloud-config template and the start script). What the content hash reads of it.
 */
export function guestCodeEntries(assetsDir = PROVISIONER_ASSETS_DIR): CidataEntry[] {
  return fs.readdirSync(assetsDir, { withFileTypes: true }).map((entry) => {
    const source = path.join(assetsDir, entry.name);
    return {
      path: `guest-code/${entry.name}`,
      source: entry.isDirectory() ? { directory: source } : { file: source },
    };
  });
}

/** The whole CIDATA disk of a build. `userData` is the rendered cloud-config (also the VM's `user-data`). */
export function cidataSpecFor(spec: BuildSpec, buildId: string, userData: string): CidataSpec {
  const config = renderProvisionerConfig(provisionerConfigFor(spec, buildId));
  return {
    entries: [
      { path: CIDATA_PATHS.userData, source: { content: userData } },
      {
        path: CIDATA_PATHS.metaData,
        source: { content: `instance-id: ${buildId}\nlocal-hostname: pci-${buildId}\n` },
      },
      ...config.map((file) => ({ path: file.path, source: { content: file.content } })),
      ...provisionerEntries(),
      ...contextEntries(spec),
    ],
  };
}
