/**
 * A small reader of GUID partition tables (UEFI specification, chapter 5) with the Chrome OS
 * attribute bits that COS's bootloader reads. No tool: the launcher needs the table of a disk file
 * before every boot, and only these few fields.
 */

/** Bytes per logical block: GCE disks and the stand-in's disk file use 512-byte sectors. */
export const SECTOR_BYTES = 512;

/** One used entry of the partition table. */
export interface GptPartition {
  /** Partition number (1-based index in the entry array, as `sgdisk`, `cgpt` and Linux count). */
  number: number;
  /** Partition name (UTF-16LE in the entry), e.g. `STATE`, `KERN-A`, `EFI-SYSTEM`. */
  name: string;
  /** Partition type GUID, upper case, in its usual textual form. */
  typeGuid: string;
  /** Unique partition GUID, upper case (what `PARTUUID=` names). */
  uniqueGuid: string;
  /** First sector (LBA), inclusive. */
  firstLba: number;
  /** Last sector (LBA), inclusive. */
  lastLba: number;
  /** The 64 attribute bits. */
  attributes: bigint;
}

/** The Chrome OS kernel-partition attributes (`cgpt add -P -T -S`). */
export interface ChromeOsAttributes {
  /** Bits 48-51: boot priority, 0 (never boot) to 15; the higher boots first. */
  priority: number;
  /** Bits 52-55: boot attempts left for a not yet successful kernel. */
  tries: number;
  /** Bit 56: the kernel has booted successfully. */
  successful: boolean;
}

/** A parsed GPT: the primary header's fields that matter here, and the used entries. */
export interface GptTable {
  /** Disk GUID, upper case. */
  diskGuid: string;
  /** First and last usable sectors of the disk as the header says. */
  firstUsableLba: number;
  lastUsableLba: number;
  /** Used entries (type GUID not zero), by partition number. */
  partitions: GptPartition[];
}

/** Where the header and its entries are, for a caller that reads the disk in pieces. */
export const GPT_HEADER_OFFSET = SECTOR_BYTES;

/** The Chrome OS attribute bits of a partition. */
export function chromeOsAttributes(
  partition: Pick<GptPartition, "attributes">,
): ChromeOsAttributes {
  const bits = partition.attributes;
  return {
    priority: Number((bits >> 48n) & 0xfn),
    tries: Number((bits >> 52n) & 0xfn),
    successful: ((bits >> 56n) & 1n) === 1n,
  };
}

/** Mixed-endian GUID bytes (first three fields little-endian) as text. */
export function guidToString(bytes: Buffer): string {
  const hex = (buffer: Buffer) => buffer.toString("hex");
  const le = (start: number, length: number) =>
    hex(Buffer.from(bytes.subarray(start, start + length)).reverse());
  return [le(0, 4), le(4, 2), le(6, 2), hex(bytes.subarray(8, 10)), hex(bytes.subarray(10, 16))]
    .join("-")
    .toUpperCase();
}

/** The primary header at LBA 1 (`header`: its 512 bytes); throws when it is no GPT header. */
export function parseGptHeader(header: Buffer): {
  diskGuid: string;
  firstUsableLba: number;
  lastUsableLba: number;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
} {
  if (header.length < 92 || header.toString("latin1", 0, 8) !== "EFI PART") {
    throw new Error('no GPT: sector 1 does not start with "EFI PART"');
  }
  return {
    firstUsableLba: Number(header.readBigUInt64LE(40)),
    lastUsableLba: Number(header.readBigUInt64LE(48)),
    diskGuid: guidToString(header.subarray(56, 72)),
    entriesLba: Number(header.readBigUInt64LE(72)),
    entryCount: header.readUInt32LE(80),
    entrySize: header.readUInt32LE(84),
  };
}

/** The used entries of an entry array (`entries`: `entryCount` entries of `entrySize` bytes). */
export function parseGptEntries(
  entries: Buffer,
  entryCount: number,
  entrySize: number,
): GptPartition[] {
  const partitions: GptPartition[] = [];
  for (let index = 0; index < entryCount; index++) {
    const entry = entries.subarray(index * entrySize, (index + 1) * entrySize);
    if (entry.length < 128) break;
    const type = entry.subarray(0, 16);
    if (type.every((byte) => byte === 0)) continue;
    const name = entry.toString("utf16le", 56, 128).replace(/\0.*$/s, "");
    partitions.push({
      number: index + 1,
      name,
      typeGuid: guidToString(type),
      uniqueGuid: guidToString(entry.subarray(16, 32)),
      firstLba: Number(entry.readBigUInt64LE(32)),
      lastLba: Number(entry.readBigUInt64LE(40)),
      attributes: entry.readBigUInt64LE(48),
    });
  }
  return partitions;
}

/**
 * Reads the primary GPT of a disk through `read` (bytes at an offset of the disk; a raw file or a
 * qcow2 overlay read through qemu-img).
 */
export async function readGpt(
  read: (offset: number, length: number) => Promise<Buffer>,
): Promise<GptTable> {
  const header = parseGptHeader(await read(GPT_HEADER_OFFSET, SECTOR_BYTES));
  const entries = await read(
    header.entriesLba * SECTOR_BYTES,
    header.entryCount * header.entrySize,
  );
  return {
    diskGuid: header.diskGuid,
    firstUsableLba: header.firstUsableLba,
    lastUsableLba: header.lastUsableLba,
    partitions: parseGptEntries(entries, header.entryCount, header.entrySize),
  };
}

/** The partition numbered `number`, or a clear error naming what the table has. */
export function partitionNumbered(table: GptTable, number: number): GptPartition {
  const found = table.partitions.find((partition) => partition.number === number);
  if (!found) {
    const have = table.partitions.map((p) => `${p.number} ${p.name}`).join(", ");
    throw new Error(`the GPT has no partition ${number} (it has: ${have || "none"})`);
  }
  return found;
}
