/**
 * The shutdown-time relocation tool (provisioner-assets/steps/disk-layout/relocate-partitions.sh)
 * run for real on the host against a sparse disk image file with COS's partition table: the real
 * sfdisk shrinks ROOT-A, moves STATE (its data with it) and moves and grows OEM, as the plan says.
 * STATE's filesystem is a separate ext4 file here, standing for the partition's device node, which
 * the tool shrinks with the real e2fsck and resize2fs before moving the partition.
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ASSETS_DIR } from "./harness/paths";

const TOOL = path.join(ASSETS_DIR, "steps", "disk-layout", "relocate-partitions.sh");
const SECTOR = 512;
const GIB = 1024 ** 3;

/** `name -> [start, size]` from `sfdisk -d`. */
function table(disk: string): Record<string, [number, number]> {
  const dump = execFileSync("sfdisk", ["-d", disk], { encoding: "utf8" });
  const parts: Record<string, [number, number]> = {};
  for (const match of dump.matchAll(/start=\s*(\d+), size=\s*(\d+),.*name="([^"]+)"/g)) {
    parts[match[3]] = [Number(match[1]), Number(match[2])];
  }
  return parts;
}

function sectorText(disk: string, sector: number, length: number): string {
  const fd = fs.openSync(disk, "r");
  const buffer = Buffer.alloc(length);
  fs.readSync(fd, buffer, 0, length, sector * SECTOR);
  fs.closeSync(fd);
  return buffer.toString("utf8");
}

function writeAt(disk: string, sector: number, text: string): void {
  const fd = fs.openSync(disk, "r+");
  fs.writeSync(fd, Buffer.from(text), 0, text.length, sector * SECTOR);
  fs.closeSync(fd);
}

/** Where the tool is told to put things; the partition numbers are COS's (STATE 1, ROOT-A 3, OEM 8). */
interface RelocationPlan {
  disk: string;
  stateDevice: string;
  oemDevice: string;
  newStateStart: number;
  newOemStart: number;
  newOemSize: number;
}

/** Writes the plan file the provisioner leaves for the tool at shutdown; returns its path. */
function writePlan(dir: string, plan: RelocationPlan): string {
  const file = path.join(dir, "plan");
  fs.writeFileSync(
    file,
    [
      "STATUS_MARKER=BuildStatus:",
      `DISK=${plan.disk}`,
      "STATE_NR=1",
      "OEM_NR=8",
      "ROOT_A_NR=3",
      `STATE_DEVICE=${plan.stateDevice}`,
      `OEM_DEVICE=${plan.oemDevice}`,
      "SHRINK_ROOT_A=true",
      `NEW_STATE_START=${plan.newStateStart}`,
      `NEW_OEM_START=${plan.newOemStart}`,
      `NEW_OEM_SIZE=${plan.newOemSize}`,
      "",
    ].join("\n"),
  );
  return file;
}

describe("provisioner: the relocation at shutdown, on a disk image with the real sfdisk", function () {
  this.timeout(120_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-relocate-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("shrinks ROOT-A, moves STATE 2 MiB after it and OEM into the freed space, grown, on a grown disk", () => {
    const disk = path.join(dir, "disk.img");
    fs.writeFileSync(disk, "");
    fs.truncateSync(disk, 10 * GIB);
    execFileSync("sgdisk", [
      "--set-alignment=1",
      "--new=8:86016:118783",
      "--change-name=8:OEM",
      "--new=5:315392:4509695",
      "--change-name=5:ROOT-B",
      "--new=3:4509696:8703999",
      "--change-name=3:ROOT-A",
      "--new=1:8704000:18874476",
      "--change-name=1:STATE",
      disk,
    ]);
    writeAt(disk, 8704000, "state-start");
    writeAt(disk, 86016, "oem-start");
    // The disk grew to 11 GiB mid-build; its backup GPT is not at the end yet.
    fs.truncateSync(disk, 11 * GIB);
    const state = path.join(dir, "state.ext4");
    fs.writeFileSync(state, "");
    fs.truncateSync(state, (18874476 - 8704000 + 1) * SECTOR);
    execFileSync("mkfs.ext4", ["-q", "-F", state]);
    const oemStart = 4509696 + 4096;
    const oemSize = 1023 * 2048;
    const plan = writePlan(dir, {
      disk,
      stateDevice: state,
      oemDevice: path.join(dir, "oem-not-mounted"),
      newStateStart: oemStart + oemSize,
      newOemStart: oemStart,
      newOemSize: oemSize,
    });
    const output = execFileSync("bash", [TOOL, plan], { encoding: "utf8" });
    const lines = output.trimEnd().split("\n");
    for (const line of lines) expect(line).to.match(/^BuildStatus: disk layout at shutdown: /);
    expect(lines[lines.length - 1]).to.equal("BuildStatus: disk layout at shutdown: done");

    const after = table(disk);
    expect(after["ROOT-A"]).to.deep.equal([4509696, 8]);
    expect(after.OEM).to.deep.equal([oemStart, oemSize]);
    expect(after.STATE[0]).to.equal(oemStart + oemSize);
    // STATE was cut to its shrunk filesystem (the next boot grows it to the disk's end).
    const blocks = Number(
      /^Block count:\s+(\d+)/m.exec(
        execFileSync("dumpe2fs", ["-h", state], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        }),
      )?.[1],
    );
    expect(after.STATE[1]).to.equal(Math.ceil((blocks * 4096) / SECTOR / 8) * 8);
    expect(sectorText(disk, after.STATE[0], 11)).to.equal("state-start");
    expect(sectorText(disk, oemStart, 9)).to.equal("oem-start");
    expect(after["ROOT-B"]).to.deep.equal([315392, 4194304]);
  });

  it("refuses to move anything while STATE is still mounted, and says so", () => {
    const disk = path.join(dir, "disk.img");
    fs.writeFileSync(disk, "");
    fs.truncateSync(disk, GIB);
    execFileSync("sgdisk", ["--new=1:2048:+100M", "--change-name=1:STATE", disk]);
    const before = execFileSync("sfdisk", ["-d", disk], { encoding: "utf8" });
    // The root filesystem stands for a STATE that did not get unmounted.
    const mountedSource = execFileSync("findmnt", ["-n", "-o", "SOURCE", "/"], {
      encoding: "utf8",
    }).trim();
    const plan = writePlan(dir, {
      disk,
      stateDevice: mountedSource,
      oemDevice: path.join(dir, "none"),
      newStateStart: 4096,
      newOemStart: 0,
      newOemSize: 0,
    });
    const output = execFileSync("bash", [TOOL, plan], { encoding: "utf8" });
    expect(output).to.include(`FAILED: ${mountedSource} is still mounted on /; nothing was moved`);
    expect(output.trimEnd().split("\n").pop()).to.match(
      /^BuildStatus: disk layout at shutdown: FAILED \(status 1\): the build fails at the next boot/,
    );
    expect(execFileSync("sfdisk", ["-d", disk], { encoding: "utf8" })).to.equal(before);
  });
});
