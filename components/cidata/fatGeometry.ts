/**
 * The geometry of the FAT32 volume that fills disk.raw: sector and cluster sizes, where the
 * reserved area, the two FATs and the data region lie, and how many clusters there are.
 *
 * The volume covers the whole disk with no partition table (a "superfloppy"), as COS Customizer's
 * cidata.img does: Linux finds the label on the bare device, /dev/disk/by-label/CIDATA included.
 *
 * Why FAT32 only: GCE disks are whole GiB, and a 1 GiB volume with Microsoft's and mkfs.fat's
 * default cluster size (4 KiB) has 262 000 clusters, far above the 65 524 that FAT16 can address.
 * FAT16 would need 32 KiB clusters there, which no formatter picks; FAT32 is the type the cluster
 * count calls for at every size this packer can produce, and {@link fat32Geometry} checks it.
 */

/** Bytes per sector: 512, the logical sector size of GCE persistent disks and of mkfs.fat's default. */
export const SECTOR_BYTES = 512;
/** One GiB: the unit GCE disk and image sizes come in. */
export const GIB = 1024 ** 3;
/** The largest file FAT can hold: its size field is 32 bits. */
export const MAX_FILE_BYTES = 0xffff_ffff;
/** The largest disk: FAT32 counts sectors in 32 bits, so 2 TiB less one sector, i.e. 2047 whole GiB. */
export const MAX_DISK_BYTES = 2047 * GIB;
/** Number of FAT copies, as every formatter writes (fsck.fat compares them). */
export const FAT_COUNT = 2;
/** Bytes per FAT32 entry. */
export const FAT32_ENTRY_BYTES = 4;
/** The first data cluster; FAT entries 0 and 1 are reserved. FAT32's root directory starts here. */
export const FIRST_DATA_CLUSTER = 2;

/** FAT32 needs at least this many clusters; with fewer, drivers take the volume for FAT16. */
const MIN_FAT32_CLUSTERS = 65525;
/** Entries 0x0FFFFFF6 and above are reserved or end-of-chain marks. */
const MAX_FAT32_CLUSTERS = 0x0ffffff5;
/** Reserved sectors before alignment: boot sector, FSInfo, the backups at 6 and 7, room to spare. */
const BASE_RESERVED_SECTORS = 32;

/** Where everything lies on the volume. All offsets are in sectors from the start of disk.raw. */
export interface FatGeometry {
  /** Size of disk.raw in bytes, a whole number of GiB. */
  diskBytes: number;
  /** Sectors in the volume (the whole disk). */
  totalSectors: number;
  /** Sectors per cluster (8 for disks up to 8 GiB, then 16, 32, 64 as Microsoft's table says). */
  sectorsPerCluster: number;
  /** Bytes per cluster. */
  clusterBytes: number;
  /** Reserved sectors: boot sector, FSInfo, their backups, padding that aligns the data region. */
  reservedSectors: number;
  /** Sectors per FAT copy. */
  sectorsPerFat: number;
  /** First sector of the data region (cluster 2); a multiple of the cluster size. */
  dataStartSector: number;
  /** Number of data clusters (clusters 2 to clusterCount + 1). */
  clusterCount: number;
}

/** Cluster size for a FAT32 volume of `diskBytes`, after Microsoft's default table. */
function sectorsPerClusterFor(diskBytes: number): number {
  if (diskBytes <= 8 * GIB) return 8;
  if (diskBytes <= 16 * GIB) return 16;
  if (diskBytes <= 32 * GIB) return 32;
  return 64;
}

/**
 * Lays out a FAT32 volume over a disk of `diskBytes` (a whole number of GiB, 1 to 2047 GiB; the
 * caller validates user input, so anything else here is a programming error).
 */
export function fat32Geometry(diskBytes: number): FatGeometry {
  if (!Number.isInteger(diskBytes / GIB) || diskBytes < GIB || diskBytes > MAX_DISK_BYTES) {
    throw new RangeError(`disk size ${diskBytes} is not a whole number of GiB between 1 and 2047`);
  }
  const totalSectors = diskBytes / SECTOR_BYTES;
  const sectorsPerCluster = sectorsPerClusterFor(diskBytes);
  // Size the FATs for every cluster the space after the reserved area could hold: a slight
  // overestimate (the FATs themselves take room), which keeps the FAT large enough by construction.
  const clusterUpperBound = Math.floor((totalSectors - BASE_RESERVED_SECTORS) / sectorsPerCluster);
  const sectorsPerFat = Math.ceil(
    ((clusterUpperBound + FIRST_DATA_CLUSTER) * FAT32_ENTRY_BYTES) / SECTOR_BYTES,
  );
  // Grow the reserved area so the data region starts on a cluster boundary, as mkfs.fat does.
  const unaligned = (BASE_RESERVED_SECTORS + FAT_COUNT * sectorsPerFat) % sectorsPerCluster;
  const reservedSectors =
    BASE_RESERVED_SECTORS + (unaligned === 0 ? 0 : sectorsPerCluster - unaligned);
  const dataStartSector = reservedSectors + FAT_COUNT * sectorsPerFat;
  const clusterCount = Math.floor((totalSectors - dataStartSector) / sectorsPerCluster);
  if (clusterCount < MIN_FAT32_CLUSTERS || clusterCount > MAX_FAT32_CLUSTERS) {
    throw new RangeError(
      `a ${diskBytes}-byte disk gives ${clusterCount} clusters, outside FAT32's range`,
    );
  }
  return {
    diskBytes,
    totalSectors,
    sectorsPerCluster,
    clusterBytes: sectorsPerCluster * SECTOR_BYTES,
    reservedSectors,
    sectorsPerFat,
    dataStartSector,
    clusterCount,
  };
}

/** Clusters needed to hold `bytes` of content (0 for an empty file). */
export function clustersFor(bytes: number, clusterBytes: number): number {
  return Math.ceil(bytes / clusterBytes);
}
