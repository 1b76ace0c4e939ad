import { expect } from "chai";
import { rejection } from "../support/async";
import { buildFixture, expectNoTemporaries, type BuildFixture } from "./buildHarness";

/**
 * A build VM that stops without a verdict (a host crash: the guest is cut off, as by a power cut)
 * fails the build in the step that was under way, read from the provisioner's `started` and
 * `done` status lines (components/pipeline/watchProvisioner.ts); with no step under way it fails in
 * "the build VM". Scripted guests print the lines a disk-layout step prints on a real guest.
 */
describe("a build VM that stops in the middle of a step", function () {
  this.timeout(120_000);
  let f: BuildFixture;
  afterEach(async () => f?.close());

  /**
   * A fixture whose scripted guest prints `texts` as its status lines and whose build VM crashes
   * when serial port 3 shows `cutAt`.
   */
  const cutOff = async (texts: string[], cutAt: string): Promise<BuildFixture> =>
    (f = await buildFixture({
      defaultGuest: {
        statusLines: texts.length,
        // Slow enough for the watch to read each line before the next (GCE serves no serial output
        // once the VM is down); on a real guest the resize request and a reboot come in between.
        lineIntervalMs: 300,
        statusText: (n) => texts[n - 1],
      },
      scheduledFaults: [{ action: "crash", instance: "pci-*-vm", whenSerialContains: cutAt }],
    }));

  it("fails in the disk-layout step when the VM is cut off during the relocation at shutdown, and leaves nothing", async () => {
    await cutOff(
      [
        "step 1/2 extendOemPartition: started (its disk layout, before the first step)",
        "step 1/2 extendOemPartition: the partitions move at shutdown: STATE to sector 4718592; rebooting",
        "disk layout at shutdown: moving STATE (partition 1, 310 MiB) to sector 4718592",
        "disk layout at shutdown: done",
      ],
      "disk layout at shutdown: moving STATE",
    );
    const error = await rejection(
      f.build(
        f.inputs({
          diskSizeGb: 11,
          steps: [{ extendOemPartition: { size: "50M" } }, { runScript: { script: "setup.sh" } }],
        }),
      ),
    );
    expect(error?.message).to.include(
      "the image build failed in step 1/2 extendOemPartition: the build VM stopped (TERMINATED) before the provisioner reported a result: it crashed, was stopped from outside",
    );
    expect(error?.message).to.include("| BuildStatus: step 1/2 extendOemPartition: the partitions");
    expectNoTemporaries(f.emulator);
  });

  it("fails in the build VM when the step under way had said it was done", async () => {
    await cutOff(
      [
        "step 1/1 runScript setup.sh: started",
        "step 1/1 runScript setup.sh: done",
        "rebooting, as the step asked; the build resumes with the next step after the reboot",
      ],
      "rebooting",
    );
    const error = await rejection(f.build(f.inputs()));
    expect(error?.message).to.include(
      "the image build failed in the build VM: it stopped (TERMINATED) before the provisioner reported a result",
    );
    expectNoTemporaries(f.emulator);
  });
});
