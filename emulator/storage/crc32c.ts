/** CRC-32C (Castagnoli), which Cloud Storage reports as `crc32c` (base64 of the big-endian value). */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** An incremental CRC-32C. */
export class Crc32c {
  private crc = 0xffffffff;

  /** Adds bytes. */
  update(data: Buffer): this {
    let crc = this.crc;
    for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
    this.crc = crc >>> 0;
    return this;
  }

  /** The checksum as Cloud Storage encodes it: base64 of 4 big-endian bytes. */
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0);
    return out.toString("base64");
  }
}
