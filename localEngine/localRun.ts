/**
 * Runs one of the repository's examples against the embedded emulator with QEMU machines: the same
 * program, the same component and provider code as `pulumi up`, with a local cloud. Checks the
 * host, makes sure the guest image exists, starts the emulator, deploys with the engine chosen
 * (the Pulumi CLI, `pulumiDeployment.ts`, or the local engine, `localDeployment.ts`) and reports
 * the images made. `npm start` and `npm run bench:e2e` are built on it.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { Emulator } from "../emulator";
import {
  chooseAccelerator,
  defaultCacheRoot,
  ensureGuestImage,
  findCachedGuestImage,
  startQemuEmulator,
  type MachineRun,
  type QemuGuestOptions,
} from "../emulator/qemu";
import { createGcpClients } from "../components/google/clients";
import {
  loadSnapshot,
  restoreBuckets,
  saveSnapshot,
  type EmulatorSnapshot,
} from "./emulatorSnapshot";
import type { EngineChoice, EngineName } from "./engineChoice";
import { ENGINE_STATE_FILE } from "./engineState";
import { deployLocally } from "./localDeployment";
import { localRunProblem } from "./localPrerequisites";
import { pulumiVersion, type RunningCli } from "./pulumiCli";
import { deployWithPulumi, PULUMI_BACKEND_DIR } from "./pulumiDeployment";
import type { DynamicCreateTiming } from "./localResources";
import { findRepositoryRoot } from "./repositoryRoot";

export { findRepositoryRoot };

/** The project the example runs in (the stack's `gcp:project`). */
export const LOCAL_PROJECT = "local-project";
/** The zone the example runs in (the stack's `gcp:zone`). */
export const LOCAL_ZONE = "us-central1-a";

/** Options of {@link runExampleLocally}. */
export interface LocalRunOptions {
  /** Example directory name under `examples/`. Default `hello`. */
  example?: string;
  /** The directory of the examples. Default the repository's `examples/` (tests pass a copy). */
  examplesDir?: string;
  /**
   * Where the emulator keeps images and disks, and where the engine's state and the emulator's
   * snapshot live between runs (so a second run diffs against the first). Default
   * `<cache>/local-run`. A given directory must be empty, new, or one a previous run used.
   */
  dataDir?: string;
  /** Start over: empty the data directory first (a stack's first run). Default false. */
  fresh?: boolean;
  /** Where lines for the person watching go. Default standard output. */
  write?: (line: string) => void;
  /** Called when a QEMU machine has ended (benchmarks). */
  onMachineRun?: (run: MachineRun) => void;
  /** Called when a dynamic resource's create has ended (benchmarks). */
  onDynamicCreate?: DynamicCreateTiming;
  /** Receives the emulator once it runs (so an interrupt can stop it). */
  onEmulator?: (emulator: Emulator) => void;
  /** Receives the running `pulumi up`, with the Pulumi CLI (so an interrupt can wait for it). */
  onCli?: (run: RunningCli) => void;
  /**
   * The engine (see `engineChoice.ts`): the real Pulumi CLI or the local engine. Default the local
   * engine.
   */
  engine?: EngineChoice;
  /**
   * Where the emulator comes from. Default: QEMU machines booting the stand-in guest image (with
   * the host's prerequisites checked first); tests pass scripted guests.
   */
  startCloud?: CloudSetup;
  /**
   * Called after a successful deployment, before the emulator stops, with what the run produced
   * (the end-to-end tests boot VMs from its images there). A rejection fails the run. Default none.
   */
  afterDeploy?: (emulator: Emulator, result: LocalRunResult) => Promise<void>;
  /**
   * The program's own stack configuration, keyed as `pulumi config set` keys them
   * (`<project>:<key>`), beside `gcp:project` and `gcp:zone` (which it cannot change). A value the
   * program reads with `requireSecret` is a secret in the program however it was set. Default none.
   */
  config?: Record<string, string>;
  /**
   * Settings of every QEMU machine of the default cloud (such as the registries its guests reach,
   * `registryForwards`). Ignored with {@link startCloud}. Default none.
   */
  machines?: Omit<QemuGuestOptions, "boot" | "onMachineRun">;
}

/** An image the run created, and its file. */
export interface CreatedImage {
  /** Project. */
  project: string;
  /** Name. */
  name: string;
  /** Self link, as the API reports it. */
  selfLink: string;
  /** The image's raw disk file. */
  file?: string;
}

/** What a local run produced. */
export interface LocalRunResult {
  /** The program's stack outputs. */
  outputs: Record<string, unknown>;
  /** Images created by the run (the seeded source image excluded). */
  images: CreatedImage[];
  /** Where the emulator's files are (kept after the run). */
  dataDir: string;
  /** The engine that ran the example. */
  engine: EngineName;
  /** The engine, in words (its version and why it was chosen), as the first lines said it. */
  engineLine: string;
  /** Resources only recorded, not emulated (with the Pulumi CLI; the local engine prints its own). */
  recorded: string[];
}

/** A running emulator for a local run, and how to describe it. */
export interface LocalCloud {
  /** The emulator. */
  emulator: Emulator;
  /** The source image the example's `cos-stable` family resolves to. */
  sourceImage: string;
  /** What runs its VMs, for the first lines (such as "every VM is a QEMU machine (KVM)"). */
  machines: string;
}

/** Starts the local run's emulator in `dataDir`, seeded with the images of the last run. */
export type LocalCloudStarter = (
  dataDir: string,
  seedImages: EmulatorSnapshot["images"],
) => Promise<LocalCloud>;

/** Runs the example; resolves when it is fully deployed, rejects with the first failure. */
export async function runExampleLocally(options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const repositoryRoot = findRepositoryRoot();
  const example = options.example ?? "hello";
  const examplesDir = options.examplesDir ?? path.join(repositoryRoot, "examples");
  const programDir = path.join(examplesDir, example);
  await requireExample(examplesDir, example);
  const choice = options.engine ?? { engine: "local", why: "the default of runExampleLocally" };
  const startCloud =
    options.startCloud ??
    qemuCloud(write, { ...options.machines, onMachineRun: options.onMachineRun });
  // Host checks and the guest image come first: a missing tool is named before anything is touched.
  const starting = await startCloud.prepare();

  const dataDir = await prepareDataDir(options.dataDir, options.fresh ?? false, choice.engine);
  const snapshot = await loadSnapshot(dataDir);
  const { emulator, sourceImage, machines } = await starting(dataDir, snapshot.images);
  options.onEmulator?.(emulator);
  try {
    const clients = createGcpClients({
      endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
      projectId: LOCAL_PROJECT,
    });
    await restoreBuckets(clients, snapshot).finally(() => clients.close());
    const engineLine =
      choice.engine === "pulumi"
        ? `the Pulumi CLI, ${await pulumiVersion(choice.cli.binDir)} (${choice.why})`
        : `the local engine, in this process (${choice.why})`;
    write(`preloaded-cos-image: examples/${example}, run locally`);
    write(`  engine: ${engineLine}`);
    write(`  cloud:  the local emulator at ${emulator.endpoint}; ${machines}`);
    write(`  source: ${sourceImage} (a Debian guest standing in for COS)`);
    write(
      `  files:  ${dataDir} (kept between runs: the next run diffs against this one; --fresh starts over)`,
    );
    write(`  stack:  gcp:project=${LOCAL_PROJECT}, gcp:zone=${LOCAL_ZONE}`);
    write("");
    const config = { ...options.config, "gcp:project": LOCAL_PROJECT, "gcp:zone": LOCAL_ZONE };
    const deployed =
      choice.engine === "pulumi"
        ? await deployWithPulumi({
            binDir: choice.cli.binDir,
            exampleDir: programDir,
            dataDir,
            emulator,
            config,
            write,
            ...(options.onCli ? { onCli: options.onCli } : {}),
          }).finally(() => saveSnapshot(dataDir, emulator, snapshot))
        : await deployLocally({
            programDir,
            repositoryRoot,
            emulator,
            config,
            write,
            statePath: path.join(dataDir, ENGINE_STATE_FILE),
            ...(options.onDynamicCreate ? { onDynamicCreate: options.onDynamicCreate } : {}),
          }).finally(() => saveSnapshot(dataDir, emulator, snapshot));
    const restored = new Set(snapshot.images.map((image) => `${image.project}/${image.name}`));
    const images = emulator
      .inventory()
      .images.filter((image) => !image.seeded || restored.has(`${image.project}/${image.name}`))
      .map((image) => ({
        project: image.project,
        name: image.name,
        selfLink: `https://www.googleapis.com/compute/v1/projects/${image.project}/global/images/${image.name}`,
        file: emulator.imageFile(image.project, image.name),
      }));
    const result: LocalRunResult = {
      outputs: deployed.outputs,
      images,
      dataDir,
      engine: choice.engine,
      engineLine,
      recorded: "recorded" in deployed ? deployed.recorded : [],
    };
    await options.afterDeploy?.(emulator, result);
    return result;
  } finally {
    await emulator.close();
  }
}

/** How a local run gets its cloud: checks first (`prepare`), then a starter. */
export interface CloudSetup {
  /** Checks the host and readies what the emulator needs; resolves with the starter. */
  prepare(): Promise<LocalCloudStarter>;
}

/** The cloud of `npm start`: the emulator with QEMU machines booting the stand-in guest image. */
function qemuCloud(
  write: (line: string) => void,
  machines: Omit<QemuGuestOptions, "boot">,
): CloudSetup {
  return {
    async prepare() {
      const cached = await findCachedGuestImage();
      const problem = await localRunProblem(cached !== undefined);
      if (problem) throw new Error(problem);
      const guestImage =
        cached ??
        (await (async () => {
          write(
            "Building the local stand-in for COS (a Debian guest image): first run only, about 5 minutes...",
          );
          return ensureGuestImage({
            onBuildOutput: (line) => {
              if (line.startsWith("=== ")) write(`  [guest image] ${line.slice(4)}`);
            },
          });
        })());
      const accelerator = await chooseAccelerator("auto", guestImage.kernel);
      return async (dataDir, seedImages) => {
        const { emulator, sourceImage } = await startQemuEmulator({
          guestImage,
          dataDir,
          seedImages,
          machines,
        });
        return {
          emulator,
          sourceImage,
          machines: `every VM is a QEMU machine (${accelerator.toUpperCase()})`,
        };
      };
    },
  };
}

/** Throws, listing the examples there are, unless `<examples>/<example>` holds a program. */
async function requireExample(examples: string, example: string): Promise<void> {
  try {
    await fs.access(path.join(examples, example, "Pulumi.yaml"));
  } catch {
    const known = (await fs.readdir(examples).catch(() => [])).join(", ");
    throw new Error(`there is no example "${example}" (examples/: ${known || "none"})`);
  }
}

/**
 * The emulator's data directory. It is kept between runs (the engine's state and the emulator's
 * snapshot are in it); `fresh` empties the default one. A given directory must be empty, new, or one
 * a previous local run used (it holds an engine's state): nothing else of the user's is touched.
 * A directory whose state is the other engine's is refused: that engine's resources (its images)
 * are unknown to this one's state.
 */
async function prepareDataDir(
  given: string | undefined,
  fresh: boolean,
  engine: EngineName,
): Promise<string> {
  const dataDir =
    given === undefined ? path.join(defaultCacheRoot(), "local-run") : path.resolve(given);
  const entries = await fs.readdir(dataDir).catch(() => [] as string[]);
  const previousEngine: EngineName | undefined = entries.includes(ENGINE_STATE_FILE)
    ? "local"
    : entries.includes(PULUMI_BACKEND_DIR)
      ? "pulumi"
      : undefined;
  if (entries.length > 0 && !previousEngine && given !== undefined) {
    throw new Error(
      `--data-dir ${dataDir} is neither empty nor the data directory of a previous local run; give an empty or new directory`,
    );
  }
  if (!fresh && previousEngine && previousEngine !== engine) {
    throw new Error(
      `the data directory ${dataDir} holds the ${previousEngine} engine's state from an earlier run, which the ${engine} engine cannot read (the images it made would be strangers to it): add --fresh to start over, or run with --engine ${previousEngine}, or give another --data-dir`,
    );
  }
  // The default directory without a state is an older version's, whose files no state knows.
  if (entries.length > 0 && (fresh || !previousEngine)) {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  await fs.mkdir(dataDir, { recursive: true });
  return dataDir;
}
