import * as fs from "node:fs";
import { gzipSync } from "node:zlib";
import type { CidataPlan } from "../cidata";

/**
 * Small builds skip the CIDATA disk. Importing a disk image is the slowest thing a build waits for
 * before its steps can start (about a minute and a half on GCE), yet a build whose context is a few
 * scripts fits in one instance metadata value. Such builds get the CIDATA tree as a base64'd,
 * gzip'd tar in the metadata key `pci-cidata`; the cloud-config's start script unpacks it onto a
 * tmpfs at the same mount point the disk would have, so the provisioner cannot tell the difference.
 *
 * Builds with secrets always take the disk: instance metadata is readable by anyone who may read
 * the instance, and secrets must not appear there.
 */

/** Longest base64 text sent inline: GCE allows 256 KiB per metadata value and 512 KB in all. */
export const INLINE_CIDATA_MAX_CHARS = 192 * 1024;

const BLOCK = 512;

/**
 * The CIDATA tree of a plan as base64(gzip(tar)), or undefined when it does not fit in
 * {@link INLINE_CIDATA_MAX_CHARS}. Deterministic: entries in the plan's sorted order, mtime 0, root-owned.
 */
export function inlineCidata(
  plan: CidataPlan,
  maxChars = INLINE_CIDATA_MAX_CHARS,
): string | undefined {
  // gzip rarely shrinks text more than 8x: anything bigger than that cannot fit, so skip reading it.
  if (plan.contentBytes > maxChars * 8) return undefined;
  const blocks: Buffer[] = [];
  for (const directory of plan.directories) {
    if (directory.destination !== "")
      blocks.push(...tarEntry(`${directory.destination}/`, "5", Buffer.alloc(0)));
  }
  for (const file of plan.files) {
    const bytes =
      "localPath" in file.source
        ? fs.readFileSync(file.source.localPath)
        : Buffer.from(file.source.content);
    if (bytes.length !== file.size)
      throw new Error(`${file.destination} changed size since it was planned`);
    blocks.push(...tarEntry(file.destination, "0", bytes));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  const text = gzipSync(Buffer.concat(blocks), { level: 9 }).toString("base64");
  return text.length <= maxChars ? text : undefined;
}

/** One entry: a pax header carrying the path when ustar cannot hold it, then the header and the data. */
function tarEntry(path: string, type: "0" | "5", data: Buffer): Buffer[] {
  const out = tarHeaderBlocks(path, type, data.length);
  if (data.length) out.push(padded(data));
  return out;
}

/**
 * The header blocks of one tar entry of `size` bytes (a pax header first when ustar cannot hold the
 * path), in this module's deterministic form; the data follows, then {@link tarPadding} of it.
 */
export function tarHeaderBlocks(path: string, type: "0" | "5", size: number): Buffer[] {
  const out: Buffer[] = [];
  const fitsUstar = /^[\x20-\x7e]*$/.test(path) && Buffer.byteLength(path) <= 100;
  if (!fitsUstar) {
    const record = paxRecord("path", path);
    out.push(header("PaxHeader", "x", record.length), padded(record));
  }
  out.push(header(fitsUstar ? path : path.replace(/[^\x20-\x7e]/g, "_").slice(-99), type, size));
  return out;
}

/** The zeros that end an entry of `size` data bytes on a 512-byte block boundary. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The two zero blocks that end a tar archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

/** A pax record: "<length> <key>=<value>\n", where length counts the whole record. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return Buffer.from(`${length}${body}`);
}

function header(name: string, type: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  block.write(type === "5" ? "0000755\0" : "0000644\0", 100);
  block.write("0000000\0", 108); // uid
  block.write("0000000\0", 116); // gid
  block.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  block.write("00000000000\0", 136); // mtime: the epoch, for reproducible bytes
  block.write("        ", 148); // checksum field counts as spaces while summing
  block.write(type, 156);
  block.write("ustar\0", 257);
  block.write("00", 263);
  block.write("root", 265);
  block.write("root", 297);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return block;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}
