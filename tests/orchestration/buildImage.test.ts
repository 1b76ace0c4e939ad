import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  BuildCancelledError,
  BuildFailedError,
  ImageNameTakenError,
  InvalidArgumentsError,
  buildImage,
  type BuildImageArgs,
  type BuildImageEvent,
} from "../../components";
import type { BuildPhase } from "../../components/pipeline/runBuild";
import type { EmulatorOptions } from "../../emulator";
import { rejection } from "../support/async";
import { startEmulatorCloud, type EmulatorCloud } from "../support/emulatorCloud";
import {
  BUCKET,
  FAST_PIPELINE,
  ONE_SCRIPT_BUILD,
  PROJECT,
  expectNoTemporaries,
} from "./buildHarness";
import "../support/noMetadataServer";

/** Arguments of a one-script build from the test's context `image/`, against `cloud`. */
function argsFor(cloud: EmulatorCloud, extra: Partial<BuildImageArgs> = {}): BuildImageArgs {
  return {
    ...ONE_SCRIPT_BUILD,
    steps: [...ONE_SCRIPT_BUILD.steps],
    apiEndpoints: cloud.endpoints,
    ...extra,
  };
}

/** `buildImage()`, the pipeline without Pulumi, against the emulator with scripted guests. */
describe("buildImage(): the build without Pulumi", () => {
  let cloud: EmulatorCloud;
  let dir: string;

  async function start(emulator: EmulatorOptions = {}): Promise<void> {
    cloud = await startEmulatorCloud({
      project: PROJECT,
      bucket: BUCKET,
      emulator: { guestShutdownGraceMs: 2_000, ...emulator },
    });
    cloud.emulator.requestLog.clear(); // the bucket's creation is the test's, not the build's
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-build-image-"));
    fs.mkdirSync(path.join(dir, "image"));
    fs.writeFileSync(path.join(dir, "image", "setup.sh"), "echo hi\n");
  });
  afterEach(async () => {
    await cloud?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const args = (extra: Partial<BuildImageArgs> = {}): BuildImageArgs => argsFor(cloud, extra);

  it("builds the image and reports it, with phases, progress and serial lines as events, leaving only the image", async () => {
    await start();
    const events: BuildImageEvent[] = [];
    const built = await buildImage(args(), {
      name: "ci-web",
      baseDir: dir,
      pipeline: FAST_PIPELINE,
      onEvent: (event) => events.push(event),
    });
    expect(built.imageName).to.match(/^ci-web-[0-9a-f]{8}$/);
    expect(built.selfLink).to.contain(`/projects/${PROJECT}/global/images/${built.imageName}`);
    expect(built.id).to.match(/^\d+$/);
    expect(built.sourceImage).to.match(/^projects\/cos-cloud\/global\/images\/cos-stable-/);
    expect(built.contentHash).to.match(/^[0-9a-f]{64}$/);
    expect(built.buildId).to.match(/^[a-z][a-z0-9]{9}$/);
    const phases = events.flatMap((e) => (e.type === "phase" ? [e.phase] : []));
    expect(phases).to.include.members(["sweep", "vm", "provisioning", "image", "teardown"]);
    expect(phases.indexOf("vm")).to.be.below(phases.indexOf("image"));
    expect(
      events.some((e) => e.type === "serial" && e.line.startsWith("BuildProtocol: ")),
    ).to.equal(true);
    expect(
      events.some((e) => e.type === "progress" && e.message.includes(built.imageName)),
    ).to.equal(true);
    const elapsed = events.map((e) => e.elapsedMs);
    expect(elapsed).to.deep.equal([...elapsed].sort((a, b) => a - b));
    expectNoTemporaries(cloud.emulator, [built.imageName]);
  });

  it("records the digests that the preloadImages step reports pulling", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    await start({
      defaultGuest: {
        statusLines: 1,
        statusText: () => `pulled nginx:1.27 into docker: ${digest}`,
      },
    });
    const built = await buildImage(
      args({ steps: [{ preloadImages: { images: ["nginx:1.27"], runtime: "docker" } }] }),
      { baseDir: dir, pipeline: FAST_PIPELINE },
    );
    expect(built.preloadedImages).to.deep.equal([
      { image: "nginx:1.27", runtime: "docker", digest },
    ]);
  });

  it("refuses bad arguments with every problem at once, before any cloud call", async () => {
    await start();
    const error = await rejection(
      buildImage(args({ zone: "nowhere", bucket: undefined }), { baseDir: dir }),
    );
    expect(error).to.be.instanceOf(InvalidArgumentsError);
    const fields = (error as InvalidArgumentsError).problems.map((p) => p.field);
    expect(fields).to.include.members(["zone", "bucket"]);
    expect(cloud.emulator.requestLog.count("*")).to.equal(0);
  });

  it("fails with the step named and the serial tail, leaving nothing", async () => {
    await start({ defaultGuest: { outcome: "failure", failureShutdownMs: 50 } });
    const error = await rejection(buildImage(args(), { baseDir: dir, pipeline: FAST_PIPELINE }));
    expect(error).to.be.instanceOf(BuildFailedError);
    expect((error as BuildFailedError).serialTail.length).to.be.above(0);
    expectNoTemporaries(cloud.emulator);
  });

  for (const phase of ["sweep", "vm", "provisioning", "acknowledge", "image"] as BuildPhase[]) {
    it(`is cancelled through its signal during "${phase}": rejects with BuildCancelledError and leaves nothing`, async () => {
      await start();
      const controller = new AbortController();
      const error = await rejection(
        buildImage(args(), {
          baseDir: dir,
          pipeline: FAST_PIPELINE,
          signal: controller.signal,
          onEvent: (event) => {
            if (event.type === "phase" && event.phase === phase) controller.abort();
          },
        }),
      );
      expect(error).to.be.instanceOf(BuildCancelledError);
      expect((error as Error).message).to.match(/^the build was cancelled while /);
      expectNoTemporaries(cloud.emulator);
    });
  }

  it("refuses an already-aborted signal before any cloud call", async () => {
    await start();
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(buildImage(args(), { baseDir: dir, signal: controller.signal }));
    expect(error).to.be.instanceOf(BuildCancelledError);
    expect(cloud.emulator.requestLog.count("*")).to.equal(0);
  });
});

describe("a fixed output name, looked at before any build", () => {
  let cloud: EmulatorCloud;
  let dir: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-fixed-name-"));
    fs.mkdirSync(path.join(dir, "image"));
    fs.writeFileSync(path.join(dir, "image", "setup.sh"), "echo hi\n");
    cloud = await startEmulatorCloud({
      project: PROJECT,
      bucket: BUCKET,
      emulator: { guestShutdownGraceMs: 2_000 },
    });
  });
  afterEach(async () => {
    await cloud.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const fixed = (): BuildImageArgs => argsFor(cloud, { imageName: "web-fixed" });
  const mutations = (): string[] =>
    cloud.emulator.requestLog
      .entries()
      .map((e) => e.method)
      .filter((m) => !/\.(get|list|getFromFamily|getSerialPortOutput|wait)$/.test(m));

  it("re-running the same inputs is a no-op that says so and returns the image", async () => {
    const first = await buildImage(fixed(), { baseDir: dir, pipeline: FAST_PIPELINE });
    cloud.emulator.requestLog.clear();
    const messages: string[] = [];
    const again = await buildImage(fixed(), {
      baseDir: dir,
      pipeline: FAST_PIPELINE,
      onEvent: (e) => e.type === "progress" && messages.push(e.message),
    });
    expect(again.selfLink).to.equal(first.selfLink);
    expect(again.contentHash).to.equal(first.contentHash);
    expect(mutations()).to.deep.equal([]);
    expect(messages.join("\n")).to.contain("built from these same inputs");
  });

  it("a name taken by someone else's image fails before any VM, naming the image, who has it and the fix", async () => {
    cloud.emulator.seedImage({ project: PROJECT, name: "web-fixed", labels: { team: "other" } });
    cloud.emulator.requestLog.clear();
    const error = await rejection(buildImage(fixed(), { baseDir: dir, pipeline: FAST_PIPELINE }));
    expect(error).to.be.instanceOf(ImageNameTakenError);
    expect(error.message).to.match(
      /^imageName: the image "web-fixed" already exists in project "build-project" \(created .* by someone else .*\)\. Fix: choose another imageName/,
    );
    expect(mutations()).to.deep.equal([]);
    expectNoTemporaries(cloud.emulator); // the seeded image stays, untouched
  });
});
