import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import type { EmulatorCloud } from "../support/emulatorCloud";
import { BUCKET, PROJECT, expectNoTemporaries } from "./buildHarness";
import { baseConfig, makeProject, mutatingCalls, runCli, startCloud } from "./cliHarness";
import "../support/noMetadataServer";

const REPO = path.resolve(__dirname, "../../..");
const CONFIG = ["--config", "image.yaml"];

/** The `preloaded-cos-image` command, as a child process against the emulator. */
describe("the preloaded-cos-image command", function () {
  // Each test starts the command several times (a Node.js process each, plus a build on the latency
  // model); on a loaded 2-core machine that took over 30 s. Time is not what these tests check.
  this.timeout(180_000);
  let cloud: EmulatorCloud | undefined;
  let dir: string;
  afterEach(async () => {
    await cloud?.close();
    cloud = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const run = (args: string[], options: Parameters<typeof runCli>[2] = { cwd: dir }) =>
    runCli(cloud, args, options);

  it("prints help with an example for the command and every subcommand (exit 0)", async () => {
    dir = makeProject(baseConfig());
    for (const args of [["--help"], ["build", "--help"], ["plan", "--help"], ["sweep", "--help"]]) {
      const result = await run(args);
      expect(result.code, args.join(" ")).to.equal(0);
      expect(result.stdout).to.include("usage: preloaded-cos-image");
      expect(result.stdout).to.include("Example:\n  preloaded-cos-image");
    }
  });

  it("refuses unknown subcommands and flags with the usage line (exit 2)", async () => {
    dir = makeProject(baseConfig());
    const sub = await run(["buld"]);
    expect(sub.code).to.equal(2);
    expect(sub.stderr).to.include('unknown subcommand "buld" (did you mean build?)');
    expect(sub.stderr).to.include("usage: preloaded-cos-image <build|plan|sweep>");
    const age = await run(["sweep", "--project", PROJECT, "--older-than", "soon"]);
    expect(age.code).to.equal(2);
    expect(age.stderr).to.include("- --older-than: is not an age");
    const flag = await run(["build", "--conf", "image.yaml"]);
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.include("unknown flag --conf (did you mean --config?)");
    expect(flag.stderr).to.include("usage: preloaded-cos-image build --config <file>");
  });

  it("refuses an invalid file with every problem listed and no request at all (exit 2)", async () => {
    cloud = await startCloud();
    dir = makeProject(
      baseConfig({
        sourceImageFamily: undefined,
        sourceImageFamly: "cos-stable",
        zone: "nowhere",
        steps: [{ runScript: { script: "setup.sh", env: { TOKEN: { fromEnv: "CI_TOKEN" } } } }],
      }),
    );
    const result = await run(["build", ...CONFIG, "--set", "diskSizeGb=abc"]);
    expect(result.code).to.equal(2);
    for (const fragment of [
      "sourceImageFamly: is not a key of the configuration",
      "did you mean sourceImageFamily?",
      "steps[0].runScript.env.TOKEN: is taken from the environment variable CI_TOKEN, which is not set",
    ]) {
      expect(result.stderr).to.include(fragment);
    }
    expect(result.stderr).to.include("- zone: is not a zone");
    expect(result.stderr).to.include('- diskSizeGb: must be a number (got "abc")');
    expect(result.stderr).to.include("- sourceImage: no source image is selected");
    expect(result.stderr).to.include("has 5 problems");
    expect(cloud.emulator.requestLog.count("*")).to.equal(0);
  });

  it("builds: the image as JSON on stdout, progress with elapsed seconds on stderr, nothing else left", async () => {
    cloud = await startCloud();
    dir = makeProject(
      baseConfig({
        steps: [{ runScript: { script: "setup.sh", env: { TOKEN: { fromEnv: "CI_TOKEN" } } } }],
      }),
    );
    const result = await run(["build", ...CONFIG, "--set", "imageLabels.commit=sha-abc"], {
      cwd: dir,
      env: { CI_TOKEN: "t0ken-value" },
    });
    expect(result.code, result.stderr).to.equal(0);
    const built = JSON.parse(result.stdout) as {
      imageName: string;
      buildId: string;
      contentHash: string;
    };
    expect(built.imageName).to.match(/^ci-web-[0-9a-f]{8}$/);
    expect(built.buildId).to.match(/^[a-z][a-z0-9]{9}$/);
    expect(result.stderr).to.match(/^\[\s+\d+\.\ds\] phase: vm$/m);
    expect(result.stderr).not.to.include("t0ken-value");
    const image = cloud.emulator.inventory().images.find((i) => i.name === built.imageName);
    expect(image?.labels?.commit).to.equal("sha-abc");
    expectNoTemporaries(cloud.emulator, [built.imageName]);
  });

  it("with --json, writes one JSON event a line on stderr, ending with the result", async () => {
    cloud = await startCloud();
    dir = makeProject(baseConfig());
    const result = await run(["build", ...CONFIG, "--json"]);
    expect(result.code, result.stderr).to.equal(0);
    const events = result.stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string });
    expect(events.map((e) => e.type)).to.include.members(["phase", "progress", "serial"]);
    const last = events.at(-1) as { type: string; result: { imageName: string } };
    expect(last.type).to.equal("result");
    expect(last.result.imageName).to.equal(
      (JSON.parse(result.stdout) as { imageName: string }).imageName,
    );
  });

  it("fails with exit 1, naming the step and ending with the serial tail", async () => {
    cloud = await startCloud({ defaultGuest: { outcome: "failure", failureShutdownMs: 1_500 } });
    dir = makeProject(baseConfig());
    const result = await run(["build", ...CONFIG]);
    expect(result.code, result.stderr).to.equal(1);
    expect(result.stderr).to.match(/^error: the image build failed in step 1\/1 runScript /m);
    expect(result.stderr.trimEnd().split("\n").at(-1)).to.match(/^ {2}\| /);
    expectNoTemporaries(cloud.emulator);
  });

  it("plans without a single mutating call, and lists what a build would create", async () => {
    cloud = await startCloud();
    dir = makeProject(baseConfig({ imageName: "web-fixed" }));
    const result = await run(["plan", ...CONFIG]);
    expect(result.code, result.stderr).to.equal(0);
    const plan = JSON.parse(result.stdout) as Record<string, unknown> & { wouldCreate: string[] };
    expect(plan).to.include({ imageName: "web-fixed", existingImage: "absent", action: "build" });
    expect(plan.sourceImage).to.match(/^projects\/cos-cloud\/global\/images\/cos-stable-/);
    expect(plan.wouldCreate[0]).to.match(/^instance pci-<build>-vm/);
    expect(plan.wouldCreate.at(-1)).to.include(`image ${PROJECT}/web-fixed`);
    expect(plan.wouldCreate[1]).to.match(/^disk pci-<build>-boot \(10 GB pd-balanced, from /);
    expect(cloud.emulator.requestLog.count("compute.*.insert")).to.equal(0);
    expect(mutatingCalls(cloud)).to.deep.equal([]);
  });

  it("plans a disk-layout build's boot disk at the source image's size, grown during the build", async () => {
    cloud = await startCloud();
    dir = makeProject(
      baseConfig({
        diskSizeGb: 20,
        steps: [{ runScript: { script: "setup.sh" } }, { disableAutoUpdate: {} }],
      }),
    );
    const result = await run(["plan", ...CONFIG]);
    expect(result.code, result.stderr).to.equal(0);
    const plan = JSON.parse(result.stdout) as { wouldCreate: string[] };
    expect(plan.wouldCreate[1]).to.match(
      /^disk pci-<build>-boot \(pd-balanced, at the source image's size, grown to 20 GB during the build, from /,
    );
  });

  it("re-runs a fixed name as a no-op when the image has the same content, and refuses another's name (exit 2, no VM)", async () => {
    cloud = await startCloud();
    dir = makeProject(baseConfig({ imageName: "web-fixed" }));
    const first = await run(["build", ...CONFIG]);
    expect(first.code, first.stderr).to.equal(0);
    cloud.emulator.requestLog.clear();
    const again = await run(["build", ...CONFIG]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.include("nothing to build");
    expect(JSON.parse(again.stdout)).to.include({ imageName: "web-fixed", upToDate: true });
    expect(mutatingCalls(cloud)).to.deep.equal([]);

    fs.writeFileSync(path.join(dir, "image", "setup.sh"), "echo something else\n");
    const taken = await run(["build", ...CONFIG]);
    expect(taken.code).to.equal(2);
    expect(taken.stderr).to.include(
      `- imageName: the image "web-fixed" already exists in project "${PROJECT}"`,
    );
    expect(taken.stderr).to.include("by another build of preloaded-cos-image, from other inputs");
    expect(cloud.emulator.requestLog.count("compute.instances.insert")).to.equal(0);
    expectNoTemporaries(cloud.emulator, ["web-fixed"]);
  });

  it("on SIGINT cancels, cleans up and says so (exit 130, nothing left)", async () => {
    cloud = await startCloud({ defaultGuest: { statusLines: 40, lineIntervalMs: 100 } });
    dir = makeProject(baseConfig());
    let sent = false;
    const result = await run(["build", ...CONFIG], {
      cwd: dir,
      onStderr: (stderr, kill) => {
        if (!sent && stderr.includes("phase: provisioning")) {
          sent = true;
          kill("SIGINT");
        }
      },
    });
    expect(result.code, result.stderr).to.equal(130);
    expect(result.stderr).to.include("SIGINT: cancelling the build and deleting what it made");
    expect(result.stderr).to.include("cancelled: everything the build had made was deleted");
    expectNoTemporaries(cloud.emulator);
  });

  it("on a second SIGINT exits at once naming the build and the sweep command; sweep spares young temporaries, then removes them", async () => {
    // A secret sends the CIDATA tree on a disk, which teardown deletes only after the VM, and a slow
    // VM deletion keeps teardown busy: the second SIGINT leaves temporaries for sweep to find.
    cloud = await startCloud({
      defaultGuest: { statusLines: 40, lineIntervalMs: 100 },
      latency: { instanceDelete: { baseMs: 2_000, perGiBMs: 0 } },
    });
    dir = makeProject(
      baseConfig({
        steps: [{ runScript: { script: "setup.sh", env: { T: { fromEnv: "CI_TOKEN" } } } }],
      }),
    );
    let sent = 0;
    const result = await run(["build", ...CONFIG], {
      cwd: dir,
      env: { CI_TOKEN: "x" },
      onStderr: (stderr, kill) => {
        if (sent === 0 && stderr.includes("phase: provisioning")) {
          sent = 1;
          kill("SIGINT");
        } else if (sent === 1 && stderr.includes("SIGINT: cancelling")) {
          sent = 2;
          kill("SIGINT");
        }
      },
    });
    expect(result.code, result.stderr).to.equal(130);
    const command = /remove them with: preloaded-cos-image (sweep .*)$/m.exec(result.stderr)?.[1];
    expect(command, result.stderr).to.be.a("string");
    expect(command).to.match(/--build [a-z][a-z0-9]{9} --older-than 0s$/);
    const inventory = cloud.emulator.inventory();
    expect(inventory.instances.length + inventory.disks.length).to.be.above(0);

    const young = await run(["sweep", "--project", PROJECT, "--bucket", BUCKET, "--dry-run"]);
    expect(young.code, young.stderr).to.equal(0);
    expect(JSON.parse(young.stdout)).to.deep.equal({ dryRun: true, wouldRemove: [] });
    const sweep = await run((command as string).split(" "));
    expect(sweep.code, sweep.stderr).to.equal(0);
    // What is left depends on how far teardown got (a VM being deleted takes its disks along; the
    // CIDATA tree's object of this secret build may be all that is left).
    expect(sweep.stderr).to.match(/removed: (instance|disk|image) pci-|removed: object gs:\/\//);
    expectNoTemporaries(cloud.emulator);
  });

  it("runs the CI examples' command lines on examples/ci/image.yaml (the hello example)", async () => {
    cloud = await startCloud();
    dir = makeProject(baseConfig());
    const sets = ["--set", `project=${PROJECT}`, "--set", `bucket=${BUCKET}`];
    const config = ["--config", "examples/ci/image.yaml", ...sets];
    const plan = await run(["plan", ...config], { cwd: REPO });
    expect(plan.code, plan.stderr).to.equal(0);
    expect(JSON.parse(plan.stdout)).to.include({ name: "hello", action: "build" });
    const build = await run(
      ["build", ...config, "--set", "imageLabels.commit=sha-0123abc", "--json"],
      {
        cwd: REPO,
      },
    );
    expect(build.code, build.stderr).to.equal(0);
    const built = JSON.parse(build.stdout) as { imageName: string; family: string };
    expect(built.family).to.equal("hello-cos");
    const sweep = await run(
      [
        "sweep",
        "--project",
        PROJECT,
        "--bucket",
        BUCKET,
        "--prefix",
        "preloaded-cos-image/",
        "--older-than",
        "2h",
      ],
      { cwd: REPO },
    );
    expect(sweep.code, sweep.stderr).to.equal(0);
    expectNoTemporaries(cloud.emulator, [built.imageName]);
  });
});
