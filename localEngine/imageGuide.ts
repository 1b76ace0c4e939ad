/**
 * How to look inside an output image file of a local run without mounting it: the image is a raw
 * GPT disk laid out as COS's, so the guide reads its partition table and says which partition holds
 * what, at which byte offset, with commands that open each one in place.
 */
import { readDiskBytes, readGpt, SECTOR_BYTES, type GptPartition } from "../emulator/qemu";

/** What each COS partition holds, as the stand-in guest (and COS) mounts it. */
const ROLES: Readonly<Record<string, string>> = {
  STATE: "the stateful partition: /var and /home (ext4)",
  "ROOT-A": "the read-only root filesystem, / (ext4)",
  "ROOT-B": "the update slot (empty)",
  OEM: "/usr/share/oem (ext4)",
  "EFI-SYSTEM": "efi/boot/grub.cfg and the kernels syslinux/vmlinuz.A/.B (FAT)",
};

/** The guide's lines for `file` (a raw disk image); a short note when it has no GPT. */
export async function imageGuide(file: string): Promise<string[]> {
  let partitions: GptPartition[];
  try {
    ({ partitions } = await readGpt((offset, length) =>
      readDiskBytes({ file, format: "raw" }, offset, length, "/nonexistent"),
    ));
  } catch (error) {
    return [`  (no partition table could be read: ${(error as Error).message})`];
  }
  const offsetOf = (name: string) => {
    const partition = partitions.find((p) => p.name === name);
    return partition ? partition.firstLba * SECTOR_BYTES : undefined;
  };
  const lines = ["  a raw GPT disk laid out as COS's; its partitions (number, name, byte offset):"];
  for (const partition of partitions) {
    const role = ROLES[partition.name];
    if (!role) continue;
    lines.push(
      `    ${String(partition.number).padStart(2)} ${partition.name.padEnd(10)} ` +
        `offset ${partition.firstLba * SECTOR_BYTES}: ${role}`,
    );
  }
  const state = offsetOf("STATE");
  const root = offsetOf("ROOT-A");
  const efi = offsetOf("EFI-SYSTEM");
  lines.push("  look inside without mounting it, for example:");
  lines.push(`    sgdisk -p ${file}`);
  if (state !== undefined) lines.push(`    debugfs -R 'ls -l /var/lib' '${file}?offset=${state}'`);
  if (root !== undefined) lines.push(`    debugfs -R 'ls -l /etc' '${file}?offset=${root}'`);
  if (efi !== undefined) lines.push(`    mtype -i '${file}@@${efi}' ::/efi/boot/grub.cfg`);
  return lines;
}
