/**
 * Looking inside a COS-shaped disk image file without mounting it: its GPT (read by the launcher's
 * own reader) and its partitions' filesystems, which e2fsprogs opens at an offset inside the file
 * (`debugfs ... "disk.raw?offset=<bytes>"`: ext2fs_open takes unix_io options after a `?`) and mtools
 * at `disk.raw@@<bytes>`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  chromeOsAttributes,
  COS_KERNEL_A,
  COS_KERNEL_B,
  readDiskBytes,
  readGpt,
  SECTOR_BYTES,
  type GptPartition,
  type GptTable,
} from "../../../emulator/qemu";

const execFileAsync = promisify(execFile);

/** The GPT of a raw disk image file. */
export async function readImageGpt(image: string): Promise<GptTable> {
  return readGpt((offset, length) =>
    readDiskBytes({ file: image, format: "raw" }, offset, length, "/nonexistent"),
  );
}

/** The partition named `name` (`STATE`, `OEM`, `EFI-SYSTEM`...) of a raw disk image file. */
export async function imagePartition(image: string, name: string): Promise<GptPartition> {
  const table = await readImageGpt(image);
  const found = table.partitions.find((partition) => partition.name === name);
  if (!found) {
    throw new Error(
      `${image} has no partition named ${name} (it has ${table.partitions.map((p) => p.name).join(", ")})`,
    );
  }
  return found;
}

/**
 * The ext4 filesystem of partition `name` as something `ext4Image.ts`' helpers (debugfs) open:
 * `<image>?offset=<bytes>`.
 */
export async function ext4OfPartition(image: string, name: string): Promise<string> {
  const partition = await imagePartition(image, name);
  return `${image}?offset=${partition.firstLba * SECTOR_BYTES}`;
}

/** A file of the FAT partition `name` (e.g. `EFI-SYSTEM`, `/efi/boot/grub.cfg`), read with mtools. */
export async function fatReadFile(image: string, name: string, file: string): Promise<string> {
  const partition = await imagePartition(image, name);
  const { stdout } = await execFileAsync(
    "mtype",
    ["-i", `${image}@@${partition.firstLba * SECTOR_BYTES}`, `::${file}`],
    { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" }, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

/** Size in bytes of partition `name`. */
export async function partitionBytes(image: string, name: string): Promise<number> {
  const partition = await imagePartition(image, name);
  return (partition.lastLba - partition.firstLba + 1) * SECTOR_BYTES;
}

/**
 * Where a path of the running guest lives in a COS-shaped disk image, by COS's mount rules:
 * `/var/...` and `/home/...` on STATE (which holds `var/` and `home/`), `/mnt/stateful_partition/...`
 * on STATE, `/usr/share/oem/...` on OEM, everything else on the root slot the image boots (ROOT-B when
 * KERN-B has the higher priority, as after a ROOT-A reclaim; ROOT-A otherwise). A file without a GPT
 * is taken as a bare ext4 filesystem (the path unchanged).
 */
export async function locateGuestPath(
  image: string,
  guestPath: string,
): Promise<{ filesystem: string; path: string }> {
  let table: GptTable;
  try {
    table = await readImageGpt(image);
  } catch {
    return { filesystem: image, path: guestPath };
  }
  const at = (name: string, inner: string) => {
    const partition = table.partitions.find((p) => p.name === name);
    if (!partition) throw new Error(`${image} has no ${name} partition`);
    return {
      filesystem: `${image}?offset=${partition.firstLba * SECTOR_BYTES}`,
      path: inner || "/",
    };
  };
  const under = (prefix: string) => guestPath === prefix || guestPath.startsWith(`${prefix}/`);
  if (under("/mnt/stateful_partition")) {
    return at("STATE", guestPath.slice("/mnt/stateful_partition".length));
  }
  if (under("/var") || under("/home")) return at("STATE", guestPath);
  if (under("/usr/share/oem")) return at("OEM", guestPath.slice("/usr/share/oem".length));
  return at(bootedRoot(table), guestPath);
}

/** The root partition COS's GRUB boots from the image: B when `prioA < prioB`, else A. */
export function bootedRoot(table: GptTable): "ROOT-A" | "ROOT-B" {
  const priority = (number: number): number => {
    const kernel = table.partitions.find((p) => p.number === number);
    return kernel ? chromeOsAttributes(kernel).priority : 0;
  };
  return priority(COS_KERNEL_A) < priority(COS_KERNEL_B) ? "ROOT-B" : "ROOT-A";
}
