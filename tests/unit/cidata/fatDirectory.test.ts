import { expect } from "chai";
import { encodeDirectory, slotsForName } from "../../../components/cidata/fatDirectory";

/** A directory of one file, encoded into a zeroed buffer of `slots` slots. */
function encodeOne(name: string, shortName: string, slots: number): Buffer {
  const bytes = Buffer.alloc(slots * 32);
  encodeDirectory(
    { entries: [{ name, shortName, isDirectory: false, firstCluster: 0x12345, size: 5 }] },
    bytes,
  );
  return bytes;
}

describe("FAT directory entries", () => {
  it("encode a lower-case name as one long-name slot and its 8.3 entry, byte for byte", () => {
    expect(slotsForName("a.sh")).to.equal(2);
    const bytes = encodeOne("a.sh", "A.SH", 2);
    const longNameSlot = Buffer.from(
      // order 1 | last (0x40); "a.s" / attribute 0x0F, type 0, checksum of "A       SH " (0x61); "h", NUL, FFFF padding; cluster 0; FFFF padding
      "41 6100 2e00 7300 6800 0000 0f 00 61 ffff ffff ffff ffff ffff ffff 0000 ffff ffff".replace(
        / /g,
        "",
      ),
      "hex",
    );
    expect(bytes.subarray(0, 32).toString("hex")).to.equal(longNameSlot.toString("hex"));
    const shortEntry = bytes.subarray(32, 64);
    expect(shortEntry.subarray(0, 11).toString("latin1")).to.equal("A       SH ");
    expect(shortEntry[11]).to.equal(0x20); // archive
    expect(shortEntry.readUInt16LE(16)).to.equal(0x21); // 1980-01-01
    expect(shortEntry.readUInt16LE(20)).to.equal(0x1); // cluster, high word
    expect(shortEntry.readUInt16LE(26)).to.equal(0x2345); // cluster, low word
    expect(shortEntry.readUInt32LE(28)).to.equal(5);
  });

  it("store a name outside the Basic Multilingual Plane as a UTF-16 surrogate pair", () => {
    const bytes = encodeOne("📦.json", "_~1.JSO", 2);
    expect(bytes.readUInt16LE(1)).to.equal(0xd83d);
    expect(bytes.readUInt16LE(3)).to.equal(0xdce6);
  });

  it("spread a long name over slots of 13 units, last part first", () => {
    const name = "x".repeat(26);
    expect(slotsForName(name)).to.equal(3);
    const bytes = encodeOne(name, "XXXXXX~1", 3);
    expect([bytes[0], bytes[32]]).to.deep.equal([0x42, 0x01]);
    // 26 units fill both slots exactly: no NUL terminator, no padding.
    expect(bytes.readUInt16LE(30)).to.equal(0x78);
  });

  it("start a subdirectory with '.' and '..', and the root with the volume label", () => {
    const sub = Buffer.alloc(64);
    encodeDirectory({ dotEntries: { selfCluster: 7, parentCluster: 0 }, entries: [] }, sub);
    expect(sub.subarray(0, 11).toString("latin1")).to.equal(".          ");
    expect(sub.readUInt16LE(26)).to.equal(7);
    expect(sub.subarray(32, 43).toString("latin1")).to.equal("..         ");
    expect(sub.readUInt16LE(32 + 26)).to.equal(0);
    const root = Buffer.alloc(32);
    encodeDirectory({ volumeLabel: "CIDATA", entries: [] }, root);
    expect(root.subarray(0, 11).toString("latin1")).to.equal("CIDATA     ");
    expect(root[11]).to.equal(0x08);
  });
});
