import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { CidataPlan } from "../cidata";
import { TAR_END, tarHeaderBlocks, tarPadding } from "./inlineCidata";

/**
 * The CIDATA tree as one gzip'd tar file, for the build VM to fetch from the scratch bucket (large
 * or secret builds). The same entries as the metadata form (`inlineCidata.ts`), but streamed file by
 * file, so a context of any size is packed in bounded memory; its size and SHA-256 go into the
 * instance metadata, and the start script checks both before it uses what it fetched.
 */

/** A packed tree: where it is, and what the VM checks it against. */
export interface PackedTree {
  /** Local file holding the archive (the caller removes it). */
  path: string;
  /** Size of the archive in bytes. */
  bytes: number;
  /** SHA-256 of the archive, lowercase hex. */
  sha256: string;
}

/** Packs `plan` into `file` (deterministic bytes for the same inputs) and measures it. */
export async function packTree(plan: CidataPlan, file: string): Promise<PackedTree> {
  const hash = createHash("sha256");
  let bytes = 0;
  await pipeline(
    entries(plan),
    createGzip({ level: 6 }),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
    fs.createWriteStream(file, { mode: 0o600 }),
  );
  return { path: file, bytes, sha256: hash.digest("hex") };
}

async function* entries(plan: CidataPlan): AsyncGenerator<Buffer> {
  for (const directory of plan.directories) {
    if (directory.destination !== "") yield* tarHeaderBlocks(`${directory.destination}/`, "5", 0);
  }
  for (const file of plan.files) {
    yield* tarHeaderBlocks(file.destination, "0", file.size);
    let sent = 0;
    if ("localPath" in file.source) {
      for await (const chunk of fs.createReadStream(file.source.localPath)) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } else {
      const content = Buffer.from(file.source.content);
      sent = content.length;
      yield content;
    }
    // A file that changed since planning would shift every entry after it: refuse it.
    if (sent !== file.size)
      throw new Error(`${file.destination} changed size since it was planned`);
    yield tarPadding(file.size);
  }
  yield TAR_END;
}
