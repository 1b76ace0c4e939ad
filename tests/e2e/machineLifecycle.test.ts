/**
 * Machine life cycle on a real guest: a guest reboot keeps the machine (and its serial capture)
 * going, an API stop powers the guest off through ACPI, a guest that ignores the power button is
 * quit after the grace period, and no QEMU outlives the Node process that started it.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { oneshotUnitCloudConfig } from "./helpers/cloudConfig";
import { instancePerTest, secondsSinceBoot, sharedGuestImage } from "./helpers/guestFixture";
import { makeFatDisk } from "./helpers/hostTools";
import { serialText, waitForSerial } from "./helpers/serialWait";

const REBOOT_ONCE_SCRIPT = `#!/bin/bash
set -euo pipefail
marker=/var/lib/pci-e2e-rebooted
if [ -e "$marker" ]; then
  echo "BuildStatus: second boot, cidata is $(readlink -f /dev/disk/by-id/google-cidata), powering off"
  systemctl poweroff
else
  echo "BuildStatus: first boot, waiting for the CIDATA disk"
  for _ in $(seq 1 600); do
    [ -e /dev/disk/by-id/google-cidata ] && break
    sleep 1
  done
  touch "$marker"
  sync
  echo "BuildStatus: first boot, rebooting"
  systemctl reboot
fi
`;

const READY_SCRIPT = `#!/bin/bash
echo "BuildStatus: ready for an API stop"
`;

describe("e2e: machine life cycle on the local guest", function () {
  const bootTestInstance = instancePerTest();

  it("keeps running through a guest reboot, with its disks and serial output continuing", async function () {
    const userData = oneshotUnitCloudConfig("pci-e2e-reboot", REBOOT_ONCE_SCRIPT, { enable: true });
    const instance = await bootTestInstance("reboot", userData);
    const { machine } = instance;

    await waitForSerial(
      machine,
      3,
      /BuildStatus: first boot, waiting for the CIDATA disk/,
      10 * 60_000,
    );
    const cidata = path.join(instance.directory, "cidata.raw");
    await makeFatDisk(cidata, "CIDATA", { "hello.txt": "hello\n" });
    await machine.attachDisk({ file: cidata, format: "raw", deviceName: "cidata", readOnly: true });
    await waitForSerial(machine, 3, /BuildStatus: first boot, rebooting/, 5 * 60_000);
    const firstPid = machine.pid;
    const exit = await machine.exited;
    console.log(`      [e2e timing] boot, reboot, boot, power-off: ${secondsSinceBoot(machine)} s`);

    expect(exit).to.include({ code: 0, shutdownReason: "guest-shutdown" });
    expect(machine.reboots).to.equal(1);
    expect(machine.pid, "a fresh QEMU process served the second boot").to.not.equal(firstPid);
    const port3 = await serialText(machine, 3);
    // Which sdX the CIDATA disk gets is the kernel's asynchronous SCSI scan's choice (on GCE too;
    // by-id names are what is stable): on a loaded host it was once /dev/sda. Attached it must be.
    const secondBoot = /BuildStatus: second boot, cidata is \/dev\/sd[a-z], powering off/.exec(
      port3,
    );
    expect(secondBoot, `the hot-plugged disk is still attached:\n${port3}`).to.not.equal(null);
    expect(secondBoot!.index).to.be.greaterThan(
      port3.indexOf("BuildStatus: first boot, rebooting"),
    );
    const kernelBanners = (await serialText(machine, 1)).match(/Linux version /g) ?? [];
    expect(kernelBanners, "two kernel boots on serial port 1").to.have.length(2);
  });

  it("powers the guest off cleanly on an API stop, within the grace period", async function () {
    const instance = await bootTestInstance(
      "api-stop",
      oneshotUnitCloudConfig("pci-e2e-ready", READY_SCRIPT),
    );
    const { machine } = instance;
    await waitForSerial(machine, 3, /BuildStatus: ready for an API stop/, 10 * 60_000);

    const graceMs = 120_000;
    const started = Date.now();
    const exit = await machine.powerDown(graceMs);
    const elapsed = Date.now() - started;
    console.log(
      `      [e2e timing] API stop (ACPI power button) to exit: ${(elapsed / 1000).toFixed(1)} s`,
    );

    expect(exit, "the guest shut itself down").to.include({
      code: 0,
      shutdownReason: "guest-shutdown",
    });
    expect(elapsed).to.be.lessThan(graceMs);
    expect(await serialText(machine, 1)).to.match(/reboot: Power down/);
  });

  it("quits the machine after the grace period when the guest does not react to the power button", async function () {
    // Right after start the kernel is not up yet, so nothing in the guest handles the ACPI event.
    const instance = await bootTestInstance("hard-stop", "#cloud-config\n");
    const exit = await instance.machine.powerDown(1_000);

    expect(exit).to.include({ code: 0, shutdownReason: "host-qmp-quit" });
    expect(instance.machine.running).to.equal(false);
  });

  it("leaves no QEMU behind when the Node process that started it is killed", async function () {
    const image = await sharedGuestImage();
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "pci-e2e-orphan-"));
    try {
      // A separate Node process starts a machine, prints its pid, then dies by SIGKILL (no exit hooks).
      const script = `
        const { startMachine } = require(${JSON.stringify(path.resolve(__dirname, "../../emulator/qemu"))});
        startMachine({
          name: "orphan", workDir: ${JSON.stringify(directory)}, metadataPort: 9,
          kernel: ${JSON.stringify(image.kernel)}, initrd: ${JSON.stringify(image.initrd)},
          kernelCommandLine: "console=ttyS0", disks: [],
        }).then((machine) => { console.log(machine.pid); process.kill(process.pid, "SIGKILL"); });
      `;
      // TMPDIR: the QMP directory the killed parent cannot remove lands in `directory`, removed below.
      const parent = spawn(process.execPath, ["-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, TMPDIR: directory },
      });
      let output = "";
      parent.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await new Promise((resolve) => parent.once("close", resolve));
      const qemuPid = Number(output.trim());
      expect(qemuPid, `pid printed by the parent: "${output}"`).to.be.greaterThan(0);

      const deadline = Date.now() + 10_000;
      while (isAlive(qemuPid) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(isAlive(qemuPid), `QEMU ${qemuPid} still runs after its parent died`).to.equal(false);
    } finally {
      await fs.rm(directory, { recursive: true, force: true });
    }
  });
});

/** True while `pid` is a running process (a zombie waiting to be reaped counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = readProcessState(pid);
  return state !== undefined && state !== "Z";
}

function readProcessState(pid: number): string | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return undefined;
  }
}
