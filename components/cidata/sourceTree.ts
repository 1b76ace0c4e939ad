/**
 * Turns the spec's entries into one validated tree of files and directories, as they will appear
 * on the FAT volume. It stats local paths (following symlinks) and lists directories, but reads no
 * file content, so it is cheap even for a large build context.
 */
import { constants as fsConstants, type BigIntStats } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { CidataError } from "./errors";
import { caseFoldKey, longNameProblem } from "./fatNames";
import { MAX_FILE_BYTES } from "./fatGeometry";
import type { CidataEntry } from "./spec";

/** Where a file's bytes come from. */
export type FileSource = { localPath: string } | { content: Uint8Array };

/** A file on the volume. */
export interface TreeFile {
  kind: "file";
  /** Its name in its directory. */
  name: string;
  /** Its full destination path, "/"-separated. */
  destination: string;
  /** Size in bytes, as found when planning; checked again when the file is read. */
  size: number;
  /** Where the bytes come from. */
  source: FileSource;
}

/** A directory on the volume. */
export interface TreeDirectory {
  kind: "directory";
  /** Its name in its parent ("" for the root). */
  name: string;
  /** Its full destination path ("" for the root). */
  destination: string;
  /** Children by {@link caseFoldKey} of their names, so case-insensitive collisions are found. */
  children: Map<string, TreeNode>;
}

/** A file or a directory. */
export type TreeNode = TreeFile | TreeDirectory;

/** How many stat calls may run at once while walking a directory. */
const STAT_CONCURRENCY = 32;

/** Builds the volume's tree from `entries`; every problem is a {@link CidataError} naming its path. */
export async function buildSourceTree(entries: unknown): Promise<TreeDirectory> {
  if (!Array.isArray(entries)) {
    throw new CidataError("must be an array of { path, source } objects", {
      destinationPath: "entries",
    });
  }
  const root: TreeDirectory = { kind: "directory", name: "", destination: "", children: new Map() };
  for (const [index, entry] of (entries as readonly CidataEntry[]).entries()) {
    await addEntry(root, entry, `entries[${index}]`);
  }
  return root;
}

async function addEntry(root: TreeDirectory, entry: CidataEntry, field: string): Promise<void> {
  const segments = destinationSegments(entry, field);
  const destination = segments.join("/");
  const source: unknown = (entry as { source?: unknown }).source;
  const kinds = isObject(source) ? SOURCE_KINDS.filter((kind) => kind in source) : [];
  if (!isObject(source) || kinds.length !== 1) {
    throw new CidataError(
      "source must be exactly one of { file: string }, { directory: string } or { content: string | Uint8Array }",
      { destinationPath: `${field}.source` },
    );
  }
  const parent = ensureDirectories(root, segments.slice(0, -1), destination);
  const name = segments[segments.length - 1];
  if (
    kinds[0] === "content" &&
    (typeof source.content === "string" || source.content instanceof Uint8Array)
  ) {
    // Copied, so later changes by the caller cannot make the disk differ from its plan and hash.
    const content =
      typeof source.content === "string"
        ? new Uint8Array(Buffer.from(source.content, "utf8"))
        : new Uint8Array(source.content); // a copy, even of a Buffer (whose slice() is a view)
    insert(parent, {
      kind: "file",
      name,
      destination,
      size: content.byteLength,
      source: { content },
    });
  } else if (kinds[0] === "file" && typeof source.file === "string") {
    const localPath = path.resolve(source.file);
    const stats = await statLocal(localPath, destination);
    if (stats.isDirectory()) {
      throw new CidataError(
        "source.file is a directory; use { directory: ... } to copy a directory",
        { localPath, destinationPath: destination },
      );
    }
    insert(parent, await fileNode(localPath, stats, name, destination));
  } else if (kinds[0] === "directory" && typeof source.directory === "string") {
    const localPath = path.resolve(source.directory);
    const stats = await statLocal(localPath, destination);
    if (!stats.isDirectory()) {
      throw new CidataError(
        "source.directory is not a directory; use { file: ... } to copy a file",
        { localPath, destinationPath: destination },
      );
    }
    const directory = ensureDirectories(parent, [name], destination);
    await walkDirectory(directory, localPath, [{ id: fileId(stats), localPath }]);
  } else {
    throw new CidataError(
      `source.${kinds[0]} must be a ${kinds[0] === "content" ? "string or a Uint8Array" : "path string"}`,
      {
        destinationPath: `${field}.source.${kinds[0]}`,
      },
    );
  }
}

const SOURCE_KINDS = ["file", "directory", "content"] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Splits and validates an entry's destination path. */
function destinationSegments(entry: CidataEntry, field: string): string[] {
  const destination: unknown = isObject(entry) ? entry.path : undefined;
  if (typeof destination !== "string" || destination === "") {
    throw new CidataError(
      'path must be a non-empty "/"-separated string such as "context/run.sh"',
      { destinationPath: `${field}.path` },
    );
  }
  if (destination.startsWith("/")) {
    throw new CidataError("path must be relative to the volume root: remove the leading slash", {
      destinationPath: destination,
    });
  }
  const segments = destination.split("/");
  for (const segment of segments) {
    if (segment === "") {
      throw new CidataError("path has an empty segment (a doubled or trailing slash): remove it", {
        destinationPath: destination,
      });
    }
    checkName(segment, { destinationPath: destination });
  }
  return segments;
}

function checkName(name: string, location: { destinationPath: string; localPath?: string }): void {
  const problem = longNameProblem(name);
  if (problem !== undefined) {
    throw new CidataError(`the name ${JSON.stringify(name)} ${problem}; rename it`, location);
  }
}

/**
 * Walks down `segments` from `start`, creating missing directories; fails where a file is in the
 * way of `needer`, the destination that needs the directories.
 */
function ensureDirectories(
  start: TreeDirectory,
  segments: readonly string[],
  needer: string,
): TreeDirectory {
  let directory = start;
  for (const segment of segments) {
    const existing = directory.children.get(caseFoldKey(segment));
    const destination = joinDestination(directory.destination, segment);
    if (existing === undefined) {
      const created: TreeDirectory = {
        kind: "directory",
        name: segment,
        destination,
        children: new Map(),
      };
      directory.children.set(caseFoldKey(segment), created);
      directory = created;
      continue;
    }
    if (existing.name !== segment) throw collision(existing.destination, destination);
    if (existing.kind === "file") {
      throw new CidataError(`is a file, but ${JSON.stringify(needer)} needs it to be a directory`, {
        destinationPath: destination,
      });
    }
    directory = existing;
  }
  return directory;
}

function insert(parent: TreeDirectory, node: TreeNode): void {
  const key = caseFoldKey(node.name);
  const existing = parent.children.get(key);
  if (existing === undefined) {
    parent.children.set(key, node);
    return;
  }
  if (existing.name !== node.name) throw collision(existing.destination, node.destination);
  const source =
    node.kind === "file" && "localPath" in node.source ? node.source.localPath : undefined;
  throw new CidataError("is given twice; each destination may be filled once", {
    destinationPath: node.destination,
    localPath: source,
  });
}

function collision(first: string, second: string): CidataError {
  return new CidataError(
    `collides with ${JSON.stringify(first)}: FAT compares names case-insensitively, so one directory cannot hold both; rename one`,
    { destinationPath: second },
  );
}

function joinDestination(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

/** Stats a local path, following symlinks, and turns failures into errors that say what to fix. */
async function statLocal(localPath: string, destination: string): Promise<BigIntStats> {
  try {
    // bigint: inode numbers on Windows and some file systems exceed 2^53.
    return await fs.stat(localPath, { bigint: true });
  } catch (error) {
    throw localError(error, localPath, destination);
  }
}

function localError(error: unknown, localPath: string, destination: string): CidataError {
  const code = (error as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: "does not exist (or is a symlink to nothing): create it or fix the path",
    ENOTDIR: "does not exist (a parent is not a directory): fix the path",
    EACCES: "cannot be read (permission denied): grant read access or leave it out",
    EPERM: "cannot be read (operation not permitted): grant read access or leave it out",
    ELOOP: "is a symlink loop (a chain of links that never reaches a file): fix or remove the link",
  };
  const reason =
    (code && reasons[code]) ??
    `cannot be read (${(error as Error).message}): fix the path or leave it out`;
  return new CidataError(reason, { localPath, destinationPath: destination });
}

async function fileNode(
  localPath: string,
  stats: BigIntStats,
  name: string,
  destination: string,
): Promise<TreeFile> {
  if (!stats.isFile()) {
    throw new CidataError(
      "is neither a regular file nor a directory (a socket, FIFO or device); leave it out",
      {
        localPath,
        destinationPath: destination,
      },
    );
  }
  if (stats.size > BigInt(MAX_FILE_BYTES)) {
    throw new CidataError(
      `is ${stats.size} bytes; FAT holds files up to 4 GiB - 1 (${MAX_FILE_BYTES} bytes): split or compress it`,
      {
        localPath,
        destinationPath: destination,
      },
    );
  }
  try {
    // Only a permission check: planning reads no content, yet an unreadable file must fail here.
    await fs.access(localPath, fsConstants.R_OK);
  } catch (error) {
    throw localError(error, localPath, destination);
  }
  return { kind: "file", name, destination, size: Number(stats.size), source: { localPath } };
}

/** A directory being walked, kept on a stack to tell a symlink loop from a repeated link. */
interface Ancestor {
  id: string;
  localPath: string;
}

function fileId(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

async function walkDirectory(
  directory: TreeDirectory,
  localPath: string,
  ancestors: readonly Ancestor[],
): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(localPath);
  } catch (error) {
    throw localError(error, localPath, directory.destination);
  }
  // Sorted so that errors, like the output, do not depend on the order the OS lists entries in.
  names.sort(compareNames);
  const children = await mapWithConcurrency(names, STAT_CONCURRENCY, async (name) => {
    const childPath = path.join(localPath, name);
    const destination = joinDestination(directory.destination, name);
    checkName(name, { destinationPath: destination, localPath: childPath });
    const stats = await statLocal(childPath, destination);
    // Files are checked here, concurrently; directories are walked below, one at a time.
    const file = stats.isDirectory()
      ? undefined
      : await fileNode(childPath, stats, name, destination);
    return { name, childPath, destination, stats, file };
  });
  for (const { name, childPath, destination, stats, file } of children) {
    if (file !== undefined) {
      insert(directory, file);
    } else {
      const loop = ancestors.find((ancestor) => ancestor.id === fileId(stats));
      if (loop !== undefined) {
        throw new CidataError(
          `is a symlink loop: it leads back to ${JSON.stringify(loop.localPath)}, which contains it; remove or retarget the link`,
          {
            localPath: childPath,
            destinationPath: destination,
          },
        );
      }
      const child = ensureDirectories(directory, [name], destination);
      await walkDirectory(child, childPath, [
        ...ancestors,
        { id: fileId(stats), localPath: childPath },
      ]);
    }
  }
}

/** Orders names by UTF-16 code units: the same on every platform and locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
