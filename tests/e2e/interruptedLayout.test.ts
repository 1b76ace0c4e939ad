/**
 * A build cut off in the middle of the disk layout's relocation at shutdown, as by a power cut: a
 * small OEM extension on an 11 GB disk (resize, then one relocation), and the emulator's scheduled
 * host crash, which quits the QEMU machine at once, fires when serial port 3 shows the shutdown
 * moving STATE. The build must fail in the disk-layout step, by name, and leave no VM, disk, object
 * or image: a half-relocated disk never becomes an image. Its own file, so that the e2e tier runs it
 * beside another.
 */
import { expect } from "chai";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { buildOncePerSuite } from "./helpers/qemuCloud";

/** The serial line at which the power is cut: the relocation at shutdown has begun moving STATE. */
const CUT_AT = "disk layout at shutdown: moving STATE";

describe("e2e: a build whose VM loses power during the relocation at shutdown (extendOemPartition 50M on 11 GB)", function () {
  const build = buildOncePerSuite(
    "cut-oem",
    { "never.sh": "#!/bin/bash\necho 'the step after the disk layout ran'\n" },
    {
      diskSizeGb: 11,
      steps: [{ extendOemPartition: { size: "50M" } }, { runScript: { script: "never.sh" } }],
    },
    { scheduledFaults: [{ action: "crash", instance: "pci-*-vm", whenSerialContains: CUT_AT }] },
  );

  it("fails in step 1/2 extendOemPartition, after the relocation had begun, and leaves nothing behind", () => {
    const { failure, cloud, outs } = build();
    expect(outs, "no output image").to.equal(undefined);
    expect(failure, "the build failed").to.be.instanceOf(Error);
    expect(failure!.message).to.match(
      /^the image build failed in step 1\/2 extendOemPartition: the build VM stopped \(TERMINATED\) before the provisioner reported a result/,
    );
    // It was cut during the relocation, not before: the disk was resized and the shutdown's own
    // lines had started (the cut line itself may be lost with the VM, as on GCE).
    expect(cloud.progress).to.include("resizing the boot disk to 11 GB for the disk layout");
    expect(
      cloud.progress.some((line) => line.startsWith("| disk layout at shutdown: ")),
      "the relocation at shutdown had begun",
    ).to.equal(true);
    expect(cloud.progress).to.not.include("| disk layout at shutdown: done");
    expect(cloud.progress.join("\n")).to.not.include("the step after the disk layout ran");
    const buildVm = cloud.machineRuns.filter((run) => /^pci-.*-vm$/.test(run.instance));
    expect(buildVm, "one build VM run").to.have.length(1);
    // A host crash quits QEMU at once (QMP quit): the guest ran nothing more, as in a power cut. A
    // guest that had shut down itself would say `guest-shutdown`.
    expect(buildVm[0].exit.shutdownReason, "QEMU quit under the guest").to.equal("host-qmp-quit");
    expectNoTemporaries(cloud.emulator, []);
  });
});
