import { expect } from "chai";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { CheckedImageBuildInputs, ImageBuildOutputs } from "../../components/provider/inputs";
import { ACK_METADATA_KEY, PROTOCOL_VERSION } from "../../components/guest/protocol";
import { contentLabelOf } from "../../components/naming";
import type { PipelineOptions } from "../../components/pipeline/runBuild";
import * as runtime from "../../components/provider/runtime";
import type { SeedImage } from "../../emulator";
import { rejection } from "../support/async";
import { OUTPUT_IMAGE_OPTIONS } from "../support/outputImageOptions";
import {
  FAST_PIPELINE,
  buildFixture,
  expectNoTemporaries,
  type BuildFixture,
} from "./buildHarness";

/** The ways the CIDATA tree reaches the VM; tests whose path differs run with each. */
const DELIVERIES = ["metadata", "bucket", "disk"] as const;
type Delivery = (typeof DELIVERIES)[number];
const pipelineWith = (delivery: Delivery, extra: PipelineOptions = {}): PipelineOptions => ({
  ...FAST_PIPELINE,
  cidataDelivery: delivery,
  ...extra,
});

const buildFixtureFor = (
  delivery: Delivery,
  emulatorOptions: Parameters<typeof buildFixture>[0] = {},
): Promise<BuildFixture> => buildFixture(emulatorOptions, pipelineWith(delivery));

describe("the build, on the emulator", function () {
  this.timeout(60_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());
  /** Seeds a public COS image (in `cos-cloud`, where source images come from) into the fixture's cloud. */
  const seedCosImage = (image: Omit<SeedImage, "project">): void => {
    f.emulator.seedImage({ project: "cos-cloud", ...image });
  };

  for (const delivery of DELIVERIES) {
    it(`builds the image with every field, deprecates the family's older images, and leaves nothing behind (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);
      f = await buildFixture({}, pipelineWith(delivery));
      f.emulator.seedImage({
        project: f.place.project,
        name: "web-old",
        family: "web-cos",
        labels: { team: "web" },
      });
      const inputs = f.inputs({
        imageFamily: "web-cos",
        imageDescription: "Web servers",
        imageLabels: { team: "web", tier: "frontend" },
        ...OUTPUT_IMAGE_OPTIONS,
        vmLabels: { cost: "builds" },
      });
      const { id, outs } = await f.build(inputs);
      const result = outs;
      expect(id).to.equal(`projects/${f.place.project}/global/images/${result.imageName}`);
      expect(result.imageName).to.match(/^web-[0-9a-f]{8}$/);

      const { clients } = f;
      const [image] = await clients.images.get({
        project: f.place.project,
        image: result.imageName,
      });
      expect(image.status).to.equal("READY");
      expect(image.family).to.equal("web-cos");
      expect(image.description).to.equal("Web servers");
      expect(image.labels).to.deep.equal({
        team: "web",
        tier: "frontend",
        "managed-by": "preloaded-cos-image",
        "pci-content": contentLabelOf(result.contentHash),
        milestone: "121",
        channel: "stable",
      });
      expect(image.licenses?.map((l) => l.replace(/^.*\/projects\//, "projects/"))).to.include(
        "projects/cos-cloud/global/licenses/cos-gpu",
      );
      expect(image.storageLocations).to.deep.equal(["eu"]);
      expect(image.guestOsFeatures?.map((g) => g.type)).to.include.members([
        "UEFI_COMPATIBLE",
        "GVNIC",
      ]);
      expect(Number(image.diskSizeGb)).to.equal(20);
      expect(image.sourceDisk).to.match(/\/disks\/pci-[a-z0-9]{10}-boot$/);
      expect(result).to.deep.include({
        imageSelfLink: image.selfLink,
        imageId: String(image.id),
        imageFamily: "web-cos",
        sourceImage: "projects/cos-cloud/global/images/cos-stable-121-18867-199-1",
      });

      const old = f.emulator.inventory().images.find((i) => i.name === "web-old");
      expect(old?.deprecated).to.equal("DEPRECATED");
      expectNoTemporaries(f.emulator, [result.imageName]);
      expect(f.progress.join("\n")).to.include("| step 3/3: working");
      expect(f.progress.join("\n")).to.include("deprecated web-old");
    });
  }

  for (const delivery of DELIVERIES) {
    it(`labels every temporary with its build and owner, and gives the VM the COS safety switches (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);
      f = await buildFixture({}, pipelineWith(delivery));
      const seen: Array<{ name: string; labels: Record<string, string> }> = [];
      const inputs = f.inputs({ vmLabels: { cost: "builds" } });
      const poll = setInterval(() => {
        const inventory = f.emulator.inventory();
        for (const r of [
          ...inventory.instances,
          ...inventory.disks,
          ...inventory.images.filter((i) => !i.seeded),
        ])
          seen.push(r);
      }, 5);
      await f.build(inputs).finally(() => clearInterval(poll));
      const temporaries = seen.filter((r) => r.name.startsWith("pci-"));
      const roles = new Set(temporaries.map((t) => t.name.replace(/^pci-[a-z0-9]{10}-/, "")));
      expect([...roles]).to.include.members(
        delivery === "disk" ? ["vm", "boot", "cidata"] : ["vm", "boot"],
      );
      for (const t of temporaries) {
        expect(t.labels, t.name).to.include({
          "managed-by": "preloaded-cos-image",
          "pci-owner": inputs.ownerId,
          cost: "builds",
        });
        expect(t.labels["pci-build"], t.name).to.match(/^[a-z0-9]{10}$/);
        expect(Number(t.labels["pci-created"]), t.name).to.be.closeTo(Date.now() / 1000, 120);
      }
    });
  }

  for (const delivery of DELIVERIES) {
    it(`reports BuildFailed with the failing step and the serial tail, and cleans up (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);
      f = await buildFixtureFor(delivery, {
        defaultGuest: {
          outcome: "failure",
          statusLines: 4,
          failureStep: "step 2/3 runScript install.sh",
          failureReason: "the script exited with status 7",
          failureShutdownMs: 60_000,
        },
      });
      const error = await rejection(f.build(f.inputs()));
      expect(error?.message).to.include(
        "the image build failed in step 2/3 runScript install.sh: the script exited with status 7",
      );
      // The protocol line, 4 status lines and the verdict; a fetched tree adds the boot-stage
      // protocol line and the fetch's status line.
      const lines = delivery === "bucket" ? 8 : 6;
      expect(error?.message).to.include(`Last ${lines} lines of the build VM's serial port 3:`);
      expect(error?.message).to.include("| BuildStatus: step 4/4: working");
      expectNoTemporaries(f.emulator);
    });
  }

  it("times out a hanging provisioner and cleans up", async () => {
    f = await buildFixture(
      { defaultGuest: { outcome: "hang", statusLines: 1 } },
      // The deadline covers the whole build, so it must leave room for the phases before the watch
      // on a slow or loaded machine (1.5 s did not, once, nor 8 s under a load of 10); the hang
      // itself would last forever.
      { watch: { serialPollMs: 20, statusPollMs: 100 }, stopPollMs: 20, timeoutMs: 20_000 },
    );
    const started = Date.now();
    const error = await rejection(f.build(f.inputs()));
    expect(error?.message).to.match(
      /the build timed out after 20 seconds while waiting for the provisioner to finish/,
    );
    expect(Date.now() - started).to.be.lessThan(60_000);
    expectNoTemporaries(f.emulator);
  });

  for (const delivery of DELIVERIES) {
    it(`fails with the serial tail when the VM crashes mid-build (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);
      f = await buildFixtureFor(delivery, {
        defaultGuest: { statusLines: 30, lineIntervalMs: 50 },
        scheduledFaults: [
          { action: "crash", instance: "pci-*-vm", whenSerialContains: "step 10/30" },
        ],
      });
      const error = await rejection(f.build(f.inputs()));
      expect(error?.message).to.include(
        "the image build failed in the build VM: it stopped (TERMINATED) before the provisioner reported a result",
      );
      // GCE serves no serial output once a VM is down: the tail holds what was read before the crash.
      expect(error?.message).to.include("step 5/30: working");
      expectNoTemporaries(f.emulator);
    });
  }

  for (const delivery of DELIVERIES) {
    it(`retries a preempted Spot build on a new VM and succeeds (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);
      f = await buildFixtureFor(delivery, {
        defaultGuest: { statusLines: 10, lineIntervalMs: 20 },
        // Only the first VM is preempted; the retry (…-vm-1) runs to the end.
        scheduledFaults: [
          { action: "preempt", instance: "pci-*-vm", whenSerialContains: "step 4/10" },
        ],
      });
      const { outs } = await f.build(f.inputs({ vmProvisioningModel: "SPOT" }));
      const text = f.progress.join("\n");
      expect(text).to.include("GCE preempted it; retrying on a new VM (1 of 2)");
      expectNoTemporaries(f.emulator, [outs.imageName]);
    });
  }

  it("gives up on a Spot build after preemptionRetries", async () => {
    f = await buildFixture({
      defaultGuest: { statusLines: 10, lineIntervalMs: 20 },
      scheduledFaults: [{ action: "preempt", instance: "pci-*", whenSerialContains: "step 2/10" }],
    });
    const error = await rejection(
      f.build(f.inputs({ vmProvisioningModel: "SPOT", preemptionRetries: 1 })),
    );
    expect(error?.message).to.include("or was preempted more often than preemptionRetries allows");
    expectNoTemporaries(f.emulator);
  });

  it("refuses a provisioner that speaks another protocol", async () => {
    f = await buildFixture({ defaultGuest: { protocolVersion: 99, failureShutdownMs: 60_000 } });
    const error = await rejection(f.build(f.inputs()));
    expect(error?.message).to.include(
      `the provisioner on the CIDATA disk speaks protocol 99, this orchestrator ${PROTOCOL_VERSION}`,
    );
    expectNoTemporaries(f.emulator);
  });

  for (const delivery of DELIVERIES) {
    it(`survives 20% transient errors on every API method: 20 builds in a row succeed (CIDATA in ${delivery})`, async function () {
      this.timeout(240_000);

      f = await buildFixtureFor(delivery, { errorRates: [{ method: "*", rate: 0.2 }], seed: 7 });
      const names: string[] = [];
      for (let i = 0; i < 20; i++) {
        const { outs } = await f.build(f.inputs({}, {}, `web${i}`));
        names.push(outs.imageName);
      }
      expect(
        f.emulator.requestLog.count("*", 429) + f.emulator.requestLog.count("*", 503),
      ).to.be.greaterThan(50);
      expectNoTemporaries(f.emulator, names);
    });
  }

  it("keeps secrets out of state, logs, metadata and errors", async () => {
    f = await buildFixture({ defaultGuest: { outcome: "failure", failureShutdownMs: 60_000 } });
    const inputs = f.inputs(
      {
        steps: [
          { runScript: { script: "setup.sh", env: { PLAIN: "visible" } } },
          {
            preloadImages: {
              images: ["ghcr.io/o/app:1"],
              credentials: [{ registry: "ghcr.io" } as never],
            },
          },
        ],
      },
      {
        env: { "0": { TOKEN: "s3cr3t-token" } },
        credentials: { "1": [{ username: "robot", password: "s3cr3t-password" }] },
      },
    );
    const checked = (await runtime.check({}, inputs)).inputs as CheckedImageBuildInputs;
    let error: Error | undefined;
    const creating = runtime.create(checked).catch((e: unknown) => {
      error = e as Error;
    });
    const instances = await instancesDuring(f, creating);
    expect(instances.length).to.be.greaterThan(0);
    const metadata = JSON.stringify(instances.map((i) => i.metadata));
    for (const text of [
      JSON.stringify(checked.args),
      checked.contentHash,
      error?.message ?? "",
      f.progress.join("\n"),
      metadata,
    ]) {
      expect(text).not.to.include("s3cr3t");
    }
    // A successful build's outputs, too.
    await f.close();
    f = await buildFixture();
    const { outs } = await f.build(f.inputs({}, { env: { "0": { TOKEN: "s3cr3t-token" } } }));
    expect(JSON.stringify(outs)).not.to.include("s3cr3t");
    expect(outs.secrets).to.deep.equal({ env: {}, credentials: {} });
  });

  it("sends the CIDATA tree through the bucket for a build context too large for metadata, and for secrets", async () => {
    f = await buildFixture();
    const viaBucket =
      /the build VM fetches the CIDATA tree \(\d+\.\d [KM]iB\) from the scratch bucket itself/;
    fs.writeFileSync(path.join(f.programDir, "image", "layer.bin"), crypto.randomBytes(3 << 20));
    await f.build(f.inputs());
    expect(f.progress.join("\n")).to.match(viaBucket);
    f.progress.splice(0);
    fs.rmSync(path.join(f.programDir, "image", "layer.bin"));
    await f.build(f.inputs({}, { env: { "0": { TOKEN: "t" } } }));
    expect(f.progress.join("\n")).to.match(viaBucket);
    f.progress.splice(0);
    await f.build(f.inputs());
    expect(f.progress.join("\n")).to.match(
      /the CIDATA tree travels in instance metadata \(\d+\.\d KiB\): no disk to import/,
    );
  });

  it("refuses to put a build with secrets in metadata even when told to", async () => {
    f = await buildFixture({}, pipelineWith("metadata"));
    const error = await rejection(f.build(f.inputs({}, { env: { "0": { TOKEN: "t" } } })));
    expect(error?.message).to.equal(
      "the CIDATA tree cannot travel in metadata: the build has secrets",
    );
    expect(f.emulator.requestLog.count("compute.instances.insert")).to.equal(0);
  });

  it("deletes the image and every leftover on destroy; a second delete is fine", async () => {
    f = await buildFixture();
    const { outs } = await f.build(f.inputs());
    const state = outs;
    // A leftover of a killed build of the same component.
    const { clients } = f;
    await clients.storage
      .bucket(f.place.bucket)
      .file("preloaded-cos-image/zzz/cidata.tar.gz")
      .save("x", {
        metadata: {
          metadata: { "pci-owner": state.ownerId, "pci-build": "zzz", "pci-created": "1" },
        },
      });
    await runtime.delete("id", state);
    expectNoTemporaries(f.emulator);
    await runtime.delete("id", state);
  });

  it("makes a second check with the same inputs a no-op, and a changed script a replacement", async () => {
    f = await buildFixture();
    const inputs = f.inputs();
    const { outs } = await f.build(inputs);
    const state = outs;
    const again = (await runtime.check(state, inputs)).inputs as CheckedImageBuildInputs;
    expect(again.imageName).to.equal(state.imageName);
    expect(await runtime.diff("id", state, again)).to.deep.equal({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
    });

    fs.appendFileSync(path.join(f.programDir, "image", "setup.sh"), "echo one more line\n");
    const changed = (await runtime.check(state, inputs)).inputs as CheckedImageBuildInputs;
    const diff = await runtime.diff("id", state, changed);
    expect(diff.replaces).to.deep.equal(["contentHash"]);
    expect(diff.deleteBeforeReplace).to.equal(false);
    // The engine checks a replacement again without olds: a fresh name, so the new image can exist beside the old.
    const fresh = (await runtime.check({}, inputs)).inputs as CheckedImageBuildInputs;
    expect(fresh.imageName).not.to.equal(state.imageName);
  });

  it("updates labels in place, and reports an image deleted out of band as gone", async () => {
    f = await buildFixture();
    const inputs = f.inputs({ imageLabels: { team: "web" } });
    const { outs } = await f.build(inputs);
    const state = outs;
    const relabelled = (
      await runtime.check(state, {
        ...inputs,
        args: { ...inputs.args, imageLabels: { team: "platform" } },
      })
    ).inputs as CheckedImageBuildInputs;
    expect(await runtime.diff("id", state, relabelled)).to.deep.equal({
      changes: true,
      replaces: [],
      deleteBeforeReplace: false,
    });
    const updated = (await runtime.update("id", state, relabelled)).outs as ImageBuildOutputs;
    expect(updated.imageLabels).to.include({ team: "platform" });
    const read = await runtime.read("id", updated);
    expect((read.props as ImageBuildOutputs).imageLabels).to.include({
      team: "platform",
      "managed-by": "preloaded-cos-image",
    });

    const { clients } = f;
    await clients.images.delete({ project: f.place.project, image: state.imageName });
    expect(await runtime.read("id", state)).to.deep.equal({ id: "", props: {} });
  });

  it("keeps an image whose family deprecation failed, and finishes the deprecation on the next update", async () => {
    f = await buildFixture({
      errorRates: [{ method: "compute.images.deprecate", rate: 1, status: 503 }],
    });
    f.emulator.seedImage({ project: f.place.project, name: "web-old", family: "web-cos" });
    const inputs = f.inputs({ imageFamily: "web-cos", deprecateOlderImages: true });
    const checked = (await runtime.check({}, inputs)).inputs as CheckedImageBuildInputs;
    const error = await runtime.create(checked).then(
      () => undefined,
      (e: unknown) => e as Error & { id?: string; properties?: ImageBuildOutputs },
    );
    // The engine records a resource with init errors from an error that carries id and properties.
    expect(error?.message).to.match(/^deprecating older images of the family web-cos failed: /);
    expect(error?.id).to.equal(`projects/${f.place.project}/global/images/${checked.imageName}`);
    expect(error?.properties).to.include({
      imageName: checked.imageName,
      deprecationPending: true,
    });
    expectNoTemporaries(f.emulator, [checked.imageName]);

    f.emulator.setErrorRates([]);
    const updated = await runtime.update("id", error?.properties as ImageBuildOutputs, checked);
    expect((updated.outs as ImageBuildOutputs).deprecationPending).to.equal(false);
    expect(f.emulator.inventory().images.find((i) => i.name === "web-old")?.deprecated).to.equal(
      "DEPRECATED",
    );
  });

  it("updates labels of an image that inherited its source's, even once the source is gone", async () => {
    f = await buildFixture();
    seedCosImage({
      name: "cos-stable-999-1-0-0",
      family: "cos-stable",
      labels: { channel: "stable", milestone: "999" },
    });
    const inputs = f.inputs({ inheritSourceLabels: true, imageLabels: { team: "web" } });
    const { outs } = await f.build(inputs);
    expect(outs.imageLabels).to.deep.equal({
      channel: "stable",
      milestone: "999",
      team: "web",
      "managed-by": "preloaded-cos-image",
      "pci-content": contentLabelOf(outs.contentHash),
    });
    const { clients } = f;
    await clients.images.delete({ project: "cos-cloud", image: "cos-stable-999-1-0-0" });
    const relabelled = {
      ...outs,
      args: { ...outs.args, imageLabels: { team: "platform" } },
    } as CheckedImageBuildInputs;
    const updated = (await runtime.update("id", outs, relabelled)).outs as ImageBuildOutputs;
    expect(updated.imageLabels).to.deep.equal({
      channel: "stable",
      milestone: "999",
      team: "platform",
      "managed-by": "preloaded-cos-image",
      "pci-content": contentLabelOf(outs.contentHash),
    });
  });

  it("uses a fixed image name with delete-before-replace", async () => {
    f = await buildFixture();
    const inputs = f.inputs({ imageName: "web-fixed" });
    const { outs } = await f.build(inputs);
    fs.appendFileSync(path.join(f.programDir, "image", "setup.sh"), "echo changed\n");
    const changed = (await runtime.check(outs, inputs)).inputs as CheckedImageBuildInputs;
    expect(changed.imageName).to.equal("web-fixed");
    expect(await runtime.diff("id", outs, changed)).to.deep.include({
      replaces: ["contentHash"],
      deleteBeforeReplace: true,
    });
  });

  it("never touches an existing image that has the fixed name it was asked to use", async () => {
    f = await buildFixture();
    f.emulator.seedImage({
      project: f.place.project,
      name: "taken",
      labels: { owner: "someone-else" },
    });
    const error = await rejection(f.build(f.inputs({ imageName: "taken" })));
    expect(error?.message).to.match(/creating the image taken|already exists/);
    expect(f.emulator.inventory().images.find((i) => i.name === "taken")?.labels).to.deep.equal({
      owner: "someone-else",
    });
    expectNoTemporaries(f.emulator);
  });

  for (const [field, extra, name] of [
    ["imageName", { imageName: "taken" }, "taken"],
    ["imageNameSuffix", { imageNameSuffix: "-web" }, "cos-stable-121-18867-199-1-web"],
  ] as const) {
    it(`fails check when the fixed name (${field}) is taken by an image it did not make, with no mutating call`, async () => {
      f = await buildFixture();
      f.emulator.seedImage({ project: f.place.project, name, labels: { owner: "someone-else" } });
      f.emulator.requestLog.clear();
      const error = await rejection(runtime.check({}, f.inputs(extra)));
      expect(error?.name).to.equal("ImageNameTakenError");
      expect(error?.message).to.contain(
        `${field}: the image "${name}" already exists in project "${f.place.project}"`,
      );
      expect(error?.message).to.contain("by someone else");
      expect(error?.message).to.contain(`Fix: choose another ${field}`);
      const mutating = f.emulator.requestLog
        .entries()
        .filter((e) => !/\.(get|list|getFromFamily)$/.test(e.method));
      expect(mutating).to.deep.equal([]);
    });
  }

  it("fails check when diskSizeGb is smaller than the source image, naming both sizes", async () => {
    f = await buildFixture();
    seedCosImage({ name: "cos-big-1", diskSizeGb: 20 });
    const error = await rejection(
      runtime.check(
        {},
        f.inputs({ sourceImageFamily: undefined, sourceImage: "cos-big-1", diskSizeGb: 12 }),
      ),
    );
    expect(error?.message).to.equal(
      "diskSizeGb: is 12, but the source image cos-big-1 is 20 GB. Fix: set diskSizeGb to at least 20",
    );
  });

  it("falls back to the newest deprecated image of an end-of-life milestone, with a warning", async () => {
    f = await buildFixture();
    seedCosImage({
      name: "cos-stable-77-12371-1-1",
      deprecated: { state: "DEPRECATED" },
    });
    const checked = (
      await runtime.check({}, f.inputs({ sourceImageFamily: undefined, sourceImageMilestone: 77 }))
    ).inputs as CheckedImageBuildInputs;
    expect(checked.sourceImage).to.equal(
      "projects/cos-cloud/global/images/cos-stable-77-12371-1-1",
    );
    expect(f.progress.join("\n")).to.contain("COS milestone 77 has no current image");
  });

  it("names the image after the source with imageNameSuffix", async () => {
    f = await buildFixture();
    const checked = (await runtime.check({}, f.inputs({ imageNameSuffix: "-web" })))
      .inputs as CheckedImageBuildInputs;
    expect(checked.imageName).to.equal("cos-stable-121-18867-199-1-web");
  });

  it("resolves a COS milestone to its newest usable image", async () => {
    f = await buildFixture();
    const checked = (
      await runtime.check({}, f.inputs({ sourceImageFamily: undefined, sourceImageMilestone: 117 }))
    ).inputs as CheckedImageBuildInputs;
    expect(checked.sourceImage).to.match(
      /^projects\/cos-cloud\/global\/images\/cos-(stable-)?117-/,
    );
  });

  it("fails check with the field when the source image does not exist", async () => {
    f = await buildFixture();
    const error = await rejection(
      runtime.check({}, f.inputs({ sourceImageFamily: undefined, sourceImage: "cos-nothing-1" })),
    );
    expect(error?.message).to.equal(
      'sourceImage: there is no image "cos-nothing-1" in project "cos-cloud"',
    );
  });

  it("returns validation failures from check, naming the field", async () => {
    f = await buildFixture();
    const result = await runtime.check({}, f.inputs({ zone: "nowhere" }));
    expect(result.failures).to.deep.equal([
      {
        property: "args.zone",
        reason:
          'zone: is not a zone (got "nowhere"). Fix: give a zone such as "us-central1-a" (a region like "us-central1" is not enough)',
      },
    ]);
    expect(f.emulator.requestLog.count("compute.*")).to.equal(0);
  });

  it("gives the build VM user-data, COS switches, labels and a run-time limit", async () => {
    f = await buildFixture({ defaultGuest: { statusLines: 20, lineIntervalMs: 30 } });
    const instances = await instancesDuring(f, f.build(f.inputs({ gpuType: "nvidia-tesla-t4" })));
    const instance = instances[0] as {
      metadata: { items: Array<{ key: string; value: string }> };
      scheduling: Record<string, unknown>;
      guestAccelerators: unknown[];
      machineType: string;
    };
    const metadata = Object.fromEntries(instance.metadata.items.map((i) => [i.key, i.value]));
    expect(metadata["user-data"]).to.match(/^#cloud-config/);
    expect(metadata).to.include({
      "block-project-ssh-keys": "TRUE",
      "cos-update-strategy": "update_disabled",
    });
    expect(instance.scheduling).to.deep.include({
      onHostMaintenance: "TERMINATE",
      instanceTerminationAction: "DELETE",
    });
    expect(instance.machineType).to.match(/machineTypes\/n1-standard-4$/);
    expect(instance.guestAccelerators).to.have.length(1);
  });

  it("lets the VM's run-time limit take the boot disk along: it goes with the VM until the acknowledgement", async () => {
    f = await buildFixture({ defaultGuest: { statusLines: 20, lineIntervalMs: 30 } });
    const instances = (await instancesDuring(f, f.build(f.inputs()))) as Array<{
      status: string;
      disks: Array<{ boot?: boolean; autoDelete?: boolean }>;
      metadata?: { items?: Array<{ key: string }> };
    }>;
    // Once acknowledged, the boot disk is kept while the guest powers off (imageBootDisk.ts).
    const acknowledged = (i: (typeof instances)[number]): boolean =>
      (i.metadata?.items ?? []).some((item) => item.key === ACK_METADATA_KEY);
    const bootWhileRunning = instances
      .filter((i) => i.status === "RUNNING" && !acknowledged(i))
      .map((i) => i.disks.find((d) => d.boot)?.autoDelete);
    expect(bootWhileRunning).to.include(true);
    expect(bootWhileRunning.every((autoDelete) => autoDelete === true)).to.equal(true);
    expect(f.emulator.requestLog.count("compute.instances.setDiskAutoDelete")).to.equal(1);
    // The emulator's tier checks that deleting an instance deletes its autoDelete disks, as GCE does.
  });
});

/** Every instance body the API shows while `work` runs (metadata included). */
async function instancesDuring(
  f: BuildFixture,
  work: Promise<unknown>,
): Promise<Array<Record<string, unknown>>> {
  const { clients } = f;
  const seen: Array<Record<string, unknown>> = [];
  let done = false;
  const finished = work.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done) {
    const [list] = await clients.instances.list({ project: f.place.project, zone: f.place.zone });
    seen.push(...(list as Array<Record<string, unknown>>));
    await new Promise((r) => setTimeout(r, 10));
  }
  await finished;
  return seen;
}
