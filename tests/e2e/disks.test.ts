/** Disk files with the real qemu-img: overlays over images, and images back from disks. */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import {
  convertToRawImage,
  createBlankRawDisk,
  createOverlay,
  diskFileInfo,
  findCommand,
} from "../../emulator/qemu";

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

describe("e2e: disk files", function () {
  let dir: string;

  before(async function () {
    if (!(await findCommand("qemu-img")) || !(await findCommand("qemu-io"))) {
      console.warn(
        "\n  !!!!! DISK TESTS SKIPPED: qemu-img/qemu-io missing. On Debian/Ubuntu: apt-get install qemu-utils !!!!!\n",
      );
      this.skip();
    }
  });
  beforeEach(async () => (dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-disks-"))));
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it("writes to an overlay leave the image untouched, and converting the overlay gives a standalone raw image", async () => {
    const image = path.join(dir, "image.raw");
    await fs.writeFile(image, Buffer.concat([Buffer.alloc(MiB, 0x11), Buffer.alloc(MiB, 0)]));
    const disk = path.join(dir, "disk.qcow2");
    await createOverlay(image, disk);
    // What a guest would do: write 64 KiB at 1 MiB.
    await execFileAsync("qemu-io", ["-f", "qcow2", "-c", `write -P 0xab ${MiB} 64k`, disk]);

    expect(await diskFileInfo(disk)).to.deep.equal({
      format: "qcow2",
      virtualSizeBytes: 2 * MiB,
      backingFile: await fs.realpath(image),
    });
    expect((await fs.readFile(image)).subarray(MiB, MiB + 1)[0]).to.equal(0);

    const output = path.join(dir, "new-image.raw");
    await convertToRawImage(disk, output);
    const bytes = await fs.readFile(output);
    expect(bytes.length).to.equal(2 * MiB);
    expect(bytes[0]).to.equal(0x11);
    expect(bytes[MiB]).to.equal(0xab);
    expect(bytes[MiB + 64 * 1024]).to.equal(0);
    expect(await diskFileInfo(output)).to.deep.equal({ format: "raw", virtualSizeBytes: 2 * MiB });
    expect((await fs.readdir(dir)).filter((name) => name.includes(".partial-"))).to.deep.equal([]);
  });

  it("grows an overlay beyond its image, and makes blank disks sparse", async () => {
    const image = path.join(dir, "image.raw");
    await fs.writeFile(image, Buffer.alloc(MiB, 1));
    const grown = path.join(dir, "grown.qcow2");
    await createOverlay(image, grown, { sizeBytes: 10 * MiB });
    expect((await diskFileInfo(grown)).virtualSizeBytes).to.equal(10 * MiB);

    const blank = path.join(dir, "scratch.raw");
    await createBlankRawDisk(blank, 1024 * MiB);
    const stat = await fs.stat(blank);
    expect(stat.size).to.equal(1024 * MiB);
    expect(stat.blocks * 512, "allocated bytes").to.be.lessThan(MiB);
  });

  it("reports qemu-img's own message when a conversion fails", async () => {
    let error: unknown;
    await convertToRawImage(path.join(dir, "absent.qcow2"), path.join(dir, "out.raw")).catch(
      (caught: unknown) => (error = caught),
    );
    expect((error as Error).message).to.match(/^qemu-img convert failed: .*absent\.qcow2/);
  });
});
