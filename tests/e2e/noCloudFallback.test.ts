/**
 * The guest's second way to get user-data: when the machine does not say "Google Compute Engine"
 * in SMBIOS, cloud-init skips its GCE datasource and reads a NoCloud disk labelled CIDATA present
 * at boot (`datasource_list: [ GCE, NoCloud, None ]`).
 */
import { expect } from "chai";
import { oneshotUnitCloudConfig } from "./helpers/cloudConfig";
import { instancePerTest, secondsSinceBoot } from "./helpers/guestFixture";
import { makeFatDisk } from "./helpers/hostTools";
import { serialText } from "./helpers/serialWait";

const NOCLOUD_SCRIPT = `#!/bin/bash
echo "BuildStatus: user-data from $(cloud-init query platform 2>/dev/null || echo unknown)"
systemctl poweroff
`;

describe("e2e: NoCloud fallback on the local guest", function () {
  const bootTestInstance = instancePerTest();

  it("runs user-data from a CIDATA disk present at boot when SMBIOS does not report GCE", async function () {
    const userData = oneshotUnitCloudConfig("pci-e2e-nocloud", NOCLOUD_SCRIPT);
    const instance = await bootTestInstance("nocloud", "#cloud-config\n", {
      smbios: { manufacturer: "QEMU", product: "Standard PC", serial: "not-google" },
      extraDisks: [
        {
          deviceName: "cidata",
          create: (file) =>
            makeFatDisk(file, "CIDATA", {
              "user-data": userData,
              "meta-data": "instance-id: nocloud-1\n",
            }),
        },
      ],
    });
    const exit = await instance.machine.exited;
    console.log(
      `      [e2e timing] NoCloud boot to power-off: ${secondsSinceBoot(instance.machine)} s`,
    );

    expect(exit).to.include({ code: 0, shutdownReason: "guest-shutdown" });
    expect(await serialText(instance.machine, 3)).to.contain("BuildStatus: user-data from nocloud");
    expect(instance.metadata.requestLines, "the GCE datasource stayed out of it").to.deep.equal([]);
  });
});
