/**
 * Worker thread that deflates one chunk of the gzip stream at a time (see deflate-pool.ts).
 * Each chunk becomes a raw deflate fragment that ends on a byte boundary (a sync flush), so the
 * fragments of all chunks, concatenated in order, form one valid deflate stream.
 */
import { isMarkedAsUntransferable, parentPort, workerData } from "node:worker_threads";
import { constants, deflateRawSync } from "node:zlib";
import type { DeflateRequest, DeflateResponse, DeflateWorkerOptions } from "./deflatePool";

/** Bytes sampled at each end of a chunk to guess whether it compresses at all. */
const SAMPLE_BYTES = 32 * 1024;
/**
 * Order-0 entropy, in bits per byte, above which a sample counts as incompressible: Huffman coding
 * could then save at most about 1%. Random bytes and compressed data (gzip'd layers, JPEG) measure
 * 7.99 and more; base64 measures 6, text 4 to 5, executables 5 to 6.5.
 */
const INCOMPRESSIBLE_BITS_PER_BYTE = 7.9;

const { level } = workerData as DeflateWorkerOptions;
/** Byte histogram, reused: this check must not allocate (see transferable below). */
const byteCounts = new Uint32Array(256);

function bitsPerByte(sample: Uint8Array): number {
  byteCounts.fill(0);
  for (const byte of sample) byteCounts[byte]++;
  let bits = 0;
  for (const count of byteCounts)
    if (count > 0) bits -= count * Math.log2(count / sample.byteLength);
  return bits / sample.byteLength;
}

/**
 * Random bytes, and data that is already compressed (container image layers), cost deflate as much
 * time as text but gain nothing; such chunks are stored (deflate level 0), at memory speed. The
 * entropy of both ends of the chunk tells them apart cheaply. It cannot see repeats of random data
 * within 32 KiB, which deflate could exploit; those are rare, and only cost compression, not bytes.
 */
function looksIncompressible(data: Uint8Array): boolean {
  if (data.byteLength < 2 * SAMPLE_BYTES) return false;
  return [0, data.byteLength - SAMPLE_BYTES].every(
    (start) =>
      bitsPerByte(data.subarray(start, start + SAMPLE_BYTES)) >= INCOMPRESSIBLE_BITS_PER_BYTE,
  );
}

function deflateChunk({ data, dictionary, last }: DeflateRequest): Uint8Array {
  const common = {
    finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
    // One output buffer large enough for the whole fragment (deflate's worst case is the input
    // plus about 0.03%): zlib then allocates it once instead of 16 KiB pieces joined by a copy.
    chunkSize: data.byteLength + (data.byteLength >> 10) + 1024,
  };
  if (looksIncompressible(data)) return deflateRawSync(data, { ...common, level: 0 });
  // The previous chunk's tail as dictionary lets matches reach across the chunk boundary, as in
  // pigz, so splitting the stream costs almost no compression.
  return deflateRawSync(data, { ...common, level, ...(dictionary ? { dictionary } : {}) });
}

/**
 * The fragment, ready to transfer. Transferring zlib's own output buffer leaves no garbage here:
 * V8 collects spent buffers only after tens of MiB of them pile up, and each worker would hold
 * that much. A small result may instead sit in Node's shared pool, which cannot be transferred
 * and is copied.
 */
function transferable(bytes: Uint8Array): Uint8Array {
  return isMarkedAsUntransferable(bytes.buffer) ? new Uint8Array(bytes) : bytes;
}

parentPort?.on("message", (request: DeflateRequest) => {
  let response: DeflateResponse;
  try {
    response = { deflated: transferable(deflateChunk(request)), data: request.data };
  } catch (error) {
    response = { error: (error as Error).message, data: request.data };
  }
  const transfer = [response.data.buffer as ArrayBuffer];
  if ("deflated" in response) transfer.push(response.deflated.buffer as ArrayBuffer);
  parentPort?.postMessage(response, transfer);
});
