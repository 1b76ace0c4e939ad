/**
 * The local stand-in for Container-Optimized OS: a Debian guest built by
 * `guest-image/build-guest-image.sh` (debootstrap + cloud-init + GCE look-alike configuration) on a
 * disk laid out as COS's (GPT, STATE/KERN/ROOT/OEM/EFI-SYSTEM at COS's offsets, see
 * `guest-image/layout.sh`), cached per machine under a hash of its recipe, and booted by
 * `machine.ts`, which plays COS's bootloader on the disk (`cosBootloader.ts`) with the stand-in's
 * initramfs.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { detectAptMirror } from "./aptMirror";
import { ensureCachedBuild } from "./buildCache";
import { requireCommands, requireRoot } from "./prerequisites";

/** Host commands the image build runs (besides bash and coreutils). */
export const GUEST_IMAGE_BUILD_COMMANDS = [
  "debootstrap",
  "mkfs.ext4",
  "mkfs.vfat",
  "mcopy",
  "mmd",
  "sgdisk",
] as const;

/** Debian release the guest is built from. */
export const DEFAULT_GUEST_SUITE = "bookworm";

/** Size of the whole boot disk, as COS's images (10 GiB); sparse, about 1.5 GB of it is used. */
export const DEFAULT_DISK_SIZE_MIB = 10240;

/** Options of {@link ensureGuestImage}; every field has a default. */
export interface GuestImageOptions {
  /** Cache directory. Default `${XDG_CACHE_HOME:-$HOME/.cache}/preloaded-cos-image`. */
  cacheRoot?: string;
  /** Debian mirror. Default: see `detectAptMirror` (environment, then the host's apt sources). */
  mirror?: string;
  /** Debian suite. Default {@link DEFAULT_GUEST_SUITE}. */
  suite?: string;
  /** Boot disk size in MiB (at least COS's 9 GiB layout). Default {@link DEFAULT_DISK_SIZE_MIB}. */
  diskSizeMiB?: number;
  /** Directory holding `build-guest-image.sh` and `rootfs/`. Default: the one shipped with this package. */
  recipeDir?: string;
  /** Receives each line of the build's output while a build runs (it takes minutes). */
  onBuildOutput?: (line: string) => void;
}

/** A built guest image, ready to boot. */
export interface GuestImage {
  /** The whole boot disk: a sparse raw GPT disk with COS's partitions (see `guest-image/layout.sh`). */
  rootDisk: string;
  /**
   * A copy of the kernel that the disk's EFI partition holds as `syslinux/vmlinuz.A` and `.B` (for
   * probing the accelerator; machines boot the one the bootloader stand-in reads from the disk).
   */
  kernel: string;
  /** The stand-in initramfs (what COS's kernel does built in: drivers, the `dm=` table, `/etc` overlay). */
  initrd: string;
  /** Hash of the recipe (script files and parameters) that names the cache entry. */
  hash: string;
  /** The cache entry directory holding the files above, `packages.txt` and `build.log`. */
  directory: string;
  /** True when this call built the image; false when it came from the cache. */
  built: boolean;
}

/** Everything the image's bytes depend on. */
export interface GuestImageRecipe {
  /** Directory of the build script and the files copied into the guest. */
  recipeDir: string;
  /** Debian suite. */
  suite: string;
  /** Debian mirror URI. */
  mirror: string;
  /** Boot disk size in MiB. */
  diskSizeMiB: number;
}

/** `${XDG_CACHE_HOME:-$HOME/.cache}/preloaded-cos-image`. */
export function defaultCacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "preloaded-cos-image");
}

/** The recipe directory shipped with this package (found from source or from `dist/`). */
export function defaultRecipeDir(): string {
  const candidates = [
    path.resolve(__dirname, "guest-image"),
    path.resolve(__dirname, "..", "..", "..", "emulator", "qemu", "guest-image"),
  ];
  const found = candidates.find((candidate) =>
    existsSync(path.join(candidate, "build-guest-image.sh")),
  );
  if (!found) throw new Error(`guest image recipe not found; looked in ${candidates.join(", ")}`);
  return found;
}

/**
 * Hash of the recipe: every file under `recipeDir` (relative path, executable bit, contents) and the
 * parameters. Any change to them names a new cache entry, so a stale image is never reused.
 */
export async function guestImageRecipeHash(recipe: GuestImageRecipe): Promise<string> {
  const hash = createHash("sha256");
  hash.update(
    JSON.stringify({
      format: 2,
      suite: recipe.suite,
      mirror: recipe.mirror,
      diskSizeMiB: recipe.diskSizeMiB,
    }),
  );
  for (const relative of await listFiles(recipe.recipeDir)) {
    const file = path.join(recipe.recipeDir, relative);
    const stat = await fs.lstat(file);
    const content = stat.isSymbolicLink()
      ? Buffer.from(await fs.readlink(file))
      : await fs.readFile(file);
    const executable = (stat.mode & 0o111) !== 0 ? "x" : "-";
    hash.update(
      `\n${relative}\0${executable}\0${createHash("sha256").update(content).digest("hex")}`,
    );
  }
  return hash.digest("hex");
}

/** The recipe, its hash and the cache entry that `options` name. */
async function resolveRecipe(options: GuestImageOptions): Promise<{
  recipe: GuestImageRecipe;
  hash: string;
  cacheRoot: string;
  name: string;
}> {
  const suite = options.suite ?? DEFAULT_GUEST_SUITE;
  const recipe: GuestImageRecipe = {
    recipeDir: options.recipeDir ?? defaultRecipeDir(),
    suite,
    mirror: options.mirror ?? (await detectAptMirror(suite)),
    diskSizeMiB: options.diskSizeMiB ?? DEFAULT_DISK_SIZE_MIB,
  };
  const hash = await guestImageRecipeHash(recipe);
  const cacheRoot = options.cacheRoot ?? defaultCacheRoot();
  return { recipe, hash, cacheRoot, name: `guest-${hash.slice(0, 16)}` };
}

function guestImageIn(directory: string, hash: string, built: boolean): GuestImage {
  return {
    rootDisk: path.join(directory, "disk.raw"),
    kernel: path.join(directory, "vmlinuz"),
    initrd: path.join(directory, "initrd.img"),
    hash,
    directory,
    built,
  };
}

/**
 * The guest image if this machine has already built the current recipe, else undefined (so a
 * caller can say "building it, this takes minutes" or ask for root before it starts).
 */
export async function findCachedGuestImage(
  options: GuestImageOptions = {},
): Promise<GuestImage | undefined> {
  const { hash, cacheRoot, name } = await resolveRecipe(options);
  const directory = path.join(cacheRoot, name);
  return existsSync(directory) ? guestImageIn(directory, hash, false) : undefined;
}

/**
 * Returns the guest image, building it first if this machine has not built this recipe yet (a few
 * minutes; needs root, debootstrap and e2fsprogs, and the Debian mirror). Concurrent callers wait
 * for one build.
 */
export async function ensureGuestImage(options: GuestImageOptions = {}): Promise<GuestImage> {
  const { recipe, hash, cacheRoot, name } = await resolveRecipe(options);
  const { directory, built } = await ensureCachedBuild({
    cacheRoot,
    name,
    build: (output) =>
      buildGuestImage(recipe, hash, output, path.join(cacheRoot, "debs"), options.onBuildOutput),
  });
  return guestImageIn(directory, hash, built);
}

async function buildGuestImage(
  recipe: GuestImageRecipe,
  hash: string,
  output: string,
  debCache: string,
  onOutput?: (line: string) => void,
): Promise<void> {
  requireRoot("building the guest image");
  await requireCommands(GUEST_IMAGE_BUILD_COMMANDS);
  const started = Date.now();
  const logFile = path.join(output, "build.log");
  const script = path.join(recipe.recipeDir, "build-guest-image.sh");
  const args = [script, "--output", output, "--mirror", recipe.mirror, "--suite", recipe.suite];
  args.push("--size-mib", String(recipe.diskSizeMiB), "--deb-cache", debCache);
  const exitCode = await runLogged("bash", args, logFile, onOutput);
  if (exitCode !== 0) {
    // Kept beside the cache entry: the temporary build directory is removed on failure.
    const failedLog = `${output.replace(/\.tmp-[^/]*$/, "")}.failed.log`;
    await fs.copyFile(logFile, failedLog);
    const tail = (await fs.readFile(logFile, "utf8")).trimEnd().split("\n").slice(-25).join("\n");
    throw new Error(`guest image build failed (exit ${exitCode}); full log: ${failedLog}\n${tail}`);
  }
  const manifest = {
    hash,
    suite: recipe.suite,
    mirror: recipe.mirror,
    diskSizeMiB: recipe.diskSizeMiB,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
  };
  await fs.writeFile(path.join(output, "guest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

/** Runs a command with stdout and stderr appended to `logFile` (and passed line by line to `onLine`). */
function runLogged(
  command: string,
  args: string[],
  logFile: string,
  onLine?: (line: string) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
    });
    let partial = "";
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      if (!onLine) return;
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", reject);
    child.once("close", (code) => {
      if (partial && onLine) onLine(partial);
      log.end(() => resolve(code ?? 1));
    });
  });
}

async function listFiles(root: string, relative = ""): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await listFiles(root, child)));
    else files.push(child);
  }
  return files;
}
