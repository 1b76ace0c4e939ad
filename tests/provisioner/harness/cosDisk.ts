import * as fs from "node:fs";
import * as path from "node:path";
import type { Sandbox } from "./sandbox";

/** A partition of {@link FakeCosDisk}: GPT number, first sector and size in 512-byte sectors. */
export interface FakePartition {
  number: number;
  start: number;
  size: number;
}

/** Sectors in one GiB. */
export const GIB_SECTORS = 2 * 1024 * 1024;

/** The stand-in COS image's partitions that the disk layout reads (emulator/qemu/guest-image/layout.sh). */
export function cosPartitions(diskSectors: number): Record<string, FakePartition> {
  return {
    STATE: { number: 1, start: 8704000, size: diskSectors - 33 - 8704000 },
    "ROOT-A": { number: 3, start: 4509696, size: 4194304 },
    "ROOT-B": { number: 5, start: 315392, size: 4194304 },
    OEM: { number: 8, start: 86016, size: 32768 },
    "EFI-SYSTEM": { number: 12, start: 249856, size: 65536 },
  };
}

/** The plan relocate-partitions.sh receives (steps/disk-layout/disk-layout.sh writes it). */
export type RelocationPlan = Record<string, string>;

/**
 * A COS boot disk as the provisioner sees it inside a sandbox: the kernel's view in sysfs
 * (`/sys/class/block/<disk>/size`, `<partition>/{start,size,partition}`), a device file per
 * partition (small files: `dd` copies them for real) and `/dev/disk/by-partlabel` links, with
 * SCSI (`sda`, `sda3`) or NVMe (`nvme0n1`, `nvme0n1p3`) names. Between runs the tests change it as a
 * reboot would: the root slot booted ({@link bootFrom}), the partitions moved at shutdown
 * ({@link applyRelocation}), a resized disk ({@link resize}).
 */
export class FakeCosDisk {
  readonly partitions: Record<string, FakePartition>;
  private readonly rootdevFile: string;

  constructor(
    private readonly box: Sandbox,
    readonly disk: "sda" | "nvme0n1",
    public sectors: number,
  ) {
    this.partitions = cosPartitions(sectors);
    // What the rootdev stub prints (it reads this file of the sandbox's base).
    this.rootdevFile = path.join(box.base, "rootdev");
    for (const [name, partition] of Object.entries(this.partitions)) {
      const device = box.machinePath(`dev/${this.partitionName(partition.number)}`);
      fs.mkdirSync(path.dirname(device), { recursive: true });
      fs.writeFileSync(device, `${name} contents\n`);
      const link = box.machinePath(`dev/disk/by-partlabel/${name}`);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(`../../${this.partitionName(partition.number)}`, link);
    }
    this.bootFrom("ROOT-A");
    this.write();
  }

  /** The kernel's name of partition `number`: `sda3`, `nvme0n1p3`. */
  partitionName(number: number): string {
    return this.disk === "sda" ? `sda${number}` : `nvme0n1p${number}`;
  }

  /** The device path of a partition, as the provisioner finds it (under the sandbox root). */
  device(name: string): string {
    return this.box.machinePath(`dev/${this.partitionName(this.partitions[name].number)}`);
  }

  /** The next boot runs from `slot`'s root partition (what `rootdev -s` then prints). */
  bootFrom(slot: "ROOT-A" | "ROOT-B"): void {
    fs.writeFileSync(this.rootdevFile, `${this.device(slot)}\n`);
  }

  /** The disk grows to `sectors` (as GCE's disks.resize, seen by the kernel at once). */
  resize(sectors: number): void {
    this.sectors = sectors;
    this.write();
  }

  /** The layout a reclaim leaves: booted from ROOT-B, ROOT-A 4 KiB, STATE 2 MiB after ROOT-A's start. */
  reclaimed(): this {
    this.bootFrom("ROOT-B");
    this.applyRelocation({ SHRINK_ROOT_A: "true", NEW_STATE_START: String(4509696 + 4096) });
    return this;
  }

  /** The relocation plan the provisioner left for the shutdown, or undefined. */
  relocationPlan(): RelocationPlan | undefined {
    const file = this.box.machinePath("run/preloaded-cos-image/relocation/plan");
    if (!fs.existsSync(file)) return undefined;
    const plan: RelocationPlan = {};
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match) plan[match[1]] = match[2];
    }
    return plan;
  }

  /**
   * What the shutdown and the next boot do with the plan: ROOT-A shrunk, STATE and OEM moved, STATE
   * grown to the end of the disk (the boot's growing), the per-boot /run emptied.
   */
  applyRelocation(plan: RelocationPlan): void {
    if (plan.SHRINK_ROOT_A === "true") this.partitions["ROOT-A"].size = 8;
    const state = this.partitions.STATE;
    state.start = Number(plan.NEW_STATE_START);
    state.size = this.sectors - 33 - state.start;
    if (Number(plan.NEW_OEM_SIZE ?? 0) > 0) {
      this.partitions.OEM.start = Number(plan.NEW_OEM_START);
      this.partitions.OEM.size = Number(plan.NEW_OEM_SIZE);
    }
    fs.rmSync(this.box.machinePath("run"), { recursive: true, force: true });
    this.write();
  }

  /** Sets what `dumpe2fs -h` reports for a partition's filesystem (4096-byte blocks, as COS's OEM). */
  setFilesystem(name: string, bytes: number, blockSize = 4096): void {
    fs.writeFileSync(
      `${this.device(name)}.dumpe2fs`,
      `Block count: ${bytes / blockSize}\nBlock size: ${blockSize}\n`,
    );
  }

  /** The size in bytes `dumpe2fs -h` reports for a partition's filesystem. */
  filesystemBytes(name: string): number {
    const text = fs.readFileSync(`${this.device(name)}.dumpe2fs`, "utf8");
    const count = Number(/^Block count: (\d+)/m.exec(text)?.[1]);
    const size = Number(/^Block size: (\d+)/m.exec(text)?.[1]);
    return count * size;
  }

  /** Writes the kernel's view (sysfs) of the current partitions and disk size. */
  write(): void {
    const sysBlock = this.box.machinePath("sys/class/block");
    const diskDir = path.join(sysBlock, this.disk);
    fs.mkdirSync(diskDir, { recursive: true });
    fs.writeFileSync(path.join(diskDir, "size"), `${this.sectors}\n`);
    for (const partition of Object.values(this.partitions)) {
      const name = this.partitionName(partition.number);
      const dir = path.join(diskDir, name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "start"), `${partition.start}\n`);
      fs.writeFileSync(path.join(dir, "size"), `${partition.size}\n`);
      fs.writeFileSync(path.join(dir, "partition"), `${partition.number}\n`);
      const link = path.join(sysBlock, name);
      if (!fs.existsSync(link)) fs.symlinkSync(`${this.disk}/${name}`, link);
    }
  }
}
