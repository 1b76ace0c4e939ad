/**
 * Benchmark: packs a synthetic 1 GiB build context with our CIDATA packer and with the seed's
 * reference pipeline (mkfs.fat -F 32, mcopy -s, GNU tar with the member renamed to disk.raw,
 * gzip -6), side by side in one run, checks both outputs, and prints as its last line:
 *
 *   cidata: speedup <x> vs reference, peak RSS <n> MiB
 *
 * The speedup is the reference's wall time over ours; the peak RSS is our packer's, measured in a
 * child process that does nothing else. The context (about 700 MiB of incompressible "container
 * image layers" and 300 text files of 1 MiB) is generated once, deterministically, and cached
 * under .cache/bench/.
 *
 * Run: npm run bench:cidata (needs mkfs.fat, mcopy, GNU tar, gzip, fsck.fat and cmp).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { planCidata, writeCidataArchive } from "../components/cidata";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const CONTEXT_VERSION = "v1";
const LAYER_COUNT = 14;
const LAYER_BYTES = 50 * MIB;
const TEXT_FILE_COUNT = 300;
const TEXT_FILE_BYTES = MIB;

const repoRoot = path.resolve(__dirname, "..", "..");
const cacheDir = path.join(repoRoot, ".cache", "bench");
const contextDir = path.join(cacheDir, `cidata-context-${CONTEXT_VERSION}`);
const workDir = path.join(cacheDir, "cidata-run");

/** What the packing child reports. */
interface PackReport {
  seconds: number;
  peakRssMiB: number;
  archiveBytes: number;
  diskBytes: number;
}

/** A deterministic stream of pseudo-random bytes: AES-256-CTR over zeros, keyed by a seed. */
function pseudoRandomStream(seed: string): (length: number) => Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return (length) => cipher.update(Buffer.alloc(length));
}

/** Writes the context once; a marker file says it is complete, so an interrupted run starts over. */
function ensureContext(): void {
  const marker = path.join(contextDir, ".complete");
  if (fs.existsSync(marker)) return;
  console.log(`generating the synthetic build context in ${contextDir} (once) ...`);
  fs.rmSync(contextDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(contextDir, "layers"), { recursive: true });
  fs.mkdirSync(path.join(contextDir, "docs"), { recursive: true });
  for (let index = 0; index < LAYER_COUNT; index++) {
    const random = pseudoRandomStream(`layer-${index}`);
    const fd = fs.openSync(
      path.join(contextDir, "layers", `layer-${String(index).padStart(2, "0")}.tar.gz`),
      "w",
    );
    for (let written = 0; written < LAYER_BYTES; written += 4 * MIB)
      fs.writeSync(fd, random(Math.min(4 * MIB, LAYER_BYTES - written)));
    fs.closeSync(fd);
  }
  for (let index = 0; index < TEXT_FILE_COUNT; index++) {
    const base64 = pseudoRandomStream(`doc-${index}`)(TEXT_FILE_BYTES).toString("base64");
    const lines = base64.match(/.{1,76}/g) ?? [];
    const text = Buffer.from(lines.join("\n")).subarray(0, TEXT_FILE_BYTES);
    fs.writeFileSync(
      path.join(contextDir, "docs", `doc-${String(index).padStart(3, "0")}.txt`),
      text,
    );
  }
  fs.writeFileSync(marker, "");
}

/** Child mode: plan and pack the context, then report time and peak RSS on stdout. */
async function packInChild(output: string): Promise<void> {
  const start = performance.now();
  const plan = await planCidata({
    entries: [{ path: "context", source: { directory: contextDir } }],
  });
  const { archiveBytes, diskBytes } = await writeCidataArchive(plan, output);
  const report: PackReport = {
    seconds: (performance.now() - start) / 1000,
    // maxRSS is in KiB; it covers the worker threads too, since they live in this process.
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    archiveBytes,
    diskBytes,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function runOurs(output: string): { wallSeconds: number; report: PackReport } {
  const start = performance.now();
  const child = spawnSync(process.execPath, [__filename, "--pack", output], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const wallSeconds = (performance.now() - start) / 1000;
  if (child.status !== 0) throw new Error(`the packing child failed with status ${child.status}`);
  return {
    wallSeconds,
    report: JSON.parse(child.stdout.trim().split("\n").pop() ?? "") as PackReport,
  };
}

/** The seed's pipeline, on a disk of the same size as ours, timed from start to end. */
function runReference(diskBytes: number, output: string): number {
  const image = path.join(workDir, "cidata.img");
  const script = [
    'truncate -s "$1" "$2"',
    'mkfs.fat -F 32 -n CIDATA "$2" > /dev/null',
    'mcopy -s -i "$2" "$3" ::/context',
    // As Google's import instructions: old GNU format, sparse; the member renamed to disk.raw.
    'tar --format=oldgnu -S -C "$(dirname "$2")" --transform "s|^cidata.img$|disk.raw|" -cf - cidata.img | gzip -6 > "$4"',
  ].join(" && ");
  const start = performance.now();
  execFileSync(
    "bash",
    ["-o", "pipefail", "-c", script, "bash", String(diskBytes), image, contextDir, output],
    { stdio: "inherit" },
  );
  const seconds = (performance.now() - start) / 1000;
  fs.rmSync(image);
  return seconds;
}

/** gzip -t, and exactly one member, disk.raw, of the expected whole-GiB size. */
function verifyArchive(archive: string, diskBytes: number): void {
  execFileSync("gzip", ["-t", archive]);
  const lines = execFileSync("tar", ["-tvzf", archive], { encoding: "utf8" }).trim().split("\n");
  const fields = lines[0]?.split(/\s+/) ?? [];
  if (
    lines.length !== 1 ||
    fields[5] !== "disk.raw" ||
    Number(fields[2]) !== diskBytes ||
    diskBytes % GIB !== 0
  ) {
    throw new Error(
      `${archive} does not hold exactly disk.raw of ${diskBytes} bytes: ${lines.join(" | ")}`,
    );
  }
}

/** Ours only: the volume is clean, and a layer and a text file come back byte for byte. */
function verifyVolume(archive: string): void {
  const into = path.join(workDir, "extracted");
  fs.mkdirSync(into, { recursive: true });
  execFileSync("tar", ["-xzf", archive, "-C", into]);
  const disk = path.join(into, "disk.raw");
  execFileSync("fsck.fat", ["-n", disk]);
  for (const file of ["layers/layer-07.tar.gz", "docs/doc-123.txt"]) {
    execFileSync("bash", [
      "-o",
      "pipefail",
      "-c",
      'mcopy -n -i "$1" "::/context/$2" - | cmp - "$3"',
      "bash",
      disk,
      file,
      path.join(contextDir, file),
    ]);
  }
  fs.rmSync(into, { recursive: true });
}

async function main(): Promise<void> {
  if (process.argv[2] === "--pack") {
    await packInChild(process.argv[3]);
    return;
  }
  ensureContext();
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  try {
    const oursArchive = path.join(workDir, "ours.tar.gz");
    const referenceArchive = path.join(workDir, "reference.tar.gz");
    const ours = runOurs(oursArchive);
    const referenceSeconds = runReference(ours.report.diskBytes, referenceArchive);
    verifyArchive(oursArchive, ours.report.diskBytes);
    verifyArchive(referenceArchive, ours.report.diskBytes);
    verifyVolume(oursArchive);
    const referenceBytes = fs.statSync(referenceArchive).size;
    console.log(
      `disk.raw: ${ours.report.diskBytes / GIB} GiB; both archives pass gzip -t and hold exactly disk.raw; ours passes fsck.fat and mcopy/cmp`,
    );
    console.log(
      `ours:      ${ours.wallSeconds.toFixed(1)} s wall (${ours.report.seconds.toFixed(1)} s packing), ${(ours.report.archiveBytes / MIB).toFixed(1)} MiB archive`,
    );
    console.log(
      `reference: ${referenceSeconds.toFixed(1)} s wall, ${(referenceBytes / MIB).toFixed(1)} MiB archive`,
    );
    console.log(
      `cidata: speedup ${(referenceSeconds / ours.wallSeconds).toFixed(2)} vs reference, peak RSS ${Math.round(ours.report.peakRssMiB)} MiB`,
    );
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
