/** Where the packer's layers write their bytes, one after the other. */
export interface ByteSink {
  /** Appends `bytes`. The sink is done with them once the promise resolves, so they may be reused. */
  write(bytes: Uint8Array): Promise<void>;
  /** Appends `length` zero bytes. */
  writeZeros(length: number): Promise<void>;
}

/** Counts what passes through to another sink, so a layer can check it wrote what it declared. */
export class CountingSink implements ByteSink {
  /** Bytes written so far. */
  bytes = 0;

  constructor(private readonly target: ByteSink) {}

  write(bytes: Uint8Array): Promise<void> {
    this.bytes += bytes.byteLength;
    return this.target.write(bytes);
  }

  writeZeros(length: number): Promise<void> {
    this.bytes += length;
    return this.target.writeZeros(length);
  }
}
