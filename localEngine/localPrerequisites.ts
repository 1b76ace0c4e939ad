/**
 * What a local run needs from the host, checked before anything starts, with the command that
 * installs what is missing.
 */
import {
  findCommand,
  GUEST_IMAGE_BUILD_COMMANDS as EMULATOR_GUEST_IMAGE_BUILD_COMMANDS,
  missingCommandsMessage,
} from "../emulator/qemu";

/** The host commands of a local run; building the guest image (first run only) needs more. */
export const LOCAL_RUN_COMMANDS = ["qemu-system-x86_64", "qemu-img", "mtype", "mcopy"] as const;
/** What building the guest image runs (once per machine). */
export const GUEST_IMAGE_BUILD_COMMANDS = EMULATOR_GUEST_IMAGE_BUILD_COMMANDS;

/** Everything a local run on Debian/Ubuntu needs, as one `apt-get install` line. */
export const LOCAL_RUN_APT_INSTALL =
  "apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs dosfstools mtools gdisk";

/** What {@link localRunProblem} looks at on the host (replaceable in tests). */
export interface HostProbe {
  /** Full path of a command, or undefined when it is not installed. */
  findCommand(command: string): Promise<string | undefined>;
  /** True when the process runs as root. */
  isRoot(): boolean;
}

const realHost: HostProbe = {
  findCommand,
  isRoot: () => process.getuid?.() === 0,
};

/**
 * Why a local run cannot start here, or undefined. `guestImageCached` says whether the guest image
 * is already built: then neither debootstrap nor root is needed.
 */
export async function localRunProblem(
  guestImageCached: boolean,
  host: HostProbe = realHost,
): Promise<string | undefined> {
  const commands: string[] = [
    ...LOCAL_RUN_COMMANDS,
    ...(guestImageCached ? [] : GUEST_IMAGE_BUILD_COMMANDS),
  ];
  const missing = await missingCommands(commands, host);
  const problems: string[] = [];
  if (missing.length > 0) problems.push(missingCommandsMessage(missing));
  if (!guestImageCached && !host.isRoot()) {
    problems.push(
      "the local stand-in for COS (a Debian guest image) is not built yet, and building it needs root " +
        "(debootstrap, chroot, mount): run this once as root",
    );
  }
  if (problems.length === 0) return undefined;
  return [
    "A local run needs QEMU, and for its first run debootstrap and root (it builds a Debian guest",
    "image that stands in for Container-Optimized OS, about 5 minutes, cached afterwards).",
    ...problems.map((problem) => `  - ${problem}`),
    `Everything at once on Debian/Ubuntu: ${LOCAL_RUN_APT_INSTALL}`,
  ].join("\n");
}

/** The commands of `commands` that `host` does not have, in order. */
export async function missingCommands(
  commands: readonly string[],
  host: Pick<HostProbe, "findCommand"> = realHost,
): Promise<string[]> {
  const missing: string[] = [];
  for (const command of commands) if (!(await host.findCommand(command))) missing.push(command);
  return missing;
}
