import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { writeSparseTar, type SparseRegion } from "../../../components/cidata/sparseTar";
import { CollectingSink } from "./collectingSink";
import { makeTempDir, removeTempDirs, run, runText } from "./debianTools";

const GIB = 1024 ** 3;

/** Writes a sparse tar of one member whose regions hold recognisable bytes; returns the archive. */
async function sparseArchive(size: number, regions: SparseRegion[]): Promise<Buffer> {
  const sink = new CollectingSink();
  const written = await writeSparseTar(sink, {
    name: "disk.raw",
    size,
    regions,
    async writeData(target) {
      for (const region of regions) await target.write(regionBytes(region));
    },
  });
  expect(written).to.equal(sink.bytes().length);
  return sink.bytes();
}

function regionBytes(region: SparseRegion): Buffer {
  return Buffer.alloc(region.length, ((region.offset / 512) % 251) + 1);
}

/** Extracts the member with GNU tar and checks every region's bytes, a byte in each hole, and the size. */
function expectExtractsTo(archive: Buffer, size: number, regions: SparseRegion[]): void {
  const dir = makeTempDir();
  const tarFile = path.join(dir, "a.tar");
  fs.writeFileSync(tarFile, archive);
  run("tar", ["-xf", tarFile, "-C", dir]);
  const extracted = path.join(dir, "disk.raw");
  expect(fs.statSync(extracted).size).to.equal(size);
  const fd = fs.openSync(extracted, "r");
  try {
    let end = 0;
    for (const region of regions) {
      if (region.offset > end) expect(readAt(fd, end, 1)[0], `hole at ${end}`).to.equal(0);
      expect(
        readAt(fd, region.offset, region.length).equals(regionBytes(region)),
        `region at ${region.offset}`,
      ).to.equal(true);
      end = region.offset + region.length;
    }
    if (size > end) expect(readAt(fd, size - 1, 1)[0]).to.equal(0);
  } finally {
    fs.closeSync(fd);
  }
}

function hasPython(): boolean {
  try {
    run("python3", ["--version"]);
    return true;
  } catch {
    return false;
  }
}

function tarListing(archive: Buffer): string {
  const tarFile = path.join(makeTempDir(), "a.tar");
  fs.writeFileSync(tarFile, archive);
  return runText("tar", ["-tvf", tarFile]);
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  fs.readSync(fd, buffer, 0, length, position);
  return buffer;
}

describe("sparse GNU tar writer", () => {
  after(removeTempDirs);

  it("writes regions and holes that GNU tar restores, with a trailing hole", async () => {
    const regions = [
      { offset: 0, length: 1024 },
      { offset: 1024, length: 512 }, // adjacent: merged into the first entry of the map
      { offset: 8192, length: 4608 },
    ];
    const archive = await sparseArchive(GIB, regions);
    expect(archive.length % 10240).to.equal(0);
    const listing = tarListing(archive).trim().split("\n");
    expect(listing).to.have.length(1);
    expect(listing[0].split(/\s+/)).to.include.members([
      "disk.raw",
      String(GIB),
      "root/root",
      "-rw-r--r--",
    ]);
    expectExtractsTo(archive, GIB, regions);
  });

  it("continues a map of more than 4 regions in extension blocks", async () => {
    const regions = Array.from({ length: 30 }, (_, index) => ({
      offset: index * 65536,
      length: 512 * (1 + (index % 3)),
    }));
    const archive = await sparseArchive(4 * 1024 * 1024, regions);
    // Header, then 2 extension blocks for the 26 entries (21 + 5) left after the header's 4, plus the trailing one.
    expect([archive[482], archive[512 + 504], archive[1024 + 504]]).to.deep.equal([1, 1, 0]);
    expectExtractsTo(archive, 4 * 1024 * 1024, regions);
  });

  it("writes sizes and offsets beyond 8 GiB in base-256, which GNU tar reads", async () => {
    const size = 20 * GIB;
    const regions = [
      { offset: 0, length: 512 },
      { offset: 10 * GIB, length: 4096 },
    ];
    const archive = await sparseArchive(size, regions);
    expect(archive[483]).to.equal(0x80); // the real size's field
    expect(tarListing(archive).split(/\s+/)[2]).to.equal(String(size));
    expectExtractsTo(archive, size, regions);
  });

  it("reads the same with Python's tarfile, which reads the regions back to back as Go's archive/tar does", async function () {
    if (!hasPython()) {
      console.warn("\n    !!! SKIPPED Python tarfile check: python3 is not installed.\n");
      this.skip();
    }
    const regions = Array.from({ length: 7 }, (_, index) => ({
      offset: index * 8192,
      length: 512 * (1 + index),
    }));
    const archive = await sparseArchive(GIB, regions);
    const dir = makeTempDir();
    const tarFile = path.join(dir, "a.tar");
    fs.writeFileSync(tarFile, archive);
    const script =
      "import sys, tarfile; t = tarfile.open(sys.argv[1]); m = t.getmember('disk.raw'); print(m.size); sys.stdout.flush(); " +
      "f = t.extractfile(m); sys.stdout.buffer.write(f.read(65536))";
    const output = run("python3", ["-c", script, tarFile]);
    const newline = output.indexOf(10);
    expect(output.subarray(0, newline).toString()).to.equal(String(GIB));
    const head = output.subarray(newline + 1);
    for (const region of regions) {
      expect(
        head.subarray(region.offset, region.offset + region.length).equals(regionBytes(region)),
        `region at ${region.offset}`,
      ).to.equal(true);
      expect(head[region.offset + region.length]).to.equal(0);
    }
  });

  it("needs no trailing map entry when the data reaches the end", async () => {
    const regions = [{ offset: 512, length: 1536 }];
    const archive = await sparseArchive(2048, regions);
    expectExtractsTo(archive, 2048, regions);
  });

  it("refuses regions that are not aligned to 512-byte blocks, which tar readers disagree on", async () => {
    const error = await sparseArchive(4096, [{ offset: 0, length: 700 }]).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error)
      .to.be.instanceOf(RangeError)
      .with.property("message", "sparse region 0+700 of disk.raw is not aligned to 512 bytes");
  });

  it("refuses data that does not match the declared regions", async () => {
    const error = await writeSparseTar(new CollectingSink(), {
      name: "disk.raw",
      size: 4096,
      regions: [{ offset: 0, length: 1024 }],
      writeData: (sink) => sink.write(new Uint8Array(1000)),
    }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error)
      .to.be.instanceOf(Error)
      .with.property("message", "sparse member disk.raw declared 1024 data bytes but wrote 1000");
  });
});
