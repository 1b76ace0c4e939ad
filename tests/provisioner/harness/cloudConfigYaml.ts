import { renderCloudConfig, type CloudConfigOptions } from "../../../components/guest/cloudConfig";

// js-yaml comes with @pulumi/pulumi; only the tests use it, to parse what real cloud-init would.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load: (text: string) => unknown };

/** The parts of the rendered cloud-config the tests look at. */
export interface ParsedCloudConfig {
  write_files: Array<{ path: string; permissions: string; content: string }>;
  runcmd: string[][];
}

/** Renders the cloud-config and parses it as YAML. */
export function parsedCloudConfig(options: CloudConfigOptions): ParsedCloudConfig {
  return yaml.load(renderCloudConfig(options)) as ParsedCloudConfig;
}

/** The content of the file the cloud-config writes at `path`. */
export function writtenFile(config: ParsedCloudConfig, path: string): string {
  const file = config.write_files.find((candidate) => candidate.path === path);
  if (!file) throw new Error(`the cloud-config writes no ${path}`);
  return file.content;
}
