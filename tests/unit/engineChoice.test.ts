import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { chooseEngine, parseEngineFlag } from "../../localEngine/engineChoice";
import { findPulumiCli, type FoundPulumiCli } from "../../localEngine/pulumiCli";
import { useTempDir } from "../support/tempDir";

describe("the engine of npm start (--engine, and the Pulumi CLI found)", () => {
  const cached: FoundPulumiCli = { binDir: "/cache/pulumi-v3.274.1/bin", source: "cache" };
  const onPath: FoundPulumiCli = { binDir: "/usr/local/bin", source: "path" };

  it("runs the Pulumi CLI when one is found, and says where it is from", () => {
    const fromPath = chooseEngine(undefined, onPath);
    expect(fromPath.engine).to.equal("pulumi");
    expect(fromPath.why).to.equal("a Pulumi CLI was found: /usr/local/bin/pulumi (on the PATH)");
    const fromCache = chooseEngine(undefined, cached);
    expect(fromCache.engine).to.equal("pulumi");
    expect(fromCache.why).to.include("built by npm run build:engine");
  });

  it("falls back to the local engine without a CLI, saying so and how to build one", () => {
    const choice = chooseEngine(undefined, undefined);
    expect(choice.engine).to.equal("local");
    expect(choice.why).to.match(/^no Pulumi CLI on the PATH or in the cache/);
    expect(choice.why).to.include("npm run build:engine");
    expect(choice.why).to.include("using the local engine");
  });

  it("--engine local wins over a CLI; --engine pulumi without one fails with the way out", () => {
    expect(chooseEngine("local", cached)).to.deep.equal({ engine: "local", why: "--engine local" });
    const forced = chooseEngine("pulumi", cached);
    expect(forced.engine).to.equal("pulumi");
    expect(forced.why).to.match(/^--engine pulumi: /);
    expect(() => chooseEngine("pulumi", undefined)).to.throw(
      /--engine pulumi: no Pulumi CLI.*npm run build:engine.*--engine local/,
    );
  });

  it("--engine takes pulumi or local only", () => {
    expect(parseEngineFlag(undefined)).to.equal(undefined);
    expect(parseEngineFlag("pulumi")).to.equal("pulumi");
    expect(parseEngineFlag("local")).to.equal("local");
    expect(() => parseEngineFlag("terraform")).to.throw(
      '--engine must be one of pulumi, local (got "terraform")',
    );
  });

  describe("finding the CLI", () => {
    const tmp = useTempDir("pci-find-cli-");

    it("takes an executable pulumi on the PATH first (a user's install)", async () => {
      const bin = path.join(tmp.path, "bin");
      await fs.mkdir(bin);
      await fs.writeFile(path.join(bin, "pulumi"), "#!/bin/sh\n", { mode: 0o755 });
      const searchPath = [path.join(tmp.path, "empty"), bin].join(path.delimiter);
      expect(await findPulumiCli(searchPath)).to.deep.equal({ binDir: bin, source: "path" });
    });

    it("skips a pulumi that is not executable, then looks in the cache", async () => {
      await fs.writeFile(path.join(tmp.path, "pulumi"), "not a program", { mode: 0o644 });
      const found = await findPulumiCli(tmp.path);
      // The cache holds a build on machines that ran `npm run build:engine`; never this directory.
      expect(found?.binDir).not.to.equal(tmp.path);
      if (found) {
        expect(found.source).to.equal("cache");
        await fs.access(path.join(found.binDir, "pulumi"), fs.constants.X_OK);
      }
    });
  });
});
