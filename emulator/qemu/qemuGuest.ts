/**
 * A {@link GuestBackend} that makes an emulated instance a real virtual machine: each boot of the
 * instance is a `qemu-system-x86_64` machine ({@link startMachine}) over the instance's disk files.
 *
 * How the instance model maps onto the machine:
 * - disks: the emulator's backing file of each attached disk (it runs with `diskFiles: true`) is the
 *   machine's disk, raw and in place, so that an image created from the disk afterwards holds what
 *   the guest wrote; the device name is the virtio serial number (`/dev/disk/by-id/google-<name>`);
 *   READ_ONLY attachments are read-only block devices; disks are SCSI, or NVMe on GCE's NVMe-only
 *   machine series (`diskInterfaceForMachineType`) or when `diskInterface` says so;
 * - boot: the launcher plays COS's bootloader on the boot disk (GPT priorities, grub.cfg on the EFI
 *   partition) and boots the chosen kernel with the guest image's stand-in initramfs;
 * - serial ports 1 to 4 (the guest's ttyS0 to ttyS3) are forwarded into the instance's serial
 *   buffers, which `getSerialPortOutput` serves;
 * - metadata: the guest's 169.254.169.254:80 is the instance's own metadata server;
 * - hot-attach: `attachDisk` on a running instance hot-plugs the disk;
 * - resize: `disks.resize` of an attached disk grows its file and QEMU's block node
 *   (`block_resize`), so the guest sees the larger disk without a reboot, as on GCE;
 * - the guest powering off ends the boot with `powerOff()` (STOPPING, TERMINATED); a guest reboot
 *   stays inside the machine (a fresh QEMU process), so the instance stays RUNNING;
 * - stop, delete and preemption press the ACPI power button and quit QEMU after a grace period; a
 *   host crash and the emulator closing quit QEMU at once.
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type {
  BootEndReason,
  GuestBackend,
  GuestContext,
  GuestDisk,
  GuestSelector,
} from "../guests/guest";
import type { AcceleratorPreference } from "./accelerator";
import { diskInterfaceForMachineType } from "./diskInterface";
import { guestSize } from "./guestSize";
import type { GuestImage } from "./guestImage";
import { startMachine, type Machine, type MachineExit } from "./machine";
import type { DiskInterface, MachineDisk, RegistryForward } from "./qemuCommandLine";
import { forwardSerialPorts } from "./serialForwarder";
import { GIB } from "../compute/rawDiskArchive";

/** One machine run of an instance, reported when the machine has ended. */
export interface MachineRun {
  /** Instance name. */
  instance: string;
  /** When QEMU was up (epoch ms). */
  startedAt: number;
  /** When the last QEMU process of the machine exited (epoch ms). */
  endedAt: number;
  /** Guest reboots inside the run. */
  reboots: number;
  /**
   * When the first `BuildStatus` line (the provisioner's first protocol line) reached serial port 3
   * (epoch ms); absent when none did. Minus {@link startedAt}: the guest's boot time.
   */
  firstBuildStatusAt?: number;
  /** How the machine ended. */
  exit: MachineExit;
}

/** Options of {@link qemuGuest}. */
export interface QemuGuestOptions {
  /**
   * What instances boot: `initrd` is the guest image's stand-in initramfs, booted with the kernel
   * and command line the boot disk's grub.cfg names. `directKernel` boots that kernel and command
   * line instead, without reading the boot disk (for launcher tests on disks that are not COS's).
   */
  boot: Pick<GuestImage, "initrd"> & { directKernel?: { kernel: string; commandLine: string } };
  /**
   * Disk interface of every instance. Default: as GCE gives the instance's machine type (NVMe for
   * NVMe-only series such as `c3-` or `n4-`, SCSI otherwise).
   */
  diskInterface?: DiskInterface;
  /** Host loopback port of an OCI registry the guests reach as their mirror (`REGISTRY_MIRROR`). */
  registryPort?: number;
  /**
   * Further registries at the mirror's guest address, on other ports (a private TLS registry, one
   * playing Artifact Registry at 443...). Default none.
   */
  registryForwards?: readonly RegistryForward[];
  /** Parent of each machine's work directory (serial capture files). Default the system temp directory. */
  workRoot?: string;
  /** Keep each machine's work directory after it ended (for debugging). Default false. */
  keepWorkDirs?: boolean;
  /** Guest memory in MiB. Default: the machine type's, capped by the host (see guestSize.ts). */
  memoryMiB?: number;
  /** Virtual CPUs. Default: the machine type's, capped by the host (see guestSize.ts). */
  cpus?: number;
  /** `auto` (default): KVM when it works here, else TCG. */
  accelerator?: AcceleratorPreference;
  /**
   * How long a guest gets to shut down after the ACPI power button (stop, delete, preemption)
   * before QEMU is quit. Default 60 s; keep it below the emulator's `guestShutdownGraceMs`.
   */
  powerDownGraceMs?: number;
  /** QEMU binary. Default `qemu-system-x86_64` from `$PATH`. */
  qemuBinary?: string;
  /** Called once per machine run, after it ended (benchmarks time the guest with it). */
  onMachineRun?: (run: MachineRun) => void;
}

/** Default of {@link QemuGuestOptions.powerDownGraceMs}. */
export const QEMU_GUEST_POWER_DOWN_GRACE_MS = 60_000;

/** Boot ends that leave the guest no time to shut down. */
const HARD_STOPS: ReadonlySet<BootEndReason> = new Set(["crash", "emulatorClosed"]);

/** A guest backend that boots the instance as a QEMU machine (one backend per instance). */
export function qemuGuest(options: QemuGuestOptions): GuestBackend {
  return { boot: (ctx) => bootMachine(ctx, options) };
}

/** A selector that gives every new instance a QEMU machine (the emulator's `guestFor`). */
export function qemuGuests(options: QemuGuestOptions): GuestSelector {
  return () => qemuGuest(options);
}

/** The machine disk for an instance's disk; the emulator must give disks backing files. */
export function machineDiskOf(disk: GuestDisk): MachineDisk {
  if (!disk.filePath) {
    throw new Error(
      `disk ${disk.diskName} has no backing file: a QEMU guest needs the emulator's diskFiles option`,
    );
  }
  return {
    file: disk.filePath,
    format: "raw",
    deviceName: disk.deviceName,
    readOnly: disk.mode === "READ_ONLY",
  };
}

async function bootMachine(ctx: GuestContext, options: QemuGuestOptions): Promise<void> {
  const disks = ctx.disks().map(machineDiskOf);
  const hotplugs = followAttachments(ctx, new Set(disks.map((disk) => disk.deviceName)));
  const workDir = await fs.mkdtemp(
    path.join(options.workRoot ?? os.tmpdir(), `pci-vm-${ctx.instance.name}-`),
  );
  const size = guestSize(ctx.instance);
  try {
    const machine = await startMachine({
      name: ctx.instance.name,
      workDir,
      initrd: options.boot.initrd,
      ...(options.boot.directKernel
        ? {
            kernel: options.boot.directKernel.kernel,
            kernelCommandLine: options.boot.directKernel.commandLine,
          }
        : {}),
      disks,
      diskInterface: options.diskInterface ?? diskInterfaceForMachineType(ctx.instance.machineType),
      ...(options.registryPort !== undefined ? { registryPort: options.registryPort } : {}),
      ...(options.registryForwards ? { registryForwards: options.registryForwards } : {}),
      metadataPort: ctx.metadataServer.port,
      memoryMiB: options.memoryMiB ?? size.memoryMiB,
      cpus: options.cpus ?? size.cpus,
      ...(options.accelerator !== undefined ? { accelerator: options.accelerator } : {}),
      ...(options.qemuBinary !== undefined ? { qemuBinary: options.qemuBinary } : {}),
    });
    const startedAt = Date.now();
    hotplugs.machineIsUp(machine);
    let firstBuildStatusAt: number | undefined;
    let port3Start = "";
    const forwarder = forwardSerialPorts(
      (port) => machine.serial(port),
      (port, bytes) => {
        if (port === 3 && firstBuildStatusAt === undefined) {
          // Only the start of the port matters, and a line may arrive in pieces.
          port3Start = (port3Start + String(bytes)).slice(-4096);
          if (/(^|\n)BuildStatus/.test(port3Start)) firstBuildStatusAt = Date.now();
        }
        ctx.writeSerial(port, bytes);
      },
    );
    const stopWatching = stopWhenBootEnds(ctx, machine, options.powerDownGraceMs);

    const exit = await machine.exited;
    stopWatching();
    await forwarder.drainAndStop();
    options.onMachineRun?.({
      instance: ctx.instance.name,
      startedAt,
      endedAt: Date.now(),
      reboots: machine.reboots,
      exit,
      ...(firstBuildStatusAt !== undefined ? { firstBuildStatusAt } : {}),
    });
    if (ctx.signal.aborted) return;
    // Nobody asked the machine to stop: the guest powered off, or QEMU died. Either way the
    // instance is off now, as GCE shows a VM whose guest halted.
    if (exit.shutdownReason !== "guest-shutdown") {
      ctx.writeSerial(
        1,
        `[emulator] the QEMU machine ended without a guest power-off: ${describeExit(exit)}\n`,
      );
    }
    ctx.powerOff();
  } finally {
    await hotplugs.stop();
    if (!options.keepWorkDirs) await fs.rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Hot-plugs the disks attached during this boot, one at a time, and passes disk resizes on. Disks attached while QEMU starts
 * wait until {@link machineIsUp}; those already among the boot disks are skipped. Detaching is
 * reported on serial port 1: the launcher cannot unplug a disk, so the guest keeps the device.
 */
function followAttachments(
  ctx: GuestContext,
  bootDevices: ReadonlySet<string>,
): { machineIsUp(machine: Machine): void; stop(): Promise<void> } {
  let machine: Machine | undefined;
  let queue: Promise<void> = Promise.resolve();
  const waiting: GuestDisk[] = [];
  const plug = (disk: GuestDisk): void => {
    const running = machine;
    if (!running) {
      waiting.push(disk);
      return;
    }
    queue = queue.then(() =>
      running.attachDisk(machineDiskOf(disk)).catch((error: unknown) => {
        ctx.writeSerial(
          1,
          `[emulator] hot-plugging disk ${disk.deviceName} failed: ${String(error)}\n`,
        );
      }),
    );
  };
  const offAttached = ctx.onDiskAttached(plug);
  // A disk grown by disks.resize: the running QEMU is told (block_resize), so that the guest sees
  // the new size at once, as on GCE; a machine still starting opens the file at its new size.
  const offResized = ctx.onDiskResized((disk) => {
    const running = machine;
    if (!running) return Promise.resolve();
    const resized = queue.then(() => running.resizeDisk(disk.deviceName, disk.sizeGb * GIB));
    queue = resized.catch(() => undefined);
    return resized;
  });
  const offDetached = ctx.onDiskDetached((disk) =>
    ctx.writeSerial(
      1,
      `[emulator] disk ${disk.deviceName} was detached from the instance, but the QEMU guest keeps ` +
        "the device until the machine stops\n",
    ),
  );
  return {
    machineIsUp(up) {
      machine = up;
      for (const disk of waiting.splice(0)) if (!bootDevices.has(disk.deviceName)) plug(disk);
    },
    async stop() {
      offAttached();
      offResized();
      offDetached();
      await queue;
    },
  };
}

/**
 * Stops the machine when the boot ends from outside: the power button for stop, delete and
 * preemption (QEMU quit after the grace period), at once for a host crash or the emulator closing.
 * Returns a function that stops watching.
 */
function stopWhenBootEnds(
  ctx: GuestContext,
  machine: Machine,
  graceMs = QEMU_GUEST_POWER_DOWN_GRACE_MS,
): () => void {
  const stop = (): void => {
    if (HARD_STOPS.has(ctx.signal.reason as BootEndReason)) void machine.kill();
    else void machine.powerDown(graceMs);
  };
  if (ctx.signal.aborted) stop();
  else ctx.signal.addEventListener("abort", stop, { once: true });
  return () => ctx.signal.removeEventListener("abort", stop);
}

function describeExit(exit: MachineExit): string {
  const how = exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
  const reason = exit.shutdownReason ? `, reason ${exit.shutdownReason}` : "";
  const stderr = exit.stderr.trim() ? `; QEMU said: ${exit.stderr.trim().slice(-500)}` : "";
  return `${how}${reason}${stderr}`;
}
