/**
 * The checks of a `sealOemPartition` build, shared by every sealed size (50M on 10 GB in
 * diskLayout.test.ts, 1G on 12 GB on NVMe in sealOem1G.test.ts): the layout COS Customizer's seal-oem
 * makes (ROOT-A reclaimed, OEM after it at twice the size less 1 MiB, STATE after OEM), the
 * `oemroot` verity target in grub.cfg, the hash tree checked by the host's `veritysetup verify` on
 * the image file, and a VM booted from the image where `/dev/dm-1` mounts read-only and a block
 * changed after sealing does not verify.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { chromeOsAttributes, SECTOR_BYTES } from "../../../emulator/qemu";
import { expectNoTemporaries } from "../../orchestration/buildHarness";
import { veritysetupVerifyArgs } from "../../support/verity";
import { fatReadFile, imagePartition, readImageGpt } from "./diskImage";
import { ext4ReadFile } from "./ext4Image";
import { buildOncePerSuite, successfulBuild, type SuiteBuild } from "./qemuCloud";
import { verificationScript, verifyOnNewVm } from "./verificationVm";

const execFileAsync = promisify(execFile);
/** Bytes in a MiB. */
export const MIB = 1024 * 1024;
/** First sector of ROOT-A in COS's (and the stand-in's) partition table. */
export const ROOT_A_START = 4509696;

/** A script that leaves a file on OEM (/usr/share/oem) and one on STATE (/var/lib). */
export const WRITE_FILES = [
  "#!/bin/bash",
  "set -euo pipefail",
  "echo oem-data > /usr/share/oem/pci-e2e-oem",
  "mkdir -p /var/lib/pci-e2e && echo state-data > /var/lib/pci-e2e/state-file",
  'echo "OEM: $(df -B1M --output=size /usr/share/oem | tail -1) MiB"',
  "",
].join("\n");

/** One sealed build: what it asks for and what its STATE must hold. */
export interface SealedOemCase {
  /** The build's name; the verification VM is `verify-<name>`. */
  name: string;
  /** `extendOemPartition`'s size as the user writes it (`50M`, `1G`): the sealed filesystem. */
  size: string;
  /** The same size in bytes. */
  sizeBytes: number;
  /** The build's `diskSizeGb`. */
  diskSizeGb: number;
  /** The build's machine type; the verification VM boots on the same one. Default `e2-small` (SCSI). */
  machineType?: string;
  /** The least the STATE partition must have, in MiB, in the image file and in the booted VM. */
  minStateMiB: number;
}

/**
 * Registers, in the calling `describe`, one build of `extendOemPartition` `size`, a script that
 * writes OEM and STATE, and `sealOemPartition`, then the checks every sealed size shares. Returns
 * the build's getter, for the caller's own checks of the same build.
 */
export function sealedOemChecks(sealed: SealedOemCase): () => SuiteBuild {
  const build = buildOncePerSuite(
    sealed.name,
    { "write.sh": WRITE_FILES },
    {
      diskSizeGb: sealed.diskSizeGb,
      ...(sealed.machineType ? { machineType: sealed.machineType } : {}),
      steps: [
        { extendOemPartition: { size: sealed.size } },
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
    expect((oem.lastLba - oem.firstLba + 1) * SECTOR_BYTES).to.equal(2 * sealed.sizeBytes - MIB);
    const state = byName("STATE");
    expect(state.firstLba).to.equal(oem.lastLba + 1);
    expect((state.lastLba - state.firstLba + 1) * SECTOR_BYTES, "STATE bytes").to.be.greaterThan(
      sealed.minStateMiB * MIB,
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
        sectors: sealed.sizeBytes / SECTOR_BYTES,
        hashStart: sealed.sizeBytes / SECTOR_BYTES,
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
        execFileAsync("veritysetup", veritysetupVerifyArgs(sealed.sizeBytes, file, digest));
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
      `verify-${sealed.name}`,
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
          `((size > ${sealed.minStateMiB})) || fail "STATE has only $size MiB"`,
          "umount /usr/share/oem",
          // Change a block of the data area under dm-verity, then read it through dm-1.
          "dd if=/dev/urandom of=/dev/disk/by-partlabel/OEM bs=4096 seek=1000 count=1 conv=notrunc,fsync status=none",
          "echo 3 > /proc/sys/vm/drop_caches",
          "if dd if=/dev/dm-1 of=/dev/null bs=4096 skip=1000 count=1 iflag=direct status=none 2>/dev/null; then fail 'a changed OEM block verified'; fi",
          'echo "TestStatus: the changed OEM block does not verify"',
        ].join("\n"),
      ),
      sealed.machineType ? { machineType: sealed.machineType } : {},
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expectNoTemporaries(cloud.emulator, [outs.imageName]);
  });

  return build;
}

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
