/**
 * The Pulumi project of the engine tier, in a temporary directory: a JavaScript program that uses
 * this package as a user would, installed as `localEngine/pulumiProject.ts` installs it (the
 * working tree's `npm pack` tarball, the other dependencies linked from the repository).
 */
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { installThisPackage } from "../../../localEngine/pulumiProject";

/**
 * The program: one PreloadedCosImage whose place, name, labels, script secret and disk size come
 * from the stack's configuration, so that each case changes only the configuration or the script.
 * It passes a `bucket` made in the emulator, so it needs no `@pulumi/gcp` resource (and no plugin).
 */
const PROGRAM = `"use strict";
const pulumi = require("@pulumi/pulumi");
const { PreloadedCosImage } = require("preloaded-cos-image");

const config = new pulumi.Config();
const image = new PreloadedCosImage("engine", {
  sourceImageFamily: "cos-stable",
  project: config.require("project"),
  zone: config.require("zone"),
  bucket: config.require("bucket"),
  buildContext: "image",
  steps: [{ runScript: { script: "setup.sh", env: { API_TOKEN: config.requireSecret("apiToken") } } }],
  imageName: config.get("imageName"),
  imageLabels: config.getObject("imageLabels"),
  diskSizeGb: config.getNumber("diskSizeGb"),
});

exports.imageName = image.imageName;
exports.imageSelfLink = image.imageSelfLink;
`;

/** The build script of the program's context (its text is what a "changed script" changes). */
export const SETUP_SCRIPT = "#!/bin/bash\necho 'engine tier, first script' > /var/lib/engine\n";

/** Creates the project; returns its directory. */
export async function createEngineProject(): Promise<string> {
  const programDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-engine-program-"));
  await fs.writeFile(
    path.join(programDir, "Pulumi.yaml"),
    "name: pci-engine\nruntime: nodejs\ndescription: The engine tier's program\n",
  );
  await fs.writeFile(
    path.join(programDir, "package.json"),
    `${JSON.stringify({ name: "pci-engine", private: true, main: "index.js" }, null, 2)}\n`,
  );
  await fs.writeFile(path.join(programDir, "index.js"), PROGRAM);
  await fs.mkdir(path.join(programDir, "image"));
  await fs.writeFile(path.join(programDir, "image", "setup.sh"), SETUP_SCRIPT, { mode: 0o755 });
  await installThisPackage(programDir);
  return programDir;
}
