/**
 * `sealOemPartition` with a 1G OEM filesystem on a 12 GB disk, built on an NVMe-only machine type
 * (c3-standard-4): the same checks as the 50M case of diskLayout.test.ts (helpers/sealedOem.ts), and
 * here the ROOT-A reclaim, the mid-build resize from the source's 10 GB and the relocation at
 * shutdown on `/dev/nvme0n1` (QEMU's NVMe controller reports no resize, so the stand-in takes one
 * more reboot to see the larger disk; GCE's guests see it at once), and STATE grown to the end of the
 * 12 GB disk. Its own file, so that the e2e tier runs it beside diskLayout.test.ts.
 */
import { expect } from "chai";
import * as fs from "node:fs/promises";
import { SECTOR_BYTES } from "../../emulator/qemu";
import { readImageGpt } from "./helpers/diskImage";
import { successfulBuild } from "./helpers/qemuCloud";
import { MIB, sealedOemChecks } from "./helpers/sealedOem";

/** Sectors of the backup GPT at the end of the disk (its header and 32 sectors of entries). */
const BACKUP_GPT_SECTORS = 33;

describe("e2e: sealOemPartition 1G on a 12 GB disk, on an NVMe machine type (disk resized mid-build)", function () {
  const build = sealedOemChecks({
    name: "seal-oem-1g",
    size: "1G",
    sizeBytes: 1024 * MIB,
    diskSizeGb: 12,
    machineType: "c3-standard-4",
    // 12 GiB less what lies before STATE (ROOT-A's start, 2 MiB, OEM's 2047 MiB: 4251 MiB).
    minStateMiB: 8030,
  });

  it("reclaimed ROOT-A, asked for the 12 GB disk and relocated the partitions on /dev/nvme0n1", () => {
    const { cloud } = successfulBuild(build());
    expect(cloud.progress).to.include(
      "| step 1/3 extendOemPartition: copying ROOT-A (/dev/nvme0n1p3) to ROOT-B (/dev/nvme0n1p5), to boot from B and reclaim A",
    );
    expect(cloud.progress).to.include("resizing the boot disk to 12 GB for the disk layout");
    expect(cloud.progress).to.include("| disk layout at shutdown: done");
    expect(cloud.progress.join("\n")).to.not.include("disk layout at shutdown: FAILED");
  });

  it("grew STATE to the end of the 12 GB disk", async () => {
    const { imageFile } = successfulBuild(build());
    const disk = (await fs.stat(imageFile)).size;
    expect(disk, "image bytes").to.equal(12 * 1024 * MIB);
    const state = (await readImageGpt(imageFile)).partitions.find((p) => p.name === "STATE")!;
    const lastUsable = disk / SECTOR_BYTES - BACKUP_GPT_SECTORS - 1;
    // sfdisk ends a partition grown to the end on its 1 MiB grain at the latest.
    expect(lastUsable - state.lastLba, "sectors after STATE").to.be.within(0, 2047);
  });
});
