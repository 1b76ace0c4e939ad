/**
 * Looking for secrets where they must not be: in a disk image file (every byte, holes included)
 * and in the files under a directory (the machines' serial captures). Each answers with where a
 * secret was found, so a failing test says where it leaked, never what the secret is.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * Whether any of `secrets` occurs in the file `file`, read whole by `grep` (`-z`: NUL-separated
 * records, so the long zero runs of a sparse disk image are many empty records, not one huge line).
 */
export async function fileContainsAny(file: string, secrets: readonly string[]): Promise<boolean> {
  const patterns = secrets.flatMap((secret) => ["-e", secret]);
  try {
    await execFileAsync("grep", ["-q", "-z", "-a", "-F", ...patterns, file]);
    return true;
  } catch (error) {
    // grep exits 1 when nothing matched; anything else is a failure of the scan itself.
    if ((error as { code?: number }).code === 1) return false;
    throw error;
  }
}

/** The files under `dir` (recursively) that contain any of `secrets`, relative to `dir`. */
export async function filesContainingAny(
  dir: string,
  secrets: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (await fileContainsAny(file, secrets)) found.push(path.relative(dir, file));
  }
  return found;
}
