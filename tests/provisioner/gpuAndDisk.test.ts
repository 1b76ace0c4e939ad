import { expect } from "chai";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { BUILD_ID, Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

const INSTALLER = "NVIDIA-Linux-x86_64-535.183.01-custom.run";
const INSTALLER_CONTENT = "fake nvidia installer";
const INSTALLER_MD5 = createHash("md5").update(INSTALLER_CONTENT).digest("hex");

const gpu = (
  overrides: Partial<Extract<ProvisionerStep, { type: "installGpuDriver" }>> = {},
): ProvisionerStep => ({
  type: "installGpuDriver",
  version: "535.183.01",
  md5sum: "",
  installDir: "/var/lib/nvidia",
  depsDir: "",
  ...overrides,
});

const GRUB_CFG = [
  'menuentry "local image A" {',
  "  linux /syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro cros_efi root=/dev/dm-0",
  "}",
  'menuentry "verified image B" {',
  "  linux /syslinux/vmlinuz.B init=/usr/lib/systemd/systemd cros_efi console=ttyS0",
  "}",
  "set timeout=0",
  "",
].join("\n");

describe("provisioner: installGpuDriver, disableAutoUpdate, disk steps", function () {
  this.timeout(30_000);
  const { sandbox } = useSandboxes();
  /** A sandbox with a scratch disk device and a directory that mounting it shows. */
  const withScratch = (step: ProvisionerStep, env: Record<string, string> = {}): Sandbox => {
    const box = sandbox({ config: testConfig([step]), env, mounts: {} });
    const device = box.machinePath("dev/disk/by-id/google-scratch");
    fs.mkdirSync(path.dirname(device), { recursive: true });
    fs.writeFileSync(device, "");
    const scratch = path.join(box.base, "scratch-disk");
    fs.mkdirSync(scratch);
    fs.writeFileSync(path.join(box.base, "mounts.map"), `${device}\t${scratch}\n`);
    return box;
  };

  it("installs with cos-extensions, the toolchain on the formatted scratch disk, and checks the md5sum", async () => {
    const box = withScratch(gpu({ md5sum: INSTALLER_MD5.toUpperCase() }), {
      STUB_GPU_INSTALLER_FILE: INSTALLER,
      STUB_GPU_INSTALLER_CONTENT: INSTALLER_CONTENT,
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const device = box.machinePath("dev/disk/by-id/google-scratch");
    const cache = box.machinePath("var/lib/cos-extensions");
    const scratchMount = box.machinePath("mnt/disks/scratch");
    expect(box.calls("mkfs.ext4").map((call) => call.args)).to.deep.equal([
      ["-q", "-F", "-L", "pci-scratch", device],
    ]);
    expect(box.calls("cos-extensions").map((call) => call.args)).to.deep.equal([
      [
        "install",
        "gpu",
        "--",
        "--use-build-tools-cache",
        "-version=535.183.01",
        `-host-dir=${box.machinePath("var/lib/nvidia")}`,
      ],
    ]);
    const mounts = box.calls("mount").map((call) => call.args);
    expect(mounts).to.deep.include(["-t", "ext4", device, scratchMount]);
    expect(mounts).to.deep.include(["--bind", `${scratchMount}/cos-extensions`, cache]);
    const unmounts = box.calls("umount").map((call) => call.args[0]);
    expect(unmounts.indexOf(cache)).to.be.lessThan(unmounts.indexOf(scratchMount));
    expect(fs.existsSync(scratchMount)).to.equal(false);
    expect(fs.existsSync(cache)).to.equal(false);
    expect(fs.existsSync(path.join(box.base, "scratch-disk", "cos-extensions"))).to.equal(true);
    expect(result.serial).to.include(`BuildStatus: md5sum of ${INSTALLER} matches`);
  });

  it("leaves out -version for the default driver, honours installDir, and skips a missing scratch disk", async () => {
    const box = sandbox({
      config: testConfig([gpu({ version: "default", installDir: "/home/gpu/drivers" })]),
    });
    const result = await box.run();
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    expect(box.calls("cos-extensions").map((call) => call.args)).to.deep.equal([
      ["install", "gpu", "--", `-host-dir=${box.machinePath("home/gpu/drivers")}`],
    ]);
    expect(box.calls("mkfs.ext4")).to.deep.equal([]);
    expect(fs.statSync(box.machinePath("home/gpu/drivers")).isDirectory()).to.equal(true);
  });

  it("does not reformat a scratch disk that is already ext4", async () => {
    const box = withScratch(gpu({ version: "latest" }), { STUB_SCRATCH_FSTYPE: "ext4" });
    const result = await box.run();
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    expect(box.calls("mkfs.ext4")).to.deep.equal([]);
    expect(box.calls("cos-extensions")[0].args).to.include("-version=latest");
  });

  it("fails on an md5sum mismatch, on a failing installer, and on depsDir installers", async () => {
    const mismatch = sandbox({
      config: testConfig([gpu({ md5sum: "0".repeat(32) })]),
      env: { STUB_GPU_INSTALLER_FILE: INSTALLER, STUB_GPU_INSTALLER_CONTENT: INSTALLER_CONTENT },
    });
    expect(finalLine((await mismatch.run()).serial)).to.equal(
      `BuildFailed: step 1/1 installGpuDriver: md5sum mismatch: no driver installer in /var/lib/nvidia has md5 ${"0".repeat(32)}`,
    );
    const failing = sandbox({
      config: testConfig([gpu()]),
      env: { STUB_COS_EXTENSIONS_EXIT: "1" },
    });
    expect(finalLine((await failing.run()).serial)).to.equal(
      "BuildFailed: step 1/1 installGpuDriver: cos-extensions install gpu failed",
    );
    const deps = sandbox({
      config: testConfig([gpu({ version: "NVIDIA-Linux-x86_64-535.183.01.run", depsDir: "deps" })]),
    });
    expect(finalLine((await deps.run()).serial)).to.match(
      /^BuildFailed: step 1\/1 installGpuDriver: installers from depsDir \(\.run files\) are not supported yet: /,
    );
    expect(deps.calls("cos-extensions")).to.deep.equal([]);
  });

  it("masks update-engine on every COS boot entry of the EFI partition, idempotently", async () => {
    const efi = "/dev/nvme0n1p12";
    const box = sandbox({
      config: testConfig([{ type: "disableAutoUpdate" }, { type: "disableAutoUpdate" }]),
      env: { STUB_EFI_DEVICE: efi },
    });
    const partition = path.join(box.base, "efi-partition");
    fs.mkdirSync(path.join(partition, "efi", "boot"), { recursive: true });
    fs.writeFileSync(path.join(partition, "efi", "boot", "grub.cfg"), GRUB_CFG);
    fs.writeFileSync(path.join(box.base, "mounts.map"), `${efi}\t${partition}\n`);
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const grub = fs.readFileSync(path.join(partition, "efi", "boot", "grub.cfg"), "utf8");
    expect(grub).to.equal(
      GRUB_CFG.replaceAll(" cros_efi", " cros_efi systemd.mask=update-engine.service"),
    );
    expect(box.calls("blkid")[0].args).to.deep.equal([
      "-o",
      "device",
      "-t",
      "PARTLABEL=EFI-SYSTEM",
    ]);
    expect(box.calls("mount").map((call) => call.args)).to.deep.include([
      "-t",
      "vfat",
      efi,
      box.machinePath("mnt/disks/efi"),
    ]);
    expect(fs.existsSync(box.machinePath("mnt/disks/efi"))).to.equal(false);
  });

  it("fails disableAutoUpdate clearly without an EFI-SYSTEM partition", async () => {
    const box = sandbox({ config: testConfig([{ type: "disableAutoUpdate" }]) });
    expect(finalLine((await box.run()).serial)).to.equal(
      "BuildFailed: step 1/1 disableAutoUpdate: no EFI-SYSTEM partition found",
    );
  });

  for (const step of [
    { type: "extendOemPartition", sizeBytes: 1 << 30 },
    { type: "sealOemPartition" },
    { type: "reclaimRootPartition" },
  ] as ProvisionerStep[]) {
    it(`rejects ${step.type} as not supported yet`, async () => {
      const box = sandbox({ config: testConfig([step]) });
      const result = await box.run();
      expectWellFormedRun(result.serial, BUILD_ID);
      expect(finalLine(result.serial)).to.equal(
        `BuildFailed: step 1/1 ${step.type}: this step is not supported yet`,
      );
    });
  }
});
