/**
 * A minimal ustar writer for the test images' layers: regular files, directories and symbolic
 * links, owned by root, dated at the epoch, so that the same entries always give the same bytes
 * (and the same layer digest) on every machine, without depending on the host's tar and its flags.
 */

/** One entry of a layer. Paths are relative (`bin/busybox`), without a leading slash. */
export type TarEntry =
  | {
      /** A regular file. */
      kind: "file";
      path: string;
      content: Buffer;
      /** Permission bits. Default 0o644. */
      mode?: number;
    }
  | {
      /** A directory (its path without a trailing slash). */
      kind: "directory";
      path: string;
      /** Permission bits. Default 0o755. */
      mode?: number;
    }
  | {
      /** A symbolic link to `target`. */
      kind: "symlink";
      path: string;
      target: string;
    };

const BLOCK = 512;

/** The archive of `entries`, in the order given, closed by the two zero blocks tar expects. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.kind === "file" ? entry.content : Buffer.alloc(0);
    parts.push(tarHeader(entry, content.length));
    if (content.length > 0) {
      parts.push(content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function tarHeader(entry: TarEntry, size: number): Buffer {
  const name = entry.kind === "directory" ? `${entry.path}/` : entry.path;
  // ustar keeps names up to 100 bytes in `name` (longer ones need the prefix field); the test
  // images have short paths, so a longer one is a mistake in the test, said plainly.
  if (Buffer.byteLength(name) > 100 || name.startsWith("/") || name === "/") {
    throw new Error(`tar entry "${name}": a relative path of at most 100 bytes is needed`);
  }
  const header = Buffer.alloc(BLOCK);
  const mode =
    entry.kind === "symlink" ? 0o777 : (entry.mode ?? (entry.kind === "file" ? 0o644 : 0o755));
  header.write(name, 0, 100, "utf8");
  writeOctal(header, 100, 8, mode);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, 0); // mtime: the epoch
  header.fill(" ", 148, 156); // the checksum is computed with its own field as spaces
  header.write(entry.kind === "file" ? "0" : entry.kind === "directory" ? "5" : "2", 156);
  if (entry.kind === "symlink") {
    if (Buffer.byteLength(entry.target) > 100) {
      throw new Error(`tar entry "${name}": link target longer than 100 bytes`);
    }
    header.write(entry.target, 157, 100, "utf8");
  }
  header.write("ustar\u000000", 257, 8, "binary");
  header.write("root", 265, 32);
  header.write("root", 297, 32);
  let checksum = 0;
  for (const byte of header) checksum += byte;
  // Six octal digits, a NUL and a space: what tar itself writes.
  header.write(`${checksum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "binary");
  return header;
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, "0")}\u0000`, offset, length, "binary");
}
