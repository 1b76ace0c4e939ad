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
import { withUnknownsShown } from "./changes";
import {
  emptyState,
  loadState,
  resourceKey,
  saveState,
  type EngineState,
  type StoredResource,
} from "./engineState";
import { runPass, type HandledRegistration } from "./localEngine";
import {
  deleteResource,
  localResourceHandler,
  newLedger,
  type DynamicCreateTiming,
  type ResourceLedger,
  type Step,
} from "./localResources";
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
  /**
   * The engine's state file (see `engineState.ts`): the previous run's resources are diffed against,
   * and this run's are written back, as a Pulumi stack's checkpoint. Default: none, every run is a
   * stack's first.
   */
  statePath?: string;
}

/** What the deployment produced. */
export interface DeploymentResult {
  /** The plan: the preview pass's registrations. */
  planned: HandledRegistration[];
  /** The update pass's registrations, with their states. */
  created: HandledRegistration[];
  /** The stack outputs. */
  outputs: Record<string, unknown>;
  /** What the update pass did, in order, deletions of replaced and removed resources last. */
  steps: Step[];
  /** Resources of the previous run that the program no longer has (deleted by the update). */
  removed: Array<{ type: string; name: string }>;
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
  const previous = deployment.statePath ? await loadState(deployment.statePath) : emptyState();
  const ledger = newLedger(previous.resources, {
    project: deployment.config["gcp:project"] ?? "",
    zone: deployment.config["gcp:zone"] ?? "",
  });
  let updated: HandledRegistration[] | undefined;
  try {
    const engine = {
      project: await pulumiProjectName(deployment.programDir),
      stack: "local",
      config: deployment.config,
    };
    // The preview plans against the previous state and changes nothing: its ledger is thrown away.
    const preview = await runPass(
      program,
      {
        ...engine,
        handler: localResourceHandler(clients, () => {}, {
          ...newLedger(previous.resources, ledger),
          autoNames: ledger.autoNames,
        }),
      },
      true,
    );
    const removed = removedResources(previous, preview.registrations);
    writePlan(write, preview.registrations, removed, previous.resources.length > 0);
    write("");
    const building = preview.registrations.some(
      (r) => r.type.endsWith(":ImageBuild") && r.change?.operation !== "same",
    );
    write(
      building
        ? "Updating (a build VM boots and runs the steps; its progress follows):"
        : "Updating (nothing to build):",
    );
    const started = Date.now();
    const update = await runPass(
      program,
      {
        ...engine,
        handler: localResourceHandler(clients, write, ledger, deployment.onDynamicCreate),
      },
      false,
    );
    updated = update.registrations;
    // Old copies of replaced resources, and resources the program dropped, go last, dependents
    // first (the reverse of the order they were registered in): an old image is deleted only once
    // the old template that used it is gone and the group uses the new one.
    await deleteInReverseOrder(
      [
        ...ledger.replaced.map((r) => ({ resource: r, why: "delete-replaced" as const })),
        ...removed.map((r) => ({ resource: r, why: "delete" as const })),
        ...previous.pendingDeletes.map((r) => ({ resource: r, why: "delete-replaced" as const })),
      ],
      previous,
      ledger,
      (resource) => deleteResource(resource, clients, write),
    );
    write("");
    write(`Updated in ${((Date.now() - started) / 1000).toFixed(0)} s. Outputs:`);
    for (const [key, value] of Object.entries(update.outputs)) write(`  ${key}: ${shown(value)}`);
    return {
      planned: preview.registrations,
      created: update.registrations,
      outputs: update.outputs,
      steps: ledger.steps,
      removed: removed.map(({ type, name }) => ({ type, name })),
    };
  } finally {
    if (deployment.statePath)
      await saveState(deployment.statePath, nextState(previous, ledger, updated));
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    program.dispose();
    await clients.close();
  }
}

/** The previous run's resources that this program did not register. */
function removedResources(
  previous: EngineState,
  registered: HandledRegistration[],
): StoredResource[] {
  const keys = new Set(registered.map(resourceKey));
  return previous.resources.filter((resource) => !keys.has(resourceKey(resource)));
}

/** Deletes `doomed`, later-registered first, recording each step and dropping it from the ledger. */
async function deleteInReverseOrder(
  doomed: Array<{ resource: StoredResource; why: "delete" | "delete-replaced" }>,
  previous: EngineState,
  ledger: ResourceLedger,
  remove: (resource: StoredResource) => Promise<void>,
): Promise<void> {
  const order = new Map(
    previous.resources.map((resource, index) => [resourceKey(resource), index]),
  );
  const sorted = [...doomed].sort(
    (a, b) =>
      (order.get(resourceKey(b.resource)) ?? -1) - (order.get(resourceKey(a.resource)) ?? -1),
  );
  for (const { resource, why } of sorted) {
    await remove(resource);
    ledger.replaced = ledger.replaced.filter((r) => r !== resource);
    previous.pendingDeletes = previous.pendingDeletes.filter((r) => r !== resource);
    previous.resources = previous.resources.filter((r) => r !== resource);
    ledger.steps.push({ operation: why, type: resource.type, name: resource.name, reasons: [] });
  }
}

/**
 * The state this run leaves: what it created, updated or kept, in registration order; the previous
 * run's resources it never reached (a failed run) kept as they were; replaced ones not yet deleted
 * as pending deletes.
 */
function nextState(
  previous: EngineState,
  ledger: ResourceLedger,
  updated: HandledRegistration[] | undefined,
): EngineState {
  const resources: StoredResource[] = [];
  const seen = new Set<string>();
  for (const registration of updated ?? []) {
    const stored = ledger.next.get(resourceKey(registration));
    if (stored && !seen.has(resourceKey(stored))) {
      resources.push(stored);
      seen.add(resourceKey(stored));
    }
  }
  for (const [key, stored] of ledger.next) {
    if (!seen.has(key)) {
      resources.push(stored);
      seen.add(key);
    }
  }
  const replacedKeys = new Set(ledger.replaced.map(resourceKey));
  for (const resource of previous.resources) {
    const key = resourceKey(resource);
    if (!seen.has(key) && !replacedKeys.has(key)) resources.push(resource);
  }
  return { resources, pendingDeletes: [...previous.pendingDeletes, ...ledger.replaced] };
}

/** The plan, as `pulumi preview` prints it: one line per resource, with what changes and why. */
function writePlan(
  write: (line: string) => void,
  planned: HandledRegistration[],
  removed: StoredResource[],
  hadState: boolean,
): void {
  const custom = planned.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
  const count = (operation: string): number =>
    custom.filter((r) => (r.change?.operation ?? "create") === operation).length;
  if (hadState && custom.every((r) => r.change?.operation === "same") && removed.length === 0) {
    write(`Preview: no changes (${custom.length} unchanged): nothing will be built`);
    return;
  }
  write(
    hadState
      ? `Preview: ${count("create")} to create, ${count("update")} to update, ${count("replace")} to replace, ${removed.length} to delete, ${count("same")} unchanged`
      : "Preview: the program will create",
  );
  for (const registration of planned) {
    const change = registration.change;
    const sign =
      !registration.custom && hadState
        ? "  "
        : change?.operation === "replace"
          ? "+- "
          : change?.operation === "update"
            ? "~ "
            : change?.operation === "same"
              ? "= "
              : "+ ";
    const verb = change && change.operation !== "create" ? ` [${change.operation}]` : "";
    write(`  ${sign}${describePlanned(registration)}${verb}`);
    for (const reason of change?.reasons ?? []) write(`      because ${reason}`);
  }
  for (const resource of removed) write(`  - ${resource.type} "${resource.name}" [delete]`);
}

/** A stack output for the terminal. */
function shown(value: unknown): string {
  if (value === undefined) return "(no value)";
  const visible = withUnknownsShown(value);
  return typeof visible === "string" ? visible : JSON.stringify(visible);
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
