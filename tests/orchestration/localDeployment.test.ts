import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { recordingProgress } from "../../components/pipeline/progress";
import * as runtime from "../../components/provider/runtime";
import { startEmulator, type Emulator } from "../../emulator";
import { deployLocally } from "../../localEngine/localDeployment";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { expectNoTemporaries, FAST_PIPELINE } from "./buildHarness";

/**
 * The local engine behind `npm start`, on the emulator with scripted guests (the QEMU run is in
 * tests/e2e and bench:e2e): the real examples/hello program, transpiled and run under mocks, its
 * build resource created through its own serialized provider, its bucket created in the emulator.
 */
describe("local deployment of a program (the engine of npm start)", function () {
  const repositoryRoot = findRepositoryRoot();
  const config = { "gcp:project": "local-project", "gcp:zone": "us-central1-a" };
  let emulator: Emulator;
  let lines: string[];
  let progress: ReturnType<typeof recordingProgress>;
  let restoreRuntime: () => void;

  beforeEach(async () => {
    emulator = await startEmulator({ guestShutdownGraceMs: 2_000 });
    lines = [];
    progress = recordingProgress();
    // The provider that the program's serialized provider loads is this very module.
    restoreRuntime = runtime.configureRuntime({
      progress: () => progress,
      pipeline: FAST_PIPELINE,
    });
  });
  afterEach(async () => {
    restoreRuntime();
    await emulator.close();
  });

  it("previews, then creates the hello example: bucket and image in the emulator, the template recorded", async () => {
    const result = await deployLocally({
      programDir: path.join(repositoryRoot, "examples", "hello"),
      repositoryRoot,
      emulator,
      config,
      write: (line) => lines.push(line),
    });

    expect(result.planned.map((r) => [r.type, r.name])).to.deep.equal([
      ["pulumi:pulumi:Stack", "hello-preloaded-cos-local"],
      ["preloaded-cos-image:index:PreloadedCosImage", "hello"],
      ["gcp:storage/bucket:Bucket", "hello-scratch"],
      ["pulumi-nodejs:dynamic/preloaded-cos-image:LeftoverSweeper", "hello-leftovers"],
      ["pulumi-nodejs:dynamic/preloaded-cos-image:ImageBuild", "hello"],
      ["gcp:compute/instanceTemplate:InstanceTemplate", "hello"],
    ]);
    expect(lines).to.include(
      '  + pulumi-nodejs:dynamic/preloaded-cos-image:LeftoverSweeper "hello-leftovers": remembers where builds run; its delete sweeps their leftovers',
    );
    expect(lines).to.include(
      '  + pulumi-nodejs:dynamic/preloaded-cos-image:ImageBuild "hello": builds an image from projects/cos-cloud/global/images/cos-stable-121-18867-199-1 with 1 step(s)',
    );

    const inventory = emulator.inventory();
    const bucket = result.created.find((r) => r.type === "gcp:storage/bucket:Bucket");
    expect(bucket?.state?.name).to.match(/^hello-scratch-[0-9a-f]{7}$/);
    expect(inventory.buckets.map((b) => b.name)).to.deep.equal([bucket?.state?.name]);
    const images = inventory.images.filter((image) => !image.seeded).map((image) => image.name);
    expect(images).to.deep.equal([result.outputs.imageName]);
    expect(result.outputs.imageSelfLink).to.equal(
      `https://www.googleapis.com/compute/v1/projects/local-project/global/images/${String(result.outputs.imageName)}`,
    );
    expect(result.outputs.greeting).to.equal(
      `VMs from ${String(result.outputs.imageName)} find "hello, world" in /var/lib/hello`,
    );
    // Not emulated: recorded, with the name and self link Compute Engine would give it.
    expect(result.outputs.instanceTemplate).to.match(
      /^https:\/\/www\.googleapis\.com\/compute\/v1\/projects\/local-project\/global\/instanceTemplates\/hello-[0-9a-f]{7}$/,
    );
    expect(lines.some((line) => /InstanceTemplate "hello": NOT EMULATED/.test(line))).to.equal(
      true,
    );
    expect(result.steps.map((s) => [s.operation, s.name])).to.deep.equal([
      ["create", "hello-scratch"],
      ["create", "hello-leftovers"],
      ["create", "hello"],
      ["create", "hello"],
    ]);
    expect(progress.lines.some((line) => line.startsWith("provisioner succeeded"))).to.equal(true);
    expect(inventory.instances, "the build VM is gone").to.deep.equal([]);
  });

  it("fails with the build's error when the build fails, leaving nothing temporary", async () => {
    await emulator.close();
    emulator = await startEmulator({
      guestShutdownGraceMs: 2_000,
      defaultGuest: {
        outcome: "failure",
        failureStep: "step 1/1 runScript hello.sh",
        failureReason: "the script exited with status 7",
      },
    });
    let failure: unknown;
    await deployLocally({
      programDir: path.join(repositoryRoot, "examples", "hello"),
      repositoryRoot,
      emulator,
      config,
      write: (line) => lines.push(line),
    }).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.include(
      "the image build failed in step 1/1 runScript hello.sh: the script exited with status 7",
    );
    expectNoTemporaries(emulator);
  });

  it("fails with the component's own message when the program's arguments are invalid", async () => {
    const programDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-local-program-"));
    try {
      await fs.writeFile(path.join(programDir, "Pulumi.yaml"), "name: broken\nruntime: nodejs\n");
      await fs.writeFile(
        path.join(programDir, "index.ts"),
        [
          'import { PreloadedCosImage } from "preloaded-cos-image";',
          'new PreloadedCosImage("bad", { sourceImageFamily: "cos-stable", diskSizeGb: 3 });',
          "",
        ].join("\n"),
      );
      let failure: unknown;
      await deployLocally({
        programDir,
        repositoryRoot,
        emulator,
        config,
        write: (line) => lines.push(line),
      }).catch((error: unknown) => (failure = error));
      expect(String(failure)).to.match(/diskSizeGb/);
      expect(emulator.inventory().buckets, "nothing was created").to.deep.equal([]);
    } finally {
      await fs.rm(programDir, { recursive: true, force: true });
    }
  });
});
