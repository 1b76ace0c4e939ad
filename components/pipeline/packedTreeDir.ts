/**
 * Where a build keeps its packed CIDATA tree on the local disk while the build VM fetches it: a
 * private directory (mode 0700) named after the process, so that the tree of a build killed
 * outright (SIGKILL, a crashed `pulumi up`), which may hold the build's secrets, does not stay in
 * the temporary directory: the next build on the machine removes the trees of processes that are
 * gone.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const PREFIX = "pci-tree-";
/** A tree directory's name, with the id of the process that made it. */
const TREE_DIR_NAME = new RegExp(`^${PREFIX}(\\d+)-`);

/** A packed tree's directory, and how to remove it. */
export interface PackedTreeDir {
  /** The directory (empty, mode 0700). */
  path: string;
  /** Removes it and what is in it; safe to call twice. */
  remove(): void;
}

/**
 * Makes this process's directory for a packed tree under `root`, first removing those left by
 * processes that no longer run.
 */
export function makePackedTreeDir(root: string = os.tmpdir()): PackedTreeDir {
  removeOrphanedTreeDirs(root);
  const directory = fs.mkdtempSync(path.join(root, `${PREFIX}${process.pid}-`));
  return { path: directory, remove: () => fs.rmSync(directory, { recursive: true, force: true }) };
}

/** Removes the tree directories under `root` whose process is gone; returns their names. */
export function removeOrphanedTreeDirs(root: string = os.tmpdir()): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = TREE_DIR_NAME.exec(entry)?.[1];
    if (pid === undefined || isRunning(Number(pid))) continue;
    try {
      fs.rmSync(path.join(root, entry), { recursive: true, force: true });
      removed.push(entry);
    } catch {
      // Another user's directory, or one being removed by its owner: not ours to insist on.
    }
  }
  return removed;
}

/** Whether a process with this id runs (EPERM: it does, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
