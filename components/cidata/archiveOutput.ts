/**
 * The archive's destination: a file path or any writable stream (an upload, say), behind one
 * interface that waits for the destination to take each piece before the next is produced.
 */
import { once } from "node:events";
import * as fs from "node:fs/promises";
import { finished } from "node:stream/promises";

/** Where the archive's bytes go. */
export interface ArchiveOutput {
  /** Writes `bytes` (which the output may keep), resolving once the destination can take more. */
  write(bytes: Uint8Array): Promise<void>;
  /** Finishes: closes the file, or ends the stream and waits until it has flushed. */
  end(): Promise<void>;
  /** Gives up after `error`: removes a partial file, or destroys the stream with the error. */
  fail(error: unknown): Promise<void>;
}

/** Opens `destination` for writing; a path is created or truncated. */
export async function openArchiveOutput(
  destination: string | NodeJS.WritableStream,
): Promise<ArchiveOutput> {
  return typeof destination === "string" ? openFileOutput(destination) : streamOutput(destination);
}

async function openFileOutput(filePath: string): Promise<ArchiveOutput> {
  const handle = await fs.open(filePath, "w");
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  return {
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.byteLength) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
        offset += bytesWritten;
      }
    },
    end: close,
    async fail() {
      await close();
      // A partial archive must not be mistaken for a good one by a later step.
      await fs.rm(filePath, { force: true });
    },
  };
}

function streamOutput(stream: NodeJS.WritableStream): ArchiveOutput {
  let streamError: Error | undefined;
  // Kept for the whole write: a stream that fails between writes must still fail the next one.
  const onError = (error: unknown): void => {
    streamError ??= error instanceof Error ? error : new Error(String(error));
  };
  stream.on("error", onError);
  const check = (): void => {
    if (streamError !== undefined) throw streamError;
  };
  return {
    async write(bytes) {
      check();
      if (!stream.write(bytes)) await drained(stream);
      check();
    },
    async end() {
      check();
      stream.end();
      await finished(stream);
      stream.off("error", onError);
    },
    fail(error) {
      stream.off("error", onError);
      const destroyable = stream as NodeJS.WritableStream & { destroy?: (error?: Error) => void };
      if (typeof destroyable.destroy === "function") {
        // Keep a listener: destroying with an error emits it once more.
        stream.on("error", () => undefined);
        destroyable.destroy(error instanceof Error ? error : new Error(String(error)));
      }
      return Promise.resolve();
    },
  };
}

/** Waits until a stream that refused more data can take it again ("close" too: a destroyed stream never drains). */
async function drained(stream: NodeJS.WritableStream): Promise<void> {
  const stopListening = new AbortController();
  try {
    const { signal } = stopListening;
    await Promise.race([once(stream, "drain", { signal }), once(stream, "close", { signal })]);
  } finally {
    // Without this, every wait would leave a listener behind on the stream.
    stopListening.abort();
  }
}
