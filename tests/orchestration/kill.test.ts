import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { ImageBuildInputs } from "../../components/provider/inputs";
import * as runtime from "../../components/provider/runtime";
import type {
  LeftoverSweeperInputs,
  LeftoverSweeperOutputs,
} from "../../components/provider/leftoverSweeper";
import {
  FAST_PIPELINE,
  buildFixture,
  expectNoTemporaries,
  type BuildFixture,
} from "./buildHarness";
import { checkBuild } from "../support/buildInputs";
import { buildChecked } from "../../components/pipeline/prepareBuild";
import { recordingProgress } from "../../components/pipeline/progress";

const CHILD = path.join(__dirname, "fixtures", "killableBuild.js");
const KILL_POINTS = 20;

/** `check`s the inputs and writes the checked inputs to a file for the child process. */
async function checkedInputsFile(inputs: ImageBuildInputs): Promise<string> {
  const checked = await checkBuild(inputs);
  const inputsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pci-kill-")), "inputs.json");
  fs.writeFileSync(inputsFile, JSON.stringify(checked));
  return inputsFile;
}

/** Runs a build in a child process and SIGKILLs it once the emulator has answered `afterRequests` requests. */
async function buildAndKill(
  f: BuildFixture,
  inputsFile: string,
  afterRequests: number,
  delivery = "auto",
): Promise<string> {
  const before = f.emulator.requestLog.count();
  const child = spawn(process.execPath, [CHILD, inputsFile, delivery], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const watcher = setInterval(() => {
    if (f.emulator.requestLog.count() - before >= afterRequests) child.kill("SIGKILL");
  }, 1);
  await exited;
  clearInterval(watcher);
  return output;
}

describe("a build killed at any moment", function () {
  this.timeout(600_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());

  for (const delivery of ["metadata", "bucket", "disk"]) {
    it(`leaves nothing that the next build does not remove (killed at ${KILL_POINTS} points, CIDATA in ${delivery})`, async () => {
      f = await buildFixture({ defaultGuest: { statusLines: 5, lineIntervalMs: 20 } });
      const inputs = f.inputs();
      const inputsFile = await checkedInputsFile(inputs);

      // A whole build first, to know how many requests one takes; then kill builds spread over that span.
      const before = f.emulator.requestLog.count();
      const complete = await buildAndKill(f, inputsFile, Number.MAX_SAFE_INTEGER, delivery);
      expect(complete).to.include("BUILD DONE");
      const requestsPerBuild = f.emulator.requestLog.count() - before;
      const builtImages = f.emulator
        .inventory()
        .images.filter((i) => !i.seeded)
        .map((i) => i.name);
      expect(builtImages).to.have.length(1);

      // Each killed build's own next build (the next kill) sweeps what the one before it left, so
      // leftovers are counted after every kill: together they must be many.
      const killedAt: number[] = [];
      let leftBehind = 0;
      for (let point = 1; point <= KILL_POINTS; point++) {
        const afterRequests = Math.max(
          1,
          Math.floor((point * requestsPerBuild) / (KILL_POINTS + 1)),
        );
        const output = await buildAndKill(f, inputsFile, afterRequests, delivery);
        expect(output, `build killed after ${afterRequests} requests`).not.to.include("BUILD DONE");
        killedAt.push(afterRequests);
        const leftovers = f.emulator.inventory();
        leftBehind +=
          leftovers.instances.length +
          leftovers.disks.length +
          leftovers.objects.length +
          leftovers.images.filter((i) => !i.seeded).length -
          1;
      }
      expect(new Set(killedAt).size).to.equal(KILL_POINTS);
      expect(leftBehind, "the killed builds left temporaries behind").to.be.greaterThan(
        KILL_POINTS,
      );

      // The next build of the same component, at once: under Pulumi's stack lock no other build of
      // it can be running, so everything its earlier builds left goes, however young.
      const next = { ...FAST_PIPELINE, cidataDelivery: delivery as "metadata" | "bucket" | "disk" };
      const restore = runtime.configureRuntime({ pipeline: next });
      try {
        const { outs } = await f.build(inputs);
        expectNoTemporaries(f.emulator, [...builtImages, outs.imageName]);
      } finally {
        restore();
      }
    });
  }

  it("without a lock (buildImage, the command), leaves leftovers younger than the build timeout alone: they may belong to a build still running", async () => {
    f = await buildFixture({ defaultGuest: { statusLines: 5, lineIntervalMs: 20 } });
    const inputs = f.inputs();
    const inputsFile = await checkedInputsFile(inputs);
    await buildAndKill(f, inputsFile, 12);
    const left = f.emulator.inventory();
    const youngLeftovers = left.instances.length + left.disks.length + left.objects.length;
    expect(youngLeftovers).to.be.greaterThan(0);
    // The pipeline as buildImage() runs it: no leftover age given, so the build timeout applies.
    await buildChecked(await checkBuild(inputs), {
      clients: f.clients,
      progress: recordingProgress(),
      options: FAST_PIPELINE,
    });
    const after = f.emulator.inventory();
    expect(after.instances.length + after.disks.length + after.objects.length).to.equal(
      youngLeftovers,
    );
    // pulumi destroy takes them whatever their age.
    const { outs } = await f.build(f.inputs());
    await runtime.delete("id", outs);
    expectNoTemporaries(
      f.emulator,
      f.emulator
        .inventory()
        .images.filter((i) => !i.seeded && !i.labels["pci-owner"])
        .map((i) => i.name),
    );
  });

  it("a build killed during its first create, in another zone and with the image in another project: destroy (the leftover sweeper) removes it all", async () => {
    f = await buildFixture({ defaultGuest: { statusLines: 5, lineIntervalMs: 20 } });
    const inZone = (zone: string) => f.inputs({ zone, imageProject: "image-project" });
    const sweeperInputs = (zone: string): LeftoverSweeperInputs => ({
      ownerId: inZone(zone).ownerId,
      namePrefix: "web",
      project: f.place.project,
      zone,
      imageProject: "image-project",
      bucket: f.place.bucket,
      endpoints: inZone(zone).args.apiEndpoints ?? {},
    });
    // The component first records where it builds, then the build starts and is killed: no build
    // resource reaches the state.
    const created = await runtime.leftovers.create(sweeperInputs(f.place.zone));
    const requestsPerBuild = await (async () => {
      const before = f.emulator.requestLog.count();
      await buildAndKill(f, await checkedInputsFile(inZone(f.place.zone)), Number.MAX_SAFE_INTEGER);
      return f.emulator.requestLog.count() - before;
    })();
    // The finished build's image is ordinary state-less output here; later kills leave temporaries.
    for (const share of [0.3, 0.6, 0.9]) {
      await buildAndKill(
        f,
        await checkedInputsFile(inZone(f.place.zone)),
        Math.floor(share * requestsPerBuild),
      );
    }
    // The component moves to another zone: the move sweeps the old zone at once.
    const moved = await runtime.leftovers.update(
      created.id,
      created.outs as LeftoverSweeperOutputs,
      sweeperInputs("europe-west4-c"),
    );
    expect(temporariesIn(f)).to.deep.equal([]);
    await buildAndKill(
      f,
      await checkedInputsFile(inZone("europe-west4-c")),
      Math.floor(0.5 * requestsPerBuild), // mid-build: the VM and its disks exist
    );
    expect(temporariesIn(f).length, "the killed build left temporaries").to.be.greaterThan(0);
    // pulumi destroy: only the sweeper is in state.
    await runtime.leftovers.delete(created.id, moved.outs as LeftoverSweeperOutputs);
    expect(temporariesIn(f)).to.deep.equal([]);
  });
});

/** Names of every temporary left (images: those still labelled as temporaries, in any project). */
function temporariesIn(f: BuildFixture): string[] {
  const inventory = f.emulator.inventory();
  return [
    ...inventory.instances.map((i) => i.name),
    ...inventory.disks.map((d) => d.name),
    ...inventory.objects.map((o) => o.name),
    ...inventory.images.filter((i) => i.labels["pci-owner"]).map((i) => i.name),
  ];
}
