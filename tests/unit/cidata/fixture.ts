/**
 * A small build context that exercises what FAT makes hard: long, mixed-case and Unicode names,
 * names whose 8.3 aliases clash, nested and empty directories, empty files, symlinks, in-memory
 * content, and files that span several gzip chunks, compressible or not.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { CidataSpec } from "../../../components/cidata";

/** The expected volume: every path (directories end in "/") and each file's bytes. */
export type ExpectedVolume = Map<string, Buffer | "directory">;

/** Deterministic pseudo-random bytes (incompressible, like a container image layer). */
export function pseudoRandomBytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash("sha256").update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

/** Text that compresses, spanning several 1 MiB chunks. */
function compressibleText(length: number): Buffer {
  const line = "RUN apt-get update && apt-get install -y ca-certificates curl # layer cache line\n";
  return Buffer.from(line.repeat(Math.ceil(length / line.length)).slice(0, length));
}

const LONG_NAME = `${"a-very-long-name-".repeat(14)}end.txt`;
/** Files whose 8.3 aliases all start "LAYER-", plus one file that already holds the first alias. */
const LAYER_NAMES = Array.from(
  { length: 12 },
  (_, index) => `layer-${String(index + 1).padStart(5, "0")}.tar.gz`,
);

/** Local files of the context, relative to the context directory. */
function localFiles(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    "scripts/run.sh": Buffer.from("#!/bin/bash\necho hello\n"),
    "scripts/Makefile": Buffer.from("all:\n\ttrue\n"),
    "MixedCase.Txt": Buffer.from("mixed case\n"),
    "lower.txt": Buffer.from("lower\n"),
    "UPPER.TXT": Buffer.from("upper, exact 8.3, no long name\n"),
    ".hidden": Buffer.from("dot file\n"),
    "a.b.c.d": Buffer.from("many dots\n"),
    "with spaces & (parens) [brackets] +plus;semi=eq,comma.txt": Buffer.from("special\n"),
    "Ünïcödé dir/日本語のファイル名.txt": Buffer.from("unicode\n"),
    "Ünïcödé dir/Ελληνικά & русский.json": Buffer.from("{}\n"),
    [LONG_NAME]: Buffer.from("long name\n"),
    "deep/a/b/c/d/e/leaf.txt": Buffer.from("deep\n"),
    "empty-file": Buffer.alloc(0),
    "layers/LAYER-~1.GZ": Buffer.from("holds the alias the first layer would get\n"),
    "layers/image.layer": pseudoRandomBytes(5 * 1024 * 1024 + 123, "layer"),
    "docs/large.txt": compressibleText(3 * 1024 * 1024 + 7),
  };
  for (const name of LAYER_NAMES) files[`layers/${name}`] = pseudoRandomBytes(700, name);
  return files;
}

/** Writes the context under `dir` and returns the spec that packs it, with the expected volume. */
export function buildFixture(dir: string): {
  spec: CidataSpec;
  expected: ExpectedVolume;
  contextDir: string;
} {
  const contextDir = path.join(dir, "context");
  const expected: ExpectedVolume = new Map();
  const addParents = (destination: string): void => {
    const parts = destination.split("/");
    for (let depth = 1; depth < parts.length; depth++)
      expected.set(`${parts.slice(0, depth).join("/")}/`, "directory");
  };
  for (const [relative, bytes] of Object.entries(localFiles())) {
    const file = path.join(contextDir, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
    addParents(`context/${relative}`);
    expected.set(`context/${relative}`, bytes);
  }
  fs.mkdirSync(path.join(contextDir, "empty-dir"));
  expected.set("context/empty-dir/", "directory");
  // Symlinks are followed: a link to a directory is copied as a directory, a link to a file as a file.
  fs.symlinkSync(path.join(contextDir, "scripts"), path.join(contextDir, "linked-scripts"));
  expected.set("context/linked-scripts/", "directory");
  expected.set("context/linked-scripts/run.sh", expected.get("context/scripts/run.sh") as Buffer);
  expected.set(
    "context/linked-scripts/Makefile",
    expected.get("context/scripts/Makefile") as Buffer,
  );
  fs.symlinkSync("lower.txt", path.join(contextDir, "link-to-lower.txt"));
  expected.set("context/link-to-lower.txt", expected.get("context/lower.txt") as Buffer);

  const userData = "#cloud-config\nruncmd:\n  - [systemctl, start, provision.service]\n";
  const config = Uint8Array.from([0x7b, 0x7d, 0x0a]);
  const single = path.join(dir, "provisioner.sh");
  fs.writeFileSync(single, "#!/bin/bash\nexit 0\n");
  expected.set("user-data", Buffer.from(userData));
  expected.set("meta-data", Buffer.alloc(0));
  expected.set("config/config.json", Buffer.from(config));
  expected.set("config/", "directory");
  expected.set("provisioner", fs.readFileSync(single));
  const spec: CidataSpec = {
    entries: [
      { path: "user-data", source: { content: userData } },
      { path: "meta-data", source: { content: "" } },
      { path: "config/config.json", source: { content: config } },
      { path: "provisioner", source: { file: single } },
      { path: "context", source: { directory: contextDir } },
    ],
  };
  return { spec, expected, contextDir };
}

/** Reads a directory tree back into the same shape as {@link ExpectedVolume}. */
export function readVolume(root: string): ExpectedVolume {
  const out: ExpectedVolume = new Map();
  const walk = (dir: string, prefix: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const relative = prefix + entry.name;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        out.set(`${relative}/`, "directory");
        walk(full, `${relative}/`);
      } else out.set(relative, fs.readFileSync(full));
    }
  };
  walk(root, "");
  return out;
}
