import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {
  chooseSlot,
  entryForSlot,
  parseCosGrubConfig,
  readDiskBytes,
} from "../../../emulator/qemu/cosBootloader";
import { diskInterfaceForMachineType } from "../../../emulator/qemu/diskInterface";
import {
  chromeOsAttributes,
  guidToString,
  parseGptEntries,
  parseGptHeader,
  readGpt,
} from "../../../emulator/qemu/gpt";

/** GUID text to the mixed-endian bytes a GPT stores. */
function guidBytes(guid: string): Buffer {
  const hex = guid.replaceAll("-", "");
  const bytes = Buffer.from(hex, "hex");
  return Buffer.concat([
    Buffer.from(bytes.subarray(0, 4)).reverse(),
    Buffer.from(bytes.subarray(4, 6)).reverse(),
    Buffer.from(bytes.subarray(6, 8)).reverse(),
    bytes.subarray(8, 16),
  ]);
}

interface TestEntry {
  number: number;
  name: string;
  type: string;
  unique: string;
  first: number;
  last: number;
  attributes?: bigint;
}

/** A disk image's first 34 sectors: protective MBR, GPT header at LBA 1, 128 entries from LBA 2. */
function gptDisk(entries: TestEntry[]): Buffer {
  const disk = Buffer.alloc(34 * 512);
  const header = disk.subarray(512, 1024);
  header.write("EFI PART", 0, "latin1");
  header.writeBigUInt64LE(34n, 40);
  header.writeBigUInt64LE(20971486n, 48);
  guidBytes("8F6C9E1A-3B52-4C1D-9E07-5A0C2B7D1E01").copy(header, 56);
  header.writeBigUInt64LE(2n, 72);
  header.writeUInt32LE(128, 80);
  header.writeUInt32LE(128, 84);
  for (const entry of entries) {
    const at = 1024 + (entry.number - 1) * 128;
    guidBytes(entry.type).copy(disk, at);
    guidBytes(entry.unique).copy(disk, at + 16);
    disk.writeBigUInt64LE(BigInt(entry.first), at + 32);
    disk.writeBigUInt64LE(BigInt(entry.last), at + 40);
    disk.writeBigUInt64LE(entry.attributes ?? 0n, at + 48);
    disk.write(entry.name, at + 56, "utf16le");
  }
  return disk;
}

const KERNEL_TYPE = "FE3A2A5D-4F32-41A7-B725-ACCC3285A309";
const attributes = (priority: number, tries: number, successful: boolean) =>
  (BigInt(priority) << 48n) | (BigInt(tries) << 52n) | ((successful ? 1n : 0n) << 56n);

const GRUB_CFG = `defaultA=2
defaultB=3
gptpriority $grubdisk 2 prioA
gptpriority $grubdisk 4 prioB

if [ $prioA -lt $prioB ]; then
  set default=$defaultB
else
  set default=$defaultA
fi

menuentry "local image A" {
  linux /syslinux/vmlinuz.A ro console=ttyS0 cros_efi root=PARTUUID=AAAA
}

menuentry "local image B" {
  linux /syslinux/vmlinuz.B ro console=ttyS0 cros_efi root=PARTUUID=BBBB
}

menuentry "verified image A" {
  linux /syslinux/vmlinuz.A ro cros_efi root=/dev/dm-0 dm="1 vroot none ro 1,0 8 linear PARTUUID=AAAA 0"
}

menuentry "verified image B" {
  linux /syslinux/vmlinuz.B ro cros_efi root=/dev/dm-0 dm="1 vroot none ro 1,0 8 linear PARTUUID=BBBB 0"
}

menuentry "Alternate USB Boot" {
  linux (hd0,3)/boot/vmlinuz ro cros_efi
}
`;

describe("emulator: the GPT reader and the COS bootloader stand-in", () => {
  it("reads the partitions of a GPT with names, GUIDs, ranges and Chrome OS attributes", async () => {
    const disk = gptDisk([
      {
        number: 2,
        name: "KERN-A",
        type: KERNEL_TYPE,
        unique: "11111111-2222-3333-4444-555555555555",
        first: 20480,
        last: 53247,
        attributes: attributes(2, 0, true),
      },
      {
        number: 12,
        name: "EFI-SYSTEM",
        type: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
        unique: "ABCDEF01-2345-6789-ABCD-EF0123456789",
        first: 249856,
        last: 315391,
      },
    ]);
    const table = await readGpt(async (offset, length) => disk.subarray(offset, offset + length));
    expect(table.diskGuid).to.equal("8F6C9E1A-3B52-4C1D-9E07-5A0C2B7D1E01");
    expect(table.lastUsableLba).to.equal(20971486);
    expect(table.partitions.map((p) => [p.number, p.name, p.firstLba, p.lastLba])).to.deep.equal([
      [2, "KERN-A", 20480, 53247],
      [12, "EFI-SYSTEM", 249856, 315391],
    ]);
    expect(table.partitions[0].typeGuid).to.equal(KERNEL_TYPE);
    expect(table.partitions[1].uniqueGuid).to.equal("ABCDEF01-2345-6789-ABCD-EF0123456789");
    expect(chromeOsAttributes(table.partitions[0])).to.deep.equal({
      priority: 2,
      tries: 0,
      successful: true,
    });
    expect(chromeOsAttributes({ attributes: attributes(15, 7, false) })).to.deep.equal({
      priority: 15,
      tries: 7,
      successful: false,
    });
  });

  it("refuses a disk without a GPT header", () => {
    expect(() => parseGptHeader(Buffer.alloc(512))).to.throw(/no GPT/);
    expect(parseGptEntries(Buffer.alloc(128 * 4), 4, 128)).to.deep.equal([]);
    expect(guidToString(guidBytes("00112233-4455-6677-8899-AABBCCDDEEFF"))).to.equal(
      "00112233-4455-6677-8899-AABBCCDDEEFF",
    );
  });

  it("chooses slots as COS's grub.cfg does: B only when its priority is higher", () => {
    expect(chooseSlot({ A: 2, B: 1 })).to.equal("A");
    expect(chooseSlot({ A: 1, B: 1 })).to.equal("A");
    expect(chooseSlot({ A: 0, B: 0 })).to.equal("A");
    expect(chooseSlot({ A: 1, B: 2 })).to.equal("B");
  });

  it("reads the slot defaults and each entry's kernel and command line from grub.cfg", () => {
    const config = parseCosGrubConfig(GRUB_CFG);
    expect(config.defaultA).to.equal(2);
    expect(config.defaultB).to.equal(3);
    expect(config.entries.map((entry) => entry.title)).to.deep.equal([
      "local image A",
      "local image B",
      "verified image A",
      "verified image B",
      "Alternate USB Boot",
    ]);
    const b = entryForSlot(config, "B");
    expect(b.kernelPath).to.equal("/syslinux/vmlinuz.B");
    expect(b.commandLine).to.equal(
      'ro cros_efi root=/dev/dm-0 dm="1 vroot none ro 1,0 8 linear PARTUUID=BBBB 0"',
    );
    // An edit (disable-auto-update's mask) is what the next boot gets.
    const edited = parseCosGrubConfig(
      GRUB_CFG.replaceAll("cros_efi", "cros_efi systemd.mask=update-engine.service"),
    );
    expect(entryForSlot(edited, "A").commandLine).to.include(
      "cros_efi systemd.mask=update-engine.service root=/dev/dm-0",
    );
  });

  it("names what is wrong with a grub.cfg it cannot follow", () => {
    expect(() => parseCosGrubConfig('menuentry "x" {\n  linux /k\n}\n')).to.throw(/defaultA/);
    const config = parseCosGrubConfig(GRUB_CFG.replace("defaultB=3", "defaultB=9"));
    expect(() => entryForSlot(config, "B")).to.throw(/defaultB=9 names no menu entry/);
    const usb = parseCosGrubConfig(GRUB_CFG.replace("defaultA=2", "defaultA=4"));
    expect(() => entryForSlot(usb, "A")).to.throw(/another disk/);
  });

  it("reads byte ranges of raw disk files directly", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-gpt-"));
    try {
      const file = path.join(dir, "disk.raw");
      await fs.writeFile(file, Buffer.from("0123456789"));
      const bytes = await readDiskBytes({ file, format: "raw" }, 3, 4, dir);
      expect(bytes.toString()).to.equal("3456");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("gives NVMe disks to GCE's NVMe-only machine series and SCSI to the others", () => {
    expect(diskInterfaceForMachineType("c3-standard-4")).to.equal("nvme");
    expect(diskInterfaceForMachineType("zones/us-central1-a/machineTypes/n4-standard-2")).to.equal(
      "nvme",
    );
    expect(diskInterfaceForMachineType("e2-small")).to.equal("scsi");
    expect(diskInterfaceForMachineType("n2-standard-8")).to.equal("scsi");
    expect(diskInterfaceForMachineType("n1-standard-1")).to.equal("scsi");
  });
});
