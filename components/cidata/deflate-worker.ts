/**
 * Worker thread that deflates one chunk of the gzip stream at a time (see deflate-pool.ts).
 * Each chunk becomes a raw deflate fragment that ends on a byte boundary (a sync flush), so the
 * fragments of all chunks, concatenated in order, form one valid deflate stream.
 */
import { parentPort, workerData } from "node:worker_threads";
import { constants, deflateRawSync } from "node:zlib";
import type { DeflateRequest, DeflateResponse, DeflateWorkerOptions } from "./deflate-pool";

/** Bytes sampled at each end of a chunk to guess whether it compresses at all. */
const SAMPLE_BYTES = 32 * 1024;
/** A sample that deflate cannot shrink below this ratio is taken as incompressible. */
const INCOMPRESSIBLE_RATIO = 0.98;

const { level } = workerData as DeflateWorkerOptions;

/**
 * Random bytes, and data that is already compressed (container image layers), cost deflate as much
 * time as text but gain nothing. Sampling both ends at the fastest level tells them apart cheaply;
 * such chunks are then stored (deflate level 0), at memory speed.
 */
function looksIncompressible(data: Uint8Array): boolean {
  if (data.byteLength < 2 * SAMPLE_BYTES) return false;
  for (const start of [0, data.byteLength - SAMPLE_BYTES]) {
    const sample = data.subarray(start, start + SAMPLE_BYTES);
    if (deflateRawSync(sample, { level: 1 }).byteLength < sample.byteLength * INCOMPRESSIBLE_RATIO)
      return false;
  }
  return true;
}

function deflateChunk({ data, dictionary, last }: DeflateRequest): Uint8Array {
  const finishFlush = last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH;
  if (looksIncompressible(data)) return deflateRawSync(data, { level: 0, finishFlush });
  // The previous chunk's tail as dictionary lets matches reach across the chunk boundary, as in
  // pigz, so splitting the stream costs almost no compression.
  return deflateRawSync(data, { level, finishFlush, ...(dictionary ? { dictionary } : {}) });
}

/** A transferable copy: zlib may return a view into a shared pool, which must not be transferred. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : new Uint8Array(bytes); // a copy (Buffer#slice would be a view into the same pool)
}

parentPort?.on("message", (request: DeflateRequest) => {
  let response: DeflateResponse;
  try {
    response = { deflated: ownBuffer(deflateChunk(request)), data: request.data };
  } catch (error) {
    response = { error: (error as Error).message, data: request.data };
  }
  const transfer = [response.data.buffer as ArrayBuffer];
  if ("deflated" in response) transfer.push(response.deflated.buffer as ArrayBuffer);
  parentPort?.postMessage(response, transfer);
});
