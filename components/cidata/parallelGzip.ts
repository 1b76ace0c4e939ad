/**
 * A gzip compressor that uses every core, pigz-style: the input is cut into fixed-size chunks,
 * worker threads deflate them in parallel (each primed with the previous chunk's last 32 KiB), and
 * the fragments are written in order between one gzip header and one trailer. The result is a
 * single ordinary gzip member that `gzip -t`, GNU tar and Go's gzip reader accept.
 *
 * Memory stays bounded: at most `2 * workers` chunks are in flight, and their buffers are reused.
 */
import { availableParallelism } from "node:os";
import { crc32 } from "node:zlib";
import type { ByteSink } from "./byteSink";
import { DeflatePool } from "./deflatePool";

/** Tuning of {@link ParallelGzipSink}; the defaults suit the CIDATA archive. */
export interface ParallelGzipOptions {
  /** Worker threads. Default: the number of cores, at most 4 (each costs about 20 MiB; 4 outrun an upload). */
  workers?: number;
  /** Uncompressed bytes per chunk. Default: 1 MiB. The output does not depend on `workers`, but does on this. */
  chunkBytes?: number;
  /** zlib level for chunks that compress. Default: 6, gzip's own default. */
  level?: number;
}

/** Deflate looks back at most 32 KiB, so that is all of the previous chunk a worker needs. */
const WINDOW_BYTES = 32 * 1024;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const MAX_DEFAULT_WORKERS = 4;
/**
 * Header: magic, method deflate, no flags, mtime 0 (so the bytes do not depend on when they were
 * made), no extra flags, OS 255 "unknown" (so they do not depend on where).
 */
const GZIP_HEADER = Uint8Array.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/** Throws a RangeError for options out of range, before any worker starts. */
function validateGzipOptions({ workers, chunkBytes, level }: ParallelGzipOptions): void {
  const check = (name: string, value: number | undefined, min: number, max: number): void => {
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
      throw new RangeError(
        `gzip option ${name} must be an integer from ${min} to ${max}, not ${value}`,
      );
    }
  };
  check("workers", workers, 1, 64);
  check("chunkBytes", chunkBytes, 4096, 64 * 1024 * 1024);
  check("level", level, 1, 9);
}

/** Compresses everything written to it into one gzip member, handed in order to `output`. */
export class ParallelGzipSink implements ByteSink {
  private readonly pool: DeflatePool;
  private readonly chunkBytes: number;
  private readonly maxInFlight: number;
  private readonly inFlight: Promise<{ deflated: Uint8Array; data: Uint8Array }>[] = [];
  private readonly spareBuffers: Uint8Array[] = [];
  private chunk: Uint8Array;
  private filled = 0;
  private dictionary?: Uint8Array;
  private crc = 0;
  private uncompressedBytes = 0;
  private compressedBytes = 0;
  private headerWritten = false;

  constructor(
    private readonly output: (bytes: Uint8Array) => Promise<void>,
    options: ParallelGzipOptions = {},
  ) {
    validateGzipOptions(options);
    const workers = options.workers ?? Math.min(availableParallelism(), MAX_DEFAULT_WORKERS);
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.maxInFlight = 2 * workers;
    this.pool = new DeflatePool(workers, { level: options.level ?? 6 });
    this.chunk = this.takeBuffer();
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      const count = Math.min(this.chunkBytes - this.filled, bytes.byteLength - offset);
      this.chunk.set(bytes.subarray(offset, offset + count), this.filled);
      this.filled += count;
      offset += count;
      if (this.filled === this.chunkBytes) await this.submit(false);
    }
  }

  async writeZeros(length: number): Promise<void> {
    let remaining = length;
    while (remaining > 0) {
      const count = Math.min(this.chunkBytes - this.filled, remaining);
      // Buffers are reused, so zeros must be written, not assumed.
      this.chunk.fill(0, this.filled, this.filled + count);
      this.filled += count;
      remaining -= count;
      if (this.filled === this.chunkBytes) await this.submit(false);
    }
  }

  /** Compresses what is left, writes the trailer, stops the workers; returns the gzip size in bytes. */
  async finish(): Promise<number> {
    try {
      await this.submit(true);
      while (this.inFlight.length > 0) await this.emitOldest();
      const trailer = new Uint8Array(8);
      const view = new DataView(trailer.buffer);
      view.setUint32(0, this.crc, true);
      view.setUint32(4, this.uncompressedBytes % 2 ** 32, true); // ISIZE is the length modulo 2^32
      await this.emit(trailer);
      return this.compressedBytes;
    } finally {
      await this.pool.close();
    }
  }

  /** Stops the workers after a failure; what was written so far is not a valid gzip stream. */
  async abort(): Promise<void> {
    this.inFlight.length = 0;
    await this.pool.close();
  }

  private takeBuffer(): Uint8Array {
    // Never a pooled Buffer: its memory is transferred to a worker, which would detach the pool.
    return this.spareBuffers.pop() ?? new Uint8Array(this.chunkBytes);
  }

  private async submit(last: boolean): Promise<void> {
    const data = this.chunk.subarray(0, this.filled);
    this.crc = crc32(data, this.crc);
    this.uncompressedBytes += data.byteLength;
    const dictionary = this.dictionary;
    this.dictionary =
      data.byteLength >= WINDOW_BYTES ? data.slice(data.byteLength - WINDOW_BYTES) : undefined;
    const deflated = this.pool.deflate({ data, dictionary, last });
    // Marked as handled now: after a failure the pool rejects every pending chunk, and those
    // nobody awaits any more must not surface as unhandled rejections.
    deflated.catch(() => undefined);
    this.inFlight.push(deflated);
    if (!last) {
      this.chunk = this.takeBuffer();
      this.filled = 0;
    }
    if (this.inFlight.length >= this.maxInFlight) await this.emitOldest();
  }

  private async emitOldest(): Promise<void> {
    const { deflated, data } = await (this.inFlight.shift() as Promise<{
      deflated: Uint8Array;
      data: Uint8Array;
    }>);
    this.spareBuffers.push(new Uint8Array(data.buffer));
    await this.emit(deflated);
  }

  private async emit(bytes: Uint8Array): Promise<void> {
    if (!this.headerWritten) {
      this.headerWritten = true;
      this.compressedBytes += GZIP_HEADER.byteLength;
      await this.output(new Uint8Array(GZIP_HEADER));
    }
    this.compressedBytes += bytes.byteLength;
    await this.output(bytes);
  }
}
