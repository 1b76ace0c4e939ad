/**
 * The disk-layout state machine of extendOemPartition, sealOemPartition, reclaimRootPartition and
 * disableAutoUpdate (provisioner-assets/steps/disk-layout/), run by the real provisioner in a
 * sandbox against a fake COS disk: which reboot comes next from each state, what each stage hands
 * to the shutdown (the relocation plan), resuming after each reboot without repeating a stage, the
 * mid-build resize request, and failures that name the step.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { MARKERS, type ProvisionerStep } from "../../components/guest/protocol";
import { parseBuildLine, startedStepOf } from "../../components/guest/serialLines";
import { FakeCosDisk, GIB_SECTORS } from "./harness/cosDisk";
import { BUILD_ID, Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine, serialLines } from "./harness/serial";
import { grubConfig } from "./harness/grubConfig";
import { useSandboxes } from "./harness/useSandboxes";

const MIB = 1024 * 1024;

/** The steps a run's status lines say have started, in order, as the orchestrator reads them. */
function startedSteps(serial: string): string[] {
  return serialLines(serial).flatMap((line) => {
    const event = parseBuildLine(line);
    const step = event.kind === "status" ? startedStepOf(event.text) : undefined;
    return step === undefined ? [] : [step];
  });
}
const GRUB_CFG = grubConfig([
  [
    "local image A",
    "/syslinux/vmlinuz.A init=/usr/lib/systemd/systemd ro cros_efi root=PARTUUID=AAAA",
  ],
  [
    "verified image A",
    '/syslinux/vmlinuz.A ro cros_efi root=/dev/dm-0 dm="1 vroot none ro 1,0 4194304 linear PARTUUID=AAAA 0"',
  ],
]);

describe("provisioner: the disk layout (reclaim, resize request, relocation at shutdown)", function () {
  this.timeout(60_000);
  const { sandbox, metadata } = useSandboxes();

  afterEach(() => metadata.deleteAttribute("pci-disk-resized"));

  /** A sandbox with a fake COS disk and an EFI partition holding GRUB_CFG. */
  const machine = (
    steps: ProvisionerStep[],
    options: {
      disk?: "sda" | "nvme0n1";
      sectors?: number;
      diskSizeGb?: number;
      resizeTimeoutSeconds?: number;
    } = {},
  ): { box: Sandbox; disk: FakeCosDisk; grub: string } => {
    const diskName = options.disk ?? "sda";
    const efi = `/dev/${diskName === "sda" ? "sda12" : "nvme0n1p12"}`;
    const box = sandbox({
      config: testConfig(steps, {
        diskSizeGb: options.diskSizeGb ?? 10,
        diskResizeTimeoutSeconds: options.resizeTimeoutSeconds ?? 3,
      }),
      env: { STUB_EFI_DEVICE: efi, STUB_PARTUUID: "0e3d6f3c-3f6e-4c1a-9a51-6b1d2c3e4f58" },
    });
    const disk = new FakeCosDisk(box, diskName, options.sectors ?? 10 * GIB_SECTORS);
    const partition = path.join(box.base, "efi-partition");
    fs.mkdirSync(path.join(partition, "efi", "boot"), { recursive: true });
    const grub = path.join(partition, "efi", "boot", "grub.cfg");
    fs.writeFileSync(grub, GRUB_CFG);
    fs.writeFileSync(path.join(box.base, "mounts.map"), `${efi}\t${partition}\n`);
    return { box, disk, grub };
  };
  it("reclaims ROOT-A (disableAutoUpdate): B, then the relocation at shutdown, then the steps; no stage twice", async () => {
    const { box, disk, grub } = machine([{ type: "disableAutoUpdate" }], { disk: "nvme0n1" });
    const rootA = fs.readFileSync(disk.device("ROOT-A"), "utf8");

    // Boot 1, from ROOT-A: copy A to B, make KERN-B the highest priority, reboot.
    const first = await box.run({ onSerial: undefined });
    expectWellFormedRun(first.serial, BUILD_ID);
    expect(finalLine(first.serial), first.serial).to.equal(undefined);
    expect(fs.readFileSync(disk.device("ROOT-B"), "utf8")).to.equal(rootA);
    expect(box.calls("cgpt").map((call) => call.args)).to.deep.equal([
      ["prioritize", "-P", "5", "-i", "4", "/dev/nvme0n1"],
    ]);
    expect(box.calls("reboot")).to.have.length(1);
    // The reboot is mid-step: the next boot goes on with the layout, not with a next step.
    expect(first.serial).to.include(
      "rebooting, as the step asked; the disk layout goes on with its next stage after the reboot",
    );
    expect(fs.existsSync(box.machinePath("var/lib/.preloaded-cos-image/running"))).to.equal(false);

    // Boot 2, from ROOT-B: the relocation unit is installed and started, journald leaves /var.
    disk.bootFrom("ROOT-B");
    const second = await box.run();
    expectWellFormedRun(second.serial, BUILD_ID);
    expect(finalLine(second.serial)).to.equal(undefined);
    expect(box.calls("reboot")).to.have.length(2);
    expect(box.calls("cgpt")).to.have.length(1);
    const plan = disk.relocationPlan();
    expect(plan).to.deep.include({
      DISK: "/dev/nvme0n1",
      STATE_NR: "1",
      OEM_NR: "8",
      ROOT_A_NR: "3",
      SHRINK_ROOT_A: "true",
      NEW_STATE_START: String(4509696 + 4096),
      NEW_OEM_SIZE: "0",
      STATUS_MARKER: MARKERS.status,
    });
    const unit = fs.readFileSync(
      box.machinePath("etc/systemd/system/pci-relocate-partitions.service"),
      "utf8",
    );
    expect(unit).to.include("Before=mnt-stateful_partition.mount usr-share-oem.mount");
    expect(unit).to.include(
      "ExecStop=/bin/bash /run/preloaded-cos-image/relocation/relocate-partitions.sh /run/preloaded-cos-image/relocation/plan",
    );
    expect(box.calls("systemctl").map((call) => call.args)).to.deep.include([
      "start",
      "pci-relocate-partitions.service",
    ]);
    expect(box.calls("journalctl").map((call) => call.args)).to.deep.equal([["--relinquish-var"]]);
    expect(fs.readFileSync(grub, "utf8"), "the step has not run yet").to.equal(GRUB_CFG);

    // Boot 3: the partitions moved at shutdown; the layout is done and the step runs.
    disk.applyRelocation(plan!);
    const third = await box.run();
    expectWellFormedRun(third.serial, BUILD_ID);
    expect(finalLine(third.serial)).to.match(/^BuildSucceeded: /);
    expect(box.calls("reboot")).to.have.length(2);
    expect(fs.readFileSync(grub, "utf8")).to.equal(
      GRUB_CFG.replaceAll(" cros_efi", " cros_efi systemd.mask=update-engine.service"),
    );
  });

  it("fails the step, naming it, when the shutdown did not relocate the partitions", async () => {
    const { box, disk } = machine([
      { type: "runScript", script: "a.sh", allowReboot: false, env: {} },
      { type: "reclaimRootPartition" },
    ]);
    await box.run();
    disk.bootFrom("ROOT-B");
    await box.run();
    expect(disk.relocationPlan()).to.not.equal(undefined);
    const third = await box.run();
    expect(finalLine(third.serial)).to.match(
      /^BuildFailed: step 2\/2 reclaimRootPartition: the partitions were not relocated at the last shutdown \(its 'disk layout at shutdown' lines say why\): STATE to sector 4513792/,
    );
  });

  it("a machine that went down in the middle of a stage fails that step instead of repeating it", async () => {
    const { box } = machine([{ type: "reclaimRootPartition" }]);
    // The copy of ROOT-A to ROOT-B is under way when the machine stops.
    fs.writeFileSync(path.join(box.base, "bin", "cgpt"), "#!/bin/bash\nsleep 30\n");
    const first = await box.run({ terminateWhen: (serial) => serial.includes("copying ROOT-A") });
    const next = await box.run();
    // The step fails and is not run again, with the reason the next boot finds: a subshell that the
    // stop killed (a logged pipeline's) must not end the run as "stopped unexpectedly" first.
    expect(first.serial).to.not.match(/^BuildFailed:/m);
    expect(finalLine(next.serial)).to.match(
      /^BuildFailed: step 1\/1 reclaimRootPartition: the machine restarted while this step was running/,
    );
    expect(next.serial).to.not.contain("copying ROOT-A");
  });

  it("asks for the disk at diskSizeGb, then moves STATE and grows OEM after the resize (extendOemPartition 1G on 11 GB)", async () => {
    const { box, disk } = machine([{ type: "extendOemPartition", sizeBytes: 1024 * MIB }], {
      diskSizeGb: 11,
    });
    disk.setFilesystem("OEM", 16 * MIB);
    let asked = 0;
    const first = await box.run({
      onSerial: (serial) => {
        if (asked === 0 && serial.includes(`${MARKERS.diskResize} 11\n`)) {
          asked++;
          disk.resize(11 * GIB_SECTORS);
          metadata.setAttribute("pci-disk-resized", "11");
        }
      },
    });
    expectWellFormedRun(first.serial, BUILD_ID);
    expect(serialLines(first.serial)).to.include(`${MARKERS.diskResize} 11`);
    // Every run names the step its disk layout belongs to, so a machine that stops during the
    // relocation at shutdown fails in that step (watchProvisioner.ts reads it).
    expect(startedSteps(first.serial)).to.deep.equal(["step 1/1 extendOemPartition"]);
    expect(box.calls("cgpt"), "no reclaim: no root switch").to.deep.equal([]);
    const plan = disk.relocationPlan()!;
    // No reclaim: the start point is STATE's start; OEM gets 1023 MiB (COS Customizer's 1 MiB
    // shrink), STATE starts after it on a 4 KiB boundary.
    expect(plan).to.deep.include({
      SHRINK_ROOT_A: "false",
      NEW_OEM_START: "8704000",
      NEW_OEM_SIZE: String(1023 * 2048),
      NEW_STATE_START: String(8704000 + 1023 * 2048),
    });
    disk.applyRelocation(plan);
    const second = await box.run();
    expectWellFormedRun(second.serial, BUILD_ID);
    expect(finalLine(second.serial)).to.match(/^BuildSucceeded: /);
    expect(startedSteps(second.serial), "the layout's, then the step's").to.deep.equal([
      "step 1/1 extendOemPartition",
      "step 1/1 extendOemPartition",
    ]);
    expect(serialLines(second.serial), "not asked again").to.not.include(
      `${MARKERS.diskResize} 11`,
    );
    expect(box.calls("resize2fs").map((call) => call.args)).to.deep.equal([
      [disk.device("OEM"), `${1023 * 1024}K`],
    ]);
    expect(disk.filesystemBytes("OEM")).to.equal(1023 * MIB);
    const systemctl = box.calls("systemctl").map((call) => call.args.join(" "));
    expect(systemctl).to.include.members(["stop usr-share-oem.mount", "start usr-share-oem.mount"]);
    expect(second.serial).to.include("the OEM filesystem has 1023 MiB");
  });

  it("fails the step when the resize is not acknowledged in time", async () => {
    const { box } = machine([{ type: "extendOemPartition", sizeBytes: 1024 * MIB }], {
      diskSizeGb: 11,
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 extendOemPartition: the boot disk was not resized to 11 GB within 3 s",
    );
  });

  it("asks the disk's driver to look again when the larger disk does not show: SCSI rescan, NVMe rescan_controller", async () => {
    for (const diskName of ["sda", "nvme0n1"] as const) {
      const { box, disk } = machine([{ type: "reclaimRootPartition" }], {
        disk: diskName,
        diskSizeGb: 12,
        resizeTimeoutSeconds: 7,
      });
      // The disk's sysfs device directory, with the one rescan file its driver offers.
      const device = box.machinePath(`sys/class/block/${diskName}/device`);
      const rescanFile = path.join(device, diskName === "sda" ? "rescan" : "rescan_controller");
      fs.mkdirSync(device, { recursive: true });
      fs.writeFileSync(rescanFile, "");
      await box.run();
      disk.bootFrom("ROOT-B");
      metadata.setAttribute("pci-disk-resized", "12");
      await box.run();
      expect(fs.readFileSync(rescanFile, "utf8"), `${diskName}: rescan asked`).to.equal("1\n");
      metadata.deleteAttribute("pci-disk-resized");
    }
  });

  it("fails clearly when the resize is acknowledged but the kernel never sees the larger disk", async () => {
    const { box, disk } = machine([{ type: "reclaimRootPartition" }], { diskSizeGb: 12 });
    await box.run();
    disk.bootFrom("ROOT-B");
    metadata.setAttribute("pci-disk-resized", "12");
    // First the disk is read again at boot (a driver that reports no resize), then it fails.
    const asking = await box.run();
    expect(serialLines(asking.serial)).to.include(`${MARKERS.diskResize} 12`);
    expect(asking.serial).to.contain("the kernel still sees 10240 MiB after the resize");
    expect(finalLine(asking.serial)).to.equal(undefined);
    expect(box.calls("reboot")).to.have.length(2);
    const again = await box.run();
    expect(finalLine(again.serial)).to.match(
      /^BuildFailed: step 1\/1 reclaimRootPartition: the boot disk was resized to 12 GB, but the kernel still sees 10240 MiB/,
    );
  });
});
