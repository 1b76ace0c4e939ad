/**
 * Reading a guest serial port that QEMU writes to a file (`-chardev file`), while the guest runs.
 * QEMU appends; readers ask for the bytes from an offset on, like GCE's `getSerialPortOutput`
 * (`start` in, `next` out).
 */
import * as fs from "node:fs/promises";

/** One read of a serial port. */
export interface SerialChunk {
  /** The bytes from the requested offset on (possibly empty, possibly ending mid-line). */
  contents: Buffer;
  /** The offset to pass to the next read: the requested offset plus `contents.length`. */
  next: number;
}

/** Incremental reader of one serial port's capture file. */
export interface SerialPortReader {
  /** GCE port number, 1–4 (the guest's ttyS0–ttyS3). */
  readonly port: number;
  /** The capture file QEMU writes. */
  readonly path: string;
  /**
   * Returns the bytes from `offset` on, at most `maxBytes` (default 1 MiB, GCE's per-port window).
   * An offset past the end returns nothing and `next === offset`.
   */
  read(offset: number, maxBytes?: number): Promise<SerialChunk>;
  /** Number of bytes captured so far. */
  size(): Promise<number>;
}

/** Default `maxBytes` of {@link SerialPortReader.read}: GCE keeps the last 1 MiB per port. */
export const DEFAULT_SERIAL_READ_BYTES = 1024 * 1024;

/** A {@link SerialPortReader} over the capture file at `path`. A missing file reads as empty. */
export function serialPortReader(port: number, path: string): SerialPortReader {
  return {
    port,
    path,
    async read(offset: number, maxBytes = DEFAULT_SERIAL_READ_BYTES): Promise<SerialChunk> {
      if (!Number.isInteger(offset) || offset < 0) {
        throw new RangeError(`serial read offset must be a non-negative integer, got ${offset}`);
      }
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(path, "r");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
          return { contents: Buffer.alloc(0), next: offset };
        throw error;
      }
      try {
        const { size } = await handle.stat();
        const length = Math.max(0, Math.min(maxBytes, size - offset));
        const contents = Buffer.alloc(length);
        const { bytesRead } =
          length > 0 ? await handle.read(contents, 0, length, offset) : { bytesRead: 0 };
        return { contents: contents.subarray(0, bytesRead), next: offset + bytesRead };
      } finally {
        await handle.close();
      }
    },
    async size(): Promise<number> {
      try {
        return (await fs.stat(path)).size;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw error;
      }
    },
  };
}
