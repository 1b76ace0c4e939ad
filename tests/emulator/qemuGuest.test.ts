import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { MachineRun } from "../../emulator/qemu";
import { machineDiskOf, qemuGuests } from "../../emulator/qemu";
import { guestSize } from "../../emulator/qemu/guestSize";
import { PROJECT, eventually, startHarness, waitOk, ZONE, type Harness } from "./harness";
import { attachDisk, cosBootDisk, insertDisk, insertInstance, instanceRef } from "./harness";
import { serialOutput, stopInstance } from "./harness";

/**
 * The instance model mapped onto QEMU machines, against the launcher's fake QEMU
 * (tests/emulator/qemu/fakeQemu.ts): which files, device names, serial ports and metadata port an
 * instance's machine gets, and how stop, guest power-off, reboot and hot-attach map. The real QEMU
 * runs the same backend in tests/e2e.
 */
describe("emulator: instances as QEMU machines (fake QEMU)", function () {
  let h: Harness;
  let dir: string;
  let runs: MachineRun[];
  const savedEnv = { ...process.env };
  const instance = instanceRef("vm");

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(await fs.realpath("/tmp"), "pci-qemu-guest-"));
    process.env.FAKE_QEMU_LOG = path.join(dir, "starts.jsonl");
    process.env.FAKE_QEMU_QMP_LOG = path.join(dir, "qmp.jsonl");
    const fake = path.join(dir, "qemu-system-x86_64");
    await fs.writeFile(
      fake,
      `#!/bin/sh\nexec ${process.execPath} ${path.join(__dirname, "./qemu/fakeQemu.js")} "$@"\n`,
      { mode: 0o755 },
    );
    const root = path.join(dir, "root.raw");
    await fs.writeFile(root, Buffer.alloc(1024 * 1024, 7));
    runs = [];
    h = await startHarness({
      diskFiles: true,
      includeCosImages: false,
      seedImages: [
        { project: "cos-cloud", name: "stand-in", family: "cos-stable", filePath: root },
      ],
      guestFor: qemuGuests({
        boot: { initrd: "/i", directKernel: { kernel: "/k", commandLine: "root=LABEL=root" } },
        accelerator: "tcg",
        qemuBinary: fake,
        workRoot: dir,
        powerDownGraceMs: 2_000,
        onMachineRun: (run) => runs.push(run),
      }),
    });
  });
  afterEach(async () => {
    await h.close();
    process.env = { ...savedEnv };
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function createInstance(extraDisks: object[] = []): Promise<void> {
    await insertInstance(h, {
      name: "vm",
      machineType: "e2-small",
      disks: [
        cosBootDisk({ diskName: "vm-boot" }, { autoDelete: true, deviceName: "boot" }),
        ...extraDisks,
      ],
    });
  }

  async function createDisk(name: string): Promise<void> {
    await insertDisk(h, { name, sizeGb: "1" });
  }

  async function serial(port: number): Promise<string> {
    return (await serialOutput(h, "vm", port)).contents ?? "";
  }

  async function lines(file: string): Promise<Array<Record<string, unknown>>> {
    const text = await fs.readFile(file, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  const argvOfStarts = async () =>
    (await lines(process.env.FAKE_QEMU_LOG!)).map((start) => start.argv as string[]);

  it("boots the instance's own disk files, device names as serials, read-only attachments read-only, metadata on its port", async () => {
    await createDisk("data");
    await createInstance([
      { source: `zones/${ZONE}/disks/data`, deviceName: "cidata", mode: "READ_ONLY" },
    ]);
    const [argv] = await eventually(async () => {
      const starts = await argvOfStarts();
      return starts.length ? starts : undefined;
    });
    const option = (flag: string) => argv.filter((_, i) => argv[i - 1] === flag);
    const blockdevs = option("-blockdev").map(
      (json) => JSON.parse(json) as { "read-only": boolean; file: { filename: string } },
    );
    // The emulator's own disk files (disks/<project>/<zone>/<name>-<id>.raw), used in place.
    expect(blockdevs.map((b) => path.basename(b.file.filename))).to.satisfy((names: string[]) =>
      /^vm-boot-\d+\.raw,data-\d+\.raw$/.test(names.join(",")),
    );
    expect(blockdevs.map((b) => b["read-only"])).to.deep.equal([false, true]);
    for (const blockdev of blockdevs) {
      expect(
        blockdev.file.filename.startsWith(h.emulator.dataDir),
        "a file of the emulator",
      ).to.equal(true);
    }
    const serials = option("-device")
      .filter((device) => device.startsWith("{"))
      .map((device) => (JSON.parse(device) as { serial: string }).serial);
    expect(serials).to.deep.equal(["boot", "cidata"]);
    expect(option("-kernel")).to.deep.equal(["/k"]);
    // e2-small's 2 vCPUs and 2048 MiB, as far as this host allows (guestSize.ts).
    const size = guestSize({ guestCpus: 2, memoryMb: 2048 });
    expect(option("-smp")).to.deep.equal([String(size.cpus)]);
    expect(option("-m")).to.deep.equal([String(size.memoryMiB)]);
    const netdev = option("-netdev")[0];
    expect(netdev).to.include(`metadataRelay.js ${h.emulator.metadataServer(instance).port}`);

    expect(
      await eventually(async () => ((await serial(1)).includes("boot 1") ? true : undefined)),
    ).to.equal(true);
    expect(
      await eventually(async () => ((await serial(3)).includes("ttyS2 boot 1") ? true : undefined)),
    ).to.equal(true);
  });

  it("hot-plugs a disk attached to the running instance", async () => {
    await createInstance();
    await createDisk("late");
    await attachDisk(h, "vm", {
      source: `zones/${ZONE}/disks/late`,
      deviceName: "cidata",
      mode: "READ_ONLY",
    });
    const deviceAdd = await eventually(async () =>
      (await lines(process.env.FAKE_QEMU_QMP_LOG!)).find((c) => c.execute === "device_add"),
    );
    expect(deviceAdd.arguments).to.include({
      driver: "scsi-hd",
      bus: "scsi0.0",
      "scsi-id": 1,
      serial: "cidata",
    });
    const blockdevAdd = (await lines(process.env.FAKE_QEMU_QMP_LOG!)).find(
      (c) => c.execute === "blockdev-add",
    );
    expect(blockdevAdd?.arguments).to.deep.include({ "read-only": true });
  });

  it("tells the running machine of a disks.resize (QMP block_resize) before the operation is done", async () => {
    await createInstance();
    // The machine must be up: a machine still starting opens the file at its new size anyway.
    await eventually(async () => ((await serial(1)).includes("boot 1") ? true : undefined));
    const [disk] = await h.clients.disks.get({ project: PROJECT, zone: ZONE, disk: "vm-boot" });
    const grown = Number(disk.sizeGb) + 1;
    await waitOk(
      h,
      await h.clients.disks.resize({
        project: PROJECT,
        zone: ZONE,
        disk: "vm-boot",
        disksResizeRequestResource: { sizeGb: String(grown) },
      }),
    );
    const resizes = (await lines(process.env.FAKE_QEMU_QMP_LOG!)).filter(
      (c) => c.execute === "block_resize",
    );
    expect(resizes.map((c) => c.arguments)).to.deep.equal([
      { "node-name": "disk0", size: grown * 1024 ** 3 },
    ]);
  });

  it("an API stop presses the power button; the instance ends TERMINATED", async () => {
    await createInstance();
    await stopInstance(h, "vm");
    expect(h.emulator.instanceStatus(instance)).to.equal("TERMINATED");
    expect((await lines(process.env.FAKE_QEMU_QMP_LOG!)).map((c) => c.execute)).to.include(
      "system_powerdown",
    );
    expect(runs.map((run) => run.exit.shutdownReason)).to.deep.equal(["guest-shutdown"]);
  });

  it("a guest power-off makes the instance STOPPING, then TERMINATED, with the last output kept", async () => {
    process.env.FAKE_QEMU_POWER_OFF_AFTER_MS = "300";
    await createInstance();
    await h.emulator.untilInstanceStatus(instance, "TERMINATED");
    const statuses = h.emulator.instanceStatusHistory(instance).map((entry) => entry.status);
    expect(statuses.slice(-3)).to.deep.equal(["RUNNING", "STOPPING", "TERMINATED"]);
    expect(h.emulator.serialLines(instance, 4).map((line) => line.text)).to.deep.equal([
      "ttyS3 boot 1",
    ]);
  });

  it("a guest reboot keeps the instance RUNNING on one machine, its serial output continuing", async () => {
    process.env.FAKE_QEMU_REBOOTS = "1";
    await createInstance();
    await eventually(async () => ((await argvOfStarts()).length === 2 ? true : undefined));
    await eventually(async () => ((await serial(1)).includes("boot 2") ? true : undefined));
    expect(await serial(1)).to.equal("boot 1\nboot 2\n");
    expect(h.emulator.instanceStatusHistory(instance).map((entry) => entry.status)).to.not.include(
      "STOPPING",
    );
    expect(h.emulator.instanceStatus(instance)).to.equal("RUNNING");
  });
});

describe("machineDiskOf", () => {
  const disk = {
    deviceName: "cidata",
    diskName: "pci-1-cidata",
    boot: false,
    index: 1,
    sizeGb: 1,
    labels: {},
  };

  it("uses the disk's backing file in place, raw, read-only for READ_ONLY attachments", () => {
    expect(machineDiskOf({ ...disk, mode: "READ_ONLY", filePath: "/d/cidata.raw" })).to.deep.equal({
      file: "/d/cidata.raw",
      format: "raw",
      deviceName: "cidata",
      readOnly: true,
    });
  });

  it("refuses a disk without a backing file, naming the emulator option that gives it one", () => {
    expect(() => machineDiskOf({ ...disk, mode: "READ_WRITE" })).to.throw(/diskFiles option/);
  });
});
