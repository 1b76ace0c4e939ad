import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { GcpClients } from "../../components/google/clients";
import type { PipelineOptions } from "../../components/pipeline/runBuild";
import { recordingProgress } from "../../components/pipeline/progress";
import { ownerIdOf } from "../../components/naming";
import type { ImageBuildInputs, ImageBuildOutputs } from "../../components/provider/inputs";
import * as runtime from "../../components/provider/runtime";
import type { BuildSecrets } from "../../components/secrets";
import type { Emulator, EmulatorOptions } from "../../emulator";
import { buildInputs, checkAndCreate, oneScriptTarget } from "../support/buildInputs";
import type { BuildPlace, BuildTarget } from "../support/buildInputs";
import { startEmulatorCloud } from "../support/emulatorCloud";
import "../support/noMetadataServer";

/**
 * A build against the local emulator through the real provider methods and the real Google clients:
 * the same code `pulumi up` runs, with the cloud on loopback and polling sped up.
 */
export interface BuildFixture {
  emulator: Emulator;
  /** Where the fixture's builds run: {@link PROJECT}, {@link ZONE} and the scratch {@link BUCKET}. */
  place: BuildPlace;
  /** Clients pointed at the emulator (the test's own calls). */
  clients: GcpClients;
  /** Directory standing in for the Pulumi program's directory. */
  programDir: string;
  /** Progress lines the provider printed. */
  progress: string[];
  /** Inputs as the component would register them, with `args` merged over a working default. */
  inputs(
    args?: Partial<ImageBuildInputs["args"]>,
    secrets?: Partial<BuildSecrets>,
    name?: string,
  ): ImageBuildInputs;
  /** check + create, as the engine does for a new resource. */
  build(inputs: ImageBuildInputs): Promise<{ id: string; outs: ImageBuildOutputs }>;
  /** Restores the runtime and stops the emulator. */
  close(): Promise<void>;
}

export const PROJECT = "build-project";
export const ZONE = "europe-west4-b";
export const BUCKET = "scratch-bucket";

const PLACE: BuildPlace = { project: PROJECT, zone: ZONE, bucket: BUCKET };

/**
 * The arguments of the fixture's one-script build as a user writes them (the place, `cos-stable`,
 * the context `image/` and its `setup.sh`), for the faces that take plain arguments: buildImage()
 * and the command's configuration files.
 */
export const ONE_SCRIPT_BUILD = {
  project: PROJECT,
  zone: ZONE,
  bucket: BUCKET,
  sourceImageFamily: "cos-stable",
  buildContext: "image",
  steps: [{ runScript: { script: "setup.sh" } }],
} as const;

/** Fast timing: the scripted guests act at once, so polling can be tight. */
export const FAST_PIPELINE: PipelineOptions = {
  watch: { serialPollMs: 20, statusPollMs: 100 },
  stopPollMs: 20,
  retry: { initialMs: 5, maxMs: 40, maxAttempts: 12 },
};

/** Where the fixture's builds go: a program directory whose context `image/` holds `setup.sh`. */
export function buildTarget(programDir: string, endpoint: string): BuildTarget {
  return oneScriptTarget(programDir, endpoint, PLACE, "setup.sh", (name) =>
    ownerIdOf("infra", "dev", name),
  );
}

export async function buildFixture(
  emulatorOptions: EmulatorOptions = {},
  pipeline: PipelineOptions = FAST_PIPELINE,
): Promise<BuildFixture> {
  const cloud = await startEmulatorCloud({
    project: PROJECT,
    bucket: BUCKET,
    emulator: { guestShutdownGraceMs: 2_000, ...emulatorOptions },
  });
  const programDir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-program-"));
  fs.mkdirSync(path.join(programDir, "image"));
  fs.writeFileSync(
    path.join(programDir, "image", "setup.sh"),
    "echo setting up > /var/lib/hello\n",
  );
  const target = buildTarget(programDir, cloud.emulator.endpoint);

  const progress = recordingProgress();
  const restore = runtime.configureRuntime({ progress: () => progress, pipeline });
  return {
    emulator: cloud.emulator,
    place: PLACE,
    clients: cloud.clients,
    programDir,
    progress: progress.lines,
    inputs: (args = {}, secrets = {}, name = "web") => buildInputs(target, name, args, secrets),
    build: checkAndCreate,
    async close() {
      restore();
      await cloud.close();
      fs.rmSync(programDir, { recursive: true, force: true });
    },
  };
}

/** Asserts that no temporary of any build is left: no instance, disk, object, or image but the given ones. */
export function expectNoTemporaries(emulator: Emulator, keepImages: string[] = []): void {
  const inventory = emulator.inventory();
  expect(
    inventory.instances.map((i) => i.name),
    "instances left",
  ).to.deep.equal([]);
  expect(
    inventory.disks.map((d) => d.name),
    "disks left",
  ).to.deep.equal([]);
  expect(
    inventory.objects.map((o) => o.name),
    "objects left",
  ).to.deep.equal([]);
  const images = inventory.images.filter((i) => !i.seeded).map((i) => i.name);
  expect(images.sort(), "images left").to.deep.equal([...keepImages].sort());
}
