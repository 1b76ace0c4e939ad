/**
 * Reads a GCE raw-disk archive (`rawDisk.source`): a gzip'd tar that must hold exactly one file,
 * `disk.raw`, whose size is a whole number of GiB. The archive is streamed (never held in memory)
 * and, when asked, `disk.raw` is extracted to a sparse file so that a real VM can boot from it.
 *
 * Tar dialects handled: POSIX ustar, GNU (incl. `--format=oldgnu -S` sparse members, which is what
 * Google's import guide uses), GNU long names (`L`), and pax headers (incl. GNU sparse 1.0).
 */
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createGunzip } from "node:zlib";

/** 1 GiB: `disk.raw` must be a whole multiple of it. */
export const GIB = 1024 ** 3;
const BLOCK = 512;

/** One member of the archive. */
export interface ArchiveMember {
  /** Path inside the archive. */
  name: string;
  /** Tar type flag (`0` regular, `S` GNU sparse, `5` directory, ...). */
  type: string;
  /** Size of the file once extracted (for sparse members, the real size). */
  size: number;
}

/** What the archive holds. */
export interface RawDiskArchiveInfo {
  /** Every member other than tar's own metadata entries. */
  members: ArchiveMember[];
}

/** Why an archive is not a valid GCE raw disk (the message is shown in the operation error). */
export class InvalidRawDiskArchive extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidRawDiskArchive";
  }
}

/**
 * Reads the archive at `archivePath`, and when `extractTo` is given writes `disk.raw` there as a
 * sparse file. Throws {@link InvalidRawDiskArchive} unless it holds exactly one regular file named
 * `disk.raw` of a non-zero whole number of GiB.
 */
export async function readRawDiskArchive(
  archivePath: string,
  extractTo?: string,
): Promise<{ diskRawBytes: number }> {
  let target: FileHandle | undefined;
  if (extractTo) target = await open(extractTo, "w");
  try {
    const info = await parseArchive(archivePath, (member) => {
      return member.name.replace(/^\.\//, "") === "disk.raw" ? target : undefined;
    });
    const files = info.members;
    if (files.length !== 1 || files[0].name.replace(/^\.\//, "") !== "disk.raw") {
      const names = files.map((m) => m.name).join(", ") || "nothing";
      throw new InvalidRawDiskArchive(
        `The archive must contain exactly one file named disk.raw; it contains: ${names}.`,
      );
    }
    const [disk] = files;
    if (disk.type !== "0" && disk.type !== "S") {
      throw new InvalidRawDiskArchive(`disk.raw must be a regular file (tar type '${disk.type}').`);
    }
    if (disk.size === 0 || disk.size % GIB !== 0) {
      throw new InvalidRawDiskArchive(
        `The size of disk.raw (${disk.size} bytes) is not a multiple of 1 GiB (${GIB} bytes).`,
      );
    }
    if (target) await target.truncate(disk.size);
    return { diskRawBytes: disk.size };
  } finally {
    await target?.close();
  }
}

/** Where a member's bytes go: a file handle, or nowhere. */
type SinkChooser = (member: ArchiveMember) => FileHandle | undefined;

/** One data segment of a sparse member: `size` stored bytes belong at `offset`. */
interface Segment {
  offset: number;
  size: number;
}

/** Parses the gzip'd tar stream, writing chosen members' data at their real offsets. */
async function parseArchive(
  archivePath: string,
  chooseSink: SinkChooser,
): Promise<RawDiskArchiveInfo> {
  const members: ArchiveMember[] = [];
  const input = createReadStream(archivePath).pipe(createGunzip());
  const reader = new BlockReader(input[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  let longName: string | undefined;
  let pax: Record<string, string> = {};
  try {
    for (;;) {
      const header = await reader.read(BLOCK);
      if (header === undefined || header.every((b) => b === 0)) break;
      verifyChecksum(header);
      const type = String.fromCharCode(header[156] || 48);
      const storedSize = parseNumber(header.subarray(124, 136));
      const padded = Math.ceil(storedSize / BLOCK) * BLOCK;
      if (type === "L") {
        longName = (await reader.read(padded))
          ?.subarray(0, storedSize)
          .toString("utf8")
          .replace(/\0+$/, "");
        continue;
      }
      if (type === "x" || type === "g") {
        const data = (await reader.read(padded))?.subarray(0, storedSize) ?? Buffer.alloc(0);
        if (type === "x") pax = parsePax(data);
        continue;
      }
      if (type === "K") {
        await reader.skip(padded);
        continue;
      }
      const name = pax["GNU.sparse.name"] ?? pax.path ?? longName ?? headerName(header);
      longName = undefined;
      const entryPax = pax;
      pax = {};

      let segments: Segment[];
      let size: number;
      let dataBytes = entryPax.size !== undefined ? Number(entryPax.size) : storedSize;
      let consumedPadding = 0;
      if (type === "S") {
        segments = await oldGnuSparseMap(header, reader);
        size = parseNumber(header.subarray(483, 495));
      } else if (entryPax["GNU.sparse.major"] === "1") {
        const map = await pax1SparseMap(reader);
        segments = map.segments;
        consumedPadding = map.headerBytes;
        dataBytes -= map.headerBytes;
        size = Number(entryPax["GNU.sparse.realsize"]);
      } else {
        segments = [{ offset: 0, size: dataBytes }];
        size = dataBytes;
      }
      const sparse = type === "S" || entryPax["GNU.sparse.major"] === "1";
      // `7` (contiguous file) is a regular file to every reader but a few old Unixes.
      const member: ArchiveMember = { name, type: sparse ? "S" : type === "7" ? "0" : type, size };
      members.push(member);
      const sink = member.type === "0" || member.type === "S" ? chooseSink(member) : undefined;
      await copySegments(reader, segments, sink);
      const paddedTotal = Math.ceil((dataBytes + consumedPadding) / BLOCK) * BLOCK;
      await reader.skip(paddedTotal - dataBytes - consumedPadding);
    }
  } catch (err) {
    if (err instanceof InvalidRawDiskArchive) throw err;
    throw new InvalidRawDiskArchive(
      `The archive is not a valid gzip-compressed tar file: ${(err as Error).message}`,
    );
  } finally {
    input.destroy();
  }
  return { members };
}

async function copySegments(
  reader: BlockReader,
  segments: Segment[],
  sink: FileHandle | undefined,
): Promise<void> {
  for (const segment of segments) {
    let written = 0;
    while (written < segment.size) {
      const chunk = await reader.readUpTo(segment.size - written);
      if (chunk === undefined) throw new InvalidRawDiskArchive("The archive ends inside disk.raw.");
      // Leave all-zero chunks as holes so the extracted disk stays sparse.
      if (sink && !isAllZero(chunk))
        await sink.write(chunk, 0, chunk.length, segment.offset + written);
      written += chunk.length;
    }
  }
}

async function oldGnuSparseMap(header: Buffer, reader: BlockReader): Promise<Segment[]> {
  const segments = readSparseEntries(header, 386, 4);
  let extended = header[482] !== 0;
  while (extended) {
    const block = await reader.read(BLOCK);
    if (block === undefined)
      throw new InvalidRawDiskArchive("The archive ends inside a sparse map.");
    segments.push(...readSparseEntries(block, 0, 21));
    extended = block[504] !== 0;
  }
  return segments;
}

function readSparseEntries(block: Buffer, start: number, count: number): Segment[] {
  const segments: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + i * 24;
    if (block[at] === 0) break;
    segments.push({
      offset: parseNumber(block.subarray(at, at + 12)),
      size: parseNumber(block.subarray(at + 12, at + 24)),
    });
  }
  return segments;
}

/** GNU sparse 1.0 (pax): the data starts with a decimal map, padded to a block. */
async function pax1SparseMap(
  reader: BlockReader,
): Promise<{ segments: Segment[]; headerBytes: number }> {
  let text = "";
  let headerBytes = 0;
  const numbers: number[] = [];
  let expected = Infinity;
  while (numbers.length < expected) {
    const block = await reader.read(BLOCK);
    if (block === undefined)
      throw new InvalidRawDiskArchive("The archive ends inside a sparse map.");
    headerBytes += BLOCK;
    text += block.toString("latin1");
    const lines = text.split("\n");
    text = lines.pop() ?? "";
    for (const line of lines) {
      if (numbers.length >= expected) break;
      numbers.push(Number(line));
      if (numbers.length === 1) expected = 1 + 2 * numbers[0];
    }
  }
  const segments: Segment[] = [];
  for (let i = 1; i < numbers.length; i += 2)
    segments.push({ offset: numbers[i], size: numbers[i + 1] });
  return { segments, headerBytes };
}

function headerName(header: Buffer): string {
  const name = cString(header.subarray(0, 100));
  const magic = header.subarray(257, 263).toString("latin1");
  const prefix = magic === "ustar\0" ? cString(header.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end === -1 ? buf.length : end).toString("utf8");
}

/** Tar numbers: NUL/space-terminated octal, or base-256 when the first byte's high bit is set. */
function parseNumber(field: Buffer): number {
  if (field[0] & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value + (field[0] & 0x7f) * 256 ** (field.length - 1);
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ].*$/s, "")
    .trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function verifyChecksum(header: Buffer): void {
  const stored = parseNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  if (sum !== stored)
    throw new InvalidRawDiskArchive("The archive is not a tar file (bad header checksum).");
}

function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number(data.subarray(pos, space).toString("latin1"));
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, pos + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    pos += length;
  }
  return records;
}

function isAllZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Pulls exact byte counts out of a chunked stream without concatenating the whole stream. */
class BlockReader {
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  /** Exactly `n` bytes, or undefined at end of stream. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.pending.length < n && !this.ended) await this.fill();
    if (this.pending.length < n) return undefined;
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** Between 1 and `n` bytes, or undefined at end of stream. */
  async readUpTo(n: number): Promise<Buffer | undefined> {
    if (this.pending.length === 0 && !this.ended) await this.fill();
    if (this.pending.length === 0) return undefined;
    const out = this.pending.subarray(0, Math.min(n, this.pending.length));
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  /** Discards `n` bytes. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const chunk = await this.readUpTo(left);
      if (chunk === undefined) return;
      left -= chunk.length;
    }
  }

  private async fill(): Promise<void> {
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return;
    }
    this.pending =
      this.pending.length === 0 ? next.value : Buffer.concat([this.pending, next.value]);
  }
}
