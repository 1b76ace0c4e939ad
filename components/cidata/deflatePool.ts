/**
 * A small pool of worker threads that deflate chunks in parallel (see deflateWorker.ts). Each
 * worker takes one chunk at a time; chunks wait in order for the next idle worker.
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";

/** Options every worker starts with. */
export interface DeflateWorkerOptions {
  /** zlib compression level for chunks that compress (1-9). */
  level: number;
}

/** One chunk to deflate. */
export interface DeflateRequest {
  /** The chunk; its buffer is transferred to the worker and handed back for reuse. */
  data: Uint8Array;
  /** The 32 KiB before the chunk (undefined for the first chunk). */
  dictionary?: Uint8Array;
  /** Whether this is the final chunk, which ends the deflate stream. */
  last: boolean;
}

/** The worker's answer: the deflated fragment or an error, and the chunk's buffer back. */
export type DeflateResponse =
  { deflated: Uint8Array; data: Uint8Array } | { error: string; data: Uint8Array };

interface Job {
  request: DeflateRequest;
  resolve: (result: { deflated: Uint8Array; data: Uint8Array }) => void;
  reject: (error: Error) => void;
}

const WORKER_SCRIPT = path.join(__dirname, "deflateWorker.js");

/** Deflates chunks on `size` worker threads. Call {@link close} when done, also after a failure. */
export class DeflatePool {
  private readonly idle: Worker[] = [];
  private readonly waiting: Job[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly workers: Worker[];
  private failure?: Error;

  constructor(size: number, options: DeflateWorkerOptions) {
    this.workers = Array.from({ length: size }, () => this.startWorker(options));
    this.idle.push(...this.workers);
  }

  /** Deflates one chunk; resolves with the fragment and the chunk's buffer, given back for reuse. */
  deflate(request: DeflateRequest): Promise<{ deflated: Uint8Array; data: Uint8Array }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; pending chunks are rejected. */
  async close(): Promise<void> {
    this.fail(new Error("the deflate pool was closed"));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private startWorker(options: DeflateWorkerOptions): Worker {
    const worker = new Worker(WORKER_SCRIPT, { workerData: options });
    worker.on("message", (response: DeflateResponse) => {
      const job = this.running.get(worker);
      this.running.delete(worker);
      this.idle.push(worker);
      if (job === undefined) return;
      if ("error" in response) job.reject(new Error(`deflate failed: ${response.error}`));
      else job.resolve(response);
      this.dispatch();
    });
    worker.on("error", (error: Error) => this.fail(error));
    worker.on("exit", (code) => {
      if (this.running.has(worker))
        this.fail(new Error(`a deflate worker exited with code ${code}`));
    });
    return worker;
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const worker = this.idle.shift() as Worker;
      const job = this.waiting.shift() as Job;
      this.running.set(worker, job);
      const { data, dictionary } = job.request;
      const transfer = [
        data.buffer as ArrayBuffer,
        ...(dictionary ? [dictionary.buffer as ArrayBuffer] : []),
      ];
      worker.postMessage(job.request, transfer);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const job of [...this.running.values(), ...this.waiting]) job.reject(error);
    this.running.clear();
    this.waiting.length = 0;
  }
}
