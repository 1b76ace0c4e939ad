import { expect } from "chai";
import { DISK_RESIZED_METADATA_KEY } from "../../components/guest/protocol";
import type { ScriptedGuestOptions } from "../../emulator";
import type { BuildPhase, PipelineOptions } from "../../components/pipeline/runBuild";
import {
  FAST_PIPELINE,
  buildFixture,
  expectNoTemporaries,
  type BuildFixture,
} from "./buildHarness";

/**
 * The mid-build boot disk resize (components/pipeline/resizeBootDisk.ts) against the emulator, with
 * scripted guests that ask for it as a disk-layout step of the provisioner does.
 */

/** Status lines that name a disk-layout step as the provisioner's run_step does. */
const layoutStatus = (n: number, total: number): string =>
  `step ${n}/${total} ${n === 1 ? "runScript setup.sh" : "disableAutoUpdate"}: started`;

/** A build whose second step changes the disk layout, ending on a 20 GB disk. */
const LAYOUT_ARGS = {
  diskSizeGb: 20,
  steps: [{ runScript: { script: "setup.sh" } }, { disableAutoUpdate: {} }],
};

/** The scripted guest of such a build: asks for 20 GB once the layout step has started. */
const asking = (extra: Partial<ScriptedGuestOptions> = {}): ScriptedGuestOptions => ({
  statusLines: 3,
  statusText: layoutStatus,
  diskResize: { afterLines: 2, sizeGb: 20, step: "step 2/3 disableAutoUpdate" },
  ...extra,
});

describe("the mid-build boot disk resize, on the emulator", function () {
  this.timeout(60_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());

  /**
   * Pipeline options that record the boot disk's size as the watch starts: the VM exists then, and
   * a guest that asks for a resize waits until the watch serves it, so the size is the initial one.
   */
  function recordingInitialSize(): { options: PipelineOptions; sizes: string[] } {
    const sizes: string[] = [];
    const onPhase = async (phase: BuildPhase): Promise<void> => {
      if (phase !== "provisioning") return;
      const [disks] = await f.clients.disks.list({ project: f.place.project, zone: f.place.zone });
      for (const disk of disks) if (/-boot$/.test(disk.name ?? "")) sizes.push(String(disk.sizeGb));
    };
    return { options: { ...FAST_PIPELINE, onPhase }, sizes };
  }

  it("creates the boot disk at the source image's size, resizes it once to diskSizeGb when asked, acknowledges, and makes a 20 GB image", async () => {
    const initial = recordingInitialSize();
    f = await buildFixture({ defaultGuest: asking() }, initial.options);
    const { outs } = await f.build(f.inputs(LAYOUT_ARGS));
    expect(initial.sizes).to.deep.equal(["10"]);

    const resizes = f.emulator.requestLog
      .entries()
      .filter((e) => e.method === "compute.disks.resize");
    expect(resizes.map((e) => e.status)).to.deep.equal([200]);
    expect(resizes[0].path).to.match(/\/disks\/pci-[a-z0-9]{10}-boot\/resize$/);
    const [image] = await f.clients.images.get({ project: f.place.project, image: outs.imageName });
    expect(Number(image.diskSizeGb)).to.equal(20);
    const text = f.progress.join("\n");
    expect(text).to.include("resizing the boot disk to 20 GB for the disk layout");
    expect(text).to.include("| the boot disk is 20 GB");
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("keeps the rest of the instance metadata when it acknowledges the resize", async () => {
    let keys: string[] = [];
    f = await buildFixture({ defaultGuest: asking() });
    const inputs = f.inputs(LAYOUT_ARGS);
    const watching = setInterval(() => {
      void f.clients.instances
        .list({ project: f.place.project, zone: f.place.zone })
        .then(([instances]) => {
          for (const instance of instances) {
            const items = instance.metadata?.items ?? [];
            if (items.some((item) => item.key === DISK_RESIZED_METADATA_KEY))
              keys = items.map((item) => item.key ?? "");
          }
        })
        .catch(() => undefined);
    }, 5);
    await f.build(inputs).finally(() => clearInterval(watching));
    expect(keys).to.include.members([
      "user-data",
      "block-project-ssh-keys",
      "cos-update-strategy",
      DISK_RESIZED_METADATA_KEY,
    ]);
  });

  it("fails the build with the step and GCE's message when GCE refuses the resize, and leaves nothing", async () => {
    // The region's disk quota leaves no room for the larger boot disk.
    f = await buildFixture({
      defaultGuest: asking({ failureShutdownMs: 60_000 }),
      diskQuotaGb: 15,
    });
    const error = await f.build(f.inputs(LAYOUT_ARGS)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.include(
      "the image build failed in step 2/3 disableAutoUpdate: the boot disk could not be resized to 20 GB:",
    );
    expect(error?.message).to.include("QUOTA_EXCEEDED: Quota 'DISKS_TOTAL_GB' exceeded.");
    expect(error?.message).to.include("BuildDiskResize: 20");
    expectNoTemporaries(f.emulator);
  });

  it("answers a repeated request after a reboot without a second resize", async () => {
    f = await buildFixture({
      defaultGuest: asking({
        rebootAfterLines: 2,
        diskResize: { afterLines: 1, sizeGb: 20, againAfterReboot: true },
      }),
    });
    const { outs } = await f.build(f.inputs(LAYOUT_ARGS));
    expect(f.emulator.requestLog.count("compute.disks.resize")).to.equal(1);
    const text = f.progress.join("\n");
    expect(text).to.include("the boot disk is 20 GB already (asked again after a reboot)");
    expect(text.match(/boot disk resized to 20 GB; the provisioner goes on/g)).to.have.length(2);
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("refuses a request larger than diskSizeGb as a protocol error, and leaves nothing", async () => {
    f = await buildFixture({
      defaultGuest: asking({
        failureShutdownMs: 60_000,
        diskResize: { afterLines: 2, sizeGb: 30 },
      }),
    });
    const error = await f.build(f.inputs(LAYOUT_ARGS)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.include(
      "the image build failed in step 2/3 disableAutoUpdate: protocol error: the provisioner asked for a 30 GB boot disk, more than diskSizeGb (20 GB)",
    );
    expect(f.emulator.requestLog.count("compute.disks.resize")).to.equal(0);
    expectNoTemporaries(f.emulator);
  });

  it("refuses a request smaller than the disk as a protocol error", async () => {
    f = await buildFixture({
      defaultGuest: asking({ failureShutdownMs: 60_000, diskResize: { afterLines: 2, sizeGb: 5 } }),
    });
    const error = await f.build(f.inputs(LAYOUT_ARGS)).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.include(
      "protocol error: the provisioner asked for a 5 GB boot disk, but the disk is 10 GB already (a disk cannot shrink)",
    );
    expectNoTemporaries(f.emulator);
  });

  it("grows the boot disk before imaging, with a warning, when the provisioner never asked", async () => {
    f = await buildFixture({ defaultGuest: { statusLines: 3, statusText: layoutStatus } });
    const { outs } = await f.build(f.inputs(LAYOUT_ARGS));
    const [image] = await f.clients.images.get({ project: f.place.project, image: outs.imageName });
    expect(Number(image.diskSizeGb)).to.equal(20);
    expect(f.emulator.requestLog.count("compute.disks.resize")).to.equal(1);
    expect(f.progress.join("\n")).to.include(
      "the provisioner never asked for the boot disk to grow (BuildDiskResize:); growing it from 10 to 20 GB before imaging",
    );
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });

  it("creates the boot disk at diskSizeGb when no step changes the disk layout", async () => {
    const initial = recordingInitialSize();
    f = await buildFixture({}, initial.options);
    const { outs } = await f.build(
      f.inputs({ diskSizeGb: 20, steps: [{ runScript: { script: "setup.sh" } }] }),
    );
    expect(initial.sizes).to.deep.equal(["20"]);
    expect(f.emulator.requestLog.count("compute.disks.resize")).to.equal(0);
    expectNoTemporaries(f.emulator, [outs.imageName]);
  });
});
