/**
 * The build flow of one preload VM, on a real guest: cloud-init gets user-data from the (test)
 * metadata server, a oneshot unit waits for the CIDATA disk hot-attached after boot, reports on
 * serial port 3, waits for the acknowledgement attribute and powers off; the boot disk then becomes
 * an image file whose contents are checked.
 */
import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ACK_METADATA_KEY } from "../../components/guest/protocol";
import { convertToRawImage, diskFileInfo } from "../../emulator/qemu";
import { curlAttribute, oneshotUnitCloudConfig } from "./helpers/cloudConfig";
import { instancePerTest, secondsSinceBoot } from "./helpers/guestFixture";
import { makeFatDisk, readFileFromExt4 } from "./helpers/hostTools";
import { serialText, waitForSerial } from "./helpers/serialWait";

const BUILD_SCRIPT = `#!/bin/bash
set -euo pipefail
echo "BuildStatus: waiting for the CIDATA disk"
for _ in $(seq 1 600); do
  [ -e /dev/disk/by-label/CIDATA ] && break
  sleep 1
done
mkdir -p /mnt/disks/cidata
mount -o ro /dev/disk/by-label/CIDATA /mnt/disks/cidata
echo "BuildStatus: $(cat /mnt/disks/cidata/hello.txt)"
echo "BuildStatus: cidata is $(readlink -f /dev/disk/by-id/google-cidata), boot is $(readlink -f /dev/disk/by-id/google-boot)"
cos-extensions install gpu -- -version=535.183.01
echo "hello from the guest" > /var/lib/hello
sync
echo "BuildSucceeded: all steps done"
for _ in $(seq 1 600); do
  if ack="$(${curlAttribute(ACK_METADATA_KEY)})"; then
    echo "BuildStatus: acknowledged by $ack"
    break
  fi
  sleep 1
done
systemctl poweroff
`;

describe("e2e: a preload VM on the local guest", function () {
  const bootTestInstance = instancePerTest();

  it("runs the unit from metadata user-data, reads a hot-attached CIDATA disk, powers off after the ack, leaves an image file", async function () {
    const instance = await bootTestInstance(
      "build-flow",
      oneshotUnitCloudConfig("pci-e2e-build", BUILD_SCRIPT),
    );
    const { machine, metadata } = instance;

    await waitForSerial(machine, 3, /BuildStatus: waiting for the CIDATA disk/, 10 * 60_000);
    console.log(`      [e2e timing] boot to the unit's first line: ${secondsSinceBoot(machine)} s`);

    const cidata = path.join(instance.directory, "cidata.raw");
    await makeFatDisk(cidata, "CIDATA", { "hello.txt": "content of a file on the CIDATA disk\n" });
    await machine.attachDisk({ file: cidata, format: "raw", deviceName: "cidata", readOnly: true });

    await waitForSerial(machine, 3, /BuildSucceeded:/, 5 * 60_000);
    metadata.setAttribute(ACK_METADATA_KEY, "build-1234");
    const exit = await machine.exited;
    console.log(
      `      [e2e timing] boot to guest power-off: ${secondsSinceBoot(machine)} s (${machine.accelerator})`,
    );

    expect(exit).to.include({ code: 0, signal: null, shutdownReason: "guest-shutdown" });
    const lines = (await serialText(machine, 3)).split("\n");
    const contentLine = lines.indexOf("BuildStatus: content of a file on the CIDATA disk");
    const successLine = lines.indexOf("BuildSucceeded: all steps done");
    expect(contentLine, "the CIDATA file's line").to.be.greaterThan(-1);
    expect(successLine, "the success line, after the CIDATA line").to.be.greaterThan(contentLine);
    // SCSI disks, as on most GCE machine types: the boot disk first.
    expect(lines).to.include("BuildStatus: cidata is /dev/sdb, boot is /dev/sda");
    expect(lines).to.include("BuildStatus: acknowledged by build-1234");
    expect(metadata.requestLines, "cloud-init read user-data from the metadata server").to.include(
      "GET /computeMetadata/v1/instance/attributes/?recursive=True",
    );

    // The boot disk is still an overlay over the untouched guest image.
    const overlay = await diskFileInfo(instance.bootDisk);
    expect(overlay.format).to.equal("qcow2");
    expect(overlay.backingFile).to.equal(await fs.realpath(instance.image.rootDisk));
    expect(await readFileFromExt4(instance.image.rootDisk, "/var/lib/hello")).to.equal("");

    // An image created from the disk is a standalone raw file holding what the guest wrote.
    const started = Date.now();
    const imageFile = path.join(instance.directory, "image.raw");
    await convertToRawImage(instance.bootDisk, imageFile);
    console.log(
      `      [e2e timing] boot disk to raw image: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect((await diskFileInfo(imageFile)).format).to.equal("raw");
    expect(await readFileFromExt4(imageFile, "/var/lib/hello")).to.equal("hello from the guest\n");
    expect(await readFileFromExt4(imageFile, "/var/lib/cos-stand-ins/cos-extensions.log")).to.equal(
      "cos-extensions install gpu -- -version=535.183.01\n",
    );
    expect(await readFileFromExt4(imageFile, "/var/lib/nvidia/stand-in-driver-version")).to.equal(
      "535.183.01\n",
    );
  });
});
