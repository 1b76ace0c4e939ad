import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { startMachine, type Machine, type MachineSpec } from "../../../emulator/qemu/machine";

/** The launcher's state machine against a fake QEMU (./fakeQemu.ts); the real one runs in tests/e2e. */
describe("startMachine (with a fake QEMU)", function () {
  let dir: string;
  let log: string;
  let machine: Machine | undefined;
  const savedEnv = { ...process.env };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-machine-"));
    log = path.join(dir, "starts.jsonl");
    process.env.FAKE_QEMU_LOG = log;
    const fake = path.join(dir, "qemu-system-x86_64");
    // An executable that runs the compiled fake under this very Node.
    await fs.writeFile(
      fake,
      `#!/bin/sh\nexec ${process.execPath} ${path.join(__dirname, "fakeQemu.js")} "$@"\n`,
      {
        mode: 0o755,
      },
    );
  });
  afterEach(async () => {
    if (machine?.running) await machine.kill();
    machine = undefined;
    process.env = { ...savedEnv };
    await fs.rm(dir, { recursive: true, force: true });
  });

  function spec(): MachineSpec {
    return {
      name: "vm",
      workDir: path.join(dir, "vm"),
      kernel: "/k",
      initrd: "/i",
      kernelCommandLine: "root=LABEL=root",
      disks: [{ file: path.join(dir, "boot.qcow2"), format: "qcow2", deviceName: "boot" }],
      metadataPort: 8123,
      accelerator: "tcg",
      qemuBinary: path.join(dir, "qemu-system-x86_64"),
    };
  }

  async function starts(): Promise<string[][]> {
    const lines = (await fs.readFile(log, "utf8")).trim().split("\n");
    return lines.map((line) => (JSON.parse(line) as { argv: string[] }).argv);
  }

  /** A machine on the fake QEMU whose guest reboots `reboots` times, with the disk `data` hot-plugged. */
  async function startWithDataDisk(reboots: number): Promise<Machine> {
    process.env.FAKE_QEMU_REBOOTS = String(reboots);
    const started = await startMachine(spec());
    machine = started; // afterEach kills it
    await started.attachDisk({
      file: path.join(dir, "data.raw"),
      format: "raw",
      deviceName: "data",
    });
    return started;
  }

  it("restarts QEMU on a guest reboot, keeping hot-plugged disks and appending to the serial capture", async () => {
    process.env.FAKE_QEMU_REBOOTS = "1";
    machine = await startMachine(spec());
    const firstPid = machine.pid;
    await machine.attachDisk({
      file: path.join(dir, "cidata.raw"),
      format: "raw",
      deviceName: "cidata",
      readOnly: true,
    });
    await waitUntil(() => machine!.reboots === 1);
    await waitUntil(async () => (await starts()).length === 2);

    expect(machine.running).to.equal(true);
    expect(machine.pid).to.not.equal(firstPid);
    const second = (await starts())[1];
    const blockdevs = second
      .filter((_, index) => second[index - 1] === "-blockdev")
      .map((json) => JSON.parse(json) as { file: { filename: string } });
    expect(blockdevs.map((blockdev) => path.basename(blockdev.file.filename))).to.deep.equal([
      "boot.qcow2",
      "cidata.raw",
    ]);

    const exit = await machine.powerDown(5_000);
    expect(exit).to.include({ code: 0, shutdownReason: "guest-shutdown" });
    const { contents } = await machine.serial(1).read(0);
    expect(contents.toString()).to.equal("boot 1\nboot 2\n");
  });

  it("quits QEMU after the grace period when the guest ignores the power button", async () => {
    process.env.FAKE_QEMU_IGNORE_POWERDOWN = "1";
    machine = await startMachine(spec());
    const started = Date.now();
    const exit = await machine.powerDown(300);
    expect(exit).to.include({ code: 0, shutdownReason: "host-qmp-quit" });
    expect(Date.now() - started).to.be.at.least(300);
    expect(machine.running).to.equal(false);
  });

  it("does not restart a machine that is being stopped, and refuses disks once it has stopped", async () => {
    process.env.FAKE_QEMU_REBOOTS = "5";
    machine = await startMachine(spec());
    const exit = await machine.kill();
    expect(exit.shutdownReason).to.equal("host-qmp-quit");
    expect((await starts()).length).to.equal(1);
    let error: unknown;
    await machine
      .attachDisk({ file: "/x", format: "raw", deviceName: "late" })
      .catch((caught: unknown) => (error = caught));
    expect((error as Error).message).to.match(/not running/);
  });

  it("resizes a disk over QMP (block_resize on its block node), boot-time, hot-plugged, and after a reboot", async () => {
    const qmpLog = path.join(dir, "qmp.jsonl");
    process.env.FAKE_QEMU_QMP_LOG = qmpLog;
    const first = await startWithDataDisk(0);
    await first.resizeDisk("boot", 11 * 1024 ** 3);
    await first.resizeDisk("data", 3 * 1024 ** 3);
    let error: unknown;
    await first.resizeDisk("nope", 1).catch((caught: unknown) => (error = caught));
    expect((error as Error).message).to.equal("machine vm has no disk nope");
    const resizes = async () =>
      (await fs.readFile(qmpLog, "utf8"))
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { execute: string; arguments?: unknown })
        .filter((entry) => entry.execute === "block_resize")
        .map((entry) => entry.arguments);
    expect(await resizes()).to.deep.equal([
      { "node-name": "disk0", size: 11 * 1024 ** 3 },
      { "node-name": "hotplug0", size: 3 * 1024 ** 3 },
    ]);
    await first.kill();
    machine = undefined;

    // After a guest reboot, the next QEMU gets the hot-plugged disk at start, as disk1.
    await fs.rm(log, { force: true });
    await fs.rm(qmpLog, { force: true });
    const second = await startWithDataDisk(1);
    await waitUntil(() => second.reboots === 1);
    await second.resizeDisk("data", 4 * 1024 ** 3);
    expect(await resizes()).to.deep.equal([{ "node-name": "disk1", size: 4 * 1024 ** 3 }]);
  });

  it("fails to start with QEMU's own message when QEMU cannot start, leaving no QMP directory", async () => {
    process.env.TMPDIR = dir;
    let error: unknown;
    await startMachine({ ...spec(), qemuBinary: "/bin/false" }).catch(
      (caught: unknown) => (error = caught),
    );
    expect((error as Error).message).to.match(/^QEMU for vm did not start/);
    expect((await fs.readdir(dir)).filter((name) => name.startsWith("pci-qmp-"))).to.deep.equal([]);
  });
});

async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
