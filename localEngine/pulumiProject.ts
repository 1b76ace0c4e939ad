/**
 * A Pulumi project for the real CLI, as a user's would be after `npm install`: this package
 * unpacked from the working tree's `npm pack` tarball into its node_modules, and the other
 * dependencies linked from the repository's node_modules (one `@pulumi/pulumi` for the program and
 * the package, as an npm install arranges). `npm start --engine pulumi` copies an example into one;
 * the engine tier writes its own program into one.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { findRepositoryRoot } from "./repositoryRoot";
import { transpile } from "./typescriptProgram";

const execFileAsync = promisify(execFile);

/**
 * Fills `programDir/node_modules`: this package from `npm pack` of the working tree (so the
 * program gets what a user's install gets: the files the package publishes, nothing else), and a
 * link to each other package of the repository's node_modules. Replaces a node_modules already there.
 */
export async function installThisPackage(programDir: string): Promise<void> {
  const root = findRepositoryRoot();
  const modules = path.join(programDir, "node_modules");
  await fs.rm(modules, { recursive: true, force: true });
  await fs.mkdir(modules);
  const packDir = await fs.mkdtemp(path.join(programDir, ".pack-"));
  try {
    const { stdout } = await execFileAsync(
      "npm",
      ["pack", "--json", "--ignore-scripts", "--pack-destination", packDir],
      { cwd: root },
    );
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>;
    if (!packed) throw new Error("npm pack produced no tarball");
    const target = path.join(modules, "preloaded-cos-image");
    await fs.mkdir(target);
    await execFileAsync("tar", [
      "-xzf",
      path.join(packDir, packed.filename),
      "-C",
      target,
      "--strip-components=1",
    ]);
  } finally {
    await fs.rm(packDir, { recursive: true, force: true });
  }
  for (const entry of await fs.readdir(path.join(root, "node_modules"))) {
    if (entry === "preloaded-cos-image" || entry.startsWith(".")) continue;
    await fs.symlink(path.join(root, "node_modules", entry), path.join(modules, entry));
  }
}

/** The files of the project that the copy replaces on every run (what the user edits). */
const GENERATED = new Set(["node_modules"]);

/**
 * Makes `projectDir` a copy of the example in `exampleDir` that the CLI can run: every file of it
 * (its build context too, so that an edit shows in the next run), its TypeScript files transpiled
 * to JavaScript beside them, its package.json's `main` pointed at the JavaScript, and this package
 * installed. Files of an earlier copy are replaced; nothing else of `projectDir` is kept but the
 * stack settings the CLI wrote there (`Pulumi.<stack>.yaml`).
 *
 * Why transpile: the Node.js language host built here (`engine/go/languagehost`) runs JavaScript
 * only (Pulumi's own host runs TypeScript through the ts-node that `@pulumi/pulumi` vendors); a
 * project whose `main` names JavaScript built from its TypeScript is an ordinary Pulumi project
 * for either host.
 */
export async function prepareExampleProject(exampleDir: string, projectDir: string): Promise<void> {
  await fs.mkdir(projectDir, { recursive: true });
  for (const entry of await fs.readdir(projectDir)) {
    if (/^Pulumi\.[^.]+\.yaml$/.test(entry)) continue;
    await fs.rm(path.join(projectDir, entry), { recursive: true, force: true });
  }
  for (const entry of await fs.readdir(exampleDir)) {
    if (GENERATED.has(entry) || /^Pulumi\.[^.]+\.yaml$/.test(entry)) continue;
    await fs.cp(path.join(exampleDir, entry), path.join(projectDir, entry), { recursive: true });
  }
  const manifestPath = path.join(projectDir, "package.json");
  const manifest = JSON.parse(await fs.readFile(manifestPath, "utf8")) as { main?: string };
  for (const entry of await fs.readdir(projectDir)) {
    if (!entry.endsWith(".ts") || entry.endsWith(".d.ts")) continue;
    const file = path.join(projectDir, entry);
    await fs.writeFile(file.replace(/\.ts$/, ".js"), transpile(file));
  }
  const main = manifest.main ?? "index.ts";
  if (main.endsWith(".ts")) {
    manifest.main = main.replace(/\.ts$/, ".js");
    await fs.writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
  await installThisPackage(projectDir);
}
