/**
 * A build whose first step asks for a reboot (`allowReboot` and exit status 3), on a real guest:
 * the VM reboots, the provisioner resumes with the next step, and no step runs twice. The build
 * context holds a file too large for instance metadata, so the build VM is told to fetch the CIDATA
 * tree from the bucket; a QEMU guest has no route to the emulator's storage on the host's loopback,
 * so it reports that and the tree comes by the fallback, a disk hot-attached after boot, which is
 * still there after the reboot.
 */
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import type { ImageBuildOutputs } from "../../components/provider/inputs";
import { ext4ReadFile } from "./helpers/ext4Image";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { buildOncePerSuite, successfulBuild, type QemuCloud } from "./helpers/qemuCloud";

/** Incompressible, and larger than what instance metadata can carry (256 KiB per value). */
const LARGE_FILE = randomBytes(640 * 1024);

/** Each step records itself with the boot it ran in, so the image tells which boot ran which step. */
const recordStep = (name: string): string =>
  `echo "${name} $(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/pci-e2e/steps`;

const CONTEXT = {
  "before-reboot.sh": [
    "#!/bin/bash",
    "set -euo pipefail",
    "mkdir -p /var/lib/pci-e2e",
    recordStep("before-reboot"),
    'echo "asking for a reboot"',
    "exit 3",
    "",
  ].join("\n"),
  "after-reboot.sh": [
    "#!/bin/bash",
    "set -euo pipefail",
    recordStep("after-reboot"),
    "sha256sum < data/large.bin | cut -d' ' -f1 > /var/lib/pci-e2e/large.sha256",
    'echo "resumed after the reboot"',
    "",
  ].join("\n"),
  "data/large.bin": LARGE_FILE,
};

describe("e2e: a build that reboots between steps, CIDATA on a disk, on QEMU guests", function () {
  const build = buildOncePerSuite("reboot", CONTEXT, {
    steps: [
      { runScript: { script: "before-reboot.sh", allowReboot: true } },
      { runScript: { script: "after-reboot.sh" } },
    ],
  });
  let cloud: QemuCloud | undefined;
  let outs: ImageBuildOutputs;
  let imageFile: string;

  before(() => ({ cloud, outs, imageFile } = successfulBuild(build())));

  it("fell back from the bucket fetch to a hot-attached CIDATA disk", () => {
    const { emulator, progress } = cloud!;
    expect(
      progress.filter((line) =>
        /could not read the CIDATA tree .*falling back to a CIDATA disk/.test(line),
      ),
      "the fallback, said once in progress",
    ).to.have.length(1);
    expect(emulator.requestLog.count("compute.instances.attachDisk", 200)).to.equal(1);
    expect(
      emulator.requestLog.count("storage.objects.insert", 200),
      "the archive upload",
    ).to.be.at.least(1);
  });

  it("rebooted the VM once, on the same machine, and resumed with the next step", () => {
    const { machineRuns, progress } = cloud!;
    expect(machineRuns.map((run) => [run.reboots, run.exit.shutdownReason])).to.deep.equal([
      [1, "guest-shutdown"],
    ]);
    const rebooting = progress.findIndex((line) => line.includes("rebooting, as the step asked"));
    const resuming = progress.indexOf("| resuming with step 2 of 2");
    expect(rebooting, progress.join("\n")).to.be.greaterThan(-1);
    expect(resuming, "resumed after the reboot").to.be.greaterThan(rebooting);
    expect(progress.filter((line) => /^\| step \d\/2 .*: started$/.test(line))).to.deep.equal([
      "| step 1/2 runScript before-reboot.sh: started",
      "| step 2/2 runScript after-reboot.sh: started",
    ]);
    expectNoTemporaries(cloud!.emulator, [outs.imageName]);
  });

  it("ran each step once, in two different boots, and read the large context file intact", async () => {
    const steps = (await ext4ReadFile(imageFile, "/var/lib/pci-e2e/steps")).trim().split("\n");
    expect(steps.map((line) => line.split(" ")[0])).to.deep.equal([
      "before-reboot",
      "after-reboot",
    ]);
    const [firstBoot, secondBoot] = steps.map((line) => line.split(" ")[1]);
    expect(firstBoot, "the steps ran in different boots").to.not.equal(secondBoot);
    expect((await ext4ReadFile(imageFile, "/var/lib/pci-e2e/large.sha256")).trim()).to.equal(
      createHash("sha256").update(LARGE_FILE).digest("hex"),
    );
  });
});
