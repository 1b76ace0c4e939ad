import type { ByteSink } from "../../../components/cidata/byteSink";

/** A sink that keeps everything written to it, for tests of the layers that write to sinks. */
export class CollectingSink implements ByteSink {
  private readonly pieces: Buffer[] = [];

  write(bytes: Uint8Array): Promise<void> {
    this.pieces.push(Buffer.from(bytes));
    return Promise.resolve();
  }

  writeZeros(length: number): Promise<void> {
    this.pieces.push(Buffer.alloc(length));
    return Promise.resolve();
  }

  /** Everything written, in order. */
  bytes(): Buffer {
    return Buffer.concat(this.pieces);
  }
}
