/**
 * The CIDATA disk packer: builds the FAT volume labelled CIDATA that carries the provisioner, its
 * config, the NoCloud user-data/meta-data and the user's build context to the preload VM, as a
 * GCE raw-disk archive (disk.raw in a gzip'd tar), in TypeScript, with no system tools.
 *
 * planCidata validates and lays out (stat only); writeCidataArchive streams the archive;
 * hashCidataInputs hashes the inputs for previews without packing.
 */
export { writeCidataArchive, DISK_MEMBER_NAME, type CidataArchiveSizes } from "./archive";
export { CidataError, type CidataErrorLocation } from "./errors";
export { hashCidataInputs, CIDATA_FORMAT_VERSION } from "./inputHash";
export type { ParallelGzipOptions } from "./parallelGzip";
export { planCidata, type CidataPlan, type PlannedDirectory, type PlannedFile } from "./plan";
export type { DirectoryContent, DirectoryEntry } from "./fatDirectory";
export type { FatGeometry } from "./fatGeometry";
export type { FileSource } from "./sourceTree";
export { DEFAULT_LABEL, type CidataEntry, type CidataSpec } from "./spec";
