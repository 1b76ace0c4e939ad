/**
 * KVM or TCG. `/dev/kvm` existing is not enough: on nested or paravirtualised hosts QEMU can open
 * it and start, yet the guest kernel never gets past its first instructions (seen on this
 * project's build machines: SeaBIOS runs, Linux hangs before printing anything). So "usable" means
 * "a Linux kernel booted under KVM prints its banner within a few seconds", checked once per
 * kernel per process.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";

/** What a machine runs on: hardware virtualisation, or QEMU's software emulation. */
export type Accelerator = "kvm" | "tcg";

/** A requested accelerator; `auto` means KVM when usable, else TCG. */
export type AcceleratorPreference = Accelerator | "auto";

/**
 * Environment variable that overrides `auto` (values `kvm`, `tcg`, `auto`), e.g. to skip the probe
 * on a machine known to lack KVM.
 */
export const ACCELERATOR_ENV = "PRELOADED_COS_IMAGE_ACCELERATOR";

/** How long the probe waits for the kernel banner under KVM (it appears within a second when KVM works). */
const PROBE_TIMEOUT_MS = 8_000;

const probeResults = new Map<string, Promise<boolean>>();

/** Resolves `preference` (or the {@link ACCELERATOR_ENV} override of `auto`) to the accelerator to use. */
export async function chooseAccelerator(
  preference: AcceleratorPreference,
  probeKernel: string,
  qemuBinary = "qemu-system-x86_64",
): Promise<Accelerator> {
  const effective =
    preference === "auto" ? parsePreference(process.env[ACCELERATOR_ENV]) : preference;
  if (effective !== "auto") return effective;
  return (await isKvmUsable(probeKernel, qemuBinary)) ? "kvm" : "tcg";
}

function parsePreference(value: string | undefined): AcceleratorPreference {
  if (value === undefined || value === "") return "auto";
  if (value === "kvm" || value === "tcg" || value === "auto") return value;
  throw new Error(`${ACCELERATOR_ENV} must be kvm, tcg or auto, got "${value}"`);
}

/**
 * True when `/dev/kvm` can be opened read-write and `probeKernel` (a bzImage) boots under KVM far
 * enough to print `Linux version`. Memoised per kernel and QEMU binary for the life of the process.
 */
export function isKvmUsable(
  probeKernel: string,
  qemuBinary = "qemu-system-x86_64",
): Promise<boolean> {
  const key = `${qemuBinary}\0${probeKernel}`;
  let result = probeResults.get(key);
  if (!result) {
    result = probeKvm(probeKernel, qemuBinary);
    probeResults.set(key, result);
  }
  return result;
}

async function probeKvm(probeKernel: string, qemuBinary: string): Promise<boolean> {
  try {
    const handle = await fs.open("/dev/kvm", "r+");
    await handle.close();
  } catch {
    return false;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-kvm-probe-"));
  const console = path.join(dir, "console.log");
  try {
    // No root disk: the kernel prints its banner, then panics; -no-reboot ends QEMU on the panic.
    const qemu = spawn(
      qemuBinary,
      [
        ...[
          "-machine",
          "pc,accel=kvm",
          "-cpu",
          "host",
          "-m",
          "256",
          "-nodefaults",
          "-no-user-config",
        ],
        ...["-display", "none", "-no-reboot", "-kernel", probeKernel],
        ...["-append", "console=ttyS0 panic=-1", "-serial", `file:${console}`],
      ],
      { stdio: "ignore" },
    );
    let processEnded = false;
    // "error" (QEMU could not be started) comes instead of "exit", so either one ends the wait.
    const exited = new Promise<void>((resolve) => {
      const end = () => {
        processEnded = true;
        resolve();
      };
      qemu.once("exit", end);
      qemu.once("error", end);
    });
    const deadline = Date.now() + PROBE_TIMEOUT_MS;
    let sawBanner = false;
    while (!sawBanner && !processEnded && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sawBanner = (await fs.readFile(console, "utf8").catch(() => "")).includes("Linux version");
    }
    if (!sawBanner)
      sawBanner = (await fs.readFile(console, "utf8").catch(() => "")).includes("Linux version");
    qemu.kill("SIGKILL");
    await exited;
    return sawBanner;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
