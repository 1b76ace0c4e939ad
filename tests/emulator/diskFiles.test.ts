import { open, stat } from "node:fs/promises";
import { expect } from "chai";
import type { GuestBackend, GuestDisk } from "../../emulator";
import { GIB, makeRawDiskArchive, PROJECT, startHarness, ZONE, type Harness } from "./harness";
import { cosBootDisk, deleteDisk, deleteInstance, insertDisk, insertImage } from "./harness";
import { insertInstance, stopInstance } from "./harness";

const MIB = 1024 * 1024;
const MARK = Buffer.from("CIDATA-MARK");

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, offset);
    return buf;
  } finally {
    await handle.close();
  }
}

describe("emulator: backing files for VM-backed guests (diskFiles option)", () => {
  let h: Harness;
  let seen: GuestDisk[] = [];
  const probe: GuestBackend = {
    async boot(ctx) {
      seen = ctx.disks();
      await ctx.sleep(3_600_000);
    },
  };

  before(async () => {
    h = await startHarness({ diskFiles: true, guestFor: () => probe });
    await h.clients.storage.createBucket("files-bucket");
  });
  after(() => h.close());

  it("extracts disk.raw sparse, copies it for disks, gives blank disks sparse files, and shows paths to the guest", async () => {
    const archive = await makeRawDiskArchive(h.tmp, { data: MARK, dataOffset: 3 * MIB });
    await h.clients.storage
      .bucket("files-bucket")
      .upload(archive, { destination: "cidata.tar.gz", resumable: false });
    await insertImage(h, {
      name: "cidata-img",
      rawDisk: { source: "https://storage.googleapis.com/files-bucket/cidata.tar.gz" },
    });
    await insertDisk(h, { name: "cidata-disk", sourceImage: "global/images/cidata-img" });
    await insertDisk(h, { name: "scratch-disk", sizeGb: "2" });
    await insertInstance(h, {
      name: "file-vm",
      machineType: "e2-small",
      disks: [
        cosBootDisk({ diskName: "file-boot" }, { autoDelete: true, deviceName: "boot" }),
        { source: `zones/${ZONE}/disks/scratch-disk`, deviceName: "scratch" },
        { source: `zones/${ZONE}/disks/cidata-disk`, deviceName: "cidata", mode: "READ_ONLY" },
      ],
    });
    expect(seen.map((d) => [d.deviceName, d.sizeGb, d.mode])).to.deep.equal([
      ["boot", 10, "READ_WRITE"],
      ["scratch", 2, "READ_WRITE"],
      ["cidata", 1, "READ_ONLY"],
    ]);
    const [boot, scratch, cidata] = seen.map((d) => d.filePath ?? "");
    // The COS seed images carry no file, so the boot disk is a blank sparse file of its size.
    expect((await stat(boot)).size).to.equal(10 * GIB);
    const scratchStat = await stat(scratch);
    expect(scratchStat.size).to.equal(2 * GIB);
    expect(scratchStat.blocks * 512).to.be.lessThan(MIB);
    const cidataStat = await stat(cidata);
    expect(cidataStat.size).to.equal(GIB);
    expect(cidataStat.blocks * 512).to.be.lessThan(4 * MIB);
    expect((await readAt(cidata, 3 * MIB, MARK.length)).equals(MARK)).to.equal(true);
  });

  it("copies a stopped disk's file into the image made from it, and removes files on delete", async () => {
    const cidataPath = seen.find((d) => d.deviceName === "cidata")?.filePath ?? "";
    await stopInstance(h, "file-vm");
    await deleteInstance(h, "file-vm");
    await insertImage(h, {
      name: "from-cidata",
      sourceDisk: `projects/${PROJECT}/zones/${ZONE}/disks/cidata-disk`,
    });
    await insertDisk(h, { name: "second", sourceImage: "global/images/from-cidata", sizeGb: "3" });
    await insertInstance(h, {
      name: "file-vm-2",
      machineType: "e2-small",
      disks: [{ boot: true, source: `zones/${ZONE}/disks/second` }],
    });
    const imageFile = h.emulator.imageFile(PROJECT, "from-cidata") ?? "";
    expect((await readAt(imageFile, 3 * MIB, MARK.length)).equals(MARK)).to.equal(true);
    const second = seen[0]?.filePath ?? "";
    expect((await stat(second)).size).to.equal(3 * GIB);
    expect((await readAt(second, 3 * MIB, MARK.length)).equals(MARK)).to.equal(true);

    await deleteDisk(h, "cidata-disk");
    expect(h.emulator.imageFile("cos-cloud", "cos-stable-121-18867-199-1"), "a seed without file")
      .to.be.undefined;
    expect(() => h.emulator.imageFile(PROJECT, "no-such-image")).to.throw(/no image/);
    let gone = false;
    try {
      await stat(cidataPath);
    } catch {
      gone = true;
    }
    expect(gone).to.equal(true);
  });
});
