import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** What users install: the product alone, with type declarations that compile without our sources. */
const ROOT = path.resolve(__dirname, "..", "..", "..");

describe("the published package", function () {
  this.timeout(120_000);

  it("holds the product only: the compiled components and the provisioner, no emulator or test file", () => {
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }),
    ) as Array<{ files: Array<{ path: string }> }>;
    const files = packed.files.map((f) => f.path);
    const outside = files.filter(
      (f) =>
        !/^(dist\/components\/|provisioner-assets\/)/.test(f) &&
        !["package.json", "README.md", "LICENSE"].includes(f),
    );
    expect(outside).to.deep.equal([]);
    expect(files).to.include.members([
      "dist/components/index.js",
      "dist/components/provider/runtime.js",
      "dist/components/cli/main.js",
      "provisioner-assets/provisioner.sh",
    ]);
    expect(
      files.filter((f) => /emulator|tests\/|bench\/|localEngine|stack\//.test(f)),
    ).to.deep.equal([]);
  });

  it("has declarations that a strict consumer compiles (internal seams left out), for both entry points", () => {
    const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "pci-consumer-"));
    try {
      const modules = path.join(consumer, "node_modules");
      fs.mkdirSync(modules);
      for (const name of fs.readdirSync(path.join(ROOT, "node_modules"))) {
        fs.symlinkSync(path.join(ROOT, "node_modules", name), path.join(modules, name));
      }
      fs.symlinkSync(ROOT, path.join(modules, "preloaded-cos-image"));
      fs.writeFileSync(
        path.join(consumer, "index.ts"),
        [
          'import { PreloadedCosImage, buildImage, type BuildImageOptions } from "preloaded-cos-image";',
          'import * as runtime from "preloaded-cos-image/provider-runtime";',
          "export const used = [PreloadedCosImage, buildImage, runtime.check, runtime.leftovers];",
          'export const options: BuildImageOptions = { name: "ci" };',
          "",
        ].join("\n"),
      );
      fs.writeFileSync(
        path.join(consumer, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            module: "node16",
            moduleResolution: "node16",
            target: "ES2022",
            noEmit: true,
            types: ["node"],
            // Our declarations are checked; third-party ones are theirs.
            skipLibCheck: false,
          },
          files: ["index.ts"],
        }),
      );
      let output = "";
      try {
        execFileSync(path.join(ROOT, "node_modules", ".bin", "tsc"), ["-p", consumer], {
          encoding: "utf8",
        });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout ?? error);
      }
      const ours = output.split("\n").filter((line) => line.includes("dist/components/"));
      expect(ours).to.deep.equal([]);
      expect(output.split("\n").filter((line) => line.startsWith("index.ts"))).to.deep.equal([]);
    } finally {
      fs.rmSync(consumer, { recursive: true, force: true });
    }
  });
});
