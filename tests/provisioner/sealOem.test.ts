/**
 * sealOemPartition in the sandbox (provisioner-assets/steps/seal-oem-partition/): the hash tree the
 * coreutils-only code writes into the OEM partition's second half is checked by the host's real
 * `veritysetup verify`, and every COS boot entry gets the oemroot target and the masks.
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { veritysetupVerifyArgs } from "../support/verity";
import { FakeCosDisk, GIB_SECTORS } from "./harness/cosDisk";
import { BUILD_ID, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine } from "./harness/serial";
import { grubConfig } from "./harness/grubConfig";
import { useSandboxes } from "./harness/useSandboxes";

const MIB = 1024 * 1024;
const PARTUUID = "0e3d6f3c-3f6e-4c1a-9a51-6b1d2c3e4f58";
const GRUB_CFG = grubConfig([
  ["local image B", "/syslinux/vmlinuz.B ro cros_efi root=PARTUUID=BBBB"],
  [
    "verified image B",
    '/syslinux/vmlinuz.B ro cros_efi root=/dev/dm-0 dm="1 vroot none ro 1,0 4194304 linear PARTUUID=BBBB 0"',
  ],
  [
    "verified image B, newer syntax",
    '/syslinux/vmlinuz.B ro cros_efi root=/dev/dm-0 dm-mod.create="vroot,,,ro,0 4194304 linear PARTUUID=BBBB 0"',
  ],
]);

describe("provisioner: sealOemPartition", function () {
  this.timeout(60_000);
  const { sandbox } = useSandboxes();

  it("refuses an OEM filesystem with blocks smaller than dm-verity's 4096 bytes (it could not be mounted sealed)", async () => {
    const box = sandbox({
      config: testConfig([{ type: "sealOemPartition" }]),
      env: { STUB_EFI_DEVICE: "/dev/sda12", STUB_PARTUUID: PARTUUID },
    });
    const disk = new FakeCosDisk(box, "sda", 10 * GIB_SECTORS).reclaimed();
    disk.partitions.OEM.start = 4509696 + 4096;
    disk.partitions.OEM.size = 31 * 2048;
    disk.partitions.STATE.start = 4509696 + 4096 + 31 * 2048;
    disk.write();
    disk.setFilesystem("OEM", 16 * MIB, 1024);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 sealOemPartition: the OEM filesystem has 1024-byte blocks; sealed, it could not be mounted (dm-verity reads 4096-byte blocks)",
    );
  });

  it("writes a dm-verity tree that veritysetup verifies and appends oemroot to every dm table", async () => {
    const hasVeritysetup = spawnSync("veritysetup", ["--version"]).status === 0;
    if (!hasVeritysetup) {
      throw new Error("veritysetup is missing on this host: apt-get install cryptsetup-bin");
    }
    const box = sandbox({
      config: testConfig([
        { type: "extendOemPartition", sizeBytes: 20 * MIB },
        { type: "sealOemPartition" },
      ]),
      env: { STUB_EFI_DEVICE: "/dev/sda12", STUB_PARTUUID: PARTUUID },
    });
    // The layout is in place already (diskLayout.test.ts covers its stages): booted from ROOT-B,
    // ROOT-A reclaimed, OEM (39 MiB for a 20 MiB filesystem, sealed) after it, STATE after OEM.
    const disk = new FakeCosDisk(box, "sda", 10 * GIB_SECTORS).reclaimed();
    const oemStart = 4509696 + 4096;
    disk.partitions.OEM.start = oemStart;
    disk.partitions.OEM.size = 39 * 2048;
    disk.partitions.STATE.start = oemStart + 39 * 2048;
    disk.write();
    const data = randomBytes(20 * MIB);
    fs.writeFileSync(disk.device("OEM"), Buffer.concat([data, Buffer.alloc(19 * MIB)]));
    disk.setFilesystem("OEM", 20 * MIB);
    const efi = path.join(box.base, "efi-partition");
    fs.mkdirSync(path.join(efi, "efi", "boot"), { recursive: true });
    const grub = path.join(efi, "efi", "boot", "grub.cfg");
    fs.writeFileSync(grub, GRUB_CFG);
    fs.writeFileSync(path.join(box.base, "mounts.map"), `/dev/sda12\t${efi}\n`);

    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial), result.serial).to.match(/^BuildSucceeded: /);
    expect(box.calls("reboot"), "nothing left to lay out").to.deep.equal([]);
    expect(box.calls("systemctl").map((call) => call.args.join(" "))).to.include(
      "stop usr-share-oem.mount",
    );

    const lines = fs.readFileSync(grub, "utf8").split("\n");
    const digest = /root_hexdigest=([0-9a-f]{64})/.exec(lines[4])?.[1];
    expect(digest, lines[4]).to.be.a("string");
    const sectors = (20 * MIB) / 512;
    expect(lines[4]).to.equal(
      `  linux /syslinux/vmlinuz.B ro cros_efi systemd.mask=update-engine.service systemd.mask=usr-share-oem.mount root=/dev/dm-0 dm="2 vroot none ro 1,0 4194304 linear PARTUUID=BBBB 0,oemroot none ro 1,0 ${sectors} verity payload=PARTUUID=${PARTUUID} hashtree=PARTUUID=${PARTUUID} hashstart=${sectors} alg=sha256 root_hexdigest=${digest}"`,
    );
    expect(lines[7]).to.equal(
      `  linux /syslinux/vmlinuz.B ro cros_efi systemd.mask=update-engine.service systemd.mask=usr-share-oem.mount root=/dev/dm-0 dm-mod.create="vroot,,,ro,0 4194304 linear PARTUUID=BBBB 0;oemroot,,,ro,0 ${sectors} verity 1 PARTUUID=${PARTUUID} PARTUUID=${PARTUUID} 4096 4096 5120 5120 sha256 ${digest} -"`,
    );
    expect(lines[1]).to.equal(
      "  linux /syslinux/vmlinuz.B ro cros_efi systemd.mask=update-engine.service systemd.mask=usr-share-oem.mount root=PARTUUID=BBBB",
    );

    // The host's veritysetup agrees with the tree and the digest, and refuses a changed block.
    const verify = () =>
      execFileSync("veritysetup", veritysetupVerifyArgs(20 * MIB, disk.device("OEM"), digest!), {
        stdio: "pipe",
      });
    verify();
    const changed = fs.openSync(disk.device("OEM"), "r+");
    fs.writeSync(changed, Buffer.from([data[12345] ^ 0xff]), 0, 1, 12345);
    fs.closeSync(changed);
    expect(verify).to.throw(/Verification failed|failed/);
  });
});
