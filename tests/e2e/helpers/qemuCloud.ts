/**
 * A local cloud for whole builds: the emulator with a QEMU machine behind every instance and the
 * Debian stand-in as `cos-stable`, the project's real Google clients pointed at it, a scratch
 * bucket, and builds run through the dynamic provider's `check` and `create` exactly as the Pulumi
 * engine calls them. Progress lines are recorded and echoed, so a failing run shows the guest's story.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { recordingProgress } from "../../../components/pipeline/progress";
import type { GcpClients } from "../../../components/google/clients";
import { ownerIdOf } from "../../../components/naming";
import type { ImageBuildInputs, ImageBuildOutputs } from "../../../components/provider/inputs";
import * as runtime from "../../../components/provider/runtime";
import type { Emulator, ScheduledInstanceFault } from "../../../emulator";
import { startQemuEmulator, type MachineRun, type QemuGuestOptions } from "../../../emulator/qemu";
import { buildInputs, checkBuild, createBuild } from "../../support/buildInputs";
import { startEmulatorCloud } from "../../support/emulatorCloud";
import { sharedGuestImage } from "./guestFixture";
import { requireE2ePrerequisites } from "./hostTools";

/** Project of the end-to-end builds. */
export const E2E_PROJECT = "e2e-project";
/** Zone of the end-to-end builds. */
export const E2E_ZONE = "us-central1-a";
/** Scratch bucket of the end-to-end builds. */
export const E2E_BUCKET = "e2e-scratch";

/** The running local cloud. */
export interface QemuCloud {
  /** The emulator. */
  emulator: Emulator;
  /** Clients pointed at it (the test's own calls, such as the verification VM). */
  clients: GcpClients;
  /** Progress lines the provider printed, in order. */
  progress: string[];
  /** Every QEMU machine run so far. */
  machineRuns: MachineRun[];
  /** Stops the emulator (and any machine), restores the provider runtime, closes the clients. */
  close(): Promise<void>;
}

/** How a suite's local cloud differs from the default one. */
export interface QemuCloudOptions {
  /**
   * Instance failures that fire by themselves (emulator/faults.ts), e.g. a crash, which kills the
   * QEMU machine at once like a power cut, when a serial line shows a chosen point. Default: none.
   */
  scheduledFaults?: ScheduledInstanceFault[];
}

/**
 * Starts the local cloud; the guest image comes from the cache (or is built once). `machines` adds
 * to every QEMU machine's options (registries the guests reach, a work root for their serial
 * captures...).
 */
export async function startQemuCloud(
  machines: Omit<QemuGuestOptions, "boot" | "onMachineRun"> = {},
  { scheduledFaults = [] }: QemuCloudOptions = {},
): Promise<QemuCloud> {
  const guestImage = await sharedGuestImage();
  const machineRuns: MachineRun[] = [];
  const local = await startEmulatorCloud({
    project: E2E_PROJECT,
    bucket: E2E_BUCKET,
    start: async () =>
      (
        await startQemuEmulator({
          guestImage,
          scheduledFaults,
          machines: {
            keepWorkDirs: Boolean(process.env.PCI_E2E_KEEP),
            ...machines,
            onMachineRun: (run) => {
              machineRuns.push(run);
              const seconds = ((run.endedAt - run.startedAt) / 1000).toFixed(1);
              console.log(
                `      [e2e timing] machine ${run.instance}: ${seconds} s, ${run.reboots} reboot(s), ended by ${run.exit.shutdownReason ?? "?"}`,
              );
            },
          },
        })
      ).emulator,
  });
  const { emulator, clients } = local;
  const progress = recordingProgress();
  const echo = {
    info: (message: string) => {
      progress.info(message);
      console.log(`      [build] ${message}`);
    },
    warn: (message: string) => {
      progress.warn(message);
      console.log(`      [build] warning: ${message}`);
    },
  };
  const restore = runtime.configureRuntime({ progress: () => echo });
  return {
    emulator,
    clients,
    progress: progress.lines,
    machineRuns,
    async close() {
      restore();
      await local.close();
    },
  };
}

/** A throw-away Pulumi program directory holding the build context `files` (path → contents). */
export async function programWithContext(
  files: Record<string, string | Buffer>,
): Promise<{ programDir: string; remove(): Promise<void> }> {
  const programDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-program-"));
  for (const [name, contents] of Object.entries(files)) {
    const file = path.join(programDir, "context", name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, contents);
  }
  return { programDir, remove: () => fs.rm(programDir, { recursive: true, force: true }) };
}

/** The build resource's inputs as the component registers them, for `args` over the e2e defaults. */
export function e2eBuildInputs(
  cloud: QemuCloud,
  programDir: string,
  name: string,
  args: Partial<ImageBuildInputs["args"]>,
): ImageBuildInputs {
  const target = {
    programDir,
    endpoint: cloud.emulator.endpoint,
    project: E2E_PROJECT,
    zone: E2E_ZONE,
    bucket: E2E_BUCKET,
    buildContext: "context",
    ownerId: (component: string) => ownerIdOf("e2e", "local", component),
  };
  return buildInputs(target, name, args);
}

/** `check` then `create`, as the engine runs a new build resource; check failures fail the test. */
export async function buildThroughProvider(
  inputs: ImageBuildInputs,
): Promise<{ id: string; outs: ImageBuildOutputs }> {
  const checked = await checkBuild(inputs);
  const started = Date.now();
  try {
    return await createBuild(checked);
  } finally {
    console.log(`      [e2e timing] create: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** The one build a suite made with {@link buildOncePerSuite}: its cloud, and its outputs or error. */
export interface SuiteBuild {
  cloud: QemuCloud;
  /** The build's outputs; undefined when it failed. */
  outs?: ImageBuildOutputs;
  /** Why the build failed; undefined when it succeeded. */
  failure?: Error;
  /** The output image's backing file ("" when there is none). */
  imageFile: string;
}

/**
 * Registers the suite's `before` and `after` hooks: one build of `context` through the provider on a
 * fresh QEMU cloud (skipped loudly without the prerequisites; `cloudOptions` shape that cloud), torn
 * down after the suite. Returns a getter for the result, valid inside the suite's tests.
 */
export function buildOncePerSuite(
  name: string,
  context: Record<string, string | Buffer>,
  args: Partial<ImageBuildInputs["args"]>,
  cloudOptions: QemuCloudOptions = {},
): () => SuiteBuild {
  let build: SuiteBuild | undefined;
  let cloud: QemuCloud | undefined;
  let removeProgram: (() => Promise<void>) | undefined;

  before(async function () {
    await requireE2ePrerequisites(this);
    cloud = await startQemuCloud({}, cloudOptions);
    const program = await programWithContext(context);
    removeProgram = () => program.remove();
    const inputs = e2eBuildInputs(cloud, program.programDir, name, args);
    const started = cloud;
    build = await buildThroughProvider(inputs).then(
      ({ outs }): SuiteBuild => ({
        cloud: started,
        outs,
        imageFile: started.emulator.imageFile(E2E_PROJECT, outs.imageName) ?? "",
      }),
      (error: unknown): SuiteBuild => ({
        cloud: started,
        failure: error instanceof Error ? error : new Error(String(error)),
        imageFile: "",
      }),
    );
    if (build.imageFile) console.log(`      [e2e] output image file: ${build.imageFile}`);
  });

  after(async () => {
    await cloud?.close();
    await removeProgram?.();
  });

  return () => {
    if (!build) throw new Error("the suite's build did not run (its before hook failed)");
    return build;
  };
}

/** The outputs of a suite build that must have succeeded (its error otherwise). */
export function succeeded(build: SuiteBuild): ImageBuildOutputs {
  if (!build.outs) throw build.failure ?? new Error("the build has no outputs");
  return build.outs;
}

/** The cloud, outputs and image file of a suite build that must have succeeded (its error otherwise). */
export function successfulBuild(build: SuiteBuild): {
  cloud: QemuCloud;
  outs: ImageBuildOutputs;
  imageFile: string;
} {
  return { cloud: build.cloud, outs: succeeded(build), imageFile: build.imageFile };
}
