import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { ensureCachedBuild, withExclusiveLock } from "../../../emulator/qemu/buildCache";

describe("ensureCachedBuild", () => {
  let cacheRoot: string;
  beforeEach(async () => (cacheRoot = await fs.mkdtemp(path.join(os.tmpdir(), "pci-cache-"))));
  afterEach(() => fs.rm(cacheRoot, { recursive: true, force: true }));

  it("builds once for concurrent callers and publishes a complete directory", async () => {
    let builds = 0;
    const build = async (directory: string) => {
      builds++;
      await fs.writeFile(path.join(directory, "part-1"), "a");
      await new Promise((resolve) => setTimeout(resolve, 300));
      await fs.writeFile(path.join(directory, "part-2"), "b");
    };
    const results = await Promise.all(
      [1, 2, 3].map(() => ensureCachedBuild({ cacheRoot, name: "entry", build })),
    );

    expect(builds).to.equal(1);
    expect(results.filter((result) => result.built)).to.have.length(1);
    for (const result of results) expect(result.directory).to.equal(path.join(cacheRoot, "entry"));
    expect((await fs.readdir(path.join(cacheRoot, "entry"))).sort()).to.deep.equal([
      "part-1",
      "part-2",
    ]);
    expect((await fs.readdir(cacheRoot)).filter((name) => name.includes(".tmp-"))).to.deep.equal(
      [],
    );

    const again = await ensureCachedBuild({ cacheRoot, name: "entry", build });
    expect(again.built).to.equal(false);
    expect(builds).to.equal(1);
  });

  it("publishes nothing when the build fails, and removes what killed builds left", async () => {
    await fs.mkdir(path.join(cacheRoot, "entry.tmp-99999-dead"));
    let error: unknown;
    await ensureCachedBuild({
      cacheRoot,
      name: "entry",
      build: async (directory) => {
        await fs.writeFile(path.join(directory, "half"), "x");
        throw new Error("recipe broke");
      },
    }).catch((caught: unknown) => (error = caught));

    expect((error as Error).message).to.equal("recipe broke");
    expect((await fs.readdir(cacheRoot)).filter((name) => name !== "entry.lock")).to.deep.equal([]);
  });
});

describe("withExclusiveLock", () => {
  it("runs holders of the same lock one after the other", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-lock-"));
    try {
      const lockFile = path.join(dir, "l.lock");
      const log: string[] = [];
      const holder = (name: string) =>
        withExclusiveLock(lockFile, async () => {
          log.push(`${name} in`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          log.push(`${name} out`);
        });
      await Promise.all([holder("a"), holder("b")]);
      expect(log).to.have.length(4);
      expect(log[0].split(" ")[0]).to.equal(log[1].split(" ")[0]);
      expect(log[2].split(" ")[0]).to.equal(log[3].split(" ")[0]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
