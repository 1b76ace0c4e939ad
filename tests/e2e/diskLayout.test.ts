/**
 * COS's disk-layout steps built on the COS-shaped stand-in and proven as COS Customizer's own
 * integration tests prove them: on the output image file (its GPT, the OEM filesystem read with
 * debugfs at its offset, the dm-verity tree checked by the host's `veritysetup verify`) and by a VM
 * booted from the image (serial port 2 verdict). Each suite shares one build between its checks.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { chromeOsAttributes, SECTOR_BYTES } from "../../emulator/qemu";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { fatReadFile, imagePartition, readImageGpt } from "./helpers/diskImage";
import { ext4ReadFile } from "./helpers/ext4Image";
import { buildOncePerSuite, successfulBuild } from "./helpers/qemuCloud";
import { verificationScript, verifyOnNewVm } from "./helpers/verificationVm";

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const ROOT_A_START = 4509696;

/** A script that leaves a file on OEM (/usr/share/oem) and one on STATE (/var/lib). */
const WRITE_FILES = [
  "#!/bin/bash",
  "set -euo pipefail",
  "echo oem-data > /usr/share/oem/pci-e2e-oem",
  "mkdir -p /var/lib/pci-e2e && echo state-data > /var/lib/pci-e2e/state-file",
  'echo "OEM: $(df -B1M --output=size /usr/share/oem | tail -1) MiB"',
  "",
].join("\n");

/** Copies partition `name` of `image` to a file of its own (veritysetup takes devices or files). */
async function partitionFile(image: string, name: string, dir: string): Promise<string> {
  const partition = await imagePartition(image, name);
  const file = path.join(dir, `${name}.img`);
  await execFileAsync("dd", [
    `if=${image}`,
    `of=${file}`,
    "bs=1M",
    `skip=${partition.firstLba * SECTOR_BYTES}`,
    `count=${(partition.lastLba - partition.firstLba + 1) * SECTOR_BYTES}`,
    "iflag=skip_bytes,count_bytes",
    "status=none",
  ]);
  return file;
}

/** `oemroot`'s table in a dm="..." kernel argument: its sectors, hash start and root digest. */
function oemVerityTarget(line: string): { sectors: number; hashStart: number; digest: string } {
  const match =
    /oemroot none ro 1,0 (\d+) verity payload=PARTUUID=\S+ hashtree=PARTUUID=\S+ hashstart=(\d+) alg=sha256 root_hexdigest=([0-9a-f]{64})/.exec(
      line,
    );
  if (!match) throw new Error(`no oemroot verity target in: ${line}`);
  return { sectors: Number(match[1]), hashStart: Number(match[2]), digest: match[3] };
}

describe("e2e: sealOemPartition 50M on a 10 GB disk (ROOT-A reclaimed, OEM grown and sealed)", function () {
  const build = buildOncePerSuite(
    "seal-oem",
    { "write.sh": WRITE_FILES },
    {
      diskSizeGb: 10,
      steps: [
        { extendOemPartition: { size: "50M" } },
        { runScript: { script: "write.sh" } },
        { sealOemPartition: {} },
      ],
    },
  );

  it("reclaimed ROOT-A, moved OEM after it at twice its size less 1 MiB, STATE after OEM", async () => {
    const { imageFile } = successfulBuild(build());
    const table = await readImageGpt(imageFile);
    const byName = (name: string) => table.partitions.find((p) => p.name === name)!;
    const rootA = byName("ROOT-A");
    expect(rootA.lastLba - rootA.firstLba + 1, "ROOT-A sectors").to.equal(8);
    const oem = byName("OEM");
    expect(oem.firstLba).to.equal(ROOT_A_START + 4096);
    expect((oem.lastLba - oem.firstLba + 1) * SECTOR_BYTES).to.equal(99 * MIB);
    const state = byName("STATE");
    expect(state.firstLba).to.equal(oem.lastLba + 1);
    // COS Customizer's own threshold for a reclaimed 10 GB disk.
    expect((state.lastLba - state.firstLba + 1) * SECTOR_BYTES, "STATE bytes").to.be.greaterThan(
      7168 * MIB,
    );
    const kernA = chromeOsAttributes(table.partitions.find((p) => p.number === 2)!);
    const kernB = chromeOsAttributes(table.partitions.find((p) => p.number === 4)!);
    expect(kernB.priority, "KERN-B boots").to.be.greaterThan(kernA.priority);
  });

  it("appended the oemroot verity target to every dm= table and masked the OEM mount and update-engine", async () => {
    const { imageFile } = successfulBuild(build());
    const grub = await fatReadFile(imageFile, "EFI-SYSTEM", "/efi/boot/grub.cfg");
    const entries = grub.split("\n").filter((line) => /\bcros_efi\b/.test(line));
    expect(entries).to.have.length(4);
    for (const line of entries) {
      expect(line).to.include("systemd.mask=usr-share-oem.mount");
      expect(line).to.include("systemd.mask=update-engine.service");
    }
    const verified = entries.filter((line) => line.includes(' dm="'));
    expect(verified).to.have.length(2);
    for (const line of verified) {
      expect(line).to.match(
        / dm="2 vroot none ro 1,0 \d+ linear PARTUUID=\S+ 0,oemroot none ro 1,/,
      );
      expect(oemVerityTarget(line)).to.deep.include({
        sectors: (50 * MIB) / SECTOR_BYTES,
        hashStart: (50 * MIB) / SECTOR_BYTES,
      });
    }
  });

  it("wrote a hash tree that the host's veritysetup verifies, over an OEM that holds the script's file", async () => {
    const { imageFile } = successfulBuild(build());
    const grub = await fatReadFile(imageFile, "EFI-SYSTEM", "/efi/boot/grub.cfg");
    const { digest } = oemVerityTarget(grub.split("\n").find((line) => line.includes(" dm="))!);
    expect(await ext4ReadFile(imageFile, "/usr/share/oem/pci-e2e-oem")).to.equal("oem-data\n");
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-verity-"));
    try {
      const oem = await partitionFile(imageFile, "OEM", dir);
      const verify = (file: string) =>
        execFileAsync("veritysetup", [
          "verify",
          "--no-superblock",
          "--format=1",
          "--hash=sha256",
          "--data-block-size=4096",
          "--hash-block-size=4096",
          `--data-blocks=${(50 * MIB) / 4096}`,
          `--hash-offset=${50 * MIB}`,
          "--salt=-",
          file,
          file,
          digest,
        ]);
      await verify(oem);
      // One changed byte of the data area must fail the check.
      const handle = await fs.open(oem, "r+");
      await handle.write(Buffer.from("X"), 0, 1, 20 * MIB);
      await handle.close();
      const tampered = await verify(oem).then(
        () => "verified",
        (error: Error) => error.message,
      );
      expect(tampered).to.include("Verification failed");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("boots a VM where /dev/dm-1 mounts read-only on /usr/share/oem, and a changed OEM does not verify", async () => {
    const { cloud, outs } = successfulBuild(build());
    const result = await verifyOnNewVm(
      cloud,
      outs.imageSelfLink,
      "verify-seal-oem",
      verificationScript(
        [
          "[[ -b /dev/dm-1 ]] || fail 'no /dev/dm-1'",
          '[[ "$(cat /sys/block/dm-1/dm/name)" == oemroot ]] || fail "dm-1 is not oemroot"',
          'state="$(systemctl is-enabled usr-share-oem.mount 2>&1 || true)"',
          '[[ $state == masked* ]] || fail "usr-share-oem.mount is $state"',
          'state="$(systemctl is-enabled update-engine.service 2>&1 || true)"',
          '[[ $state == masked* ]] || fail "update-engine is $state"',
          "! findmnt -n /usr/share/oem >/dev/null || fail 'OEM was mounted at boot'",
          "mount -o ro /dev/dm-1 /usr/share/oem",
          '[[ "$(cat /usr/share/oem/pci-e2e-oem)" == oem-data ]] || fail "the OEM file is missing"',
          "findmnt -n -o OPTIONS /usr/share/oem | grep -qw ro || fail 'OEM is not read-only'",
          "if touch /usr/share/oem/x 2>/dev/null; then fail 'sealed OEM is writable'; fi",
          '[[ "$(cat /var/lib/pci-e2e/state-file)" == state-data ]] || fail "the STATE file is missing"',
          'size=$(($(cat /sys/class/block/$(basename "$(readlink -f /dev/disk/by-partlabel/STATE)")/size) / 2048))',
          'echo "TestStatus: STATE has $size MiB"',
          '((size > 7168)) || fail "STATE has only $size MiB"',
          "umount /usr/share/oem",
          // Change a block of the data area under dm-verity, then read it through dm-1.
          "dd if=/dev/urandom of=/dev/disk/by-partlabel/OEM bs=4096 seek=1000 count=1 conv=notrunc,fsync status=none",
          "echo 3 > /proc/sys/vm/drop_caches",
          "if dd if=/dev/dm-1 of=/dev/null bs=4096 skip=1000 count=1 iflag=direct status=none 2>/dev/null; then fail 'a changed OEM block verified'; fi",
          'echo "TestStatus: the changed OEM block does not verify"',
        ].join("\n"),
      ),
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expectNoTemporaries(cloud.emulator, [outs.imageName]);
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
