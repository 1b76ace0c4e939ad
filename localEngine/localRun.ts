/**
 * Runs one of the repository's examples against the embedded emulator with QEMU machines: the same
 * program, the same component and provider code as `pulumi up`, with a local cloud. Checks the
 * host, makes sure the guest image exists, starts the emulator, deploys (`localDeployment.ts`) and
 * reports the images made. `npm start` and `npm run bench:e2e` are built on it.
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
} from "../emulator/qemu";
import { createGcpClients } from "../components/google/clients";
import { loadSnapshot, restoreBuckets, saveSnapshot } from "./emulatorSnapshot";
import { ENGINE_STATE_FILE } from "./engineState";
import { deployLocally } from "./localDeployment";
import { localRunProblem } from "./localPrerequisites";
import type { DynamicCreateTiming } from "./localResources";

/** The project the example runs in (the stack's `gcp:project`). */
export const LOCAL_PROJECT = "local-project";
/** The zone the example runs in (the stack's `gcp:zone`). */
export const LOCAL_ZONE = "us-central1-a";

/** Options of {@link runExampleLocally}. */
export interface LocalRunOptions {
  /** Example directory name under `examples/`. Default `hello`. */
  example?: string;
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
  /**
   * Called after a successful deployment, before the emulator stops, with what the run produced
   * (the end-to-end tests boot VMs from its images there). A rejection fails the run. Default none.
   */
  afterDeploy?: (emulator: Emulator, result: LocalRunResult) => Promise<void>;
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
}

/** Runs the example; resolves when it is fully deployed, rejects with the first failure. */
export async function runExampleLocally(options: LocalRunOptions = {}): Promise<LocalRunResult> {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const repositoryRoot = findRepositoryRoot();
  const example = options.example ?? "hello";
  const programDir = path.join(repositoryRoot, "examples", example);
  await requireExample(repositoryRoot, example);

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

  const dataDir = await prepareDataDir(options.dataDir, options.fresh ?? false);
  const snapshot = await loadSnapshot(dataDir);
  const { emulator, sourceImage } = await startQemuEmulator({
    guestImage,
    dataDir,
    seedImages: snapshot.images,
    machines: options.onMachineRun ? { onMachineRun: options.onMachineRun } : {},
  });
  options.onEmulator?.(emulator);
  try {
    const clients = createGcpClients({
      endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
      projectId: LOCAL_PROJECT,
    });
    await restoreBuckets(clients, snapshot).finally(() => clients.close());
    write(`preloaded-cos-image: examples/${example}, run locally`);
    write(
      `  cloud:  the local emulator at ${emulator.endpoint}; every VM is a QEMU machine (${accelerator.toUpperCase()})`,
    );
    write(`  source: ${sourceImage} (a Debian guest standing in for COS)`);
    write(
      `  files:  ${dataDir} (kept between runs: the next run diffs against this one; --fresh starts over)`,
    );
    write(`  stack:  gcp:project=${LOCAL_PROJECT}, gcp:zone=${LOCAL_ZONE}`);
    write("");
    const { outputs } = await deployLocally({
      programDir,
      repositoryRoot,
      emulator,
      config: { "gcp:project": LOCAL_PROJECT, "gcp:zone": LOCAL_ZONE },
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
    const result = { outputs, images, dataDir };
    await options.afterDeploy?.(emulator, result);
    return result;
  } finally {
    await emulator.close();
  }
}

/** Throws, listing the examples there are, unless `examples/<example>` holds a program. */
async function requireExample(repositoryRoot: string, example: string): Promise<void> {
  const examples = path.join(repositoryRoot, "examples");
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
 * a previous local run used (it holds the engine's state): nothing else of the user's is touched.
 */
async function prepareDataDir(given: string | undefined, fresh: boolean): Promise<string> {
  const dataDir =
    given === undefined ? path.join(defaultCacheRoot(), "local-run") : path.resolve(given);
  const entries = await fs.readdir(dataDir).catch(() => [] as string[]);
  const previousRun = entries.includes(ENGINE_STATE_FILE);
  if (entries.length > 0 && !previousRun && given !== undefined) {
    throw new Error(
      `--data-dir ${dataDir} is neither empty nor the data directory of a previous local run; give an empty or new directory`,
    );
  }
  // The default directory without a state is an older version's, whose files no state knows.
  if (entries.length > 0 && (fresh || !previousRun)) {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
  await fs.mkdir(dataDir, { recursive: true });
  return dataDir;
}

/** The repository root: the nearest directory above this file whose package.json is this package. */
export function findRepositoryRoot(): string {
  let directory = __dirname;
  for (;;) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const manifest = require(path.join(directory, "package.json")) as { name?: string };
      if (manifest.name === "preloaded-cos-image") return directory;
    } catch {
      // no package.json here
    }
    const parent = path.dirname(directory);
    if (parent === directory)
      throw new Error(`cannot find the preloaded-cos-image repository above ${__dirname}`);
    directory = parent;
  }
}
