import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PassThrough, Writable } from "node:stream";
import { gunzipSync } from "node:zlib";
import {
  CidataError,
  planCidata,
  writeCidataArchive,
  type CidataPlan,
} from "../../../components/cidata";
import {
  extractDisk,
  extractVolume,
  loopMountUnavailable,
  makeTempDir,
  pack,
  removeTempDirs,
  run,
  runText,
  type Packed,
} from "./debianTools";
import { buildFixture, readVolume, type ExpectedVolume } from "./fixture";

const GIB = 1024 ** 3;

describe("cidata archive, checked with Debian's tools", function () {
  this.timeout(120_000);
  let packed: Packed;
  let expected: ExpectedVolume;
  let disk: string;

  before(async () => {
    const fixture = buildFixture(makeTempDir());
    expected = fixture.expected;
    packed = await pack(fixture.spec, makeTempDir());
    disk = extractDisk(packed.archive);
  });
  after(removeTempDirs);

  it("passes gzip -t", () => {
    run("gzip", ["-t", packed.archive]);
  });

  it("holds exactly one member, disk.raw, of a whole number of GiB (tar -tvzf)", () => {
    const lines = runText("tar", ["-tvzf", packed.archive]).trim().split("\n");
    expect(lines).to.have.length(1);
    const [mode, owner, size, , , name] = lines[0].split(/\s+/);
    expect(name).to.equal("disk.raw");
    expect(mode).to.equal("-rw-r--r--");
    expect(owner).to.equal("root/root");
    expect(Number(size) % GIB).to.equal(0);
    expect(Number(size)).to.equal(packed.plan.diskSizeBytes).and.to.equal(GIB);
    expect(fs.statSync(disk).size).to.equal(GIB);
  });

  it("is an old-GNU sparse tar, so the zeros of the disk take no room", () => {
    const tar = gunzipSync(fs.readFileSync(packed.archive));
    expect(tar.subarray(257, 265).toString("latin1")).to.equal("ustar  \0");
    expect(String.fromCharCode(tar[156])).to.equal("S");
    expect(tar.length % 10240).to.equal(0);
    // Data regions only: the content (about 8.4 MiB) plus FATs and directories, not the 1 GiB disk.
    expect(tar.length).to.be.below(12 * 1024 * 1024);
  });

  it("is a FAT32 volume that fsck.fat -n finds clean", () => {
    expectCleanFsck(disk, 50);
    const details = runText("fsck.fat", ["-n", "-v", disk]);
    expect(details).to.match(/2 FATs, 32 bit entries/);
    expect(details).to.match(/4096 bytes per cluster/);
  });

  it("carries the label CIDATA where blkid (and so /dev/disk/by-label) reads it", () => {
    const fields = runText("blkid", ["-p", "-o", "export", disk]);
    expect(fields).to.match(/^TYPE=vfat$/m);
    expect(fields).to.match(/^LABEL=CIDATA$/m);
    expect(runText("mlabel", ["-s", "-i", disk, "::"]).trim()).to.equal("Volume label is CIDATA");
  });

  it("gives back every file byte for byte, with its long, mixed-case or Unicode name (mcopy -s)", () => {
    const actual = readVolume(extractVolume(disk));
    expect([...actual.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [name, bytes] of expected) {
      if (bytes === "directory") continue;
      expect(Buffer.compare(actual.get(name) as Buffer, bytes), name).to.equal(0);
    }
  });

  it("gives each entry a unique 8.3 alias, skipping one that an exact 8.3 name holds (mdir)", () => {
    const aliases = mdirAliases(disk, "::/context/layers");
    expect(aliases.get("LAYER-~1.GZ")).to.equal("LAYER-~1.GZ");
    expect(aliases.get("layer-00001.tar.gz")).to.equal("LAYER-~2.GZ");
    expect(aliases.get("layer-00009.tar.gz")).to.equal("LAYER~10.GZ");
    expect(aliases.get("image.layer")).to.equal("IMAGE~1.LAY");
    const context = mdirAliases(disk, "::/context");
    expect(context.get("UPPER.TXT")).to.equal("UPPER.TXT");
    expect(context.get("lower.txt")).to.equal("LOWER.TXT");
    expect(context.get(".hidden")).to.equal("HIDDEN~1");
  });

  it("mounts read-only through a loop device and shows the same tree", function () {
    const unavailable = loopMountUnavailable();
    if (unavailable !== undefined) {
      console.warn(
        `\n    !!! SKIPPED loop-mount test: ${unavailable}. fsck.fat and mtools checked the volume instead;\n    !!! the end-to-end layer mounts it in a real guest kernel.\n`,
      );
      this.skip();
    }
    const mountPoint = makeTempDir();
    run("mount", ["-o", "loop,ro", "-t", "vfat", disk, mountPoint]);
    try {
      const actual = readVolume(mountPoint);
      expect([...actual.keys()].sort()).to.deep.equal([...expected.keys()].sort());
      for (const [name, bytes] of expected) {
        if (bytes !== "directory")
          expect(Buffer.compare(actual.get(name) as Buffer, bytes), name).to.equal(0);
      }
    } finally {
      run("umount", [mountPoint]);
    }
  });

  it("is byte-identical when packed again, whatever the number of worker threads", async () => {
    const again = path.join(makeTempDir(), "again.tar.gz");
    await writeCidataArchive(packed.plan, again, { workers: 1 });
    expect(Buffer.compare(fs.readFileSync(again), fs.readFileSync(packed.archive))).to.equal(0);
  });

  it("streams the same bytes to a writable stream, and ends it", async () => {
    const sink = new PassThrough();
    const pieces: Buffer[] = [];
    sink.on("data", (piece: Buffer) => pieces.push(piece));
    const ended = new Promise((resolve) => sink.on("end", resolve));
    const sizes = await writeCidataArchive(packed.plan, sink);
    await ended;
    const streamed = Buffer.concat(pieces);
    expect(sizes).to.deep.equal({ archiveBytes: streamed.length, diskBytes: GIB });
    expect(Buffer.compare(streamed, fs.readFileSync(packed.archive))).to.equal(0);
  });

  it("fails with the destination's error, and destroys the stream", async () => {
    const failing = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, callback) {
        callback(new Error("upload refused"));
      },
    });
    const error = await writeCidataArchive(packed.plan, failing).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).to.be.instanceOf(Error).with.property("message", "upload refused");
    expect(failing.destroyed).to.equal(true);
  });
});

describe("cidata archive failures", function () {
  this.timeout(60_000);
  after(removeTempDirs);

  it("rejects compression options out of range and leaves no file behind", async () => {
    const plan = await planCidata({ entries: [] });
    const archive = path.join(makeTempDir(), "out.tar.gz");
    const error = await writeCidataArchive(plan, archive, { workers: 0 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error)
      .to.be.instanceOf(RangeError)
      .with.property("message", "gzip option workers must be an integer from 1 to 64, not 0");
    expect(fs.existsSync(archive)).to.equal(false);
  });

  it("fails with a CidataError naming a file that changed since planning, and removes the partial archive", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "grows.txt");
    fs.writeFileSync(file, "before\n");
    const plan = await planCidata({ entries: [{ path: "context/grows.txt", source: { file } }] });
    fs.appendFileSync(file, "after\n");
    const archive = path.join(dir, "out.tar.gz");
    const error = await writeCidataArchive(plan, archive).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).to.be.instanceOf(CidataError);
    expect((error as CidataError).message).to.equal(
      `cidata: "context/grows.txt" (local path ${JSON.stringify(file)}): changed since planning (planned 7 bytes, now 13 bytes): ` +
        "plan again, and keep the build context unchanged while packing",
    );
    expect((error as CidataError).localPath).to.equal(file);
    expect(fs.existsSync(archive)).to.equal(false);
  });
});

describe("cidata archive of a disk over 8 GiB", function () {
  this.timeout(120_000);
  let plan: CidataPlan;
  let archive: string;
  after(removeTempDirs);

  before(async () => {
    const dir = makeTempDir();
    ({ plan, archive } = await pack(
      { entries: [{ path: "hello.txt", source: { content: "hello\n" } }], diskSizeBytes: 9 * GIB },
      dir,
    ));
  });

  it("stores the size in GNU's base-256 form, which tar reads back", () => {
    const [line] = runText("tar", ["-tvzf", archive]).trim().split("\n");
    expect(line.split(/\s+/)[2]).to.equal(String(9 * GIB));
  });

  it("uses 8 KiB clusters, and fsck.fat -n finds it clean", () => {
    expect(plan.geometry.clusterBytes).to.equal(8192);
    const disk = extractDisk(archive);
    expect(fs.statSync(disk).size).to.equal(9 * GIB);
    expectCleanFsck(disk, 2); // one more than the files, as for an empty volume fresh from mkfs.fat
    expect(runText("fsck.fat", ["-n", "-v", disk])).to.match(/8192 bytes per cluster/);
    expect(run("mtype", ["-i", disk, "::/hello.txt"]).toString()).to.equal("hello\n");
  });
});

describe("cidata archive of a file of 4 GiB - 1 bytes, FAT's largest [the one larger case]", function () {
  this.timeout(300_000);
  after(removeTempDirs);

  it("packs it whole: mcopy gives it back byte for byte; fsck.fat flags only its own 32-bit overflow", async () => {
    const dir = makeTempDir();
    const source = path.join(dir, "largest.bin");
    // Mostly a hole (cheap to make and read), with marks at the start, the middle and the last byte.
    const fd = fs.openSync(source, "w");
    fs.writeSync(fd, Buffer.from("start"), 0, 5, 0);
    fs.writeSync(fd, Buffer.from("middle"), 0, 6, 2 * GIB + 12345);
    fs.writeSync(fd, Buffer.from("!"), 0, 1, 4 * GIB - 2);
    fs.closeSync(fd);
    const { archive, plan } = await pack(
      { entries: [{ path: "largest.bin", source: { file: source } }] },
      dir,
    );
    expect(plan.diskSizeBytes).to.equal(5 * GIB);
    const disk = extractDisk(archive);
    // fsck.fat 4.2 computes a chain's length in 32 bits: 2^20 clusters of 4 KiB wrap to 0, so it
    // flags every 4 GiB - 1 file on 4 KiB clusters. It says the same of the volume mkfs.fat and
    // mcopy make from this file; that, and nothing else, is allowed here. mcopy and cmp below show
    // the chain is whole.
    const fsck = spawnSync("fsck.fat", ["-n", disk], { encoding: "utf8" });
    expect(fsck.status).to.equal(1);
    expect(fsck.stdout.split("\n").slice(1)).to.deep.equal([
      "/largest.bin",
      "  File size is 4294967295 bytes, cluster chain length is 0 bytes.",
      "  Truncating file to 0 bytes.",
      "",
      "Leaving filesystem unchanged.",
      `${disk}: 2 files, 1048577/1308156 clusters`,
      "",
    ]);
    expect(runText("mdir", ["-i", disk, "::/"])).to.match(
      / 4294967295 1980-01-01 +0:00 +largest\.bin/,
    );
    // cmp exits non-zero, failing `run`, at the first differing byte or if one side is shorter.
    execFileSync("bash", [
      "-o",
      "pipefail",
      "-c",
      'mcopy -n -i "$1" ::/largest.bin - | cmp - "$2"',
      "bash",
      disk,
      source,
    ]);
  });
});

/**
 * fsck.fat prints its version and a one-line summary, and nothing else, for a clean volume: any
 * problem (a wrong free count, a bad chain, a duplicate name, differing FATs or boot sectors) adds
 * lines and a non-zero exit status (which makes `run` throw).
 */
function expectCleanFsck(disk: string, files: number): void {
  const lines = runText("fsck.fat", ["-n", disk]).trim().split("\n");
  expect(lines).to.have.length(2);
  expect(lines[0]).to.match(/^fsck\.fat \d/);
  expect(lines[1]).to.match(
    new RegExp(`^${disk.replace(/[.]/g, "\\.")}: ${files} files, \\d+/\\d+ clusters$`),
  );
}

/** Maps each long name in a FAT directory to its 8.3 alias, as `mdir` prints them. */
function mdirAliases(disk: string, directory: string): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const line of runText("mdir", ["-i", disk, directory]).split("\n")) {
    const match = /^(.{8}) (.{3}) +(?:<DIR>|\d+) +\d{4}-\d\d-\d\d +\d+:\d\d(?: {2}(.+?))? ?$/.exec(
      line,
    );
    if (match === null) continue;
    const [, base, extension, longName] = match;
    const alias = extension.trim() === "" ? base.trim() : `${base.trim()}.${extension.trim()}`;
    if (alias === "." || alias === "..") continue;
    aliases.set(longName ?? alias, alias);
  }
  return aliases;
}
