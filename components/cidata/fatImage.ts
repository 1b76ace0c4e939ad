/**
 * Produces the bytes of disk.raw from a plan, as the few regions that are not all zeros: the
 * reserved area (boot sector, FSInfo and their backups), the used part of each FAT, and the used
 * clusters of the data region. Everything else on the disk is zero and left to the sparse tar.
 */
import type { ByteSink } from "./byteSink";
import { encodeDirectory, paddedName } from "./fatDirectory";
import {
  FAT32_ENTRY_BYTES,
  FAT_COUNT,
  FIRST_DATA_CLUSTER,
  SECTOR_BYTES,
  type FatGeometry,
} from "./fatGeometry";
import { readPlannedFile, READ_BUFFER_BYTES } from "./fileContent";
import type { CidataPlan } from "./plan";

/** A stretch of disk.raw holding data, and how to produce its bytes (exactly `length` of them). */
export interface DiskRegion {
  /** Byte offset in disk.raw. */
  offset: number;
  /** Length in bytes. */
  length: number;
  /** Writes the region's bytes to `sink`, in order. */
  write(sink: ByteSink): Promise<void>;
}

const FSINFO_SECTOR = 1;
const BACKUP_BOOT_SECTOR = 6;
const END_OF_CHAIN = 0x0fffffff;
/** FAT entry 0 holds the media byte (0xF8, fixed disk); entry 1 is end-of-chain with the "clean" bits set. */
const FAT_ENTRY_0 = 0x0ffffff8;
const FAT_ENTRY_1 = 0x0fffffff;
/** FAT bytes are produced in pieces of this size, since a large disk's FAT may not fit in memory. */
const FAT_PIECE_BYTES = 64 * 1024;

/** The non-zero regions of the plan's disk image, in disk order, not overlapping. */
export function diskImageRegions(plan: CidataPlan): DiskRegion[] {
  const { geometry } = plan;
  const reservedBytes = geometry.reservedSectors * SECTOR_BYTES;
  const reservedArea = buildReservedArea(plan);
  const usedFatBytes = roundUp(
    (FIRST_DATA_CLUSTER + plan.usedClusters) * FAT32_ENTRY_BYTES,
    SECTOR_BYTES,
  );
  const regions: DiskRegion[] = [
    { offset: 0, length: reservedBytes, write: (sink) => sink.write(reservedArea) },
  ];
  for (let copy = 0; copy < FAT_COUNT; copy++) {
    regions.push({
      offset: reservedBytes + copy * geometry.sectorsPerFat * SECTOR_BYTES,
      length: usedFatBytes,
      write: (sink) => writeFat(plan, usedFatBytes, sink),
    });
  }
  regions.push({
    offset: geometry.dataStartSector * SECTOR_BYTES,
    length: plan.usedClusters * geometry.clusterBytes,
    write: (sink) => writeDataRegion(plan, sink),
  });
  return regions;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Boot sector, FSInfo sector and their backups at sectors 6 and 7; the rest is zero. */
function buildReservedArea(plan: CidataPlan): Uint8Array {
  const { geometry } = plan;
  const area = new Uint8Array(geometry.reservedSectors * SECTOR_BYTES);
  const bootSector = area.subarray(0, SECTOR_BYTES);
  encodeBootSector(plan, bootSector);
  const fsInfo = area.subarray(FSINFO_SECTOR * SECTOR_BYTES, (FSINFO_SECTOR + 1) * SECTOR_BYTES);
  encodeFsInfo(geometry, plan.usedClusters, fsInfo);
  area.set(bootSector, BACKUP_BOOT_SECTOR * SECTOR_BYTES);
  area.set(fsInfo, (BACKUP_BOOT_SECTOR + FSINFO_SECTOR) * SECTOR_BYTES);
  return area;
}

function encodeBootSector(plan: CidataPlan, sector: Uint8Array): void {
  const { geometry } = plan;
  const view = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  const text = (offset: number, value: string): void =>
    sector.set(Buffer.from(value, "latin1"), offset);
  sector.set([0xeb, 0x58, 0x90], 0); // jump over the BPB to the boot code at 90
  text(3, "MSWIN4.1"); // the OEM name most compatible with old drivers
  view.setUint16(11, SECTOR_BYTES, true);
  view.setUint8(13, geometry.sectorsPerCluster);
  view.setUint16(14, geometry.reservedSectors, true);
  view.setUint8(16, FAT_COUNT);
  // 17-20: root entry count and 16-bit sector count, both 0 on FAT32.
  view.setUint8(21, 0xf8); // media: fixed disk
  // 22: 16-bit FAT size, 0 on FAT32 (this is what tells drivers the volume is FAT32).
  view.setUint16(24, 63, true); // sectors per track and heads: the usual LBA-translated geometry
  view.setUint16(26, 255, true);
  // 28: hidden sectors, 0: the volume starts at the start of the disk.
  view.setUint32(32, geometry.totalSectors, true);
  view.setUint32(36, geometry.sectorsPerFat, true);
  // 40-43: flags 0 (both FATs mirrored) and version 0.0.
  view.setUint32(44, FIRST_DATA_CLUSTER, true); // root directory cluster
  view.setUint16(48, FSINFO_SECTOR, true);
  view.setUint16(50, BACKUP_BOOT_SECTOR, true);
  view.setUint8(64, 0x80); // drive number: hard disk
  view.setUint8(66, 0x29); // extended boot signature: serial, label and type follow
  view.setUint32(67, plan.volumeSerial, true);
  sector.set(paddedName(plan.label), 71);
  text(82, "FAT32   ");
  // Boot code: "int 0x18" asks the BIOS to try the next boot device; then halt in a loop.
  sector.set([0xcd, 0x18, 0xf4, 0xeb, 0xfd], 90);
  sector.set([0x55, 0xaa], 510);
}

function encodeFsInfo(geometry: FatGeometry, usedClusters: number, sector: Uint8Array): void {
  const view = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  const freeClusters = geometry.clusterCount - usedClusters;
  view.setUint32(0, 0x41615252, true);
  view.setUint32(484, 0x61417272, true);
  // fsck.fat checks the free count; the next-free hint points just past the last used cluster.
  view.setUint32(488, freeClusters, true);
  view.setUint32(492, freeClusters > 0 ? FIRST_DATA_CLUSTER + usedClusters : 0xffffffff, true);
  view.setUint32(508, 0xaa550000, true);
}

/** Cluster runs in disk order: every directory and non-empty file takes one contiguous run. */
function clusterRuns(plan: CidataPlan): { first: number; count: number }[] {
  const runs = [...plan.directories, ...plan.files].filter((run) => run.clusterCount > 0);
  return runs.map((run) => ({ first: run.firstCluster, count: run.clusterCount }));
}

/** Writes the used part of one FAT: entries 0 and 1, then each run chained to its end. */
async function writeFat(plan: CidataPlan, usedFatBytes: number, sink: ByteSink): Promise<void> {
  const runs = clusterRuns(plan);
  const piece = new Uint8Array(FAT_PIECE_BYTES);
  const view = new DataView(piece.buffer);
  const entriesPerPiece = FAT_PIECE_BYTES / FAT32_ENTRY_BYTES;
  const totalEntries = usedFatBytes / FAT32_ENTRY_BYTES;
  let runIndex = 0;
  for (let start = 0; start < totalEntries; start += entriesPerPiece) {
    const count = Math.min(entriesPerPiece, totalEntries - start);
    for (let index = 0; index < count; index++) {
      const cluster = start + index;
      let value = 0; // free: the sector padding after the last used cluster
      if (cluster === 0) value = FAT_ENTRY_0;
      else if (cluster === 1) value = FAT_ENTRY_1;
      else {
        while (runIndex < runs.length && cluster >= runs[runIndex].first + runs[runIndex].count)
          runIndex++;
        const run = runs[runIndex];
        if (run !== undefined && cluster >= run.first) {
          value = cluster === run.first + run.count - 1 ? END_OF_CHAIN : cluster + 1;
        }
      }
      view.setUint32(index * FAT32_ENTRY_BYTES, value, true);
    }
    await sink.write(piece.subarray(0, count * FAT32_ENTRY_BYTES));
  }
}

/** Writes every directory's clusters, then every file's, each padded with zeros to whole clusters. */
async function writeDataRegion(plan: CidataPlan, sink: ByteSink): Promise<void> {
  const { clusterBytes } = plan.geometry;
  for (const directory of plan.directories) {
    const bytes = new Uint8Array(directory.clusterCount * clusterBytes);
    encodeDirectory(directory.content, bytes);
    await sink.write(bytes);
  }
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  for (const file of plan.files) {
    await readPlannedFile(file, buffer, (bytes) => sink.write(bytes));
    await sink.writeZeros(file.clusterCount * clusterBytes - file.size);
  }
}
