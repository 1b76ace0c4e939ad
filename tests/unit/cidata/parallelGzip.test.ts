import { expect } from "chai";
import { gunzipSync } from "node:zlib";
import {
  ParallelGzipSink,
  type ParallelGzipOptions,
} from "../../../components/cidata/parallelGzip";
import { run } from "./debianTools";
import { pseudoRandomBytes } from "./fixture";

const CHUNK = 64 * 1024;

/** Compresses `input` (written in uneven pieces, zeros included) and returns the gzip bytes. */
async function gzip(input: Buffer, options: ParallelGzipOptions = {}): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  const sink = new ParallelGzipSink(
    (bytes) => {
      pieces.push(bytes);
      return Promise.resolve();
    },
    { chunkBytes: CHUNK, ...options },
  );
  let offset = 0;
  for (let step = 1; offset < input.length; step = (step * 7) % 100_003) {
    const piece = input.subarray(offset, offset + step);
    // Runs of zeros go through writeZeros, the path that fills reused buffers.
    if (piece.every((byte) => byte === 0)) await sink.writeZeros(piece.length);
    else await sink.write(piece);
    offset += piece.length;
  }
  const size = await sink.finish();
  const output = Buffer.concat(pieces);
  expect(size).to.equal(output.length);
  return output;
}

/** Text (compressible), random (incompressible) and zero stretches, in turn, across chunk boundaries. */
function mixedInput(length: number): Buffer {
  const text = Buffer.from(
    "the quick brown fox jumps over the lazy dog\n".repeat(Math.ceil(length / 44) + 1),
  );
  const random = pseudoRandomBytes(length, "mixed");
  const out = Buffer.alloc(length);
  const stretch = CHUNK + 100;
  for (let offset = 0; offset < length; offset += 3 * stretch) {
    text.copy(out, offset, 0, Math.min(stretch, length - offset));
    const randomStart = offset + stretch;
    if (randomStart < length)
      random.copy(out, randomStart, randomStart, Math.min(randomStart + stretch, length));
  }
  return out;
}

describe("parallel gzip", function () {
  this.timeout(60_000);

  it("writes one gzip member that zlib and gzip -t accept, for any length", async () => {
    for (const length of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 7 * CHUNK + 12345]) {
      const input = mixedInput(length);
      const output = await gzip(input);
      expect(gunzipSync(output).equals(input), `length ${length}`).to.equal(true);
      run("gzip", ["-t"], { input: output });
      expect(
        run("gzip", ["-dc"], { input: output }).equals(input),
        `gzip -dc, length ${length}`,
      ).to.equal(true);
    }
  });

  it("writes a header without timestamp or OS, so the bytes do not depend on when or where", async () => {
    const output = await gzip(Buffer.from("hello"));
    expect([...output.subarray(0, 10)]).to.deep.equal([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it("writes the same bytes whatever the number of workers", async () => {
    const input = mixedInput(10 * CHUNK + 99);
    const [one, two, three] = await Promise.all([
      gzip(input, { workers: 1 }),
      gzip(input, { workers: 2 }),
      gzip(input, { workers: 3 }),
    ]);
    expect(one.equals(two) && two.equals(three)).to.equal(true);
  });

  it("stores incompressible chunks (almost no overhead) and compresses the rest", async () => {
    const random = pseudoRandomBytes(16 * CHUNK, "random");
    expect((await gzip(random)).length).to.be.below(random.length * 1.001);
    const text = Buffer.from("abcdefghij".repeat((16 * CHUNK) / 10));
    expect((await gzip(text)).length).to.be.below(text.length / 100);
  });

  it("lets matches reach into the previous chunk, as one stream would", async () => {
    // A 16 KiB block of base64 (random, so only Huffman coding shrinks it, to 3/4) repeated: one
    // deflate stream codes it once and then refers back. Every chunk starts with a copy of the
    // previous chunk's tail, so without the 32 KiB dictionary each of the 8 chunks would code the
    // block again (about 8 * 12 KiB).
    const block = Buffer.from(pseudoRandomBytes(12 * 1024, "block").toString("base64"));
    const repeated = Buffer.concat(Array.from({ length: 32 }, () => block));
    const output = await gzip(repeated);
    expect(gunzipSync(output).equals(repeated)).to.equal(true);
    expect(output.length).to.be.below(block.length);
  });
});
