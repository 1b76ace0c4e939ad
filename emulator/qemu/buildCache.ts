/**
 * A machine-wide cache of expensive build outputs (the guest image): each entry is a directory
 * built once, under an exclusive lock so concurrent callers (test files, emulator instances, other
 * processes) wait instead of building twice, and published atomically by renaming a finished
 * temporary directory into place. An entry that exists is complete.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { requireCommands } from "./prerequisites";

/** What {@link ensureCachedBuild} needs. */
export interface CachedBuild {
  /** Cache directory; created if missing. */
  cacheRoot: string;
  /** Entry name, unique per build recipe (e.g. `guest-<hash>`); the entry is `<cacheRoot>/<name>`. */
  name: string;
  /** Writes the entry's files into `directory` (empty, same file system as the entry). Throws on failure. */
  build(directory: string): Promise<void>;
}

/** Where the entry is, and whether this call built it. */
export interface CachedBuildResult {
  /** `<cacheRoot>/<name>`, complete. */
  directory: string;
  /** True when this call ran the build; false when the entry already existed. */
  built: boolean;
}

/** Returns the cache entry, building it first (once per machine) if it does not exist yet. */
export async function ensureCachedBuild(options: CachedBuild): Promise<CachedBuildResult> {
  const directory = path.join(options.cacheRoot, options.name);
  if (await exists(directory)) return { directory, built: false };
  await fs.mkdir(options.cacheRoot, { recursive: true });
  return withExclusiveLock(`${directory}.lock`, async () => {
    // Someone else may have published it while this call waited for the lock.
    if (await exists(directory)) return { directory, built: false };
    await removeLeftoversOf(options.cacheRoot, options.name);
    const temporary = `${directory}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await fs.mkdir(temporary);
    try {
      await options.build(temporary);
      await fs.rename(temporary, directory);
    } catch (error) {
      await fs.rm(temporary, { recursive: true, force: true });
      throw error;
    }
    return { directory, built: true };
  });
}

/**
 * Runs `action` while holding an exclusive `flock(1)` lock on `lockFile`. The lock belongs to a
 * small `flock` child process, so the kernel releases it when that process ends: a crashed or
 * killed holder never leaves a stale lock behind.
 */
export async function withExclusiveLock<T>(lockFile: string, action: () => Promise<T>): Promise<T> {
  const { flock } = await requireCommands(["flock"]);
  // flock takes the lock, says so, then holds it for as long as its stdin stays open.
  const holder = spawn(flock, ["--exclusive", lockFile, "-c", "echo locked; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const released = new Promise<void>((resolve) => holder.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let stderr = "";
    holder.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
    holder.once("close", (code) =>
      reject(new Error(`flock ${lockFile} failed (exit ${code}): ${stderr.trim()}`)),
    );
  });
  try {
    return await action();
  } finally {
    holder.stdin.end();
    await released;
  }
}

/** Removes temporary directories that builds of `name` left behind when they were killed. */
async function removeLeftoversOf(cacheRoot: string, name: string): Promise<void> {
  for (const entry of await fs.readdir(cacheRoot)) {
    if (entry.startsWith(`${name}.tmp-`)) {
      await fs.rm(path.join(cacheRoot, entry), { recursive: true, force: true });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
