/**
 * The `qemu-system-x86_64` command line for one emulated instance, as a pure function of its
 * specification, so that what the launcher starts can be read and tested without starting it.
 */
import type { DiskFormat } from "./disks";

/** GCE's metadata server address, which guests reach at port 80. */
export const METADATA_SERVER_ADDRESS = "169.254.169.254";

/**
 * QEMU user networking laid out like a GCE guest sees its network: link-local addresses, so that
 * GCE's metadata address 169.254.169.254 is on-link and routed to QEMU's forwarder. The guest gets
 * 169.254.0.15 by DHCP; 169.254.0.2 is the host (gateway), 169.254.0.3 QEMU's DNS forwarder.
 */
export const USER_NETWORK = {
  net: "169.254.0.0/16",
  host: "169.254.0.2",
  dhcpStart: "169.254.0.15",
} as const;

/**
 * The guest-side address of the local OCI registry mirror: the stand-in guest's docker and
 * containerd use `http://169.254.169.250:5000` as their Docker Hub mirror, and the launcher forwards
 * it to the host's registry port when a machine is given one.
 */
export const REGISTRY_MIRROR = { address: "169.254.169.250", port: 5000 } as const;

/**
 * A further registry the guest reaches at `REGISTRY_MIRROR.address:<guestPort>` (such as a private
 * TLS registry, or one that plays Artifact Registry at port 443), forwarded to a host loopback port.
 */
export interface RegistryForward {
  /** TCP port at the mirror's guest address: 1 to 65535, not the mirror's own port (5000). */
  guestPort: number;
  /** Host loopback port it is forwarded to. */
  hostPort: number;
}

/**
 * The longest serial number kept for every disk interface: virtio-blk's (VIRTIO_BLK_ID_BYTES) and
 * NVMe's (the controller's 20-byte serial number); longer is cut off.
 */
export const MAX_VIRTIO_SERIAL_LENGTH = 20;

/**
 * How disks appear to the guest, as on GCE: `scsi` (virtio-scsi, `/dev/sda`...; GCE's default on
 * most machine types) or `nvme` (`/dev/nvme0n1`, partitions `p1`...; machine series that only
 * offer NVMe). `virtio-blk` (`/dev/vda`) is not a GCE interface; kept for tests of the launcher.
 */
export type DiskInterface = "scsi" | "nvme" | "virtio-blk";

/** The id of the virtio-scsi controller every SCSI disk hangs off. */
export const SCSI_CONTROLLER_ID = "scsi0";

/** One disk attached to a machine, at start or hot-plugged later. */
export interface MachineDisk {
  /** Disk file: a raw file, or a qcow2 overlay (see `createOverlay`). */
  file: string;
  /** Format of `file`. */
  format: DiskFormat;
  /**
   * GCE device name. It becomes the disk's serial number (SCSI, NVMe or virtio), which the guest's udev rules turn into
   * `/dev/disk/by-id/google-<deviceName>`. Letters, digits and `-`, at most
   * {@link MAX_VIRTIO_SERIAL_LENGTH} characters.
   */
  deviceName: string;
  /** Attach read-only (the guest cannot write; QEMU opens the file read-only). */
  readOnly?: boolean;
}

/** SMBIOS system information (type 1); cloud-init decides it runs on GCE from these. */
export interface SmbiosSystem {
  /** Manufacturer; GCE reports `Google`. */
  manufacturer: string;
  /** Product name; GCE reports `Google Compute Engine`, which cloud-init's GCE datasource checks. */
  product: string;
  /** Serial number; GCE reports `GoogleCloud-<hex>`. */
  serial: string;
}

/** Everything {@link qemuCommandLine} needs; see `MachineSpec` for the user-facing meaning. */
export interface QemuInvocation {
  /** Name shown in `ps` and QEMU's messages. */
  name: string;
  /** `kvm` or `tcg` (software emulation). */
  accelerator: "kvm" | "tcg";
  /** Guest memory in MiB (`-m`). */
  memoryMiB: number;
  /** Virtual CPUs (`-smp`). */
  cpus: number;
  /** How the disks are attached (GCE's SCSI or NVMe). */
  diskInterface: DiskInterface;
  /** Kernel image for direct kernel boot (`-kernel`). */
  kernel: string;
  /** Initramfs (`-initrd`). */
  initrd: string;
  /** Kernel command line (`-append`). */
  kernelCommandLine: string;
  /** Disks present at boot, in PCI order. */
  disks: readonly MachineDisk[];
  /** Capture files of serial ports 1..4 (guest ttyS0..ttyS3), in that order. */
  serialFiles: readonly [string, string, string, string];
  /** Unix socket QEMU listens on for QMP. */
  qmpSocket: string;
  /**
   * Command that QEMU runs for each guest connection to 169.254.169.254:80, with the connection on
   * its stdin/stdout (slirp `guestfwd=...-cmd:`), as an argv.
   */
  metadataRelayCommand: readonly string[];
  /**
   * The same relay program without its port (`[node, metadataRelay.js]`): QEMU runs it with the
   * host port added for each guest connection to a forwarded registry. Needed when a registry is
   * forwarded ({@link registryPort}, {@link registryForwards}).
   */
  loopbackRelayCommand?: readonly string[];
  /** SMBIOS type 1 values (`-smbios type=1,...`). */
  smbios: SmbiosSystem;
  /** Host loopback port of an OCI registry the guest reaches at {@link REGISTRY_MIRROR}; none if absent. */
  registryPort?: number;
  /** Further registries at the mirror's address, other ports (see {@link RegistryForward}). Default none. */
  registryForwards?: readonly RegistryForward[];
}

/** Throws if `deviceName` cannot be a virtio serial number (and so a `google-<name>` link). */
export function validateDeviceName(deviceName: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(deviceName)) {
    throw new Error(`disk device name "${deviceName}" must be letters, digits, "-" or "_"`);
  }
  if (deviceName.length > MAX_VIRTIO_SERIAL_LENGTH) {
    throw new Error(
      `disk device name "${deviceName}" is longer than ${MAX_VIRTIO_SERIAL_LENGTH} characters, ` +
        "the most a virtio-blk serial number holds (the guest would see it cut off)",
    );
  }
}

/** QMP/`-blockdev` description of a disk file as block node `nodeName`. */
export function blockdevOptions(disk: MachineDisk, nodeName: string): Record<string, unknown> {
  const readOnly = disk.readOnly ?? false;
  return {
    driver: disk.format,
    "node-name": nodeName,
    "read-only": readOnly,
    file: { driver: "file", filename: disk.file, "read-only": readOnly },
  };
}

/**
 * QMP `device_add` / `-device` properties of the device for block node `nodeName`: a `scsi-hd` on
 * the virtio-scsi controller, an `nvme` controller with the disk as its namespace, or a
 * `virtio-blk-pci`; the serial number is the device name in every case. `index` is the disk's
 * place among the machine's disks (boot disk 0): a SCSI disk's target number, so that the boot disk
 * stays `/dev/sda` and each disk keeps its name when a reboot's fresh QEMU gets them all at start
 * (the kernel names SCSI disks in target order).
 */
export function diskDevice(
  disk: MachineDisk,
  nodeName: string,
  diskInterface: DiskInterface,
  index: number,
): Record<string, string | number> {
  const common = { id: `${nodeName}-device`, drive: nodeName, serial: disk.deviceName };
  switch (diskInterface) {
    case "scsi":
      return {
        driver: "scsi-hd",
        bus: `${SCSI_CONTROLLER_ID}.0`,
        "scsi-id": index,
        lun: 0,
        ...common,
      };
    case "nvme":
      return { driver: "nvme", ...common };
    case "virtio-blk":
      return { driver: "virtio-blk-pci", ...common };
  }
}

/** QEMU's escaping inside a comma-separated option value: a literal comma is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/** Quotes one argv word for the GLib shell parser that slirp uses on `guestfwd` commands. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The argv (without the program name) that starts the machine described by `invocation`. */
export function qemuCommandLine(invocation: QemuInvocation): string[] {
  for (const disk of invocation.disks) validateDeviceName(disk.deviceName);
  const forwards = registryForwardOptions(invocation);
  const relay = invocation.metadataRelayCommand.map(shellQuote).join(" ");
  const netdev = [
    "user",
    "id=net0",
    `net=${USER_NETWORK.net}`,
    `host=${USER_NETWORK.host}`,
    `dhcpstart=${USER_NETWORK.dhcpStart}`,
    `guestfwd=tcp:${METADATA_SERVER_ADDRESS}:80-cmd:${escapeOptionValue(relay)}`,
    ...forwards,
  ].join(",");
  const smbios = invocation.smbios;
  const args = [
    "-name",
    escapeOptionValue(invocation.name),
    "-machine",
    `pc,accel=${invocation.accelerator}`,
    // "max" is every feature the accelerator can offer: the host CPU under KVM, all of TCG's.
    "-cpu",
    invocation.accelerator === "kvm" ? "host" : "max",
    "-m",
    String(invocation.memoryMiB),
    "-smp",
    String(invocation.cpus),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    // A guest reboot ends this process (SHUTDOWN reason "guest-reset"); the launcher starts the
    // next one (see machine.ts for why).
    "-action",
    "reboot=shutdown",
    "-kernel",
    invocation.kernel,
    "-initrd",
    invocation.initrd,
    "-append",
    invocation.kernelCommandLine,
    "-smbios",
    [
      "type=1",
      `manufacturer=${escapeOptionValue(smbios.manufacturer)}`,
      `product=${escapeOptionValue(smbios.product)}`,
      `serial=${escapeOptionValue(smbios.serial)}`,
    ].join(","),
    "-netdev",
    netdev,
    "-device",
    "virtio-net-pci,netdev=net0",
    // Always present, as on GCE's SCSI machines, so that SCSI disks can be hot-plugged.
    "-device",
    `virtio-scsi-pci,id=${SCSI_CONTROLLER_ID}`,
    "-qmp",
    `unix:${escapeOptionValue(invocation.qmpSocket)},server=on,wait=off`,
  ];
  invocation.serialFiles.forEach((file, index) => {
    // append: a process started after a guest reboot continues the same capture.
    args.push("-chardev", `file,id=serial${index},path=${escapeOptionValue(file)},append=on`);
    args.push("-serial", `chardev:serial${index}`);
  });
  invocation.disks.forEach((disk, index) => {
    const nodeName = `disk${index}`;
    args.push("-blockdev", JSON.stringify(blockdevOptions(disk, nodeName)));
    args.push(
      "-device",
      JSON.stringify(diskDevice(disk, nodeName, invocation.diskInterface, index)),
    );
  });
  return args;
}

/**
 * The `guestfwd=` options of the mirror and the further registries; throws on a port that cannot be
 * one. Each guest connection gets its own relay process (`-cmd:`), as the metadata server's do:
 * slirp's `-tcp:` form opens one host connection when QEMU starts and funnels every guest
 * connection into it, so a client's second connection (docker makes several) would go nowhere.
 */
function registryForwardOptions(invocation: QemuInvocation): string[] {
  const seen = new Set<number>([REGISTRY_MIRROR.port]);
  const forwards = [
    ...(invocation.registryPort !== undefined
      ? [{ guestPort: REGISTRY_MIRROR.port, hostPort: invocation.registryPort, mirror: true }]
      : []),
    ...(invocation.registryForwards ?? []).map((forward) => ({ ...forward, mirror: false })),
  ];
  if (forwards.length > 0 && !invocation.loopbackRelayCommand) {
    throw new Error("a registry is forwarded but the invocation has no loopbackRelayCommand");
  }
  let index = -1;
  return forwards.map(({ guestPort, hostPort, mirror }) => {
    const relay = [...(invocation.loopbackRelayCommand ?? []), String(hostPort)]
      .map(shellQuote)
      .join(" ");
    const option = `guestfwd=tcp:${REGISTRY_MIRROR.address}:${guestPort}-cmd:${escapeOptionValue(relay)}`;
    if (mirror) return option;
    index++;
    for (const [field, port] of [
      ["guestPort", guestPort],
      ["hostPort", hostPort],
    ] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new Error(
          `registryForwards[${index}].${field} is ${port}: give a TCP port from 1 to 65535`,
        );
      }
    }
    if (seen.has(guestPort)) {
      throw new Error(
        `registryForwards[${index}].guestPort ${guestPort} is taken (${REGISTRY_MIRROR.port} is the mirror's): give each registry its own port`,
      );
    }
    seen.add(guestPort);
    return option;
  });
}
