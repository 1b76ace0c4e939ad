import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import {
  defaultCacheRoot,
  defaultRecipeDir,
  guestImageRecipeHash,
  type GuestImageRecipe,
} from "../../../emulator/qemu/guestImage";

describe("guest image recipe", () => {
  let recipeDir: string;
  let recipe: GuestImageRecipe;
  beforeEach(async () => {
    recipeDir = await fs.mkdtemp(path.join(os.tmpdir(), "pci-recipe-"));
    await fs.mkdir(path.join(recipeDir, "rootfs", "etc"), { recursive: true });
    await fs.writeFile(path.join(recipeDir, "build-guest-image.sh"), "#!/bin/bash\n", {
      mode: 0o755,
    });
    await fs.writeFile(path.join(recipeDir, "rootfs", "etc", "hosts"), "127.0.0.1 localhost\n");
    recipe = {
      recipeDir,
      suite: "bookworm",
      mirror: "http://deb.example/debian",
      diskSizeMiB: 10240,
    };
  });
  afterEach(() => fs.rm(recipeDir, { recursive: true, force: true }));

  it("hashes the same recipe to the same value", async () => {
    expect(await guestImageRecipeHash(recipe)).to.match(/^[0-9a-f]{64}$/);
    expect(await guestImageRecipeHash(recipe)).to.equal(await guestImageRecipeHash({ ...recipe }));
  });

  it("changes with any file's contents, name or executable bit, and with each parameter", async () => {
    const seen = new Set([await guestImageRecipeHash(recipe)]);
    const record = async (candidate = recipe) => {
      const hash = await guestImageRecipeHash(candidate);
      expect(seen.has(hash), "a new hash").to.equal(false);
      seen.add(hash);
    };
    const hosts = path.join(recipeDir, "rootfs", "etc", "hosts");
    await fs.writeFile(hosts, "127.0.0.1 localhost guest\n");
    await record();
    await fs.chmod(hosts, 0o755);
    await record();
    await fs.rename(hosts, path.join(recipeDir, "rootfs", "etc", "hosts2"));
    await record();
    await record({ ...recipe, suite: "trixie" });
    await record({ ...recipe, mirror: "http://other.example/debian" });
    await record({ ...recipe, diskSizeMiB: 12288 });
  });

  it("finds the recipe shipped with the package and the XDG cache directory", () => {
    expect(defaultRecipeDir()).to.match(/emulator\/qemu\/guest-image$/);
    const saved = process.env.XDG_CACHE_HOME;
    try {
      process.env.XDG_CACHE_HOME = "/xdg/cache";
      expect(defaultCacheRoot()).to.equal("/xdg/cache/preloaded-cos-image");
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
