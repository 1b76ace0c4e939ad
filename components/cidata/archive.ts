/**
 * Streams the GCE raw-disk archive of a plan: disk.raw (the FAT volume) as the single member of a
 * sparse GNU tar, gzip-compressed on all cores, written straight to its destination. Nothing is
 * held in memory beyond a few chunks and nothing is written to a temporary file.
 */
import { openArchiveOutput } from "./archiveOutput";
import { diskImageRegions } from "./fatImage";
import { ParallelGzipSink, type ParallelGzipOptions } from "./parallelGzip";
import type { CidataPlan } from "./plan";
import { writeSparseTar } from "./sparseTar";

/** The name GCE requires for the disk inside the archive. */
export const DISK_MEMBER_NAME = "disk.raw";

/** Sizes of a written archive. */
export interface CidataArchiveSizes {
  /** Bytes of the .tar.gz written to the destination. */
  archiveBytes: number;
  /** Size of disk.raw inside it (the plan's disk size): the size of the GCE image. */
  diskBytes: number;
}

/**
 * Streams the GCE raw-disk archive (a gzip'd tar holding exactly one member, disk.raw) to a file
 * path or a writable stream (e.g. an upload stream). On success a stream is ended; on failure a
 * file is removed and a stream is destroyed with the error, which is then rethrown (a
 * {@link CidataError} when a source file changed since planning).
 *
 * For the same plan inputs the bytes are identical from run to run (fixed timestamps, sorted
 * order, serial derived from the plan, gzip header without mtime); disk.raw and the tar are
 * identical on every machine, while the compressed bytes could differ between zlib builds.
 *
 * @param plan - The layout from planCidata; files are read now and must still have their planned sizes.
 * @param destination - A file path (created or truncated) or a writable stream.
 * @param options - Compression tuning (worker threads, chunk size, level); the defaults suit every use.
 */
export async function writeCidataArchive(
  plan: CidataPlan,
  destination: string | NodeJS.WritableStream,
  options: ParallelGzipOptions = {},
): Promise<CidataArchiveSizes> {
  const output = await openArchiveOutput(destination);
  let gzip: ParallelGzipSink | undefined;
  try {
    gzip = new ParallelGzipSink((bytes) => output.write(bytes), options);
    const regions = diskImageRegions(plan);
    await writeSparseTar(gzip, {
      name: DISK_MEMBER_NAME,
      size: plan.diskSizeBytes,
      regions,
      async writeData(sink) {
        for (const region of regions) await region.write(sink);
      },
    });
    const archiveBytes = await gzip.finish();
    await output.end();
    return { archiveBytes, diskBytes: plan.diskSizeBytes };
  } catch (error) {
    await gzip?.abort();
    await output.fail(error);
    throw error;
  }
}
