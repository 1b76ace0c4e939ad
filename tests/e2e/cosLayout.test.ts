/**
 * The COS-shaped stand-in, proven by builds: the output image keeps COS's partition table, a
 * build on an NVMe-only machine type sees `/dev/nvme0n1`, `disableAutoUpdate` edits grub.cfg on
 * the EFI partition and the verification VM boots with `update-engine.service` masked, its ROOT-A
 * reclaim leaves a 10 GB disk's stateful partition above 7168 MiB (COS Customizer's own threshold),
 * changes to `/etc` do not reach the image, and a script that writes `/usr` fails its step with its
 * own error, as on COS. The disk stays at the source image's 10 GB, so no resize is needed: the
 * mid-build resize on NVMe (and STATE grown to the end of a larger disk) is sealOem1G.test.ts'.
 */
import { expect } from "chai";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { ext4Stat } from "./helpers/ext4Image";
import { fatReadFile, partitionBytes, readImageGpt } from "./helpers/diskImage";
import { buildOncePerSuite, successfulBuild } from "./helpers/qemuCloud";
import { verificationScript, verifyOnNewVm } from "./helpers/verificationVm";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * COS's partitions by number (name, first sector), as the source image has them except STATE:
 * disableAutoUpdate reclaims ROOT-A (shrunk to 4 KiB in place), and STATE starts 2 MiB after it.
 */
const COS_PARTITIONS: Array<[number, string, number]> = [
  [1, "STATE", 4509696 + 4096],
  [2, "KERN-A", 20480],
  [3, "ROOT-A", 4509696],
  [4, "KERN-B", 53248],
  [5, "ROOT-B", 315392],
  [6, "KERN-C", 16448],
  [7, "ROOT-C", 16449],
  [8, "OEM", 86016],
  [9, "reserved", 16450],
  [10, "reserved", 16451],
  [11, "RWFW", 64],
  [12, "EFI-SYSTEM", 249856],
];

const NVME_CONTEXT = {
  "probe.sh": [
    "#!/bin/bash",
    "set -euo pipefail",
    'echo "boot disk $(rootdev -d), root partition $(rootdev -s)"',
    'echo "stateful partition $(findmnt -n -o SOURCE /mnt/stateful_partition)"',
    "echo probe > /etc/pci-e2e-probe",
    'echo "wrote /etc/pci-e2e-probe"',
    "mkdir -p /var/lib/pci-e2e && echo kept > /var/lib/pci-e2e/state-file",
    "",
  ].join("\n"),
};

describe("e2e: COS's disk layout and rules, on an NVMe machine type with a 10 GB disk", function () {
  const build = buildOncePerSuite("cos-nvme", NVME_CONTEXT, {
    machineType: "c3-standard-4",
    diskSizeGb: 10,
    steps: [{ runScript: { script: "probe.sh" } }, { disableAutoUpdate: {} }],
  });

  it("ran on an NVMe boot disk, found by name rather than as /dev/sda", () => {
    const { cloud } = successfulBuild(build());
    // The disk layout of disableAutoUpdate (ROOT-A reclaimed) comes before the first step: B runs.
    expect(cloud.progress).to.include("| boot disk /dev/nvme0n1, root partition /dev/nvme0n1p5");
    expect(cloud.progress).to.include("| stateful partition /dev/nvme0n1p1");
  });

  it("keeps COS's partition table, ROOT-A reclaimed, STATE above 7168 MiB on the 10 GB disk", async () => {
    const { imageFile } = successfulBuild(build());
    const table = await readImageGpt(imageFile);
    expect(
      table.partitions.map((p) => [p.number, p.name, p.firstLba] as [number, string, number]),
    ).to.deep.equal(COS_PARTITIONS);
    expect(await partitionBytes(imageFile, "ROOT-A")).to.equal(4096);
    expect(await partitionBytes(imageFile, "ROOT-B")).to.equal(2 * GIB);
    expect(await partitionBytes(imageFile, "OEM")).to.equal(16 * 1024 * 1024);
    const state = await partitionBytes(imageFile, "STATE");
    // 10 GiB less what lies before STATE now (2.15 GiB): the 2 GiB of ROOT-A went to STATE. COS
    // Customizer's own disable-auto-update test asks for more than 7168 MiB.
    expect(state / MIB, "STATE in MiB").to.be.greaterThan(7168);
  });

  it("masked update-engine.service in every COS boot entry of grub.cfg on the EFI partition", async () => {
    const { imageFile } = successfulBuild(build());
    const grub = await fatReadFile(imageFile, "EFI-SYSTEM", "/efi/boot/grub.cfg");
    const entries = grub.split("\n").filter((line) => /\bcros_efi\b/.test(line));
    expect(entries).to.have.length(4);
    for (const line of entries) expect(line).to.include("systemd.mask=update-engine.service");
  });

  it("left the script's /etc change out of the image (COS's /etc is a tmpfs) and kept /var", async () => {
    const { imageFile } = successfulBuild(build());
    expect(await ext4Stat(imageFile, "/etc/pci-e2e-probe")).to.equal(undefined);
    expect(await ext4Stat(imageFile, "/var/lib/pci-e2e/state-file")).to.deep.include({
      type: "regular",
    });
  });

  it("boots a VM from the image with update-engine masked and COS's filesystem rules", async () => {
    const { cloud, outs } = successfulBuild(build());
    const result = await verifyOnNewVm(
      cloud,
      outs.imageSelfLink,
      "verify-cos-nvme",
      verificationScript(
        [
          // systemd.mask= on the kernel command line masks for this boot: "masked-runtime".
          'state="$(systemctl is-enabled update-engine.service 2>&1 || true)"',
          '[[ $state == masked-runtime ]] || fail "update-engine is $state"',
          "! systemctl is-active --quiet update-engine.service || fail 'update-engine ran'",
          "grep -qw 'systemd.mask=update-engine.service' /proc/cmdline || fail 'not on the kernel command line'",
          '[[ "$(cat /var/lib/pci-e2e/state-file)" == kept ]] || fail "the stateful file is missing"',
          '[[ ! -e /etc/pci-e2e-probe ]] || fail "the build\'s /etc change is in the image"',
          "findmnt -n -o OPTIONS / | grep -qw ro || fail '/ is not read-only'",
          "findmnt -n -o OPTIONS /var | grep -qw noexec || fail '/var is executable'",
          "findmnt -n -o OPTIONS /var/lib/docker | grep -qw noexec && fail '/var/lib/docker is noexec'",
          "findmnt -n -o FSTYPE /tmp | grep -qx tmpfs || fail '/tmp is no tmpfs'",
          "findmnt -n -o FSTYPE /var/lib/cloud | grep -qx tmpfs || fail '/var/lib/cloud is no tmpfs'",
          "findmnt -n -o FSTYPE /etc | grep -qx overlay || fail '/etc is no overlay'",
          "findmnt -n /usr/share/oem >/dev/null || fail 'no OEM partition on /usr/share/oem'",
          "[[ -d /home/chronos ]] || fail 'no /home/chronos'",
          "if touch /usr/pci-e2e 2>/dev/null; then fail '/usr is writable'; fi",
          "size=$(df -B1M --output=size /mnt/stateful_partition | tail -1)",
          'echo "TestStatus: stateful partition $size MiB"',
          '((size > 7168)) || fail "the stateful partition has only $size MiB"',
          '[[ "$(rootdev -s)" == /dev/nvme0n1p5 ]] || fail "booted from $(rootdev -s), not ROOT-B"',
        ].join("\n"),
      ),
      // The image was built for an NVMe-only series; it boots on one, as its users' VMs would.
      { machineType: "c3-standard-4" },
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expectNoTemporaries(cloud.emulator, [outs.imageName]);
  });
});

describe("e2e: a script that writes /usr fails as on COS (read-only root)", function () {
  const build = buildOncePerSuite(
    "writes-usr",
    { "usr.sh": "#!/bin/bash\nset -e\necho probe > /etc/pci-e2e-probe\ntouch /usr/pci-e2e\n" },
    { steps: [{ runScript: { script: "usr.sh" } }] },
  );

  it("fails the step with the script's own error", () => {
    const { failure, cloud } = build();
    expect(failure, "the build failed").to.be.instanceOf(Error);
    expect(failure!.message).to.match(/^the image build failed in step 1\/1 runScript usr\.sh:/);
    expect(failure!.message).to.include(
      "touch: cannot touch '/usr/pci-e2e': Read-only file system",
    );
    expectNoTemporaries(cloud.emulator, []);
  });
});
