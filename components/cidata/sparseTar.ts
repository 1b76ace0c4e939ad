/**
 * Writes a tar archive holding one sparse file in GNU tar's old format ("oldgnu", type 'S'), what
 * `tar --format=oldgnu -S` writes and what Google's manual image-import instructions use. Only the
 * data regions are stored; the holes between and after them are zeros on extraction.
 */
import { CountingSink, type ByteSink } from "./byteSink";

/**
 * A stretch of the file that holds data. Offset and length must be multiples of 512: GNU tar reads
 * each region's data as whole 512-byte blocks, while other readers (Go's archive/tar, which GCE's
 * importer is written in) read the regions back to back; with aligned regions both agree.
 */
export interface SparseRegion {
  /** Byte offset in the file, a multiple of 512. */
  offset: number;
  /** Length in bytes, a multiple of 512. */
  length: number;
}

/** The single member of the archive. */
export interface SparseMember {
  /** Member name (at most 100 bytes of ASCII; "disk.raw" for GCE). */
  name: string;
  /** The file's full (apparent) size, holes included. */
  size: number;
  /** The data regions, in order, not overlapping, within `size`. */
  regions: readonly SparseRegion[];
  /** Writes the regions' bytes back to back, exactly the sum of their lengths. */
  writeData(sink: ByteSink): Promise<void>;
}

const BLOCK_BYTES = 512;
/** GNU tar's default record: 20 blocks. The archive is padded to a whole record, as tar pads it. */
const RECORD_BYTES = 20 * BLOCK_BYTES;
const HEADER_SPARSE_SLOTS = 4;
const EXTENSION_SPARSE_SLOTS = 21;
/** Octal numbers in 12-byte fields hold 11 digits, so up to 8 GiB - 1; larger ones use base-256. */
const LARGEST_OCTAL_12 = 8 ** 11 - 1;

/**
 * Writes the archive: header, sparse-map extension blocks, the data, padding, the two zero blocks
 * that end an archive, and padding to a whole record. Returns the number of bytes written.
 */
export async function writeSparseTar(sink: ByteSink, member: SparseMember): Promise<number> {
  const counter = new CountingSink(sink);
  const map = sparseMap(member);
  const storedBytes = member.regions.reduce((sum, region) => sum + region.length, 0);
  await counter.write(encodeHeader(member, map, storedBytes));
  for (let start = HEADER_SPARSE_SLOTS; start < map.length; start += EXTENSION_SPARSE_SLOTS) {
    await counter.write(
      encodeExtension(
        map.slice(start, start + EXTENSION_SPARSE_SLOTS),
        start + EXTENSION_SPARSE_SLOTS < map.length,
      ),
    );
  }
  const dataStart = counter.bytes;
  await member.writeData(counter);
  const written = counter.bytes - dataStart;
  if (written !== storedBytes) {
    throw new Error(
      `sparse member ${member.name} declared ${storedBytes} data bytes but wrote ${written}`,
    );
  }
  await counter.writeZeros(2 * BLOCK_BYTES);
  await counter.writeZeros(padding(counter.bytes, RECORD_BYTES));
  return counter.bytes;
}

function padding(length: number, multiple: number): number {
  return (multiple - (length % multiple)) % multiple;
}

/**
 * The map as GNU tar writes it: adjacent regions merged, and a zero-length entry at the end of the
 * file when it ends in a hole. That last entry is what makes GNU tar extend the extracted file to
 * its full size.
 */
function sparseMap(member: SparseMember): SparseRegion[] {
  const map: SparseRegion[] = [];
  let end = 0;
  for (const region of member.regions) {
    if (region.offset < end || region.offset + region.length > member.size) {
      throw new RangeError(
        `sparse regions of ${member.name} overlap, are out of order or exceed its size`,
      );
    }
    if (region.offset % BLOCK_BYTES !== 0 || region.length % BLOCK_BYTES !== 0) {
      throw new RangeError(
        `sparse region ${region.offset}+${region.length} of ${member.name} is not aligned to ${BLOCK_BYTES} bytes`,
      );
    }
    const last = map[map.length - 1];
    if (last !== undefined && last.offset + last.length === region.offset)
      last.length += region.length;
    else if (region.length > 0) map.push({ ...region });
    end = region.offset + region.length;
  }
  if (end < member.size || map.length === 0) map.push({ offset: member.size, length: 0 });
  return map;
}

function encodeHeader(
  member: SparseMember,
  map: readonly SparseRegion[],
  storedBytes: number,
): Uint8Array {
  const header = new Uint8Array(BLOCK_BYTES);
  const name = Buffer.from(member.name, "ascii");
  if (name.byteLength > 100)
    throw new RangeError(`tar member name ${member.name} is longer than 100 bytes`);
  header.set(name, 0);
  // Fixed metadata, so the archive depends only on the disk's bytes: mode 0644, root-owned, mtime 0.
  writeOctal(header, 100, 8, 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeNumber(header, 124, storedBytes);
  writeNumber(header, 136, 0);
  header[156] = "S".charCodeAt(0);
  header.set(Buffer.from("ustar  \0", "ascii"), 257); // the old GNU magic and version
  header.set(Buffer.from("root", "ascii"), 265);
  header.set(Buffer.from("root", "ascii"), 297);
  // 345-385: access and change times, offset and long names: unused, left zero as GNU tar does.
  map
    .slice(0, HEADER_SPARSE_SLOTS)
    .forEach((region, index) => writeSparseSlot(header, 386 + index * 24, region));
  header[482] = map.length > HEADER_SPARSE_SLOTS ? 1 : 0;
  writeNumber(header, 483, member.size);
  writeChecksum(header);
  return header;
}

function encodeExtension(slots: readonly SparseRegion[], more: boolean): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  slots.forEach((region, index) => writeSparseSlot(block, index * 24, region));
  block[504] = more ? 1 : 0;
  return block;
}

function writeSparseSlot(block: Uint8Array, offset: number, region: SparseRegion): void {
  writeNumber(block, offset, region.offset);
  writeNumber(block, offset + 12, region.length);
}

/** A 12-byte numeric field: 11 octal digits and a NUL, or GNU's base-256 form for larger values. */
function writeNumber(block: Uint8Array, offset: number, value: number): void {
  if (value <= LARGEST_OCTAL_12) {
    writeOctal(block, offset, 12, value);
    return;
  }
  // Base-256: the first byte's high bit marks it; the value fills the field big-endian.
  let rest = BigInt(value);
  for (let index = offset + 11; index > offset; index--) {
    block[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

/** `width - 1` zero-padded octal digits followed by a NUL. */
function writeOctal(block: Uint8Array, offset: number, width: number, value: number): void {
  block.set(Buffer.from(value.toString(8).padStart(width - 1, "0") + "\0", "ascii"), offset);
}

/** The header checksum: the byte sum with the checksum field counted as spaces, as 6 octal digits, NUL, space. */
function writeChecksum(header: Uint8Array): void {
  header.fill(0x20, 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.set(Buffer.from(sum.toString(8).padStart(6, "0") + "\0 ", "ascii"), 148);
}
