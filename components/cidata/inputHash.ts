/**
 * A content hash of the CIDATA inputs, computed without packing, for `pulumi preview` to decide
 * whether the disk (and so the image) must be rebuilt.
 */
import { createHash } from "node:crypto";
import { readPlannedFile, READ_BUFFER_BYTES } from "./fileContent";
import { planCidata } from "./plan";
import type { CidataSpec } from "./spec";

/**
 * Version of the disk format this packer writes. Part of the hash, so that a packer that writes
 * different bytes for the same inputs (a fix, a new layout) also changes the hash and rebuilds.
 */
export const CIDATA_FORMAT_VERSION = 1;

/**
 * Cheap content hash (hex sha256) of the same inputs the archive is made from: the label, the
 * disk size, every directory's and file's destination path, and every file's size and content.
 * It streams each file once and packs nothing. It plans first, so bad input fails here with the
 * same {@link CidataError} as planCidata. Timestamps, permissions and local paths do not count.
 */
export async function hashCidataInputs(spec: CidataSpec): Promise<string> {
  const plan = await planCidata(spec);
  const hash = createHash("sha256");
  const line = (record: object): void => {
    hash.update(`${JSON.stringify(record)}\n`);
  };
  line({ format: CIDATA_FORMAT_VERSION, label: plan.label, diskSizeBytes: plan.diskSizeBytes });
  for (const directory of plan.directories) line({ directory: directory.destination });
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  for (const file of plan.files) {
    // The size comes first, so file boundaries in the hashed stream are unambiguous.
    line({ file: file.destination, size: file.size });
    await readPlannedFile(file, buffer, (bytes) => {
      hash.update(bytes);
      return Promise.resolve();
    });
  }
  return hash.digest("hex");
}
