/**
 * COS's disk-layout steps built on the COS-shaped stand-in and proven as COS Customizer's own
 * integration tests prove them: on the output image file (its GPT, the OEM filesystem read with
 * debugfs at its offset, the dm-verity tree checked by the host's `veritysetup verify`) and by a VM
 * booted from the image (serial port 2 verdict). Each suite shares one build between its checks; the
 * sealed case's checks are helpers/sealedOem.ts', which sealOem1G.test.ts runs for 1G on NVMe.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import { promisify } from "node:util";
import { SECTOR_BYTES } from "../../emulator/qemu";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { imagePartition } from "./helpers/diskImage";
import { ext4ReadFile } from "./helpers/ext4Image";
import { buildOncePerSuite, successfulBuild } from "./helpers/qemuCloud";
import { MIB, ROOT_A_START, sealedOemChecks, WRITE_FILES } from "./helpers/sealedOem";
import { verificationScript, verifyOnNewVm } from "./helpers/verificationVm";

const execFileAsync = promisify(execFile);

describe("e2e: sealOemPartition 50M on a 10 GB disk (ROOT-A reclaimed, OEM grown and sealed)", function () {
  // STATE: COS Customizer's own threshold for a reclaimed 10 GB disk.
  sealedOemChecks({
    name: "seal-oem",
    size: "50M",
    sizeBytes: 50 * MIB,
    diskSizeGb: 10,
    minStateMiB: 7168,
  });
});

describe("e2e: extendOemPartition 1G with diskSizeGb 11 (the disk resized mid-build)", function () {
  const build = buildOncePerSuite(
    "extend-oem",
    { "write.sh": WRITE_FILES },
    {
      diskSizeGb: 11,
      steps: [{ extendOemPartition: { size: "1G" } }, { runScript: { script: "write.sh" } }],
    },
  );

  it("asked for the 11 GB disk, moved STATE and grew OEM to 1023 MiB after ROOT-A", async () => {
    const { imageFile, cloud } = successfulBuild(build());
    expect(cloud.progress).to.match(/resiz\w* the boot disk to 11 GB/);
    const oem = await imagePartition(imageFile, "OEM");
    expect(oem.firstLba).to.be.greaterThan(ROOT_A_START);
    expect((oem.lastLba - oem.firstLba + 1) * SECTOR_BYTES).to.equal(1023 * MIB);
    const stat = await fs.stat(imageFile);
    expect(stat.size).to.equal(11 * 1024 * MIB);
  });

  it("has an OEM filesystem of at least 80% of 1G holding the script's file, and STATE its file", async () => {
    const { imageFile } = successfulBuild(build());
    expect(await ext4ReadFile(imageFile, "/usr/share/oem/pci-e2e-oem")).to.equal("oem-data\n");
    expect(await ext4ReadFile(imageFile, "/var/lib/pci-e2e/state-file")).to.equal("state-data\n");
    const oem = await imagePartition(imageFile, "OEM");
    const { stdout } = await execFileAsync("dumpe2fs", [
      "-h",
      `${imageFile}?offset=${oem.firstLba * SECTOR_BYTES}`,
    ]);
    const count = Number(/^Block count:\s+(\d+)/m.exec(stdout)?.[1]);
    const size = Number(/^Block size:\s+(\d+)/m.exec(stdout)?.[1]);
    expect(count * size, "OEM filesystem bytes").to.be.at.least(0.8 * 1024 * MIB);
  });

  it("boots a VM with the grown OEM on /usr/share/oem and the files in place", async () => {
    const { cloud, outs } = successfulBuild(build());
    const result = await verifyOnNewVm(
      cloud,
      outs.imageSelfLink,
      "verify-extend-oem",
      verificationScript(
        [
          "findmnt -n /usr/share/oem >/dev/null || fail 'OEM is not mounted'",
          "size=$(df -B1M --output=size /usr/share/oem | tail -1)",
          'echo "TestStatus: OEM has $size MiB"',
          '((size >= 819)) || fail "OEM has only $size MiB"',
          '[[ "$(cat /usr/share/oem/pci-e2e-oem)" == oem-data ]] || fail "the OEM file is missing"',
          '[[ "$(cat /var/lib/pci-e2e/state-file)" == state-data ]] || fail "the STATE file is missing"',
        ].join("\n"),
      ),
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expectNoTemporaries(cloud.emulator, [outs.imageName]);
  });
});
