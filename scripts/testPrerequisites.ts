/**
 * `npm test`'s pretest step: the host commands the test tiers call, checked before any test runs,
 * so that a newcomer's first `npm test` prints one message naming every missing tool and the
 * `apt-get install` line instead of a handful of `spawnSync shellcheck ENOENT` failures. The
 * end-to-end tier (`npm run test:e2e`) checks its own, larger set (QEMU, debootstrap).
 */
import { missingCommandsMessage } from "../emulator/qemu";
import { missingCommands, type HostProbe } from "../localEngine/localPrerequisites";

/**
 * What the unit, component, provisioner, orchestration and emulator tiers run on the host: the
 * provisioner's lint, its registry tests' curl and the local registry they pull from (Debian's
 * distribution registry, htpasswd, a static busybox for the seeded images, skopeo), the FAT and ext4
 * tools that build and inspect disks, the disk-layout tests' sgdisk, sfdisk and veritysetup, and the
 * archive tools. (python3 is optional: the one test that uses it says loudly that it skips.)
 */
export const TEST_COMMANDS = [
  "bash",
  "tar",
  "gzip",
  "shellcheck",
  "curl",
  "mkfs.fat",
  "fsck.fat",
  "mcopy",
  "mdir",
  "mtype",
  "mlabel",
  "mkfs.ext4",
  "debugfs",
  "docker-registry",
  "htpasswd",
  "busybox",
  "skopeo",
  "setpriv",
  "sgdisk",
  "sfdisk",
  "veritysetup",
] as const;

/** Why `npm test` cannot run on this host, or undefined when every tool is there. */
export async function testToolsProblem(
  host?: Pick<HostProbe, "findCommand">,
): Promise<string | undefined> {
  const missing = await missingCommands(TEST_COMMANDS, host);
  if (missing.length === 0) return undefined;
  return [
    "npm test stopped before running any test: the tests call host tools that are not installed.",
    `  - ${missingCommandsMessage(missing)}`,
    "Install them and run npm test again.",
  ].join("\n");
}

if (require.main === module) {
  void testToolsProblem().then((problem) => {
    if (problem === undefined) return;
    process.stderr.write(`${problem}\n`);
    process.exitCode = 1;
  });
}
