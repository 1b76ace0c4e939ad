/**
 * One emulated Compute Engine instance: a `qemu-system-x86_64` process booting a kernel directly
 * (no firmware boot loader: either the kernel given, or, for a COS-shaped boot disk, the one COS's
 * bootloader would choose, see `cosBootloader.ts`, read again before every boot), with SCSI or
 * NVMe disks whose serial numbers are their GCE device names, four serial ports
 * captured to files, user networking that forwards GCE's metadata address to a host port, and a
 * QMP socket for hot-plugging disks and power control.
 *
 * Life cycle as GCE sees it: the machine is RUNNING from {@link startMachine} until
 * {@link Machine.exited}; the guest powering off ends it (the instance is then TERMINATED), a guest
 * reboot does not. An API stop is {@link Machine.powerDown}: ACPI power button, then a hard quit
 * after a grace period.
 *
 * A guest reboot is served by a fresh QEMU process (`-action reboot=shutdown`, then the launcher
 * starts QEMU again with the same disks, hot-plugged ones included, and the serial captures
 * appended to). Measured here under TCG, a reset inside the same QEMU made the next boot 2 to 2.5
 * times slower than the first (the kernel stalls for a minute right after freeing its initrd),
 * while a new process boots as fast as the first time. The guest sees an ordinary reboot.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { chooseAccelerator, type Accelerator, type AcceleratorPreference } from "./accelerator";
import { dieWithParentPrefix, killOnExit } from "./childProcesses";
import { chooseCosBoot } from "./cosBootloader";
import {
  blockdevOptions,
  diskDevice,
  qemuCommandLine,
  validateDeviceName,
  type DiskInterface,
  type MachineDisk,
  type SmbiosSystem,
  type RegistryForward,
} from "./qemuCommandLine";
import { requireCommands } from "./prerequisites";
import { QmpClient, type QmpEvent } from "./qmp";
import { serialPortReader, type SerialPortReader } from "./serialLog";

/** GCE serial port numbers; port N is the guest's `ttyS<N-1>`. */
export type SerialPortNumber = 1 | 2 | 3 | 4;

/** What to start. Paths may be relative; they are resolved against the current directory. */
export interface MachineSpec {
  /** Instance name, used for the process title and the SMBIOS serial number. */
  name: string;
  /** Directory for this machine's files (serial captures); created if missing. */
  workDir: string;
  /**
   * Kernel (bzImage) for direct kernel boot. Absent (the usual case): the first disk is a COS-shaped
   * boot disk, and before every boot the launcher reads its GPT priorities and grub.cfg and boots
   * the kernel and command line COS's bootloader would (see `cosBootloader.ts`).
   */
  kernel?: string;
  /** Initramfs, e.g. `GuestImage.initrd` (the stand-in for what COS's kernel does built in). */
  initrd: string;
  /** Kernel command line with {@link kernel}; ignored without it (grub.cfg has the command line). */
  kernelCommandLine?: string;
  /** Disks present at boot; the first is the boot disk. */
  disks: MachineDisk[];
  /**
   * How disks are attached: `scsi` (default; `/dev/sda`, as most GCE machine types) or `nvme`
   * (`/dev/nvme0n1`, as GCE's NVMe-only machine series). See `diskInterfaceForMachineType`.
   */
  diskInterface?: DiskInterface;
  /** Host loopback port of an OCI registry, forwarded to the guest's mirror address; none if absent. */
  registryPort?: number;
  /** Further registries the guest reaches at the mirror's address on other ports. Default none. */
  registryForwards?: readonly RegistryForward[];
  /** Host loopback port of the metadata server the guest reaches at 169.254.169.254:80. */
  metadataPort: number;
  /** Guest memory in MiB. Default 1024 (an instance's guest: its machine type's, guestSize.ts). */
  memoryMiB?: number;
  /** Virtual CPUs. Default 1 (an instance's guest: its machine type's, guestSize.ts). */
  cpus?: number;
  /** `auto` (default): KVM when it really works here, else TCG. */
  accelerator?: AcceleratorPreference;
  /** SMBIOS system information; defaults make cloud-init recognise GCE. */
  smbios?: Partial<SmbiosSystem>;
  /** QEMU binary. Default `qemu-system-x86_64` from `$PATH`. */
  qemuBinary?: string;
}

/** How a machine's process ended. */
export interface MachineExit {
  /** Process exit code (0 after a guest power-off or a QMP quit), or null when killed by a signal. */
  code: number | null;
  /** The signal that killed the process, if any. */
  signal: NodeJS.Signals | null;
  /**
   * QEMU's reason from its last SHUTDOWN event: `guest-shutdown` (the guest powered off),
   * `host-qmp-quit` (quit over QMP), `host-signal`, `guest-panic`... Absent when QEMU ended
   * without one (killed, crashed, or never got that far).
   */
  shutdownReason?: string;
  /** The end of QEMU's own stderr, for error reports. */
  stderr: string;
}

/** A running (or finished) machine. */
export interface Machine {
  /** The instance name from the spec. */
  readonly name: string;
  /** Process id of the current QEMU process (a new one after each guest reboot). */
  readonly pid: number;
  /** When the QEMU process was started. */
  readonly bootedAt: Date;
  /** The accelerator in use. */
  readonly accelerator: Accelerator;
  /** The machine's work directory (absolute). */
  readonly workDir: string;
  /** Resolves once the QEMU process has exited, for whatever reason. Never rejects. */
  readonly exited: Promise<MachineExit>;
  /** True until the machine has stopped (its last QEMU process exited for good). */
  readonly running: boolean;
  /** How many guest reboots have completed so far (counted once the next QEMU process is up). */
  readonly reboots: number;
  /** Incremental reader of serial port `port` (1–4). Works during and after the run. */
  serial(port: SerialPortNumber): SerialPortReader;
  /**
   * Hot-plugs a disk into the running machine (SCSI or NVMe as the machine's) with serial `deviceName` (the guest
   * then sees `/dev/disk/by-id/google-<deviceName>`). Resolves when QEMU has added the device.
   */
  attachDisk(disk: MachineDisk): Promise<void>;
  /**
   * Tells the running machine that the disk with serial `deviceName` is now `sizeBytes` long (QMP
   * `block_resize` on its block node), so that the guest sees the larger disk at once, as a GCE guest
   * does after `disks.resize`. QEMU grows a raw file itself; one that is already that long stays so.
   * A machine between QEMU processes (a guest reboot) waits for the next one, which opens the file
   * at its new size anyway. A difference from GCE that stays: QEMU's NVMe controller keeps reporting
   * the namespace's old size to the running guest (a rescan does not help), so an NVMe guest sees the
   * larger disk only after a reboot; the provisioner reboots once for that.
   */
  resizeDisk(deviceName: string, sizeBytes: number): Promise<void>;
  /**
   * Presses the ACPI power button (the guest shuts down cleanly if it listens), waits up to
   * `graceMs` (default 90 s) for the machine to exit, then quits QEMU hard. Resolves with the exit.
   */
  powerDown(graceMs?: number): Promise<MachineExit>;
  /** Stops QEMU at once (QMP quit, SIGKILL if that does not work), without the guest's help. */
  kill(): Promise<MachineExit>;
}

/** Defaults of the optional {@link MachineSpec} fields. */
export const MACHINE_DEFAULTS = {
  diskInterface: "scsi",
  memoryMiB: 1024,
  cpus: 1,
  accelerator: "auto",
  powerDownGraceMs: 90_000,
} as const;

/** How long a hard stop waits for QEMU to honour `quit` before SIGKILL. */
const QUIT_TIMEOUT_MS = 5_000;

/** Keep this much of QEMU's stderr for error messages. */
const STDERR_TAIL_BYTES = 16 * 1024;

/** One QEMU process of a machine (a machine has a new one after each guest reboot). */
interface QemuProcess {
  pid: number;
  qmp: QmpClient;
  /** Resolves when the process has ended and its stderr has been read. */
  ended: Promise<MachineExit>;
  /** Sends SIGKILL. */
  kill(): void;
}

/** Starts QEMU for `spec`; resolves once QEMU is up and its QMP socket answers. */
export async function startMachine(spec: MachineSpec): Promise<Machine> {
  const qemuBinary = spec.qemuBinary ?? "qemu-system-x86_64";
  if (!spec.qemuBinary) await requireCommands(["qemu-system-x86_64"]);
  for (const disk of spec.disks) validateDeviceName(disk.deviceName);

  const workDir = path.resolve(spec.workDir);
  await fs.mkdir(workDir, { recursive: true });
  const serialFiles = ([1, 2, 3, 4] as const).map((port) =>
    path.join(workDir, `serial-port-${port}.log`),
  );
  // Fresh, empty captures before QEMU starts, so readers never see a previous run's output.
  await Promise.all(serialFiles.map((file) => fs.writeFile(file, "")));
  // A private short directory for the socket: unix socket paths are limited to 107 bytes.
  const qmpDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-qmp-"));
  const qmpSocket = path.join(qmpDir, "qmp.sock");

  // Every disk the machine has, boot-time and hot-plugged, in PCI order: a restarted QEMU gets
  // them all at start, as a rebooted GCE instance keeps its attached disks.
  const disks: MachineDisk[] = spec.disks.map((disk) => ({
    ...disk,
    file: path.resolve(disk.file),
  }));
  const smbios: SmbiosSystem = {
    manufacturer: "Google",
    product: "Google Compute Engine",
    serial: `GoogleCloud-${randomBytes(16).toString("hex").toUpperCase()}`,
    ...spec.smbios,
  };
  const dieWithParent = await dieWithParentPrefix();
  const diskInterface = spec.diskInterface ?? MACHINE_DEFAULTS.diskInterface;

  // What to boot this time: the given kernel, or what COS's bootloader chooses from the boot disk
  // as it is now (a guest's grub.cfg edit or `cgpt prioritize` counts from its next boot).
  const chooseBoot = async (): Promise<{ kernel: string; commandLine: string }> => {
    if (spec.kernel !== undefined) {
      return { kernel: path.resolve(spec.kernel), commandLine: spec.kernelCommandLine ?? "" };
    }
    if (disks.length === 0) throw new Error(`machine ${spec.name} has no boot disk`);
    const choice = await chooseCosBoot(disks[0], workDir);
    await fs.appendFile(
      serialFiles[0],
      `[emulator bootloader] KERN-A priority ${choice.priorities.A}, KERN-B priority ` +
        `${choice.priorities.B}: slot ${choice.slot}, menu entry "${choice.entry.title}", ` +
        `kernel ${choice.entry.kernelPath}\n`,
    );
    return { kernel: choice.kernel, commandLine: choice.commandLine };
  };
  let firstBoot: { kernel: string; commandLine: string };
  let accelerator: Accelerator;
  try {
    firstBoot = await chooseBoot();
    accelerator = await chooseAccelerator(
      spec.accelerator ?? MACHINE_DEFAULTS.accelerator,
      firstBoot.kernel,
      qemuBinary,
    );
  } catch (error) {
    await fs.rm(qmpDir, { recursive: true, force: true });
    throw error;
  }
  let nextBoot: { kernel: string; commandLine: string } | undefined = firstBoot;

  // The block node of each disk of the current QEMU process, by device name: `disk<index>` for
  // those it got at start (qemuCommandLine.ts), `hotplug<n>` for those plugged in since.
  const nodeNames = new Map<string, string>();

  const launch = async (): Promise<QemuProcess> => {
    nodeNames.clear();
    disks.forEach((disk, index) => nodeNames.set(disk.deviceName, `disk${index}`));
    const boot = nextBoot ?? (await chooseBoot());
    nextBoot = undefined;
    const args = qemuCommandLine({
      name: spec.name,
      accelerator,
      memoryMiB: spec.memoryMiB ?? MACHINE_DEFAULTS.memoryMiB,
      cpus: spec.cpus ?? MACHINE_DEFAULTS.cpus,
      diskInterface,
      kernel: boot.kernel,
      initrd: path.resolve(spec.initrd),
      kernelCommandLine: boot.commandLine,
      ...(spec.registryPort !== undefined ? { registryPort: spec.registryPort } : {}),
      ...(spec.registryForwards ? { registryForwards: spec.registryForwards } : {}),
      disks,
      serialFiles: serialFiles as [string, string, string, string],
      qmpSocket,
      metadataRelayCommand: [
        process.execPath,
        path.join(__dirname, "metadataRelay.js"),
        String(spec.metadataPort),
      ],
      loopbackRelayCommand: [process.execPath, path.join(__dirname, "metadataRelay.js")],
      smbios,
    });
    // The previous process's socket file, if any: connecting to it would only be refused.
    await fs.rm(qmpSocket, { force: true });
    const command = [...dieWithParent, qemuBinary, ...args];
    const child = spawn(command[0], command.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    killOnExit(child);

    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    let shutdownReason: string | undefined;
    let alive = true;
    const ended = new Promise<MachineExit>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (!alive) return;
        alive = false;
        if (spawnError) stderr += `\ncannot start ${command[0]}: ${spawnError.message}`;
        resolve({ code, signal, stderr, ...(shutdownReason ? { shutdownReason } : {}) });
      };
      // "close" rather than "exit": by then stderr has been read to its end.
      child.once("close", (code, signal) => finish(code, signal));
      child.once("error", (error) => finish(null, null, error));
    });

    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(qmpSocket, { timeoutMs: 30_000, shouldGiveUp: () => !alive });
    } catch (error) {
      child.kill("SIGKILL");
      const exit = await ended;
      throw new Error(
        `QEMU for ${spec.name} did not start: ${exit.stderr.trim() || String(error)}`,
        {
          cause: error,
        },
      );
    }
    qmp.onEvent((event: QmpEvent) => {
      if (event.event === "SHUTDOWN" && typeof event.data?.reason === "string")
        shutdownReason = event.data.reason;
    });
    return { pid: child.pid ?? -1, qmp, ended, kill: () => child.kill("SIGKILL") };
  };

  let first: QemuProcess;
  try {
    first = await launch();
  } catch (error) {
    // Nothing else will remove the socket's directory of a machine that never started.
    await fs.rm(qmpDir, { recursive: true, force: true });
    throw error;
  }
  const bootedAt = new Date();
  let current = first;
  // While a reboot starts the next process, operations wait for it here.
  let ready: Promise<QemuProcess> = Promise.resolve(first);
  let running = true;
  let stopRequested = false;
  let reboots = 0;

  const exited: Promise<MachineExit> = (async () => {
    for (;;) {
      const end = await current.ended;
      if (end.shutdownReason !== "guest-reset" || stopRequested) {
        running = false;
        await fs.rm(qmpDir, { recursive: true, force: true });
        return end;
      }
      ready = launch();
      try {
        current = await ready;
        reboots++;
      } catch (error) {
        running = false;
        await fs.rm(qmpDir, { recursive: true, force: true });
        return { ...end, shutdownReason: "restart-failed", stderr: String(error) };
      }
    }
  })();

  let hotplugCount = 0;
  const hardStop = async (): Promise<MachineExit> => {
    stopRequested = true;
    if (!running) return exited;
    const qemu = await ready.catch(() => undefined);
    if (!qemu) return exited;
    const timer = setTimeout(() => qemu.kill(), QUIT_TIMEOUT_MS);
    // The connection drops while QEMU quits, so the reply may never arrive; the exit is the answer.
    // No SIGKILL on a lost reply: QEMU may still be flushing qcow2 metadata; the timer covers a hang.
    qemu.qmp.execute("quit").catch(() => undefined);
    const exit = await exited;
    clearTimeout(timer);
    return exit;
  };

  return {
    name: spec.name,
    get pid() {
      return current.pid;
    },
    bootedAt,
    accelerator,
    workDir,
    exited,
    get running() {
      return running;
    },
    get reboots() {
      return reboots;
    },
    serial(port: SerialPortNumber): SerialPortReader {
      if (![1, 2, 3, 4].includes(port))
        throw new RangeError(`serial port must be 1..4, got ${String(port)}`);
      return serialPortReader(port, serialFiles[port - 1]);
    },
    async attachDisk(disk: MachineDisk): Promise<void> {
      validateDeviceName(disk.deviceName);
      if (!running)
        throw new Error(`cannot attach ${disk.deviceName}: machine ${spec.name} is not running`);
      const { qmp } = await ready;
      const nodeName = `hotplug${hotplugCount++}`;
      const resolved = { ...disk, file: path.resolve(disk.file) };
      await qmp.execute("blockdev-add", blockdevOptions(resolved, nodeName));
      try {
        await qmp.execute(
          "device_add",
          diskDevice(resolved, nodeName, diskInterface, disks.length),
        );
      } catch (error) {
        await qmp.execute("blockdev-del", { "node-name": nodeName }).catch(() => undefined);
        throw error;
      }
      disks.push(resolved);
      nodeNames.set(resolved.deviceName, nodeName);
    },
    async resizeDisk(deviceName: string, sizeBytes: number): Promise<void> {
      if (!running)
        throw new Error(`cannot resize ${deviceName}: machine ${spec.name} is not running`);
      const { qmp } = await ready;
      const nodeName = nodeNames.get(deviceName);
      if (!nodeName) throw new Error(`machine ${spec.name} has no disk ${deviceName}`);
      await qmp.execute("block_resize", { "node-name": nodeName, size: sizeBytes });
    },
    async powerDown(graceMs: number = MACHINE_DEFAULTS.powerDownGraceMs): Promise<MachineExit> {
      stopRequested = true;
      if (!running) return exited;
      const qemu = await ready.catch(() => undefined);
      await qemu?.qmp.execute("system_powerdown").catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"grace-over">((resolve) => {
        timer = setTimeout(() => resolve("grace-over"), graceMs);
      });
      const first = await Promise.race([exited, graceOver]);
      clearTimeout(timer);
      return first === "grace-over" ? hardStop() : first;
    },
    kill: hardStop,
  };
}
