import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { CidataError, planCidata, type CidataSpec } from "../../../components/cidata";
import type { CidataEntry } from "../../../components/cidata";
import { makeTempDir, removeTempDirs } from "./debianTools";

const GIB = 1024 ** 3;

/** Plans `spec`, expecting a CidataError with exactly `message` (after the "cidata: " prefix) and location. */
async function expectPlanError(
  spec: CidataSpec,
  message: string,
  location: { localPath?: string; destinationPath?: string } = {},
): Promise<void> {
  const error = await planCidata(spec).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error, "planCidata should have failed").to.be.instanceOf(CidataError);
  expect((error as CidataError).message).to.equal(`cidata: ${message}`);
  expect((error as CidataError).localPath).to.equal(location.localPath);
  expect((error as CidataError).destinationPath).to.equal(location.destinationPath);
}

/** A spec of these entries, each given as its destination path and its source. */
const entriesSpec = (...entries: Array<[string, CidataEntry["source"]]>): CidataSpec => ({
  entries: entries.map(([destination, source]) => ({ path: destination, source })),
});

describe("planCidata", () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  after(removeTempDirs);

  const file = (relative: string, content = "x"): string => {
    const full = path.join(dir, relative);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
    return full;
  };
  /** A file of `size` bytes that takes no room (a hole): planning must not read it. */
  const sparseFile = (relative: string, size: number): string => {
    const full = file(relative, "");
    fs.truncateSync(full, size);
    return full;
  };

  describe("layout", () => {
    it("picks the smallest whole GiB that holds the content, without reading it", async () => {
      const big = sparseFile("big.bin", 1.5 * GIB);
      const plan = await planCidata({ entries: [{ path: "big.bin", source: { file: big } }] });
      expect(plan.diskSizeBytes).to.equal(2 * GIB);
      expect(plan.label).to.equal("CIDATA");
      expect(plan.contentBytes).to.equal(1.5 * GIB);
    });

    it("accepts a file of 4 GiB - 1 bytes, FAT's largest", async () => {
      const largest = sparseFile("largest.bin", 4 * GIB - 1);
      const plan = await planCidata({
        entries: [{ path: "largest.bin", source: { file: largest } }],
      });
      expect(plan.diskSizeBytes).to.equal(5 * GIB);
      expect(plan.files[0]).to.include({ size: 4 * GIB - 1, clusterCount: 1024 ** 2 });
      expect(plan.directories[0].content.entries[0]).to.include({
        size: 0xffffffff,
        firstCluster: 3,
      });
    });

    it("places the root at cluster 2, then the other directories, then the files, each contiguous", async () => {
      const plan = await planCidata({
        entries: [
          { path: "b/two.txt", source: { content: "x".repeat(5000) } },
          { path: "a/one.txt", source: { content: "1" } },
          { path: "empty.txt", source: { content: "" } },
        ],
      });
      expect(
        plan.directories.map((d) => [d.destination, d.firstCluster, d.clusterCount]),
      ).to.deep.equal([
        ["", 2, 1],
        ["a", 3, 1],
        ["b", 4, 1],
      ]);
      expect(plan.files.map((f) => [f.destination, f.firstCluster, f.clusterCount])).to.deep.equal([
        ["a/one.txt", 5, 1],
        ["b/two.txt", 6, 2],
        ["empty.txt", 0, 0],
      ]);
      expect(plan.usedClusters).to.equal(6);
      const [, a, b] = plan.directories;
      // ".." of a child of the root points at cluster 0, by FAT convention.
      expect(a.content.dotEntries).to.deep.equal({ selfCluster: 3, parentCluster: 0 });
      expect(b.content.entries).to.deep.equal([
        { name: "two.txt", shortName: "TWO.TXT", isDirectory: false, firstCluster: 6, size: 5000 },
      ]);
    });

    it("merges entries that fill the same directory", async () => {
      const first = path.dirname(file("first/a.txt"));
      const second = path.dirname(file("second/b.txt"));
      const plan = await planCidata({
        entries: [
          { path: "ctx", source: { directory: first } },
          { path: "ctx", source: { directory: second } },
          { path: "ctx/c.txt", source: { content: "c" } },
        ],
      });
      expect(plan.files.map((f) => f.destination)).to.deep.equal([
        "ctx/a.txt",
        "ctx/b.txt",
        "ctx/c.txt",
      ]);
    });

    it("copies a directory linked twice (not a loop) twice", async () => {
      const shared = path.dirname(file("shared/data.txt"));
      fs.mkdirSync(path.join(dir, "ctx"));
      fs.symlinkSync(shared, path.join(dir, "ctx", "one"));
      fs.symlinkSync(shared, path.join(dir, "ctx", "two"));
      const plan = await planCidata({
        entries: [{ path: "ctx", source: { directory: path.join(dir, "ctx") } }],
      });
      expect(plan.files.map((f) => f.destination)).to.deep.equal([
        "ctx/one/data.txt",
        "ctx/two/data.txt",
      ]);
    });

    it("derives the volume serial from the plan, so it is stable and follows the inputs", async () => {
      const spec = (content: string): CidataSpec => ({
        entries: [{ path: "user-data", source: { content } }],
      });
      const [first, again, other] = await Promise.all([
        planCidata(spec("a")),
        planCidata(spec("a")),
        planCidata(spec("b")),
      ]);
      expect(first.volumeSerial).to.equal(again.volumeSerial);
      expect(first.volumeSerial).not.to.equal(other.volumeSerial);
    });

    it("accepts an explicit label and disk size", async () => {
      const plan = await planCidata({ entries: [], label: "SCRATCH", diskSizeBytes: 3 * GIB });
      expect(plan).to.include({ label: "SCRATCH", diskSizeBytes: 3 * GIB });
    });
  });

  describe("bad input, each reported before anything is written", () => {
    const missingSources: Array<
      [string, string, string, (local: string) => CidataEntry["source"]]
    > = [
      ["a missing file", "context/run.sh", "nope.sh", (local) => ({ file: local })],
      ["a missing directory", "context", "no-such-dir", (local) => ({ directory: local })],
    ];
    for (const [title, destination, localName, sourceOf] of missingSources) {
      it(title, async () => {
        const missing = path.join(dir, localName);
        await expectPlanError(
          entriesSpec([destination, sourceOf(missing)]),
          `${JSON.stringify(destination)} (local path ${JSON.stringify(missing)}): does not exist (or is a symlink to nothing): create it or fix the path`,
          { localPath: missing, destinationPath: destination },
        );
      });
    }

    it("a dangling symlink inside a directory", async () => {
      fs.mkdirSync(path.join(dir, "ctx"));
      const link = path.join(dir, "ctx", "gone");
      fs.symlinkSync(path.join(dir, "nowhere"), link);
      await expectPlanError(
        entriesSpec(["context", { directory: path.join(dir, "ctx") }]),
        `"context/gone" (local path ${JSON.stringify(link)}): does not exist (or is a symlink to nothing): create it or fix the path`,
        { localPath: link, destinationPath: "context/gone" },
      );
    });

    it("an unreadable file", async function () {
      if (process.getuid?.() === 0) {
        console.warn(
          "\n    !!! SKIPPED unreadable-file test: running as root, which reads any file regardless of permissions.\n",
        );
        this.skip();
      }
      const secret = file("secret.txt");
      fs.chmodSync(secret, 0o000);
      await expectPlanError(
        entriesSpec(["secret.txt", { file: secret }]),
        `"secret.txt" (local path ${JSON.stringify(secret)}): cannot be read (permission denied): grant read access or leave it out`,
        { localPath: secret, destinationPath: "secret.txt" },
      );
    });

    it("names that differ only in case, within a directory", async () => {
      file("ctx/Run.sh");
      file("ctx/run.sh");
      await expectPlanError(
        entriesSpec(["context", { directory: path.join(dir, "ctx") }]),
        '"context/run.sh": collides with "context/Run.sh": FAT compares names case-insensitively, so one directory cannot hold both; rename one',
        { destinationPath: "context/run.sh" },
      );
    });

    it("names that differ only in case, across entries, Unicode included", async () => {
      const readme = file("ctx/ÉTÉ.md");
      await expectPlanError(
        entriesSpec(
          ["context", { directory: path.dirname(readme) }],
          ["context/été.md", { content: "summer" }],
        ),
        '"context/été.md": collides with "context/ÉTÉ.md": FAT compares names case-insensitively, so one directory cannot hold both; rename one',
        { destinationPath: "context/été.md" },
      );
    });

    it("a file of 4 GiB or more", async () => {
      const huge = sparseFile("huge.bin", 4 * GIB);
      await expectPlanError(
        entriesSpec(["huge.bin", { file: huge }]),
        `"huge.bin" (local path ${JSON.stringify(huge)}): is 4294967296 bytes; FAT holds files up to 4 GiB - 1 (4294967295 bytes): split or compress it`,
        { localPath: huge, destinationPath: "huge.bin" },
      );
    });

    it("a symlink loop back to a containing directory", async () => {
      file("ctx/sub/a.txt");
      const link = path.join(dir, "ctx", "sub", "back");
      fs.symlinkSync("..", link);
      await expectPlanError(
        entriesSpec(["context", { directory: path.join(dir, "ctx") }]),
        `"context/sub/back" (local path ${JSON.stringify(link)}): is a symlink loop: it leads back to ${JSON.stringify(path.join(dir, "ctx"))}, ` +
          "which contains it; remove or retarget the link",
        { localPath: link, destinationPath: "context/sub/back" },
      );
    });

    it("a symlink that points at itself", async () => {
      const link = path.join(dir, "self");
      fs.symlinkSync(link, link);
      await expectPlanError(
        entriesSpec(["self", { file: link }]),
        `"self" (local path ${JSON.stringify(link)}): is a symlink loop (a chain of links that never reaches a file): fix or remove the link`,
        { localPath: link, destinationPath: "self" },
      );
    });

    it("a local name with a character FAT forbids", async () => {
      const bad = file("ctx/what?.txt");
      await expectPlanError(
        entriesSpec(["context", { directory: path.join(dir, "ctx") }]),
        `"context/what?.txt" (local path ${JSON.stringify(bad)}): the name "what?.txt" contains "?", which FAT names cannot hold ` +
          '(none of "*/:<>?\\|); rename it',
        { localPath: bad, destinationPath: "context/what?.txt" },
      );
    });

    it("destination names FAT cannot hold", async () => {
      const cases: [string, string][] = [
        [
          "a/b:c",
          'the name "b:c" contains ":", which FAT names cannot hold (none of "*/:<>?\\|); rename it',
        ],
        ["notes.", 'the name "notes." ends with a dot or a space, which FAT drops; rename it'],
        ["tab\there", 'the name "tab\\there" contains the control character U+0009; rename it'],
        [
          `${"n".repeat(256)}`,
          `the name "${"n".repeat(256)}" is 256 UTF-16 units long; FAT long names hold at most 255; rename it`,
        ],
        ["a/../b", 'the name ".." is reserved; rename it'],
      ];
      for (const [destination, message] of cases) {
        await expectPlanError(
          entriesSpec([destination, { content: "" }]),
          `${JSON.stringify(destination)}: ${message}`,
          {
            destinationPath: destination,
          },
        );
      }
    });

    it("malformed destination paths", async () => {
      await expectPlanError(
        entriesSpec(["/etc/passwd", { content: "" }]),
        '"/etc/passwd": path must be relative to the volume root: remove the leading slash',
        { destinationPath: "/etc/passwd" },
      );
      await expectPlanError(
        entriesSpec(["a//b", { content: "" }]),
        '"a//b": path has an empty segment (a doubled or trailing slash): remove it',
        { destinationPath: "a//b" },
      );
      await expectPlanError(
        entriesSpec(["", { content: "" }]),
        '"entries[0].path": path must be a non-empty "/"-separated string such as "context/run.sh"',
        { destinationPath: "entries[0].path" },
      );
    });

    it("a malformed source", async () => {
      const malformed = (source: unknown): CidataSpec =>
        ({ entries: [{ path: "x", source }] }) as unknown as CidataSpec;
      const message =
        '"entries[0].source": source must be exactly one of { file: string }, { directory: string } or { content: string | Uint8Array }';
      const location = { destinationPath: "entries[0].source" };
      await expectPlanError(malformed({ url: "https://example.com" }), message, location);
      await expectPlanError(malformed({ file: "a", content: "b" }), message, location);
      await expectPlanError(
        malformed({ file: 42 }),
        '"entries[0].source.file": source.file must be a path string',
        {
          destinationPath: "entries[0].source.file",
        },
      );
    });

    it("a file given as a directory, and a directory given as a file", async () => {
      const plain = file("plain.txt");
      await expectPlanError(
        entriesSpec(["ctx", { directory: plain }]),
        `"ctx" (local path ${JSON.stringify(plain)}): source.directory is not a directory; use { file: ... } to copy a file`,
        { localPath: plain, destinationPath: "ctx" },
      );
      await expectPlanError(
        entriesSpec(["ctx", { file: dir }]),
        `"ctx" (local path ${JSON.stringify(dir)}): source.file is a directory; use { directory: ... } to copy a directory`,
        { localPath: dir, destinationPath: "ctx" },
      );
    });

    it("a FIFO, which is neither a file nor a directory", async () => {
      fs.mkdirSync(path.join(dir, "ctx"));
      const fifo = path.join(dir, "ctx", "pipe");
      execFileSync("mkfifo", [fifo]);
      await expectPlanError(
        entriesSpec(["context", { directory: path.join(dir, "ctx") }]),
        `"context/pipe" (local path ${JSON.stringify(fifo)}): is neither a regular file nor a directory (a socket, FIFO or device); leave it out`,
        { localPath: fifo, destinationPath: "context/pipe" },
      );
    });

    it("the same destination twice, and a file where a directory is needed", async () => {
      await expectPlanError(
        entriesSpec(["user-data", { content: "a" }], ["user-data", { content: "b" }]),
        '"user-data": is given twice; each destination may be filled once',
        { destinationPath: "user-data" },
      );
      await expectPlanError(
        entriesSpec(["config", { content: "a" }], ["config/value", { content: "b" }]),
        '"config": is a file, but "config/value" needs it to be a directory',
        { destinationPath: "config" },
      );
    });

    it("content larger than an explicitly chosen disk", async () => {
      const big = sparseFile("big.bin", 1.5 * GIB);
      await expectPlanError(
        { entries: [{ path: "big.bin", source: { file: big } }], diskSizeBytes: GIB },
        '"diskSizeBytes": the content (1610612736 bytes in 1 files, 393217 clusters of 4096 bytes) does not fit a 1 GiB disk ' +
          "(261628 clusters): raise diskSizeBytes to 2 GiB or leave it unset",
        { destinationPath: "diskSizeBytes" },
      );
    });

    it("a disk size that is not a whole number of GiB", async () => {
      for (const diskSizeBytes of [GIB + 512, 0, 2048 * GIB]) {
        await expectPlanError(
          { entries: [], diskSizeBytes },
          `"diskSizeBytes": ${diskSizeBytes} is not a whole number of GiB between 1 GiB (1073741824) and 2047 GiB: ` +
            "GCE disks come in whole GiB and FAT32 counts 512-byte sectors in 32 bits; use n * 1024 ** 3 or leave it unset",
          { destinationPath: "diskSizeBytes" },
        );
      }
    });

    it("a label FAT cannot hold", async () => {
      await expectPlanError(
        { entries: [], label: "cidata" },
        `"label": "cidata" is not a FAT volume label: use 1 to 11 characters from A-Z, 0-9, space and !#$%&'()-@^_\`{}~ ` +
          '(upper case, not starting with a space), such as "CIDATA"',
        { destinationPath: "label" },
      );
    });

    it("a directory with more entries than FAT allows", async () => {
      // 22 000 names of 14 characters take 3 slots each (two long-name slots and the 8.3 entry).
      const entries = Array.from({ length: 22000 }, (_, index) => ({
        path: `many/file-${String(index).padStart(5, "0")}.txt`,
        source: { content: "" },
      }));
      await expectPlanError(
        { entries },
        '"many": holds 22000 entries taking 66002 directory slots; a FAT directory holds at most 65536 ' +
          "(long names take a slot per 13 characters): spread the files over subdirectories",
        { destinationPath: "many" },
      );
    });
  });
});
