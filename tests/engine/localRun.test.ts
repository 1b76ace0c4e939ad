import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { startEmulator } from "../../emulator";
import { chooseEngine, type EngineChoice } from "../../localEngine/engineChoice";
import {
  findRepositoryRoot,
  runExampleLocally,
  type CloudSetup,
  type LocalRunResult,
} from "../../localEngine/localRun";
import { PULUMI_BACKEND_DIR } from "../../localEngine/pulumiDeployment";
import { pulumiCliOrSkip } from "./helpers/pulumiCliOrSkip";

/**
 * `npm start --engine pulumi` end to end, with scripted guests instead of QEMU machines: the same
 * `runExampleLocally` that `npm start` calls, the real Pulumi CLI running a copy of examples/hello
 * (its `@pulumi/gcp` resources served by the stand-in gcp plugin), three runs on one data directory
 * as three `npm start`s do it (each with a new emulator restored from the directory's snapshot).
 */
describe("npm start with the real Pulumi CLI (examples/hello, scripted guests)", function () {
  let choice: EngineChoice;
  let examplesDir: string;
  let dataDir: string;
  /** The mutating requests of the last run's emulator (one emulator per run, as per `npm start`). */
  let mutating: string[] = [];
  /** The last run's result (each case starts from the state the one before left). */
  let last: LocalRunResult;

  /** The emulator with scripted guests, standing in for `npm start`'s QEMU machines. */
  const scriptedCloud: CloudSetup = {
    prepare: () =>
      Promise.resolve(async (runDataDir, seedImages) => {
        const running = await startEmulator({
          guestShutdownGraceMs: 2_000,
          dataDir: path.join(runDataDir, "emulator"),
          seedImages,
        });
        // Keep the run's mutating requests before the emulator goes (runExampleLocally closes it).
        const close = running.close.bind(running);
        running.close = async () => {
          mutating = running.requestLog
            .entries()
            .filter((e) => e.httpMethod !== "GET")
            .map((e) => `${e.method} ${e.path}`);
          await close();
        };
        const family = running.inventory().images.find((i) => i.family === "cos-stable");
        return {
          emulator: running,
          sourceImage: `projects/${family?.project}/global/images/${family?.name}`,
          machines: "its VMs are scripted guests (the engine tier)",
        };
      }),
  };

  /** One `npm start --engine pulumi`: its lines and result, and the requests that changed something. */
  async function start(): Promise<{ lines: string[]; result: LocalRunResult }> {
    const lines: string[] = [];
    const result = await runExampleLocally({
      examplesDir,
      dataDir,
      engine: choice,
      startCloud: scriptedCloud,
      write: (line) => lines.push(line),
    });
    last = result;
    return { lines, result };
  }

  before(async function () {
    this.timeout(90 * 60_000); // the first build of the CLI on a machine
    const binDir = await pulumiCliOrSkip(this);
    choice = chooseEngine("pulumi", { binDir, source: "cache" });
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "pci-engine-start-"));
    examplesDir = path.join(root, "examples");
    dataDir = path.join(root, "data");
    await fs.cp(
      path.join(findRepositoryRoot(), "examples", "hello"),
      path.join(examplesDir, "hello"),
      {
        recursive: true,
      },
    );
  });

  after(async () => {
    if (examplesDir) await fs.rm(path.dirname(examplesDir), { recursive: true, force: true });
  });

  it("the first run says the Pulumi CLI runs it, runs pulumi up, and builds the image", async () => {
    const { lines, result } = await start();
    const text = lines.join("\n");
    expect(lines.slice(0, 3).join("\n")).to.match(
      /engine: the Pulumi CLI, v3\.\d+\.\d+ \(--engine pulumi/,
    );
    expect(result.engine).to.equal("pulumi");
    expect(text).to.include("$ pulumi up --yes");
    expect(text, "the CLI takes the stand-in gcp plugin from the PATH").to.include(
      "using pulumi-resource-gcp from $PATH",
    );
    expect(text).to.match(
      /\+\s+pulumi-nodejs:dynamic\/preloaded-cos-image:ImageBuild\s+hello\s+created/,
    );
    const imageName = result.outputs.imageName as string;
    expect(imageName).to.match(/^hello-[0-9a-f]{8}$/);
    expect(result.images.map((i) => i.name)).to.deep.equal([imageName]);
    expect(result.outputs.instanceTemplate).to.match(
      /^https:\/\/www\.googleapis\.com\/compute\/v1\/projects\/local-project\/global\/instanceTemplates\/hello-/,
    );
    expect(result.recorded).to.deep.equal([
      'gcp:compute/instanceTemplate:InstanceTemplate "hello"',
    ]);
    expect(
      mutating.some((m) => m.startsWith("storage.buckets.insert")),
      "the scratch bucket",
    ).to.equal(true);
    await fs.access(path.join(dataDir, PULUMI_BACKEND_DIR, ".pulumi", "stacks"));
  });

  it("a second run changes nothing and boots no VM", async () => {
    const before = last;
    const { lines, result } = await start();
    expect(lines.join("\n")).to.match(/Resources:\s+6 unchanged/);
    expect(mutating.filter((m) => m.startsWith("compute.instances.insert"))).to.deep.equal([]);
    expect(result.outputs.imageName).to.equal(before.outputs.imageName);
    expect(result.images.map((i) => i.name)).to.deep.equal([before.outputs.imageName]);
  });

  it("after an edit to hello.sh the image and the template are replaced, the old image deleted", async () => {
    const before = last;
    const script = path.join(examplesDir, "hello", "image", "hello.sh");
    await fs.appendFile(script, "echo 'a second line' >> /var/lib/hello\n");
    const { lines, result } = await start();
    const text = lines.join("\n");
    expect(text).to.match(
      /\+-\s+pulumi-nodejs:dynamic\/preloaded-cos-image:ImageBuild\s+hello\s+replaced/,
    );
    // The preview, then the update. The CLI shortens gcp:compute/instanceTemplate:InstanceTemplate.
    expect(text).to.include(
      "+- pulumi-nodejs:dynamic/preloaded-cos-image:ImageBuild hello replace [diff: ~contentHash,imageName]",
    );
    expect(text).to.include("+- gcp:compute:InstanceTemplate hello replace [diff: ~disks]");
    expect(text).to.match(/\+-\s+gcp:compute:InstanceTemplate\s+hello\s+replaced/);
    expect(text, "the old template goes before the old image").to.match(
      /gcp:compute:InstanceTemplate hello deleted original[\s\S]*ImageBuild hello deleted original/,
    );
    expect(result.outputs.imageName).not.to.equal(before.outputs.imageName);
    expect(result.images.map((i) => i.name)).to.deep.equal([result.outputs.imageName]);
    expect(result.outputs.instanceTemplate).not.to.equal(before.outputs.instanceTemplate);
  });

  it("refuses the data directory with the other engine, naming --fresh", async () => {
    let refused: unknown;
    try {
      await runExampleLocally({
        examplesDir,
        dataDir,
        engine: { engine: "local", why: "--engine local" },
        startCloud: scriptedCloud,
        write: () => {},
      });
    } catch (error) {
      refused = error;
    }
    expect(String(refused)).to.match(/holds the pulumi engine's state.*--fresh/);
  });
});
