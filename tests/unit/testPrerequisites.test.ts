import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TEST_COMMANDS, testToolsProblem } from "../../scripts/testPrerequisites";

/** A host where only `installed` commands exist. */
function host(installed: readonly string[]): {
  findCommand: (command: string) => Promise<string | undefined>;
} {
  return {
    findCommand: (command) =>
      Promise.resolve(installed.includes(command) ? `/usr/bin/${command}` : undefined),
  };
}

describe("npm test's pretest check of host tools", () => {
  it("passes on a host with every tool", async () => {
    expect(await testToolsProblem(host(TEST_COMMANDS))).to.equal(undefined);
  });

  it("names every missing tool in one message, with the apt-get line of their packages", async () => {
    const installed = TEST_COMMANDS.filter(
      (command) =>
        !["shellcheck", "curl", "mkfs.fat", "mcopy", "mdir", "debugfs"].includes(command),
    );
    const problem = await testToolsProblem(host(installed));
    expect(problem).to.include("stopped before running any test");
    expect(problem).to.include(
      "missing host commands: shellcheck, curl, mkfs.fat, mcopy, mdir, debugfs. " +
        "On Debian/Ubuntu: apt-get install shellcheck curl dosfstools mtools e2fsprogs",
    );
  });

  it("is what `npm run pretest` runs: with an empty PATH it exits 1 before any test, naming the tools", function () {
    const script = path.resolve(__dirname, "..", "..", "scripts", "testPrerequisites.js");
    const manifest = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "package.json"), "utf8"),
    ) as { scripts: Record<string, string> };
    expect(manifest.scripts.pretest).to.include("node dist/scripts/testPrerequisites.js");
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-empty-path-"));
    try {
      // Commands are also looked for in the sbin directories, so only PATH-only tools go missing.
      const run = spawnSync(process.execPath, [script], {
        env: { PATH: emptyDir },
        encoding: "utf8",
      });
      expect(run.status).to.equal(1);
      expect(run.stderr).to.match(/missing host commands: bash, tar, gzip, shellcheck, curl/);
      expect(run.stderr).to.match(
        /On Debian\/Ubuntu: apt-get install bash tar gzip shellcheck curl/,
      );
    } finally {
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });
});
