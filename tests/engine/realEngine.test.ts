import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { scriptedGuest, type Emulator, type RequestLogEntry } from "../../emulator";
import { startEmulatorCloud, type EmulatorCloud } from "../support/emulatorCloud";
import { createEngineProject, SETUP_SCRIPT } from "./helpers/engineProject";
import { pulumiCliOrSkip } from "./helpers/pulumiCliOrSkip";
import {
  pulumi,
  pulumiOk,
  startPulumi,
  type CliResult,
  type PulumiContext,
  type RunningCli,
} from "../../localEngine/pulumiCli";

/**
 * The real Pulumi engine (the CLI built from Go modules by engine/build-pulumi.sh) running a
 * program that uses this package, against the emulator with scripted guests: what only the engine
 * decides (plan, order of provider calls, replacement, state, Ctrl-C) under `pulumi preview`, `up`,
 * `refresh` and `destroy`. The cases run in order on one stack, each from the state the one
 * before left.
 */

const PROJECT = "engine-project";
const ZONE = "us-central1-a";
const BUCKET = "engine-scratch";
/** The secret of the program's script environment: it must never appear in the state in plain text. */
const API_TOKEN = "s3cret-engine-token-6b1f0c";

/** One step of `pulumi preview --json`. */
interface PreviewStep {
  op: string;
  urn: string;
  replaceReasons?: string[];
  diffReasons?: string[];
  detailedDiff?: Record<string, { kind: string }>;
}

/** The requests that change something in the cloud (every read is a GET). */
function mutating(entries: readonly RequestLogEntry[]): string[] {
  return entries.filter((e) => e.httpMethod !== "GET").map((e) => `${e.method} ${e.path}`);
}

/** The build resource's step of a preview. */
function buildStep(steps: PreviewStep[]): PreviewStep | undefined {
  return steps.find((s) => s.urn.endsWith("ImageBuild::engine"));
}

/** The images the program made (the seeded source images left out). */
function programImages(
  emulator: Emulator,
): Array<{ name: string; labels: Record<string, string> }> {
  return emulator.inventory().images.filter((i) => !i.seeded);
}

/** Every file of the backend directory, as text (the state, its backups and history). */
async function backendText(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    if (entry.parentPath.includes(".pulumi-home")) continue;
    parts.push(await fs.readFile(path.join(entry.parentPath, entry.name), "utf8"));
  }
  return parts.join("\n");
}

/** Instances, disks and objects: what a build leaves only while it runs. */
function temporaries(emulator: Emulator): string[] {
  const inventory = emulator.inventory();
  return [
    ...inventory.instances.map((i) => `instance ${i.name}`),
    ...inventory.disks.map((d) => `disk ${d.name}`),
    ...inventory.objects.map((o) => `object ${o.name}`),
  ];
}

/** Resolves once `condition` holds (polling the in-process emulator); rejects after `ms`. */
async function waitFor(
  condition: () => boolean,
  ms: number,
  what: string,
  run?: RunningCli,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (run && run.child.exitCode !== null) {
      throw new Error(`the CLI exited before ${what}:\n${run.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The index of the first request matching `method` whose path ends with `/<name>` or that names it. */
function indexOfRequest(entries: readonly RequestLogEntry[], method: string, name: string): number {
  return entries.findIndex((e) => e.method === method && e.path.includes(name));
}

describe("the real Pulumi engine (pulumi CLI built from Go modules)", function () {
  let binDir: string;
  let cloud: EmulatorCloud;
  let context: PulumiContext;
  let slowGuests = false;
  const cleanup: string[] = [];

  before(async function () {
    this.timeout(90 * 60_000); // the first build of the CLI on a machine
    binDir = await pulumiCliOrSkip(this);
    cloud = await startEmulatorCloud({
      project: PROJECT,
      bucket: BUCKET,
      emulator: {
        guestShutdownGraceMs: 2_000,
        // A slow guest (40 status lines, a quarter of a second apart) while a case interrupts a build.
        guestFor: () =>
          slowGuests ? scriptedGuest({ statusLines: 40, lineIntervalMs: 250 }) : undefined,
      },
    });
    const programDir = await createEngineProject();
    const backendDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-engine-backend-"));
    cleanup.push(programDir, backendDir);
    context = { binDir, programDir, backendDir, endpoint: cloud.emulator.endpoint };
    await pulumiOk(context, ["stack", "init", "dev", "--secrets-provider", "passphrase"]);
    for (const [key, value] of [
      ["project", PROJECT],
      ["zone", ZONE],
      ["bucket", BUCKET],
    ] as const) {
      await pulumiOk(context, ["config", "set", key, value]);
    }
    await pulumiOk(context, ["config", "set", "--secret", "apiToken", API_TOKEN]);
  });

  after(async () => {
    await cloud?.close();
    for (const dir of cleanup) await fs.rm(dir, { recursive: true, force: true });
  });

  /** `pulumi preview --json`, with the requests it made. */
  async function preview(): Promise<{ steps: PreviewStep[]; requests: RequestLogEntry[] }> {
    cloud.emulator.requestLog.clear();
    const result = await pulumiOk(context, ["preview", "--json"]);
    const steps = (JSON.parse(result.stdout) as { steps?: PreviewStep[] }).steps ?? [];
    return { steps, requests: [...cloud.emulator.requestLog.entries()] };
  }

  /** `pulumi up --yes --skip-preview`, with the requests it made. */
  async function up(
    extra: string[] = [],
  ): Promise<{ result: CliResult; requests: RequestLogEntry[] }> {
    cloud.emulator.requestLog.clear();
    const result = await pulumiOk(context, ["up", "--yes", "--skip-preview", ...extra]);
    return { result, requests: [...cloud.emulator.requestLog.entries()] };
  }

  /**
   * `pulumi up` on slow guests, handed to `interrupt` once the build VM runs. Whatever `interrupt`
   * does, the guests are fast again afterwards and a CLI still running is killed outright, so the
   * next case starts from a quiet stack.
   */
  async function interruptedUp(interrupt: (run: RunningCli) => Promise<void>): Promise<void> {
    slowGuests = true;
    const run = startPulumi(context, ["up", "--yes", "--skip-preview"]);
    try {
      await waitFor(
        () => cloud.emulator.inventory().instances.length > 0,
        120_000,
        "the build VM to start",
        run,
      );
      await interrupt(run);
    } finally {
      slowGuests = false;
      if (run.child.exitCode === null) run.child.kill("SIGKILL");
    }
  }

  async function outputs(): Promise<{ imageName: string; imageSelfLink: string }> {
    const result = await pulumiOk(context, ["stack", "output", "--json"]);
    return JSON.parse(result.stdout) as { imageName: string; imageSelfLink: string };
  }

  it("preview shows the build resource and its plan, and makes no mutating call", async () => {
    const { steps, requests } = await preview();
    const build = buildStep(steps);
    expect(build?.op, "the build resource is planned").to.equal("create");
    expect(steps.map((s) => s.op)).to.include.members(["create"]);
    expect(
      steps.some((s) => s.urn.endsWith("LeftoverSweeper::engine-leftovers") && s.op === "create"),
    ).to.equal(true);
    expect(requests.length, "preview reads the cloud (source image, name)").to.be.greaterThan(0);
    expect(mutating(requests)).to.deep.equal([]);
    expect(programImages(cloud.emulator)).to.deep.equal([]);
  });

  it("up builds the image: the stack outputs hold it, the state holds the secret encrypted only", async () => {
    await up();
    const { imageName, imageSelfLink } = await outputs();
    expect(programImages(cloud.emulator).map((i) => i.name)).to.deep.equal([imageName]);
    expect(imageSelfLink).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/images/${imageName}`,
    );
    expect(temporaries(cloud.emulator)).to.deep.equal([]);

    const state = await backendText(context.backendDir);
    expect(state, "the state was written").to.include(imageName);
    expect(state, "no secret in plain text").not.to.include(API_TOKEN);
    expect(state, "secrets are stored as ciphertext").to.include("ciphertext");
  });

  it("a second up changes nothing and makes no mutating call; refresh shows no drift", async () => {
    const before = await outputs();
    const { steps } = await preview();
    expect(steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn}`)).to.deep.equal([]);

    const { requests } = await up(["--expect-no-changes"]);
    expect(mutating(requests)).to.deep.equal([]);

    cloud.emulator.requestLog.clear();
    await pulumiOk(context, ["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    expect(mutating(cloud.emulator.requestLog.entries())).to.deep.equal([]);
    expect(await outputs()).to.deep.equal(before);
  });

  it("a label change updates the image in place", async () => {
    const before = await outputs();
    await pulumiOk(context, ["config", "set", "--path", "imageLabels.team", "engine"]);
    const { steps } = await preview();
    expect(buildStep(steps)?.op).to.equal("update");

    const { requests } = await up();
    expect(await outputs()).to.deep.equal(before);
    expect(programImages(cloud.emulator).map((i) => [i.name, i.labels.team])).to.deep.equal([
      [before.imageName, "engine"],
    ]);
    expect(mutating(requests).some((r) => r.startsWith("compute.images.setLabels"))).to.equal(true);
    expect(mutating(requests).some((r) => r.startsWith("compute.images.insert"))).to.equal(false);
  });

  it("a changed script: preview shows a replacement and why; up builds the new image before the old one goes", async () => {
    const old = await outputs();
    await fs.writeFile(
      path.join(context.programDir, "image", "setup.sh"),
      SETUP_SCRIPT.replace("first", "second"),
    );
    const { steps } = await preview();
    const build = buildStep(steps);
    expect(build?.op).to.equal("replace");
    expect(build?.replaceReasons ?? [], "the reason is shown").not.to.deep.equal([]);

    const { requests } = await up();
    const now = await outputs();
    expect(now.imageName).not.to.equal(old.imageName);
    const created = indexOfRequest(requests, "compute.images.insert", "");
    const deleted = indexOfRequest(requests, "compute.images.delete", old.imageName);
    expect(created, "the new image was inserted").to.be.greaterThan(-1);
    expect(deleted, "the old image was deleted").to.be.greaterThan(-1);
    expect(created, "create before delete (generated name)").to.be.lessThan(deleted);
    expect(programImages(cloud.emulator).map((i) => i.name)).to.deep.equal([now.imageName]);
    expect(temporaries(cloud.emulator)).to.deep.equal([]);
  });

  it("with a fixed name, a changed script deletes the old image first", async () => {
    await pulumiOk(context, ["config", "set", "imageName", "engine-fixed"]);
    await up();
    expect((await outputs()).imageName).to.equal("engine-fixed");
    await fs.writeFile(
      path.join(context.programDir, "image", "setup.sh"),
      SETUP_SCRIPT.replace("first", "third"),
    );
    const { steps } = await preview();
    expect(buildStep(steps)?.op).to.equal("replace");

    const { requests } = await up();
    const deleted = indexOfRequest(requests, "compute.images.delete", "engine-fixed");
    const created = requests.findIndex((e) => e.method === "compute.images.insert");
    expect(deleted, "the old image was deleted").to.be.greaterThan(-1);
    expect(created, "the new image was inserted").to.be.greaterThan(-1);
    expect(deleted, "delete before create (fixed name)").to.be.lessThan(created);
    expect(programImages(cloud.emulator).map((i) => i.name)).to.deep.equal(["engine-fixed"]);
    await pulumiOk(context, ["config", "rm", "imageName"]);
    await up();
  });

  it("an invalid argument fails preview with the component's message, before any cloud call", async () => {
    await pulumiOk(context, ["config", "set", "diskSizeGb", "3"]);
    cloud.emulator.requestLog.clear();
    const result = await pulumi(context, ["preview"]);
    await pulumiOk(context, ["config", "rm", "diskSizeGb"]);
    expect(result.code).not.to.equal(0);
    expect(result.stdout + result.stderr).to.match(/diskSizeGb/);
    expect(cloud.emulator.requestLog.entries().length, "no cloud call").to.equal(0);
  });

  it("Ctrl-C during a build: the engine lets the running create finish or clean up, the next up leaves nothing behind", async function () {
    const before = await outputs();
    await fs.writeFile(
      path.join(context.programDir, "image", "setup.sh"),
      SETUP_SCRIPT.replace("first", "fourth"),
    );
    cloud.emulator.requestLog.clear();
    await interruptedUp(async (run) => {
      run.child.kill("SIGINT");
      const interrupted = await run.done;
      // What the engine did with the running create, for the person reading the run.
      const said = (interrupted.stdout + interrupted.stderr)
        .split("\n")
        .filter((line) =>
          /cancel|interrupt|created replacement|deleted|ECONNREFUSED|Duration:/i.test(line),
        )
        .map((line) => `      [engine]   ${line.trim()}`);
      console.log(
        `      [engine] up after SIGINT exited ${String(interrupted.code)}:\n${said.join("\n")}`,
      );
      expect(interrupted.code, run.output()).not.to.equal(0);
    });
    const next = await up();
    const now = await outputs();
    console.log(
      `      [engine] next up: ${mutating(next.requests).length} mutating calls; image ${before.imageName} -> ${now.imageName}`,
    );
    expect(temporaries(cloud.emulator)).to.deep.equal([]);
    expect(programImages(cloud.emulator).map((i) => i.name)).to.deep.equal([now.imageName]);
  });

  it("destroy removes the image and every leftover, also after a create that was interrupted", async () => {
    await fs.writeFile(
      path.join(context.programDir, "image", "setup.sh"),
      SETUP_SCRIPT.replace("first", "fifth"),
    );
    await interruptedUp(async (run) => {
      // Twice: the second Ctrl-C makes the CLI kill its plugins, the provider in mid-create.
      run.child.kill("SIGINT");
      await new Promise((resolve) => setTimeout(resolve, 500));
      run.child.kill("SIGINT");
      await run.done;
    });
    const destroyed = await pulumi(context, ["destroy", "--yes", "--skip-preview"]);
    expect(destroyed.code, destroyed.stdout + destroyed.stderr).to.equal(0);
    expect(programImages(cloud.emulator)).to.deep.equal([]);
    expect(temporaries(cloud.emulator)).to.deep.equal([]);
    const state = JSON.parse((await pulumiOk(context, ["stack", "export"])).stdout) as {
      deployment?: { resources?: unknown[]; pending_operations?: unknown[] };
    };
    expect(state.deployment?.resources ?? []).to.deep.equal([]);
  });
});
