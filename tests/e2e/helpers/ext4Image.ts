/**
 * Looking inside an image file without mounting it: `debugfs` (e2fsprogs) reads the ext4
 * filesystems of a COS-shaped disk image at their partitions' offsets, read-only. Paths are the
 * running guest's (`/var/lib/x` is read from STATE, `/etc/x` from ROOT-A: see `locateGuestPath`);
 * a bare ext4 image file is read as it is.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { locateGuestPath } from "./diskImage";

const execFileAsync = promisify(execFile);

/** What a path is inside the filesystem. */
export interface Ext4Entry {
  /** `regular`, `directory`, `symlink`, ... as debugfs names inode types. */
  type: string;
  /** Size in bytes. */
  size: number;
}

/** One entry of a directory listing. */
export interface Ext4ListedEntry extends Ext4Entry {
  /** Name inside the directory. */
  name: string;
}

/** Runs debugfs request `command` ("stat", "cat", "ls -p") on the guest path `path` of `image`. */
async function debugfs(
  image: string,
  command: string,
  path: string,
): Promise<{ stdout: string; stderr: string }> {
  const located = await locateGuestPath(image, path);
  return execFileAsync("debugfs", ["-R", `${command} "${located.path}"`, located.filesystem], {
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The entry at `path`, or undefined when there is none (debugfs: "File not found by ext2_lookup"). */
export async function ext4Stat(image: string, path: string): Promise<Ext4Entry | undefined> {
  const { stdout, stderr } = await debugfs(image, "stat", path);
  if (/File not found by ext2_lookup/.test(stderr)) return undefined;
  const type = /Type: (\S+)/.exec(stdout)?.[1];
  const size = /Size: (\d+)/.exec(stdout)?.[1];
  if (type === undefined || size === undefined) {
    throw new Error(`cannot read debugfs' answer for ${path} in ${image}: ${stderr}${stdout}`);
  }
  return { type, size: Number(size) };
}

/** Contents of the regular file at `path`; throws when there is no such file. */
export async function ext4ReadFile(image: string, path: string): Promise<string> {
  const entry = await ext4Stat(image, path);
  if (entry?.type !== "regular") throw new Error(`${path} is not a file in ${image}`);
  return (await debugfs(image, "cat", path)).stdout;
}

/** The entries of the directory at `path` (without `.` and `..`); throws when it is no directory. */
export async function ext4List(image: string, path: string): Promise<Ext4ListedEntry[]> {
  const entry = await ext4Stat(image, path);
  if (entry?.type !== "directory") throw new Error(`${path} is not a directory in ${image}`);
  // `ls -p`: one "/inode/mode/uid/gid/name/size/" line per entry; the mode's octal digits say the type.
  const { stdout } = await debugfs(image, "ls -p", path);
  const entries: Ext4ListedEntry[] = [];
  for (const line of stdout.split("\n")) {
    const match = /^\/\d+\/(\d+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line.trim());
    if (!match || match[2] === "." || match[2] === "..") continue;
    entries.push({ name: match[2], type: typeOfMode(match[1]), size: Number(match[3] || 0) });
  }
  return entries;
}

/** Every regular file under the directory `path` (recursively), as `{ path, size }`. */
export async function ext4Files(
  image: string,
  path: string,
): Promise<Array<{ path: string; size: number }>> {
  const files: Array<{ path: string; size: number }> = [];
  for (const entry of await ext4List(image, path)) {
    const child = `${path.replace(/\/$/, "")}/${entry.name}`;
    if (entry.type === "directory") files.push(...(await ext4Files(image, child)));
    else if (entry.type === "regular") files.push({ path: child, size: entry.size });
  }
  return files;
}

/** debugfs' inode mode (octal, with the file type bits) as a type name. */
function typeOfMode(mode: string): string {
  switch (parseInt(mode, 8) & 0o170000) {
    case 0o040000:
      return "directory";
    case 0o100000:
      return "regular";
    case 0o120000:
      return "symlink";
    default:
      return "other";
  }
}
