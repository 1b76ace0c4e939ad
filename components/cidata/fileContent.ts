/**
 * Reads a planned file's bytes in order, for both the archive writer and the input hash, and
 * checks that the file still has the size it had when the plan was made.
 */
import * as fs from "node:fs/promises";
import { CidataError } from "./errors";
import type { PlannedFile } from "./plan";

/** Size of the buffer a local file is read through. */
export const READ_BUFFER_BYTES = 1024 * 1024;

/**
 * Hands the file's content to `consume` piece by piece (each piece is only valid until `consume`
 * resolves). Fails with a {@link CidataError} if a local file is gone or its size changed since
 * planning: the layout was computed for the planned size, so writing other bytes would corrupt it.
 */
export async function readPlannedFile(
  file: PlannedFile,
  buffer: Uint8Array,
  consume: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  if ("content" in file.source) {
    await consume(file.source.content);
    return;
  }
  const { localPath } = file.source;
  const changed = (now: string): CidataError =>
    new CidataError(
      `changed since planning (planned ${file.size} bytes, ${now}): plan again, and keep the build context unchanged while packing`,
      {
        localPath,
        destinationPath: file.destination,
      },
    );
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(localPath, "r");
  } catch (error) {
    throw new CidataError(`cannot be opened any more (${(error as Error).message}): plan again`, {
      localPath,
      destinationPath: file.destination,
    });
  }
  try {
    const { size } = await handle.stat();
    if (size !== file.size) throw changed(`now ${size} bytes`);
    let position = 0;
    while (position < file.size) {
      const { bytesRead } = await handle.read(
        buffer,
        0,
        Math.min(buffer.byteLength, file.size - position),
        position,
      );
      if (bytesRead === 0) throw changed(`ended after ${position} bytes`);
      await consume(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    // A file that grew while being read would have its tail cut off without a word.
    const { bytesRead } = await handle.read(buffer, 0, 1, position);
    if (bytesRead !== 0) throw changed("it grew while being read");
  } finally {
    await handle.close();
  }
}
