import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { makePackedTreeDir, removeOrphanedTreeDirs } from "../../components/pipeline/packedTreeDir";
import { useTempDir } from "../support/tempDir";

/** The id of a process that has exited (a child that ran `true`). */
function deadPid(): number {
  const child = spawnSync("true");
  if (child.pid === undefined) throw new Error("could not start `true`");
  return child.pid;
}

describe("the local directory of a packed CIDATA tree", () => {
  const root = useTempDir("pci-tree-root-");

  it("is private to its process and removed when the build lets go of it", () => {
    const dir = makePackedTreeDir(root.path);
    expect(path.basename(dir.path)).to.match(new RegExp(`^pci-tree-${process.pid}-`));
    expect(fs.statSync(dir.path).mode & 0o777).to.equal(0o700);
    fs.writeFileSync(path.join(dir.path, "cidata.tar.gz"), "secret");
    dir.remove();
    dir.remove();
    expect(fs.readdirSync(root.path)).to.deep.equal([]);
  });

  it("of a killed build (its process gone) is removed by the next build; a running one's is kept", () => {
    const orphan = path.join(root.path, `pci-tree-${deadPid()}-abc123`);
    fs.mkdirSync(orphan);
    fs.writeFileSync(path.join(orphan, "cidata.tar.gz"), "a killed build's secrets");
    const running = path.join(root.path, `pci-tree-${process.pid}-def456`);
    fs.mkdirSync(running);
    const unrelated = path.join(root.path, "pci-tree-notapid");
    fs.mkdirSync(unrelated);

    const next = makePackedTreeDir(root.path);

    expect(fs.existsSync(orphan), "the killed build's tree").to.equal(false);
    expect(fs.existsSync(running), "a running build's tree").to.equal(true);
    expect(fs.existsSync(unrelated), "a directory not named by a process").to.equal(true);
    expect(fs.existsSync(next.path)).to.equal(true);
    expect(removeOrphanedTreeDirs(root.path)).to.deep.equal([]);
  });
});
