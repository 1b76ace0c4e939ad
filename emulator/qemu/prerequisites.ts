/**
 * Host programs the local guest needs, and a clear error naming the Debian package to install when
 * one is missing (rather than a bare `spawn ENOENT` from deep inside a build).
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";

/** The Debian package that provides each host command used by `emulator/qemu` and the test tiers. */
export const DEBIAN_PACKAGE_OF_COMMAND: Readonly<Record<string, string>> = {
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  "qemu-io": "qemu-utils",
  debootstrap: "debootstrap",
  "mkfs.ext4": "e2fsprogs",
  debugfs: "e2fsprogs",
  "mkfs.fat": "dosfstools",
  mcopy: "mtools",
  mdir: "mtools",
  mtype: "mtools",
  mlabel: "mtools",
  mmd: "mtools",
  "fsck.fat": "dosfstools",
  "mkfs.vfat": "dosfstools",
  sgdisk: "gdisk",
  veritysetup: "cryptsetup-bin",
  sfdisk: "fdisk",
  shellcheck: "shellcheck",
  curl: "curl",
  flock: "util-linux",
  setpriv: "util-linux",
  "docker-registry": "docker-registry",
  htpasswd: "apache2-utils",
  busybox: "busybox-static",
  skopeo: "skopeo",
  openssl: "openssl",
};

/** Directories searched besides `$PATH`: sbin tools are often missing from a non-root `$PATH`. */
const EXTRA_SEARCH_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** Full path of `command` on `$PATH` (or an sbin directory), or undefined when it is not installed. */
export async function findCommand(command: string): Promise<string | undefined> {
  const dirs = [
    ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean),
    ...EXTRA_SEARCH_DIRS,
  ];
  for (const dir of dirs) {
    const candidate = path.join(dir, command);
    try {
      await fs.access(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The error for missing host commands: names each command and the `apt-get install` line that fixes
 * it. `packageOf` maps a command to its Debian package (default: {@link DEBIAN_PACKAGE_OF_COMMAND});
 * a command it does not name is taken as its own package.
 */
export function missingCommandsMessage(
  missing: readonly string[],
  packageOf: Readonly<Record<string, string>> = DEBIAN_PACKAGE_OF_COMMAND,
): string {
  const packages = [...new Set(missing.map((command) => packageOf[command] ?? command))];
  return (
    `missing host command${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}. ` +
    `On Debian/Ubuntu: apt-get install ${packages.join(" ")}`
  );
}

/**
 * Resolves the full paths of `commands`; throws one error naming every missing one and its package
 * (`packageOf` as in {@link missingCommandsMessage}).
 */
export async function requireCommands(
  commands: readonly string[],
  packageOf: Readonly<Record<string, string>> = DEBIAN_PACKAGE_OF_COMMAND,
): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const command of commands) {
    const location = await findCommand(command);
    if (location) found[command] = location;
    else missing.push(command);
  }
  if (missing.length > 0) throw new Error(missingCommandsMessage(missing, packageOf));
  return found;
}

/** Throws unless the process runs as root; `why` says what needs it. */
export function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${why} needs root privileges (it runs debootstrap, chroot and mount); run it as root`,
    );
  }
}
