/**
 * Disk files for emulated instances, made with `qemu-img`. A disk created from an image is a
 * copy-on-write qcow2 overlay over the image's raw file, so creating it is instant and the image is
 * never written; an image created from a disk is a standalone raw file again.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import { promisify } from "node:util";
import { requireCommands } from "./prerequisites";

const execFileAsync = promisify(execFile);

/** Formats QEMU reads disk files in, as far as this project uses them. */
export type DiskFormat = "raw" | "qcow2";

/** Options of {@link createOverlay}. */
export interface OverlayOptions {
  /** Format of the backing file. Default `raw`. */
  backingFormat?: DiskFormat;
  /** Virtual size of the overlay in bytes; default the backing file's size. Larger grows the disk. */
  sizeBytes?: number;
}

/**
 * Creates a qcow2 overlay at `overlayPath` whose unwritten blocks read from `backingFile`
 * (`qemu-img create -f qcow2 -b <backing> -F <format>`). The backing file must then stay unchanged
 * for as long as the overlay exists. The backing path is stored absolute, so the overlay keeps
 * working from any working directory.
 */
export async function createOverlay(
  backingFile: string,
  overlayPath: string,
  options: OverlayOptions = {},
): Promise<void> {
  await requireCommands(["qemu-img"]);
  const backing = await fs.realpath(backingFile);
  const args = [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-b",
    backing,
    "-F",
    options.backingFormat ?? "raw",
    overlayPath,
  ];
  if (options.sizeBytes !== undefined) args.push(String(options.sizeBytes));
  await runQemuImg(args);
}

/** Creates an empty sparse raw disk file of `sizeBytes` (a blank disk, e.g. a scratch disk). */
export async function createBlankRawDisk(path: string, sizeBytes: number): Promise<void> {
  const handle = await fs.open(path, "wx");
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
}

/**
 * Writes the full contents of the disk file `source` (raw, or a qcow2 overlay together with its
 * backing chain) to `target` as a standalone, sparse raw file (`qemu-img convert -O raw`). The
 * source must not be in use by a running machine (QEMU locks it; stop the machine first). `target`
 * is written to a temporary name and renamed, so it never exists half-written.
 */
export async function convertToRawImage(source: string, target: string): Promise<void> {
  await requireCommands(["qemu-img"]);
  const partial = `${target}.partial-${process.pid}`;
  try {
    // -S 4k: zero runs of 4 KiB or more become holes, so a mostly empty disk stays small on disk.
    await runQemuImg(["convert", "-q", "-O", "raw", "-S", "4k", source, partial]);
    await fs.rename(partial, target);
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  }
}

/** What `qemu-img info` says about a disk file. */
export interface DiskFileInfo {
  /** `raw` or `qcow2` (or another format qemu-img recognised). */
  format: string;
  /** Size the guest sees, in bytes. */
  virtualSizeBytes: number;
  /** Backing file of an overlay, if any. */
  backingFile?: string;
}

/** Reads a disk file's format, virtual size and backing file (`qemu-img info --output=json`). */
export async function diskFileInfo(path: string): Promise<DiskFileInfo> {
  await requireCommands(["qemu-img"]);
  // -U: also works while a running QEMU holds the file's lock (read-only peek at the header).
  const { stdout } = await runQemuImg(["info", "-U", "--output=json", path]);
  const info = JSON.parse(stdout) as {
    format: string;
    "virtual-size": number;
    "backing-filename"?: string;
  };
  return {
    format: info.format,
    virtualSizeBytes: info["virtual-size"],
    ...(info["backing-filename"] ? { backingFile: info["backing-filename"] } : {}),
  };
}

async function runQemuImg(args: string[]): Promise<{ stdout: string }> {
  try {
    return await execFileAsync("qemu-img", args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`qemu-img ${args[0]} failed: ${stderr || String(error)}`, { cause: error });
  }
}
