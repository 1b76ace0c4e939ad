/**
 * Test helpers: temporary directories, and the independent Debian tools (GNU tar, gzip, dosfstools,
 * mtools) that check what the packer wrote.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  planCidata,
  writeCidataArchive,
  type CidataPlan,
  type CidataSpec,
} from "../../../components/cidata";

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export function makeTempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cidata-test-"));
  created.push(dir);
  return dir;
}
const created: string[] = [];

/** Removes every directory made by {@link makeTempDir}; call it from an `after` hook. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Runs a tool and returns its standard output; mtools gets a UTF-8 locale for long Unicode names. */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: Uint8Array } = {},
): Buffer {
  return execFileSync(command, args, {
    env: { ...process.env, LC_ALL: "C.UTF-8" },
    input: options.input,
    maxBuffer: 1024 ** 3,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Like {@link run}, for text output. */
export function runText(command: string, args: readonly string[]): string {
  return run(command, args).toString("utf8");
}

/** A packed archive and where it lies. */
export interface Packed {
  plan: CidataPlan;
  archive: string;
  archiveBytes: number;
}

/** Plans `spec` and writes its archive into `dir`. */
export async function pack(spec: CidataSpec, dir: string, name = "cidata.tar.gz"): Promise<Packed> {
  const plan = await planCidata(spec);
  const archive = path.join(dir, name);
  const { archiveBytes } = await writeCidataArchive(plan, archive);
  return { plan, archive, archiveBytes };
}

/** Extracts disk.raw with GNU tar (holes stay holes) into a new directory and returns its path. */
export function extractDisk(archive: string): string {
  const into = makeTempDir();
  run("tar", ["-xzf", archive, "-C", into]);
  return path.join(into, "disk.raw");
}

/** Copies the whole FAT volume out with `mcopy -s` into a new directory and returns it. */
export function extractVolume(disk: string): string {
  const into = makeTempDir();
  // `mdir -b` lists the root's entries one per line ("::/name", directories with a trailing "/").
  const names = runText("mdir", ["-b", "-i", disk, "::/"])
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/^::\//, "").replace(/\/$/, ""));
  if (names.length > 0)
    run("mcopy", ["-s", "-n", "-m", "-i", disk, ...names.map((name) => `::/${name}`), into]);
  return into;
}

/** Whether this machine can loop-mount a FAT image, and if not, why. */
export function loopMountUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "the tests do not run as root";
  if (!fs.existsSync("/dev/loop-control")) return "there is no /dev/loop-control";
  const filesystems = fs.readFileSync("/proc/filesystems", "utf8");
  if (!/\bvfat\b/.test(filesystems))
    return "the running kernel has no vfat driver (not listed in /proc/filesystems)";
  return undefined;
}
