import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { FakeCosDisk, GIB_SECTORS } from "./harness/cosDisk";
import { BUILD_ID, Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine } from "./harness/serial";
import { grubConfig } from "./harness/grubConfig";
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

const GRUB_CFG = grubConfig(
  [
    [
      "local image A",
      "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd boot=local rootwait ro cros_efi root=/dev/dm-0",
    ],
    [
      "verified image B",
      "/syslinux/vmlinuz.B init=/usr/lib/systemd/systemd cros_efi console=ttyS0",
    ],
  ],
  ["set timeout=0"],
);

describe("provisioner: installGpuDriver, disableAutoUpdate", function () {
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
    // The installer is not kept in the image; the boot-time setup is, pinned to the version installed.
    expect(fs.existsSync(box.machinePath(`var/lib/nvidia/${INSTALLER}`))).to.equal(false);
    const setup = fs.readFileSync(box.machinePath("var/lib/nvidia/setup_gpu.sh"), "utf8");
    expect(setup).to.include("readonly install_dir=/var/lib/nvidia\n");
    expect(setup).to.include("readonly version=535.183.01\n");
    expect(setup).not.to.include("{{");
    expect(fs.statSync(box.machinePath("var/lib/nvidia/setup_gpu.sh")).mode & 0o777).to.equal(
      0o755,
    );
    const unit = fs.readFileSync(
      box.machinePath("var/lib/nvidia/preloaded-cos-image-gpu.service"),
      "utf8",
    );
    expect(unit).to.include('ExecStart=/bin/bash "/var/lib/nvidia/setup_gpu.sh"\n');
    expect(unit).to.include("WantedBy=multi-user.target");
    const checked = spawnSync("shellcheck", ["--shell=bash", "-"], {
      input: setup,
      encoding: "utf8",
    });
    expect(checked.stdout + checked.stderr).to.equal("");
    expect(checked.status).to.equal(0);
  });

  it("writes a boot-time setup that loads the cached driver with cos-extensions and runs nvidia-smi", async () => {
    const box = sandbox({
      config: testConfig([gpu({ version: "latest", installDir: "/home/gpu/drivers" })]),
      env: { STUB_GPU_INSTALLER_FILE: "NVIDIA-Linux-x86_64-550.90.07.run" },
    });
    expect(finalLine((await box.run()).serial)).to.match(/^BuildSucceeded: /);
    const dir = box.machinePath("home/gpu/drivers");
    expect(fs.readdirSync(dir).sort()).to.deep.equal([
      "preloaded-cos-image-gpu.service",
      "setup_gpu.sh",
    ]);
    // At boot: the same stubs, and a driver whose nvidia-smi says it ran.
    fs.mkdirSync(path.join(dir, "bin"));
    fs.writeFileSync(path.join(dir, "bin", "nvidia-smi"), "#!/bin/bash\necho nvidia-smi ran\n", {
      mode: 0o755,
    });
    fs.rmSync(box.callsFile);
    const boot = spawnSync("bash", [path.join(dir, "setup_gpu.sh")], {
      env: box.env(),
      encoding: "utf8",
    });
    expect(boot.stderr).to.equal("");
    expect(boot.status).to.equal(0);
    expect(boot.stdout).to.include("nvidia-smi ran");
    expect(box.calls("cos-extensions").map((call) => call.args)).to.deep.equal([
      ["install", "gpu", "--", "-version=550.90.07", `-host-dir=${dir}`],
    ]);
    expect(box.calls("mount").map((call) => call.args)).to.deep.equal([
      ["--bind", dir, dir],
      ["-o", "remount,exec", dir],
    ]);
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
    // The disk layout that disableAutoUpdate implies (ROOT-A reclaimed) is there already; its
    // stages are tested in diskLayout.test.ts.
    new FakeCosDisk(box, "nvme0n1", 10 * GIB_SECTORS).reclaimed();
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
    expect(box.calls("blkid").map((call) => call.args)).to.deep.include([
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
    new FakeCosDisk(box, "sda", 10 * GIB_SECTORS).reclaimed();
    fs.rmSync(box.machinePath("dev/disk/by-partlabel/EFI-SYSTEM"));
    expect(finalLine((await box.run()).serial)).to.equal(
      "BuildFailed: step 1/1 disableAutoUpdate: no EFI-SYSTEM partition found",
    );
  });
});
