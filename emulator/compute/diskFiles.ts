/**
 * Backing files for images and disks, so that a real VM can boot from an emulated disk. Off by
 * default (the `diskFiles` emulator option): then images and disks are bookkeeping only.
 *
 * Layout under `<dataDir>/compute`: `images/<project>/<name>-<id>.raw` and
 * `disks/<project>/<zone>/<name>-<id>.raw`, all sparse raw files. Copies use
 * `cp --sparse=always --reflink=auto`, which keeps holes and clones blocks where the filesystem can.
 */
import { execFile } from "node:child_process";
import { mkdir, open, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { GIB } from "./rawDiskArchive";
import type { DiskRecord, ImageRecord } from "./resources";

const run = promisify(execFile);

/** Creates, copies and removes backing files. */
export class DiskFiles {
  /**
   * @param root `<dataDir>/compute`, or undefined when disk files are off.
   */
  constructor(private readonly root: string | undefined) {}

  /** True when images and disks get backing files. */
  get enabled(): boolean {
    return this.root !== undefined;
  }

  /** Where an image's file goes. */
  async imagePath(image: ImageRecord): Promise<string> {
    return this.prepare(join("images", image.project, `${image.name}-${image.id}.raw`));
  }

  /** Where a disk's file goes. */
  async diskPath(disk: DiskRecord): Promise<string> {
    return this.prepare(join("disks", disk.project, disk.zone, `${disk.name}-${disk.id}.raw`));
  }

  /** Creates a sparse file of `sizeGb` GiB. */
  async createBlank(path: string, sizeGb: number): Promise<void> {
    const handle = await open(path, "w");
    try {
      await handle.truncate(sizeGb * GIB);
    } finally {
      await handle.close();
    }
  }

  /** Copies `source` to `target` keeping holes, then grows it to `sizeGb` GiB when larger. */
  async copy(source: string, target: string, sizeGb?: number): Promise<void> {
    await run("cp", ["--sparse=always", "--reflink=auto", source, target]);
    if (sizeGb !== undefined && (await stat(target)).size < sizeGb * GIB) {
      const handle = await open(target, "r+");
      try {
        await handle.truncate(sizeGb * GIB);
      } finally {
        await handle.close();
      }
    }
  }

  /** Grows a file to `sizeGb` GiB (sparse: the new end is a hole); a longer file stays as it is. */
  async grow(path: string, sizeGb: number): Promise<void> {
    const handle = await open(path, "r+");
    try {
      if ((await handle.stat()).size < sizeGb * GIB) await handle.truncate(sizeGb * GIB);
    } finally {
      await handle.close();
    }
  }

  /** Bytes actually allocated by a file (sparse files allocate less than their size). */
  async allocatedBytes(path: string): Promise<number> {
    return (await stat(path)).blocks * 512;
  }

  /** Removes a file if present. */
  async remove(path: string | undefined): Promise<void> {
    if (path) await rm(path, { force: true });
  }

  private async prepare(relative: string): Promise<string> {
    if (this.root === undefined) throw new Error("disk files are disabled");
    const path = join(this.root, relative);
    await mkdir(dirname(path), { recursive: true });
    return path;
  }
}
