import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { createGcpClients } from "../../components/google/clients";
import { startEmulator, type Emulator } from "../../emulator";
import {
  loadSnapshot,
  restoreBuckets,
  saveSnapshot,
  type EmulatorSnapshot,
} from "../../localEngine/emulatorSnapshot";
import { ENGINE_STATE_FILE } from "../../localEngine/engineState";
import { deployLocally, type DeploymentResult } from "../../localEngine/localDeployment";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { copyHelloExample, useLocalRun } from "./localHarness";

/**
 * `npm start` twice, as two processes do it: each run starts a new emulator from the data
 * directory's snapshot (images and buckets) and diffs against the engine's state there. Scripted
 * guests stand in for the QEMU machines.
 */
describe("local runs across processes (the data directory keeps emulator and engine state)", function () {
  const repositoryRoot = findRepositoryRoot();
  const config = { "gcp:project": "local-project", "gcp:zone": "us-central1-a" };
  /** The work directory is the data directory of both runs. */
  const local = useLocalRun("pci-persist-");
  let programDir: string;

  beforeEach(async () => {
    programDir = await copyHelloExample(path.join(local.workDir, "program"));
  });

  /** One run in a fresh emulator, as `runExampleLocally` does it; the emulator is closed after. */
  async function run(): Promise<{
    result: DeploymentResult;
    lines: string[];
    inventory: ReturnType<Emulator["inventory"]>;
  }> {
    const snapshot: EmulatorSnapshot = await loadSnapshot(local.workDir);
    const emulator = await startEmulator({
      guestShutdownGraceMs: 2_000,
      seedImages: snapshot.images,
    });
    const clients = createGcpClients({
      endpoints: { compute: emulator.endpoint, storage: emulator.endpoint },
      projectId: "local-project",
    });
    const lines: string[] = [];
    try {
      await restoreBuckets(clients, snapshot);
      const result = await deployLocally({
        programDir,
        repositoryRoot,
        emulator,
        config,
        write: (line) => lines.push(line),
        statePath: path.join(local.workDir, ENGINE_STATE_FILE),
      });
      await saveSnapshot(local.workDir, emulator, snapshot);
      return { result, lines, inventory: emulator.inventory() };
    } finally {
      await clients.close();
      await emulator.close();
    }
  }

  it("builds nothing on an unchanged second run, and replaces the restored image after a script change", async () => {
    const first = await run();
    const second = await run();
    expect(second.lines).to.include("Preview: no changes (4 unchanged): nothing will be built");
    expect(second.inventory.images.map((i) => i.name)).to.include(first.result.outputs.imageName);
    expect(second.inventory.buckets.map((b) => b.name)).to.deep.equal(
      first.inventory.buckets.map((b) => b.name),
    );

    await fs.appendFile(path.join(programDir, "image", "hello.sh"), "echo again\n");
    const third = await run();
    expect(third.lines).to.include(
      "      because the content hash changed: buildContext/hello.sh changed",
    );
    const names = third.inventory.images
      .filter((i) => i.project === "local-project")
      .map((i) => i.name);
    expect(names, "the restored old image deleted, the new one there").to.deep.equal([
      third.result.outputs.imageName,
    ]);
    expect(third.inventory.instances).to.deep.equal([]);
    expect(third.inventory.disks).to.deep.equal([]);
  });
});
