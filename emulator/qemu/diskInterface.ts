/**
 * Which disk interface GCE gives an instance: SCSI (`/dev/sda`) on most machine types, NVMe
 * (`/dev/nvme0n1`) on the machine series that only offer NVMe for their disks.
 */
import type { DiskInterface } from "./qemuCommandLine";

/**
 * Machine series whose disks GCE attaches as NVMe only: the third-generation and newer series
 * (C3, C3D, C4, C4A, C4D, N4, N4A, N4D, H3, H4D, M3, M4, X4, Z3, A3, A4) and the Arm T2A, after GCE's
 * machine series documentation ("Disk interface" of each series). A series not listed gets SCSI.
 */
export const NVME_ONLY_MACHINE_SERIES: ReadonlySet<string> = new Set([
  "c3",
  "c3d",
  "c4",
  "c4a",
  "c4d",
  "n4",
  "n4a",
  "n4d",
  "h3",
  "h4d",
  "m3",
  "m4",
  "x4",
  "z3",
  "a3",
  "a4",
  "t2a",
]);

/** `nvme` for a machine type of an NVMe-only series (e.g. `c3-standard-4`), else `scsi`. */
export function diskInterfaceForMachineType(machineType: string): DiskInterface {
  const series = machineType.split("/").pop()?.split("-")[0]?.toLowerCase() ?? "";
  return NVME_ONLY_MACHINE_SERIES.has(series) ? "nvme" : "scsi";
}
