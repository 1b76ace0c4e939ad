import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { README_FILE, readmeReference, renderReference } from "../../scripts/referenceDocs";

const ROOT = path.resolve(__dirname, "..", "..", "..");

describe("documentation and examples", () => {
  it("README's configuration reference is the one generated from the TSDoc (run `npm run docs`)", () => {
    const current = readmeReference(fs.readFileSync(README_FILE, "utf8"));
    expect(current, "README.md lacks the reference markers").to.be.a("string");
    expect(current).to.equal(renderReference());
  });

  it("documents every argument with a description and a default", () => {
    const rows = renderReference()
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    expect(rows.length).to.be.at.least(50);
    for (const row of rows) {
      const cells = row.split(/(?<!\\)\|/).map((c) => c.trim());
      expect(cells[3], row).to.not.equal("");
      expect(cells[4], row).to.have.length.greaterThan(10);
    }
  });

  it("typechecks every example and the stack-configuration program", function () {
    this.timeout(120_000);
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    // Throws, with tsc's diagnostics, when an example does not compile against the component.
    execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.examples.json")], {
      cwd: ROOT,
      stdio: "pipe",
    });
    const examples = fs
      .readdirSync(path.join(ROOT, "examples"))
      .filter((d) => fs.existsSync(path.join(ROOT, "examples", d, "index.ts")));
    expect(examples).to.include("hello");
    const config = JSON.parse(
      fs.readFileSync(path.join(ROOT, "tsconfig.examples.json"), "utf8"),
    ) as { include: string[] };
    const included = config.include;
    expect(included).to.include("examples/*/index.ts");
    expect(
      fs.existsSync(path.join(ROOT, "dist", "stack", "index.js")),
      "stack program compiled",
    ).to.equal(true);
  });
});
