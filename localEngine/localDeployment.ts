/**
 * `pulumi up` of a program against a running emulator, in this process: a preview pass that prints
 * the plan, then an update pass that performs every registration (see `localResources.ts`) while
 * the provider streams its progress. Whatever runs the emulator's VMs (QEMU machines for `npm
 * start`, scripted guests in tests) is the caller's choice.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { createGcpClients } from "../components/google/clients";
import type { Emulator } from "../emulator";
import { runPass, type HandledRegistration } from "./localEngine";
import { localResourceHandler, type DynamicCreateTiming } from "./localResources";
import { loadTypeScriptProgram } from "./typescriptProgram";

/** What to deploy, and where. */
export interface LocalDeployment {
  /** The Pulumi program's directory (a TypeScript program with a Pulumi.yaml). */
  programDir: string;
  /** Where `@pulumi/*` and `preloaded-cos-image` come from: this repository. */
  repositoryRoot: string;
  /** The cloud. */
  emulator: Emulator;
  /** Stack configuration, such as `gcp:project` and `gcp:zone`. */
  config: Record<string, string>;
  /** Where lines for the person watching go. */
  write: (line: string) => void;
  /** Called when a dynamic resource's create has ended. */
  onDynamicCreate?: DynamicCreateTiming;
}

/** What the deployment produced. */
export interface DeploymentResult {
  /** The plan: the preview pass's registrations. */
  planned: HandledRegistration[];
  /** The update pass's registrations, with their states. */
  created: HandledRegistration[];
  /** The stack outputs. */
  outputs: Record<string, unknown>;
}

/** Previews, then deploys the program; rejects with the first failure. */
export async function deployLocally(deployment: LocalDeployment): Promise<DeploymentResult> {
  const { emulator, write } = deployment;
  const clients = createGcpClients({
    endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
    // Resources without a project of their own are in the stack's, as with the gcp provider.
    ...(deployment.config["gcp:project"] ? { projectId: deployment.config["gcp:project"] } : {}),
  });
  const program = loadTypeScriptProgram(deployment.programDir, deployment.repositoryRoot);
  // The provider reads its endpoints from the environment, as in a `pulumi up` pointed at an
  // emulator; the previous values come back afterwards.
  const emulatorEnv = emulator.env();
  const savedEnv = Object.fromEntries(
    Object.keys(emulatorEnv).map((key) => [key, process.env[key]]),
  );
  Object.assign(process.env, emulatorEnv);
  try {
    const engine = {
      project: await pulumiProjectName(deployment.programDir),
      stack: "local",
      config: deployment.config,
      handler: localResourceHandler(clients, write, deployment.onDynamicCreate),
    };
    const preview = await runPass(program, engine, true);
    write("Preview: the program will create");
    for (const registration of preview.registrations) write(`  + ${describePlanned(registration)}`);
    write("");
    write("Creating (a build VM boots and runs the steps; its progress follows):");
    const started = Date.now();
    const update = await runPass(program, engine, false);
    write("");
    write(`Created in ${((Date.now() - started) / 1000).toFixed(0)} s. Outputs:`);
    for (const [key, value] of Object.entries(update.outputs)) write(`  ${key}: ${shown(value)}`);
    return {
      planned: preview.registrations,
      created: update.registrations,
      outputs: update.outputs,
    };
  } finally {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    program.dispose();
    await clients.close();
  }
}

/** A stack output for the terminal. */
function shown(value: unknown): string {
  if (value === undefined)
    return "(no value: outputs of resources that are not emulated stay empty)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** One line of the plan: type, name, and what will happen to it here. */
export function describePlanned(registration: HandledRegistration): string {
  const { type, name } = registration;
  const state = registration.state ?? registration.inputs;
  const what = `${type} "${name}"`;
  if (!registration.custom) return `${what} (component)`;
  if (type.endsWith(":LeftoverSweeper")) {
    return `${what}: remembers where builds run; its delete sweeps their leftovers`;
  }
  if (type.startsWith("pulumi-nodejs:dynamic/")) {
    const args = (state.args ?? {}) as { steps?: unknown[] };
    return `${what}: builds an image from ${String(state.sourceImage)} with ${args.steps?.length ?? 0} step(s)`;
  }
  if (type === "gcp:storage/bucket:Bucket") {
    return `${what}: bucket ${String(state.name)} in the emulator`;
  }
  return `${what}: NOT EMULATED (only recorded)`;
}

/** The `name:` of the program's Pulumi.yaml (the project name the program sees). */
async function pulumiProjectName(programDir: string): Promise<string> {
  const text = await fs.readFile(path.join(programDir, "Pulumi.yaml"), "utf8").catch(() => "");
  return /^name:\s*(\S+)/m.exec(text)?.[1] ?? path.basename(programDir);
}
