import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { INLINE_CIDATA_MAX_CHARS, inlineCidata } from "../../components/guest/inlineCidata";
import { planCidata } from "../../components/cidata";

describe("the CIDATA tree in instance metadata", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pci-inline-"));
    fs.mkdirSync(path.join(dir, "context", "deep", "er"), { recursive: true });
    fs.writeFileSync(path.join(dir, "context", "setup.sh"), "echo hi\n");
    fs.writeFileSync(path.join(dir, "context", "empty"), "");
    fs.writeFileSync(
      path.join(dir, "context", "deep", "er", `${"long-name-".repeat(12)}.txt`),
      "long\n",
    );
    fs.writeFileSync(path.join(dir, "context", "Ünïcødé ファイル.txt"), "unicode\n");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const plan = () =>
    planCidata({
      entries: [
        { path: "config/build-id", source: { content: "abc" } },
        { path: "context", source: { directory: path.join(dir, "context") } },
      ],
    });

  it("is a gzip'd tar that GNU tar unpacks into the same tree, byte for byte", async () => {
    const text = inlineCidata(await plan());
    expect(text).to.be.a("string");
    const out = path.join(dir, "out");
    fs.mkdirSync(out);
    execFileSync("tar", ["-xzf", "-", "-C", out], { input: Buffer.from(text as string, "base64") });
    const read = (p: string) => fs.readFileSync(path.join(out, p));
    expect(read("config/build-id").toString()).to.equal("abc");
    expect(read("context/setup.sh").toString()).to.equal("echo hi\n");
    expect(read("context/empty").length).to.equal(0);
    expect(read(`context/deep/er/${"long-name-".repeat(12)}.txt`).toString()).to.equal("long\n");
    expect(read("context/Ünïcødé ファイル.txt").toString()).to.equal("unicode\n");
    const listing = execFileSync("tar", ["-tvzf", "-"], {
      input: Buffer.from(text as string, "base64"),
    }).toString();
    expect(listing).to.match(/^drwxr-xr-x root\/root +0 1970-01-01 00:00 config\//m);
    expect(listing).to.match(/^-rw-r--r-- root\/root +8 1970-01-01 00:00 context\/setup\.sh$/m);
  });

  it("gives the same text for the same tree", async () => {
    expect(inlineCidata(await plan())).to.equal(inlineCidata(await plan()));
  });

  it("declines a tree that does not fit one metadata value", async () => {
    fs.writeFileSync(
      path.join(dir, "context", "random.bin"),
      crypto.randomBytes(INLINE_CIDATA_MAX_CHARS),
    );
    expect(inlineCidata(await plan())).to.equal(undefined);
    // And does not even read a tree far beyond the limit.
    expect(inlineCidata(await plan(), 10)).to.equal(undefined);
  });
});
