/**
 * The launcher's stand-in for COS's bootloader. Before each QEMU start (first boot and every
 * reboot) it reads the boot disk file as COS's GRUB reads the disk, and boots what GRUB would:
 *
 * 1. the GPT priority attributes of KERN-A (partition 2) and KERN-B (4), as GRUB's Chrome OS
 *    `gptpriority` command reads them (bits 48-51 only: tries and successful do not enter GRUB's
 *    choice);
 * 2. `efi/boot/grub.cfg` from the EFI-SYSTEM partition (with mtools, at the partition's offset):
 *    `defaultA`/`defaultB` and the `menuentry` blocks; slot B when `prioA < prioB`, else slot A, as
 *    COS's grub.cfg says;
 * 3. the chosen entry's `linux` line: the kernel file (copied out of the EFI partition) and its
 *    command line (`cros_efi`, `root=`, maybe a Chrome OS `dm="..."` table), booted directly.
 *
 * Why not real GRUB under OVMF: Debian's GRUB has no `gptpriority` (a Chrome OS addition), and
 * Debian's kernel does not read `dm=`. Playing the bootloader here keeps what matters observable
 * (edits to grub.cfg and `cgpt prioritize` in the guest take effect at the next boot) without a
 * patched GRUB; the stand-in's initramfs does what COS's kernel does with `dm=` (see
 * `guest-image/rootfs/etc/initramfs-tools/`).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { chromeOsAttributes, partitionNumbered, readGpt, SECTOR_BYTES, type GptTable } from "./gpt";
import { requireCommands } from "./prerequisites";
import type { MachineDisk } from "./qemuCommandLine";

const execFileAsync = promisify(execFile);

/** COS's partition numbers of the two kernels, and of the EFI system partition. */
export const COS_KERNEL_A = 2;
export const COS_KERNEL_B = 4;
export const COS_EFI_SYSTEM = 12;

/** Where COS keeps its GRUB configuration on the EFI system partition. */
export const COS_GRUB_CFG = "/efi/boot/grub.cfg";

/** One `menuentry` of a grub.cfg. */
export interface GrubMenuEntry {
  /** The entry's title, e.g. `verified image A`. */
  title: string;
  /** Kernel path on the partition GRUB loaded grub.cfg from, e.g. `/syslinux/vmlinuz.A`. */
  kernelPath: string;
  /** The rest of the `linux` line: the kernel command line, as written (quotes kept). */
  commandLine: string;
}

/** What COS's grub.cfg says, as far as the slot choice needs. */
export interface CosGrubConfig {
  /** Index of the entry slot A boots (`defaultA=`). */
  defaultA: number;
  /** Index of the entry slot B boots (`defaultB=`). */
  defaultB: number;
  /** The menu entries in file order (GRUB's `default` counts from 0 in this order). */
  entries: GrubMenuEntry[];
}

/** What the bootloader chose, and the files to boot. */
export interface CosBootChoice {
  /** `A` or `B`. */
  slot: "A" | "B";
  /** KERN-A's and KERN-B's priorities as read from the GPT. */
  priorities: { A: number; B: number };
  /** The chosen menu entry. */
  entry: GrubMenuEntry;
  /** Host path of the kernel copied out of the EFI partition. */
  kernel: string;
  /** The kernel command line. */
  commandLine: string;
}

/** Parses COS's grub.cfg: `defaultA=N`, `defaultB=N` and each `menuentry "title" { linux ... }`. */
export function parseCosGrubConfig(text: string): CosGrubConfig {
  const number = (name: string): number => {
    const match = new RegExp(`^\\s*${name}=(\\d+)\\s*$`, "m").exec(text);
    if (!match) throw new Error(`grub.cfg does not set ${name} (COS's slot defaults)`);
    return Number(match[1]);
  };
  const entries: GrubMenuEntry[] = [];
  const entryPattern = /^\s*menuentry\s+"([^"]*)"[^{]*\{([\s\S]*?)^\s*\}/gm;
  for (const match of text.matchAll(entryPattern)) {
    const linux = /^\s*linux\s+(\S+)\s*(.*)$/m.exec(match[2]);
    if (!linux) continue;
    entries.push({ title: match[1], kernelPath: linux[1], commandLine: linux[2].trim() });
  }
  return { defaultA: number("defaultA"), defaultB: number("defaultB"), entries };
}

/** COS's grub.cfg rule: `if [ $prioA -lt $prioB ]` boot `defaultB`, else `defaultA`. */
export function chooseSlot(priorities: { A: number; B: number }): "A" | "B" {
  return priorities.A < priorities.B ? "B" : "A";
}

/** The entry `slot` boots, or an error naming the index grub.cfg points at. */
export function entryForSlot(config: CosGrubConfig, slot: "A" | "B"): GrubMenuEntry {
  const index = slot === "A" ? config.defaultA : config.defaultB;
  const entry = config.entries[index];
  if (!entry) {
    throw new Error(
      `grub.cfg's default${slot}=${index} names no menu entry (it has ${config.entries.length})`,
    );
  }
  if (entry.kernelPath.startsWith("(")) {
    throw new Error(
      `menu entry "${entry.title}" loads its kernel from another disk: ${entry.kernelPath}`,
    );
  }
  return entry;
}

/** Reads `length` bytes at `offset` of a disk file (raw directly, qcow2 through `qemu-img dd`). */
export async function readDiskBytes(
  disk: Pick<MachineDisk, "file" | "format">,
  offset: number,
  length: number,
  scratchDir: string,
): Promise<Buffer> {
  if (disk.format === "raw") {
    const handle = await fs.open(disk.file, "r");
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }
  const target = path.join(scratchDir, `range-${offset}-${length}.raw`);
  await extractDiskRange(disk, offset, length, target);
  try {
    return await fs.readFile(target);
  } finally {
    await fs.rm(target, { force: true });
  }
}

/** Writes `length` bytes at `offset` of a qcow2 or raw disk file to the raw file `target`. */
async function extractDiskRange(
  disk: Pick<MachineDisk, "file" | "format">,
  offset: number,
  length: number,
  target: string,
): Promise<void> {
  if (offset % SECTOR_BYTES !== 0 || length % SECTOR_BYTES !== 0) {
    throw new RangeError(
      `disk ranges are read in whole sectors (offset ${offset}, length ${length})`,
    );
  }
  await requireCommands(["qemu-img"]);
  await fs.rm(target, { force: true });
  const skip = offset / SECTOR_BYTES;
  // qemu-img 7.2's dd counts `count` from the start of the input, skipped blocks included (it
  // writes count - skip blocks), so ask for skip + n; the truncate keeps exactly `length` bytes
  // whichever way a qemu-img version counts.
  await execFileAsync("qemu-img", [
    "dd",
    "-f",
    disk.format,
    "-O",
    "raw",
    `bs=${SECTOR_BYTES}`,
    `skip=${skip}`,
    `count=${skip + length / SECTOR_BYTES}`,
    `if=${disk.file}`,
    `of=${target}`,
  ]);
  await fs.truncate(target, length);
}

/**
 * Plays COS's bootloader on `bootDisk`: reads its GPT and grub.cfg, chooses the slot, copies the
 * kernel into `workDir` and returns what to boot. Throws with what is missing when the disk is not
 * laid out as COS's (no GPT, no EFI-SYSTEM, no grub.cfg or kernel).
 */
export async function chooseCosBoot(
  bootDisk: Pick<MachineDisk, "file" | "format">,
  workDir: string,
): Promise<CosBootChoice> {
  await requireCommands(["mtype", "mcopy"]);
  const where = `boot disk ${bootDisk.file}`;
  let table: GptTable;
  try {
    table = await readGpt((offset, length) => readDiskBytes(bootDisk, offset, length, workDir));
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
  const priorities = {
    A: chromeOsAttributes(partitionNumbered(table, COS_KERNEL_A)).priority,
    B: chromeOsAttributes(partitionNumbered(table, COS_KERNEL_B)).priority,
  };
  const efi = partitionNumbered(table, COS_EFI_SYSTEM);
  const efiOffset = efi.firstLba * SECTOR_BYTES;
  const efiLength = (efi.lastLba - efi.firstLba + 1) * SECTOR_BYTES;
  // mtools reads a FAT inside a raw file at an offset (`file@@offset`); a qcow2 overlay's
  // partition is first copied out as a small raw file.
  let image = `${bootDisk.file}@@${efiOffset}`;
  if (bootDisk.format !== "raw") {
    image = path.join(workDir, "efi-system.raw");
    await extractDiskRange(bootDisk, efiOffset, efiLength, image);
  }
  try {
    const mtools = (command: string, args: string[]) =>
      execFileAsync(command, ["-i", image, ...args], {
        maxBuffer: 4 * 1024 * 1024,
        env: { ...process.env, MTOOLS_SKIP_CHECK: "1" },
      });
    const grub = await mtools("mtype", [`::${COS_GRUB_CFG}`]).catch((error: unknown) => {
      throw new Error(`${where}: cannot read ${COS_GRUB_CFG} from EFI-SYSTEM: ${String(error)}`);
    });
    const slot = chooseSlot(priorities);
    const entry = entryForSlot(parseCosGrubConfig(grub.stdout), slot);
    const kernel = path.join(workDir, `boot-kernel-${slot}`);
    await fs.rm(kernel, { force: true });
    await mtools("mcopy", ["-n", `::${entry.kernelPath}`, kernel]).catch((error: unknown) => {
      throw new Error(
        `${where}: cannot copy ${entry.kernelPath} from EFI-SYSTEM: ${String(error)}`,
      );
    });
    return { slot, priorities, entry, kernel, commandLine: entry.commandLine };
  } finally {
    if (bootDisk.format !== "raw") await fs.rm(image, { force: true });
  }
}
