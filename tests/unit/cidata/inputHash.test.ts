import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { CidataError, hashCidataInputs, type CidataSpec } from "../../../components/cidata";
import { makeTempDir, removeTempDirs } from "./debianTools";
import { buildFixture } from "./fixture";

describe("hashCidataInputs", () => {
  let contextDir: string;
  let spec: CidataSpec;
  let baseline: string;

  beforeEach(async () => {
    ({ spec, contextDir } = buildFixture(makeTempDir()));
    baseline = await hashCidataInputs(spec);
  });
  after(removeTempDirs);

  const withEntries = (extra: CidataSpec["entries"]): CidataSpec => ({
    ...spec,
    entries: [...spec.entries, ...extra],
  });

  it("is a hex sha256, the same every time for the same inputs", async () => {
    expect(baseline).to.match(/^[0-9a-f]{64}$/);
    expect(await hashCidataInputs(spec)).to.equal(baseline);
  });

  it("changes when one byte of a file changes, its size staying the same", async () => {
    const file = path.join(contextDir, "layers", "image.layer");
    const fd = fs.openSync(file, "r+");
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, 4_000_000);
    fs.writeSync(fd, Buffer.from([byte[0] ^ 1]), 0, 1, 4_000_000);
    fs.closeSync(fd);
    expect(await hashCidataInputs(spec)).not.to.equal(baseline);
  });

  it("changes when in-memory content, a name, an empty directory, the label or the disk size changes", async () => {
    const variants: CidataSpec[] = [
      {
        ...spec,
        entries: spec.entries.map((entry) =>
          entry.path === "user-data" ? { ...entry, source: { content: "#cloud-config\n" } } : entry,
        ),
      },
      {
        ...spec,
        entries: spec.entries.map((entry) =>
          entry.path === "provisioner" ? { ...entry, path: "provisioner.sh" } : entry,
        ),
      },
      withEntries([{ path: "context/new-empty-dir", source: { directory: makeTempDir() } }]),
      { ...spec, label: "OTHER" },
      { ...spec, diskSizeBytes: 2 * 1024 ** 3 },
    ];
    const hashes = await Promise.all(variants.map((variant) => hashCidataInputs(variant)));
    expect(new Set([baseline, ...hashes]).size).to.equal(variants.length + 1);
  });

  it("does not change with timestamps or with where the sources lie", async () => {
    const time = new Date("2001-02-03T04:05:06Z");
    fs.utimesSync(path.join(contextDir, "lower.txt"), time, time);
    expect(await hashCidataInputs(spec)).to.equal(baseline);
    const moved = path.join(makeTempDir(), "elsewhere");
    fs.cpSync(contextDir, moved, { recursive: true, verbatimSymlinks: false });
    const relocated = {
      ...spec,
      entries: spec.entries.map((entry) =>
        entry.path === "context" ? { ...entry, source: { directory: moved } } : entry,
      ),
    };
    expect(await hashCidataInputs(relocated)).to.equal(baseline);
  });

  it("rejects bad input with the same CidataError as planning", async () => {
    const error = await hashCidataInputs(
      withEntries([{ path: "context/LOWER.TXT", source: { content: "clash" } }]),
    ).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error)
      .to.be.instanceOf(CidataError)
      .with.property("destinationPath", "context/LOWER.TXT");
  });
});
