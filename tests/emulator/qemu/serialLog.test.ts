import { expect } from "chai";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { serialPortReader } from "../../../emulator/qemu/serialLog";
import { useTempDir } from "../../support/tempDir";

describe("serialPortReader", () => {
  const tmp = useTempDir("pci-serial-");

  it("reads from an offset on, and continues where the last read ended as the file grows", async () => {
    const file = path.join(tmp.path, "serial-port-3.log");
    const reader = serialPortReader(3, file);
    await fs.writeFile(file, "BuildStatus: one\nBuildSt");
    const first = await reader.read(0);
    expect(first.contents.toString()).to.equal("BuildStatus: one\nBuildSt");
    expect(first.next).to.equal(24);

    await fs.appendFile(file, "atus: two\n");
    const second = await reader.read(first.next);
    expect(second.contents.toString()).to.equal("atus: two\n");
    expect(second.next).to.equal(34);
    expect(await reader.size()).to.equal(34);

    const atEnd = await reader.read(second.next);
    expect(atEnd.contents.length).to.equal(0);
    expect(atEnd.next).to.equal(34);
  });

  it("limits a read to maxBytes and reads a missing file as empty", async () => {
    const file = path.join(tmp.path, "s");
    await fs.writeFile(file, "0123456789");
    const reader = serialPortReader(1, file);
    const chunk = await reader.read(2, 3);
    expect(chunk.contents.toString()).to.equal("234");
    expect(chunk.next).to.equal(5);
    expect(await reader.read(50)).to.deep.include({ next: 50 });

    const missing = serialPortReader(2, path.join(tmp.path, "absent"));
    expect((await missing.read(0)).contents.length).to.equal(0);
    expect(await missing.size()).to.equal(0);
  });

  it("rejects negative or fractional offsets", async () => {
    const reader = serialPortReader(1, path.join(tmp.path, "s"));
    for (const offset of [-1, 1.5]) {
      let error: unknown;
      await reader.read(offset).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(RangeError);
    }
  });
});
