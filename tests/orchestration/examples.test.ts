import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { recordingProgress } from "../../components/pipeline/progress";
import * as runtime from "../../components/provider/runtime";
import { startEmulator, type Emulator } from "../../emulator";
import type { GuestInstanceInfo } from "../../emulator/guests/guest";
import type { EmulatorOptions } from "../../emulator/options";
import { ENGINE_STATE_FILE } from "../../localEngine/engineState";
import type { HandledRegistration } from "../../localEngine/localEngine";
import { deployLocally, type DeploymentResult } from "../../localEngine/localDeployment";
import { findRepositoryRoot } from "../../localEngine/localRun";
import { expectNoTemporaries, FAST_PIPELINE } from "./buildHarness";

/**
 * Every example under examples/, run as `pulumi up` by the local engine against the emulator, with
 * scripted guests standing in for the build VMs (the QEMU runs are in tests/e2e).
 */
describe("the examples, run by the local engine", function () {
  const repositoryRoot = findRepositoryRoot();
  const stack = { "gcp:project": "local-project", "gcp:zone": "us-central1-a" };
  let emulator: Emulator | undefined;
  let workDir: string;
  let restoreRuntime: () => void;
  let lines: string[];

  beforeEach(async () => {
    restoreRuntime = runtime.configureRuntime({
      progress: () => recordingProgress(),
      pipeline: FAST_PIPELINE,
    });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-examples-"));
    lines = [];
  });
  afterEach(async () => {
    restoreRuntime();
    await emulator?.close();
    emulator = undefined;
    await fs.rm(workDir, { recursive: true, force: true });
  });

  async function start(options: EmulatorOptions = {}): Promise<Emulator> {
    emulator = await startEmulator({ guestShutdownGraceMs: 2_000, ...options });
    return emulator;
  }
  function deploy(
    programDir: string,
    config: Record<string, string> = {},
    statePath?: string,
  ): Promise<DeploymentResult> {
    if (!emulator) throw new Error("start the emulator first");
    return deployLocally({
      programDir,
      repositoryRoot,
      emulator,
      config: { ...stack, ...config },
      write: (line) => lines.push(line),
      ...(statePath ? { statePath } : {}),
    });
  }
  const example = (name: string): string => path.join(repositoryRoot, "examples", name);
  const ofType = (registrations: HandledRegistration[], suffix: string): HandledRegistration[] =>
    registrations.filter((r) => r.type.endsWith(suffix));
  const builtImages = (): string[] =>
    (emulator?.inventory().images ?? []).filter((i) => !i.seeded).map((i) => i.name);

  it("gpu: the driver is built on a VM with the GPU, and the template attaches it and sets the driver up at boot", async () => {
    const vms: GuestInstanceInfo[] = [];
    await start({
      guestFor: (instance) => {
        vms.push(instance);
        return undefined; // the default scripted guest
      },
    });
    const result = await deploy(example("gpu"));

    expect(vms.map((vm) => vm.accelerators)).to.deep.equal([
      [{ type: "nvidia-tesla-t4", count: 1 }],
    ]);
    const [build] = ofType(result.created, ":ImageBuild");
    const args = build?.state?.args as { gpuType?: string; steps?: unknown[] };
    expect(args.gpuType).to.equal("nvidia-tesla-t4");
    expect(args.steps?.[0]).to.deep.include({
      installGpuDriver: { version: "default", installDir: "/var/lib/nvidia" },
    });

    const [template] = ofType(result.created, ":InstanceTemplate");
    const inputs = template?.state ?? {};
    expect(inputs.guestAccelerators).to.deep.equal([{ type: "nvidia-tesla-t4", count: 1 }]);
    expect(inputs.scheduling).to.deep.include({ onHostMaintenance: "TERMINATE" });
    expect((inputs.disks as Array<{ sourceImage?: string }>)[0]?.sourceImage).to.equal(
      result.outputs.imageSelfLink,
    );
    // The boot-time setup links the very unit the driver step writes into installDir.
    const unit = "preloaded-cos-image-gpu.service";
    await fs.access(
      path.join(repositoryRoot, "provisioner-assets", "steps", "install-gpu-driver", unit),
    );
    expect((inputs.metadata as Record<string, string>)["user-data"]).to.equal(
      result.outputs.bootTimeSetup,
    );
    expect(result.outputs.bootTimeSetup).to.include(`systemctl link /var/lib/nvidia/${unit}`);
    expect(result.outputs.bootTimeSetup).to.include(`systemctl start --no-block ${unit}`);
    expectNoTemporaries(emulator!, builtImages());
    expect(builtImages()).to.deep.equal([result.outputs.imageName]);
  });

  it("preloaded-containers: digests from a configured private registry into containerd and docker, the password a secret kept out of state", async () => {
    await start();
    const digest = `sha256:${"ab".repeat(32)}`;
    const statePath = path.join(workDir, ENGINE_STATE_FILE);
    const password = "s3cr3t-registry-token";
    const result = await deploy(
      example("preloaded-containers"),
      {
        "preloaded-containers-cos:registryHost": "127.0.0.1",
        "preloaded-containers-cos:registryPort": "5000",
        "preloaded-containers-cos:images": JSON.stringify([`team/app@${digest}`]),
        "preloaded-containers-cos:registryUser": "robot",
        "preloaded-containers-cos:registryPassword": password,
      },
      statePath,
    );

    const steps = Object.fromEntries(
      ofType(result.created, ":ImageBuild").map((build) => [
        build.name,
        (build.state?.args as { steps: Array<{ preloadImages?: Record<string, unknown> }> })
          .steps[0]?.preloadImages,
      ]),
    );
    expect(steps["gke-node"]).to.deep.include({
      images: [`127.0.0.1:5000/team/app@${digest}`],
      runtime: "containerd",
    });
    expect(steps["docker-vm"]).to.deep.include({
      images: [`127.0.0.1:5000/team/app@${digest}`],
      runtime: "docker",
    });
    // The credentials reached the builds (as their secrets input), and nothing stored holds them.
    for (const build of ofType(result.created, ":ImageBuild")) {
      expect(JSON.stringify(build.inputs)).to.include(password);
      expect(JSON.stringify(build.state)).to.not.include(password);
    }
    expect(await fs.readFile(statePath, "utf8")).to.not.include(password);
    expect(lines.join("\n")).to.not.include(password);
    expect(builtImages().sort()).to.deep.equal(
      [result.outputs.nodeImageName, result.outputs.vmImageName].sort(),
    );
    expectNoTemporaries(emulator!, builtImages());
  });

  it("preloaded-containers with registryCaFile: each build trusts the registry's CA in a first step, from the example's trust-ca context", async () => {
    await start();
    const caFile = path.join(workDir, "registry-ca.pem");
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB-test-ca\n-----END CERTIFICATE-----\n";
    await fs.writeFile(caFile, pem);
    const result = await deploy(example("preloaded-containers"), {
      "preloaded-containers-cos:registryHost": "registry.internal",
      "preloaded-containers-cos:images": JSON.stringify([`team/app@sha256:${"cd".repeat(32)}`]),
      "preloaded-containers-cos:registryUser": "robot",
      "preloaded-containers-cos:registryPassword": "s3cr3t",
      "preloaded-containers-cos:registryCaFile": caFile,
    });

    const builds = ofType(result.created, ":ImageBuild");
    expect(builds).to.have.length(2);
    for (const build of builds) {
      const steps = (build.state?.args as { steps: Array<Record<string, unknown>> }).steps;
      expect(steps[0], build.name).to.deep.equal({
        runScript: {
          script: "trust-ca.sh",
          env: { REGISTRY_CA: pem, REGISTRY_HOST: "registry.internal" },
        },
      });
      expect(steps[1], build.name).to.have.property("preloadImages");
    }
    await fs.access(path.join(example("preloaded-containers"), "trust-ca", "trust-ca.sh"));
    expectNoTemporaries(emulator!, builtImages());
  });

  it("matrix: two milestones times two drivers, built in parallel, four distinct names, no temporary left", async () => {
    // Guests that take 20 s to boot: the builds then overlap however slowly a loaded machine
    // registers the four resources (with instant guests one build could end before the last began).
    await start({ defaultGuest: { bootDelayMs: 20_000 } });
    const result = await deploy(example("matrix"));

    const names = result.outputs.imageNames as string[];
    expect(names).to.have.length(4);
    expect(new Set(names).size, "no two images share a name").to.equal(4);
    const sources = ofType(result.created, ":ImageBuild").map((b) => String(b.state?.sourceImage));
    expect(sources.filter((s) => s.includes("/cos-117-")).length).to.equal(2);
    expect(sources.filter((s) => s.includes("/cos-121-")).length).to.equal(2);
    // In parallel: every build VM was created before the first one was deleted.
    const log = emulator!.requestLog.entries();
    const inserts = log.filter((e) => e.method === "compute.instances.insert" && e.status === 200);
    const deletes = log.filter((e) => e.method === "compute.instances.delete");
    expect(inserts).to.have.length(4);
    const firstDelete = Math.min(...deletes.map((e) => e.startedAt));
    expect(
      inserts.every((e) => e.startedAt < firstDelete),
      "all four build VMs existed at once",
    ).to.equal(true);
    expect(builtImages().sort()).to.deep.equal([...names].sort());
    expectNoTemporaries(emulator!, names);
  });

  it("fleet-rollout: a changed script replaces the image and the template, updates the group, and deletes the old template, then the old image", async () => {
    await start();
    const programDir = path.join(workDir, "fleet-rollout");
    await fs.cp(example("fleet-rollout"), programDir, { recursive: true });
    const statePath = path.join(workDir, "data", ENGINE_STATE_FILE);
    const first = await deploy(programDir, {}, statePath);
    expect(first.steps.filter((s) => s.operation === "create")).to.have.length(5);

    await fs.writeFile(
      path.join(programDir, "image", "setup.sh"),
      (await fs.readFile(path.join(programDir, "image", "setup.sh"), "utf8")).replace(
        "release 1",
        "release 2",
      ),
    );
    lines = [];
    const second = await deploy(programDir, {}, statePath);

    const planned: Record<string, string | undefined> = {};
    for (const r of second.planned.filter((r) => r.custom)) {
      planned[r.type.split(":").pop() ?? r.type] = r.change?.operation;
    }
    expect(planned).to.deep.equal({
      Bucket: "same",
      LeftoverSweeper: "same",
      ImageBuild: "replace",
      InstanceTemplate: "replace",
      InstanceGroupManager: "update",
    });
    expect(lines).to.include(
      "      because the content hash changed: buildContext/setup.sh changed",
    );
    expect(second.steps.map((s) => [s.operation, s.type.split(":").pop()])).to.deep.equal([
      ["same", "Bucket"],
      ["same", "LeftoverSweeper"],
      ["create-replacement", "ImageBuild"],
      ["create-replacement", "InstanceTemplate"],
      ["update", "InstanceGroupManager"],
      ["delete-replaced", "InstanceTemplate"],
      ["delete-replaced", "ImageBuild"],
    ]);
    const [group] = ofType(second.created, ":InstanceGroupManager");
    const [template] = ofType(second.created, ":InstanceTemplate");
    expect(template?.state?.name).to.match(/^web-/);
    expect(second.outputs.instanceTemplate).to.not.equal(first.outputs.instanceTemplate);
    expect(group?.state?.versions).to.deep.equal([
      { name: "primary", instanceTemplate: template?.state?.selfLinkUnique },
    ]);
    expect(second.outputs.instanceGroup, "the group itself stays").to.equal(
      first.outputs.instanceGroup,
    );
    expect(builtImages(), "the old image is gone, the new one is there").to.deep.equal([
      second.outputs.imageName,
    ]);
    expectNoTemporaries(emulator!, [String(second.outputs.imageName)]);
  });
});
