import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { startEmulator, type Emulator } from "../../emulator";
import { ENGINE_STATE_FILE } from "../../localEngine/engineState";
import { deployLocally, type DeploymentResult } from "../../localEngine/localDeployment";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { expectNoTemporaries } from "./buildHarness";
import { copyHelloExample, useLocalRun } from "./localHarness";

/**
 * `pulumi up` twice, through the local engine, with its state kept in a data directory (as `npm
 * start` keeps it): unchanged, the second run builds nothing; after a change to the example's
 * script, the preview shows the image replaced and says which input changed, and the update builds
 * the new image and deletes the old one at the end.
 */
describe("a second local run (the engine's state in the data directory)", function () {
  const repositoryRoot = findRepositoryRoot();
  const config = { "gcp:project": "local-project", "gcp:zone": "us-central1-a" };
  const local = useLocalRun("pci-second-run-");
  let emulator: Emulator;
  let programDir: string;
  let lines: string[];

  beforeEach(async () => {
    emulator = await startEmulator({ guestShutdownGraceMs: 2_000 });
    programDir = await copyHelloExample(path.join(local.workDir, "hello"));
    lines = [];
  });
  afterEach(() => emulator.close());

  const deploy = (): Promise<DeploymentResult> =>
    deployLocally({
      programDir,
      repositoryRoot,
      emulator,
      config,
      write: (line) => lines.push(line),
      statePath: path.join(local.workDir, "data", ENGINE_STATE_FILE),
    });
  const builtImages = (): string[] =>
    emulator
      .inventory()
      .images.filter((image) => !image.seeded)
      .map((image) => image.name);

  it("unchanged, previews no changes and builds nothing", async () => {
    const first = await deploy();
    const inserts = emulator.requestLog.count("compute.instances.insert");
    expect(inserts, "the first run built the image on a VM").to.equal(1);
    lines = [];

    const second = await deploy();
    expect(lines).to.include("Preview: no changes (4 unchanged): nothing will be built");
    expect(lines).to.include("Updating (nothing to build):");
    const planned = second.planned.filter((r) => r.custom);
    expect(planned.map((r) => r.change?.operation)).to.deep.equal(Array(4).fill("same"));
    expect(second.steps.map((s) => s.operation)).to.deep.equal(Array(4).fill("same"));
    expect(emulator.requestLog.count("compute.instances.insert"), "no VM booted").to.equal(inserts);
    expect(emulator.requestLog.count("compute.images.insert")).to.equal(1);
    expect(second.outputs).to.deep.equal(first.outputs);
    expect(builtImages()).to.deep.equal([first.outputs.imageName]);
  });

  it("after a change to the script, previews a replacement naming the file, then builds the new image and deletes the old one last", async () => {
    const first = await deploy();
    await fs.appendFile(path.join(programDir, "image", "hello.sh"), 'echo "changed" >&2\n');
    lines = [];

    const second = await deploy();
    const plannedBuild = second.planned.find((r) => r.type.endsWith(":ImageBuild"));
    expect(plannedBuild?.change).to.deep.equal({
      operation: "replace",
      reasons: ["the content hash changed: buildContext/hello.sh changed"],
      deleteBeforeReplace: false,
    });
    expect(lines).to.include(
      "Preview: 0 to create, 0 to update, 2 to replace, 0 to delete, 2 unchanged",
    );
    expect(lines).to.include(
      "      because the content hash changed: buildContext/hello.sh changed",
    );
    const plannedTemplate = second.planned.find((r) => r.type.endsWith(":InstanceTemplate"));
    expect(plannedTemplate?.change?.operation, "the template takes the new image").to.equal(
      "replace",
    );

    expect(second.steps.map((s) => [s.operation, s.type.split(":").pop(), s.name])).to.deep.equal([
      ["same", "Bucket", "hello-scratch"],
      ["same", "LeftoverSweeper", "hello-leftovers"],
      ["create-replacement", "ImageBuild", "hello"],
      ["create-replacement", "InstanceTemplate", "hello"],
      ["delete-replaced", "InstanceTemplate", "hello"],
      ["delete-replaced", "ImageBuild", "hello"],
    ]);
    expect(second.outputs.imageName).to.not.equal(first.outputs.imageName);
    expect(second.outputs.instanceTemplate).to.not.equal(first.outputs.instanceTemplate);
    expect(builtImages(), "the new image only").to.deep.equal([second.outputs.imageName]);
    expectNoTemporaries(emulator, [String(second.outputs.imageName)]);

    // And a third run, unchanged again, builds nothing.
    lines = [];
    await deploy();
    expect(lines).to.include("Preview: no changes (4 unchanged): nothing will be built");
  });
});
