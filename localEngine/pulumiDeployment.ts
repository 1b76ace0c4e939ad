/**
 * `pulumi up` of an example with the real Pulumi CLI against a running emulator: the example is
 * copied into a project directory (`pulumiProject.ts`), its stack lives in a file backend with a
 * passphrase secrets provider, and its `@pulumi/gcp` resources are served by the stand-in gcp
 * plugin (`gcpStandIn.ts`). The CLI's own output (its preview, the build's progress, the summary)
 * streams to the person watching. Every directory is under the run's data directory, so the next
 * run previews against this one, as the next `pulumi up` of a stack does.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Emulator } from "../emulator";
import { writeGcpStandInPlugin } from "./gcpStandIn";
import { prepareExampleProject } from "./pulumiProject";
import { pulumi, pulumiOk, startPulumi, type PulumiContext, type RunningCli } from "./pulumiCli";

/** The data directory's entry holding the file backend (the stack's state). */
export const PULUMI_BACKEND_DIR = "pulumi-backend";
/** The data directory's entry holding the copy of the example that the CLI runs. */
export const PULUMI_PROJECT_DIR = "pulumi-project";
/** The data directory's entry holding the stand-in gcp plugin's wrapper. */
export const PULUMI_PLUGIN_DIR = "pulumi-plugins";
/** The stack of a local run. */
export const LOCAL_STACK = "local";
/**
 * The passphrase of the local run's stack: it guards secrets of an emulator's stack on this
 * machine only (not a credential); `PULUMI_CONFIG_PASSPHRASE` with `pulumi stack` reads it.
 */
export const LOCAL_PASSPHRASE = "preloaded-cos-image-local-run";

/** What to deploy with the CLI, and where. */
export interface PulumiDeployment {
  /** Directory holding `pulumi` and its plugins. */
  binDir: string;
  /** The example's directory (a Pulumi program; it is copied, never written to). */
  exampleDir: string;
  /** The run's data directory (kept between runs). */
  dataDir: string;
  /** The cloud. */
  emulator: Emulator;
  /** Stack configuration: `gcp:project` and `gcp:zone`. */
  config: Record<string, string>;
  /** Where lines for the person watching go. */
  write: (line: string) => void;
  /** Receives the running `pulumi up` (so an interrupt can wait for it to stop). */
  onCli?: (run: RunningCli) => void;
}

/** What the deployment produced. */
export interface PulumiDeploymentResult {
  /** The stack outputs (`pulumi stack output --json`; secrets shown as `[secret]`). */
  outputs: Record<string, unknown>;
  /** Resources the stand-in gcp plugin only recorded, as `<type> "<name>"`. */
  recorded: string[];
  /** The project directory the CLI ran in. */
  projectDir: string;
  /** The file backend's directory. */
  backendDir: string;
}

/** Runs `pulumi up` of the example; rejects, after the CLI's own output, when it fails. */
export async function deployWithPulumi(
  deployment: PulumiDeployment,
): Promise<PulumiDeploymentResult> {
  const { dataDir, emulator, write } = deployment;
  const projectDir = path.join(dataDir, PULUMI_PROJECT_DIR);
  const backendDir = path.join(dataDir, PULUMI_BACKEND_DIR);
  const pluginDir = path.join(dataDir, PULUMI_PLUGIN_DIR);
  await prepareExampleProject(deployment.exampleDir, projectDir);
  writeGcpStandInPlugin(pluginDir);
  const context: PulumiContext = {
    binDir: deployment.binDir,
    programDir: projectDir,
    backendDir,
    endpoint: emulator.endpoint,
    passphrase: LOCAL_PASSPHRASE,
    pluginDirs: [pluginDir],
    env: {
      ...emulator.env(),
      // Where the stand-in gcp plugin puts resources without a project or zone of their own.
      ...(deployment.config["gcp:project"]
        ? { GOOGLE_PROJECT: deployment.config["gcp:project"] }
        : {}),
      ...(deployment.config["gcp:zone"] ? { GOOGLE_ZONE: deployment.config["gcp:zone"] } : {}),
    },
  };
  await fs.mkdir(backendDir, { recursive: true });
  const selected = await pulumi(context, ["stack", "select", LOCAL_STACK]);
  if (selected.code !== 0) {
    await pulumiOk(context, ["stack", "init", LOCAL_STACK, "--secrets-provider", "passphrase"]);
  }
  for (const [key, value] of Object.entries(deployment.config)) {
    await pulumiOk(context, ["config", "set", key, value]);
  }

  write(`$ pulumi up --yes   (in ${projectDir})`);
  const run = startPulumi(context, ["up", "--yes"], (line) => write(`  ${line}`));
  deployment.onCli?.(run);
  const done = await run.done;
  if (done.code !== 0) {
    throw new Error(`pulumi up exited with ${String(done.code)} (its output is above)`);
  }
  const outputs = JSON.parse(
    (await pulumiOk(context, ["stack", "output", "--json"])).stdout,
  ) as Record<string, unknown>;
  const exported = JSON.parse((await pulumiOk(context, ["stack", "export"])).stdout) as {
    deployment?: { resources?: Array<{ type: string; urn: string }> };
  };
  const recorded = (exported.deployment?.resources ?? [])
    .filter((r) => r.type.startsWith("gcp:") && r.type !== "gcp:storage/bucket:Bucket")
    .map((r) => `${r.type} "${r.urn.split("::").slice(3).join("::")}"`);
  return { outputs, recorded, projectDir, backendDir };
}
