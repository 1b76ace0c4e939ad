/** Host-side tools of the end-to-end tests: prerequisites, FAT disks, reading files from ext4 images. */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { findCachedGuestImage, findCommand, missingCommandsMessage } from "../../../emulator/qemu";

import { locateGuestPath } from "./diskImage";

const execFileAsync = promisify(execFile);

/** Everything the end-to-end tier runs on the host. */
const E2E_COMMANDS = [
  "qemu-system-x86_64",
  "qemu-img",
  "debootstrap",
  "mkfs.ext4",
  "debugfs",
  "mkfs.fat",
  "mkfs.vfat",
  "mcopy",
  "mtype",
  "mmd",
  "sgdisk",
  "veritysetup",
];

/**
 * Why the end-to-end tier cannot run here (a missing command and its package, or no root to build
 * the guest image that is not cached yet), or undefined.
 */
async function missingE2ePrerequisites(): Promise<string | undefined> {
  const missing: string[] = [];
  for (const command of E2E_COMMANDS) if (!(await findCommand(command))) missing.push(command);
  if (missing.length > 0) return missingCommandsMessage(missing);
  if (process.getuid?.() !== 0 && !(await findCachedGuestImage())) {
    return "not running as root, and the guest image is not built yet (debootstrap needs root): run the tests as root once";
  }
  return undefined;
}

/**
 * Skips the calling suite, loudly, when the end-to-end tier cannot run here. With
 * `PCI_E2E_REQUIRED=1` (CI sets it) a missing prerequisite fails the suite instead: a CI run that
 * skipped the tier must not look green.
 */
export async function requireE2ePrerequisites(suite: Mocha.Context): Promise<void> {
  const missing = await missingE2ePrerequisites();
  if (!missing) return;
  if (process.env.PCI_E2E_REQUIRED === "1") {
    throw new Error(`the end-to-end tier is required here (PCI_E2E_REQUIRED=1) but ${missing}`);
  }
  console.warn(`\n  !!!!! E2E TESTS SKIPPED: ${missing} !!!!!\n`);
  suite.skip();
}

/** Creates a FAT disk image labelled `label` holding `files` (name → contents) at its root. */
export async function makeFatDisk(
  file: string,
  label: string,
  files: Record<string, string>,
): Promise<void> {
  await execFileAsync("mkfs.fat", ["-C", "-n", label, file, String(8 * 1024)]); // 8 MiB
  const staging = await fs.mkdtemp(`${file}.files-`);
  try {
    for (const [name, contents] of Object.entries(files)) {
      const source = path.join(staging, name);
      await fs.writeFile(source, contents);
      await execFileAsync("mcopy", ["-i", file, source, `::/${name}`]);
    }
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * Contents of the guest path `filePath` in the disk image `image` (a COS-shaped disk, or a bare
 * ext4 filesystem), read with debugfs (no mount); empty when there is no such file.
 */
export async function readFileFromExt4(image: string, filePath: string): Promise<string> {
  // The guest's path, on the partition COS mounts it from (see locateGuestPath).
  const located = await locateGuestPath(image, filePath);
  const { stdout } = await execFileAsync("debugfs", [
    "-R",
    `cat ${located.path}`,
    located.filesystem,
  ]);
  return stdout;
}
