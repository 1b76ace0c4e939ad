/**
 * Encodes FAT directory contents: 32-byte short entries, the VFAT long-name entries before them,
 * the "." and ".." entries of subdirectories and the volume-label entry of the root.
 */
import { isExactShortName, shortNameBytes, shortNameChecksum } from "./fatNames";

/** Bytes per directory entry ("slot"). */
export const DIRECTORY_SLOT_BYTES = 32;
/** A FAT directory may hold at most 65536 slots (2 MiB); fsck.fat and drivers enforce it. */
export const MAX_DIRECTORY_SLOTS = 65536;

const UNITS_PER_LONG_NAME_SLOT = 13;
const ATTRIBUTE_VOLUME_ID = 0x08;
const ATTRIBUTE_DIRECTORY = 0x10;
const ATTRIBUTE_ARCHIVE = 0x20;
const ATTRIBUTE_LONG_NAME = 0x0f;
const LAST_LONG_NAME_SLOT = 0x40;
/**
 * Every timestamp is FAT's epoch, 1980-01-01 00:00:00 (date word: day 1, month 1, year 0), so the
 * bytes depend on the inputs only, never on when or where they were packed.
 */
const FAT_EPOCH_DATE = (1 << 5) | 1;

/** One file or subdirectory as it appears in its parent directory. */
export interface DirectoryEntry {
  /** The long (real) name, as the user gave it. */
  name: string;
  /** The 8.3 alias, unique within the directory (see ShortNameAllocator). */
  shortName: string;
  /** Whether the entry is a directory rather than a file. */
  isDirectory: boolean;
  /** First cluster of the content; 0 for an empty file. */
  firstCluster: number;
  /** Size in bytes for files; 0 for directories. */
  size: number;
}

/** What one directory's cluster chain holds. */
export interface DirectoryContent {
  /** For a subdirectory: its own first cluster and its parent's (0 when the parent is the root). */
  dotEntries?: { selfCluster: number; parentCluster: number };
  /** For the root directory: the volume label, which blkid and cloud-init read from here. */
  volumeLabel?: string;
  /** The children, in the order they are written. */
  entries: readonly DirectoryEntry[];
}

/** How many 32-byte slots an entry named `name` takes: its short entry plus any long-name slots. */
export function slotsForName(name: string): number {
  return isExactShortName(name) ? 1 : 1 + Math.ceil(name.length / UNITS_PER_LONG_NAME_SLOT);
}

/** How many slots a directory's content takes, before rounding up to whole clusters. */
export function directorySlotCount(
  content: Omit<DirectoryContent, "entries"> & { names: readonly string[] },
): number {
  const fixed = (content.dotEntries ? 2 : 0) + (content.volumeLabel !== undefined ? 1 : 0);
  return content.names.reduce((total, name) => total + slotsForName(name), fixed);
}

/** Encodes a directory's slots into `target` (zero-filled, at least as large as the slots). */
export function encodeDirectory(content: DirectoryContent, target: Uint8Array): void {
  let slot = 0;
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  const put = (write: (offset: number) => void): void => {
    write(slot * DIRECTORY_SLOT_BYTES);
    slot++;
  };
  if (content.volumeLabel !== undefined) {
    const label = paddedName(content.volumeLabel);
    put((offset) => writeShortEntry(view, offset, label, ATTRIBUTE_VOLUME_ID, 0, 0));
  }
  if (content.dotEntries) {
    const { selfCluster, parentCluster } = content.dotEntries;
    put((offset) =>
      writeShortEntry(view, offset, paddedName("."), ATTRIBUTE_DIRECTORY, selfCluster, 0),
    );
    put((offset) =>
      writeShortEntry(view, offset, paddedName(".."), ATTRIBUTE_DIRECTORY, parentCluster, 0),
    );
  }
  for (const entry of content.entries) {
    const stored = shortNameBytes(entry.shortName);
    if (!isExactShortName(entry.name)) {
      const checksum = shortNameChecksum(stored);
      const count = Math.ceil(entry.name.length / UNITS_PER_LONG_NAME_SLOT);
      // Long-name slots come last part first; the first written carries the "last" flag.
      for (let part = count; part >= 1; part--) {
        put((offset) =>
          writeLongNameSlot(view, offset, entry.name, part, part === count, checksum),
        );
      }
    }
    const attribute = entry.isDirectory ? ATTRIBUTE_DIRECTORY : ATTRIBUTE_ARCHIVE;
    put((offset) =>
      writeShortEntry(view, offset, stored, attribute, entry.firstCluster, entry.size),
    );
  }
}

/** ".", ".." and the volume label are stored as-is, space-padded to 11 bytes, not as base + extension. */
export function paddedName(name: string): Uint8Array {
  return Uint8Array.from(Buffer.from(name.padEnd(11, " "), "latin1"));
}

function writeShortEntry(
  view: DataView,
  offset: number,
  stored: Uint8Array,
  attribute: number,
  firstCluster: number,
  size: number,
): void {
  new Uint8Array(view.buffer, view.byteOffset + offset, 11).set(stored);
  view.setUint8(offset + 11, attribute);
  // Bytes 12-15 (case flags, creation tenths and time) stay 0: the epoch needs no other value.
  view.setUint16(offset + 16, FAT_EPOCH_DATE, true); // creation date
  view.setUint16(offset + 18, FAT_EPOCH_DATE, true); // last access date
  view.setUint16(offset + 20, firstCluster >>> 16, true);
  view.setUint16(offset + 24, FAT_EPOCH_DATE, true); // write date (write time at 22 stays 0)
  view.setUint16(offset + 26, firstCluster & 0xffff, true);
  view.setUint32(offset + 28, size, true);
}

/** Character positions within a long-name slot: 5 units at 1, 6 at 14, 2 at 28. */
const LONG_NAME_UNIT_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

function writeLongNameSlot(
  view: DataView,
  offset: number,
  name: string,
  part: number,
  isLast: boolean,
  checksum: number,
): void {
  view.setUint8(offset, part | (isLast ? LAST_LONG_NAME_SLOT : 0));
  view.setUint8(offset + 11, ATTRIBUTE_LONG_NAME);
  view.setUint8(offset + 13, checksum);
  const start = (part - 1) * UNITS_PER_LONG_NAME_SLOT;
  LONG_NAME_UNIT_OFFSETS.forEach((unitOffset, index) => {
    const position = start + index;
    // After the name: one 0x0000 terminator, then 0xFFFF padding (unless the name fills the slot).
    const unit =
      position < name.length ? name.charCodeAt(position) : position === name.length ? 0 : 0xffff;
    view.setUint16(offset + unitOffset, unit, true);
  });
}
