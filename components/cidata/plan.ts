/**
 * Plans the CIDATA volume: validates the spec, walks the sources (stat only), picks the disk size
 * and gives every directory and file its clusters. Everything the writer needs is decided here, so
 * bad input fails before a single byte is uploaded.
 */
import { createHash } from "node:crypto";
import { CidataError } from "./errors";
import {
  DIRECTORY_SLOT_BYTES,
  MAX_DIRECTORY_SLOTS,
  directorySlotCount,
  type DirectoryContent,
} from "./fatDirectory";
import {
  clustersFor,
  fat32Geometry,
  FIRST_DATA_CLUSTER,
  GIB,
  MAX_DISK_BYTES,
  type FatGeometry,
} from "./fatGeometry";
import { ShortNameAllocator } from "./fatNames";
import {
  buildSourceTree,
  compareNames,
  type FileSource,
  type TreeDirectory,
  type TreeFile,
  type TreeNode,
} from "./sourceTree";
import { DEFAULT_LABEL, type CidataSpec } from "./spec";

/** A directory of the volume with its place on disk. */
export interface PlannedDirectory {
  /** Destination path ("" for the root). */
  destination: string;
  /** First cluster of its contiguous run. */
  firstCluster: number;
  /** Clusters it takes (at least one). */
  clusterCount: number;
  /** Its entries, ready to encode. */
  content: DirectoryContent;
}

/** A file of the volume with its place on disk. */
export interface PlannedFile {
  /** Destination path. */
  destination: string;
  /** First cluster of its contiguous run; 0 for an empty file. */
  firstCluster: number;
  /** Clusters it takes (0 for an empty file). */
  clusterCount: number;
  /** Size in bytes, as stat'ed when planning; the writer fails if the file no longer has it. */
  size: number;
  /** Where its bytes come from. */
  source: FileSource;
}

/**
 * The complete layout of a CIDATA disk, computed by {@link planCidata} and consumed by
 * writeCidataArchive and hashCidataInputs. Plain data; treat it as read-only.
 */
export interface CidataPlan {
  /** The volume label. */
  readonly label: string;
  /** Size of disk.raw in bytes: a whole number of GiB. */
  readonly diskSizeBytes: number;
  /** Where the reserved area, FATs and data region lie. */
  readonly geometry: FatGeometry;
  /** Volume serial number, derived from the plan (names, sizes, label, in-memory content). */
  readonly volumeSerial: number;
  /** Every directory, root first, in the order of their clusters. */
  readonly directories: readonly PlannedDirectory[];
  /** Every file, in the order of their clusters (a depth-first walk of the sorted tree). */
  readonly files: readonly PlannedFile[];
  /** Clusters in use: from cluster 2 up to the last one allocated, with no gap. */
  readonly usedClusters: number;
  /** Total bytes of file content. */
  readonly contentBytes: number;
}

/** A directory with its children sorted and short names chosen; sizes are in slots, not clusters. */
interface SortedDirectory {
  node: TreeDirectory;
  parent?: SortedDirectory;
  children: TreeNode[];
  shortNames: string[];
  slotCount: number;
}

const LABEL_PATTERN = /^[A-Z0-9!#$%&'()\-@^_`{}~][A-Z0-9 !#$%&'()\-@^_`{}~]{0,10}$/;

/**
 * Walks and validates everything (stat only, reads no file content) and computes the layout.
 * All bad input is reported here, as a {@link CidataError}, before anything is uploaded.
 */
export async function planCidata(spec: CidataSpec): Promise<CidataPlan> {
  if (typeof spec !== "object" || spec === null) {
    throw new CidataError("the spec must be an object { entries, label?, diskSizeBytes? }");
  }
  const label = validateLabel(spec.label);
  validateDiskSize(spec.diskSizeBytes);
  const root = await buildSourceTree(spec.entries);
  const { directories, files } = sortTree(root);
  const diskSizeBytes = spec.diskSizeBytes ?? smallestFittingDisk(directories, files);
  const geometry = fat32Geometry(diskSizeBytes);
  const needed = clustersNeeded(directories, files, geometry.clusterBytes);
  if (needed > geometry.clusterCount) {
    throw new CidataError(
      `the content (${totalBytes(files)} bytes in ${files.length} files, ${needed} clusters of ${geometry.clusterBytes} bytes) ` +
        `does not fit a ${diskSizeBytes / GIB} GiB disk (${geometry.clusterCount} clusters): ` +
        `raise diskSizeBytes to ${smallestFittingDisk(directories, files) / GIB} GiB or leave it unset`,
      { destinationPath: "diskSizeBytes" },
    );
  }
  return allocate(label, geometry, directories, files);
}

function validateLabel(label: unknown): string {
  if (label === undefined) return DEFAULT_LABEL;
  if (typeof label !== "string" || !LABEL_PATTERN.test(label)) {
    throw new CidataError(
      `${JSON.stringify(label)} is not a FAT volume label: use 1 to 11 characters from A-Z, 0-9, space and !#$%&'()-@^_\`{}~ ` +
        `(upper case, not starting with a space), such as "${DEFAULT_LABEL}"`,
      { destinationPath: "label" },
    );
  }
  return label;
}

function validateDiskSize(diskSizeBytes: unknown): void {
  if (diskSizeBytes === undefined) return;
  if (
    typeof diskSizeBytes !== "number" ||
    !Number.isInteger(diskSizeBytes / GIB) ||
    diskSizeBytes < GIB ||
    diskSizeBytes > MAX_DISK_BYTES
  ) {
    throw new CidataError(
      `${JSON.stringify(diskSizeBytes)} is not a whole number of GiB between 1 GiB (${GIB}) and 2047 GiB: ` +
        "GCE disks come in whole GiB and FAT32 counts 512-byte sectors in 32 bits; use n * 1024 ** 3 or leave it unset",
      { destinationPath: "diskSizeBytes" },
    );
  }
}

/** Sorts every directory's children, picks short names and counts slots, depth-first. */
function sortTree(root: TreeDirectory): { directories: SortedDirectory[]; files: TreeFile[] } {
  const directories: SortedDirectory[] = [];
  const files: TreeFile[] = [];
  const visit = (node: TreeDirectory, parent?: SortedDirectory): void => {
    const children = [...node.children.values()].sort((a, b) => compareNames(a.name, b.name));
    const names = children.map((child) => child.name);
    const slotCount = directorySlotCount({
      names,
      volumeLabel: parent === undefined ? "" : undefined,
      dotEntries: parent === undefined ? undefined : { selfCluster: 0, parentCluster: 0 },
    });
    if (slotCount > MAX_DIRECTORY_SLOTS) {
      throw new CidataError(
        `holds ${children.length} entries taking ${slotCount} directory slots; a FAT directory holds at most ${MAX_DIRECTORY_SLOTS} ` +
          "(long names take a slot per 13 characters): spread the files over subdirectories",
        { destinationPath: node.destination === "" ? "/" : node.destination },
      );
    }
    const sorted: SortedDirectory = {
      node,
      parent,
      children,
      shortNames: ShortNameAllocator.allocate(names),
      slotCount,
    };
    directories.push(sorted);
    for (const child of children) {
      if (child.kind === "directory") visit(child, sorted);
      else files.push(child);
    }
  };
  visit(root);
  return { directories, files };
}

function totalBytes(files: readonly { size: number }[]): number {
  return files.reduce((sum, file) => sum + file.size, 0);
}

function directoryClusters(directory: SortedDirectory, clusterBytes: number): number {
  return Math.max(1, clustersFor(directory.slotCount * DIRECTORY_SLOT_BYTES, clusterBytes));
}

function clustersNeeded(
  directories: readonly SortedDirectory[],
  files: readonly TreeFile[],
  clusterBytes: number,
): number {
  let clusters = 0;
  for (const directory of directories) clusters += directoryClusters(directory, clusterBytes);
  for (const file of files) clusters += clustersFor(file.size, clusterBytes);
  return clusters;
}

function smallestFittingDisk(
  directories: readonly SortedDirectory[],
  files: readonly TreeFile[],
): number {
  // The cluster size changes only at a few disk sizes, so count the clusters once per cluster size.
  const neededByClusterSize = new Map<number, number>();
  for (let diskBytes = GIB; diskBytes <= MAX_DISK_BYTES; diskBytes += GIB) {
    const geometry = fat32Geometry(diskBytes);
    let needed = neededByClusterSize.get(geometry.clusterBytes);
    if (needed === undefined) {
      needed = clustersNeeded(directories, files, geometry.clusterBytes);
      neededByClusterSize.set(geometry.clusterBytes, needed);
    }
    if (needed <= geometry.clusterCount) return diskBytes;
  }
  throw new CidataError(
    `the content (${totalBytes(files)} bytes) does not fit the largest FAT32 disk (2047 GiB): ship less`,
    {
      destinationPath: "entries",
    },
  );
}

/** Gives clusters to directories (root first) then files, all contiguous, and builds the plan. */
function allocate(
  label: string,
  geometry: FatGeometry,
  sorted: readonly SortedDirectory[],
  treeFiles: readonly TreeFile[],
): CidataPlan {
  let nextCluster = FIRST_DATA_CLUSTER;
  const firstClusterOf = new Map<TreeNode, number>();
  const take = (node: TreeNode, clusters: number): number => {
    const first = clusters === 0 ? 0 : nextCluster;
    nextCluster += clusters;
    firstClusterOf.set(node, first);
    return first;
  };
  const directoryRuns = sorted.map((directory) => {
    const clusterCount = directoryClusters(directory, geometry.clusterBytes);
    return { directory, firstCluster: take(directory.node, clusterCount), clusterCount };
  });
  const files: PlannedFile[] = treeFiles.map((file) => {
    const clusterCount = clustersFor(file.size, geometry.clusterBytes);
    return {
      destination: file.destination,
      firstCluster: take(file, clusterCount),
      clusterCount,
      size: file.size,
      source: file.source,
    };
  });
  const directories: PlannedDirectory[] = directoryRuns.map(
    ({ directory, firstCluster, clusterCount }) => ({
      destination: directory.node.destination,
      firstCluster,
      clusterCount,
      content: {
        volumeLabel: directory.parent === undefined ? label : undefined,
        // ".." of a directory whose parent is the root points at cluster 0, by FAT convention.
        dotEntries:
          directory.parent === undefined
            ? undefined
            : {
                selfCluster: firstCluster,
                parentCluster:
                  directory.parent.parent === undefined
                    ? 0
                    : (firstClusterOf.get(directory.parent.node) ?? 0),
              },
        entries: directory.children.map((child, index) => ({
          name: child.name,
          shortName: directory.shortNames[index],
          isDirectory: child.kind === "directory",
          firstCluster: firstClusterOf.get(child) ?? 0,
          size: child.kind === "file" ? child.size : 0,
        })),
      },
    }),
  );
  const plan = {
    label,
    diskSizeBytes: geometry.diskBytes,
    geometry,
    directories,
    files,
    usedClusters: nextCluster - FIRST_DATA_CLUSTER,
    contentBytes: totalBytes(files),
  };
  return { ...plan, volumeSerial: volumeSerialOf(plan) };
}

/**
 * A serial number that depends only on the plan: the writer must emit the boot sector before it
 * reads any file, so file contents cannot enter it (hashCidataInputs covers them instead).
 */
function volumeSerialOf(plan: Omit<CidataPlan, "volumeSerial">): number {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ label: plan.label, diskSizeBytes: plan.diskSizeBytes }));
  for (const directory of plan.directories) hash.update(`\0d${directory.destination}`);
  for (const file of plan.files) {
    hash.update(`\0f${file.destination}\0${file.size}`);
    if ("content" in file.source) hash.update(file.source.content);
  }
  return hash.digest().readUInt32LE(0);
}
