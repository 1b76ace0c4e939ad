import { expect } from "chai";
import { caseFoldKey, isExactShortName } from "../../../components/cidata/fatNames";
import { ShortNameAllocator } from "../../../components/cidata/fatNames";

describe("FAT names", () => {
  it("tells exact upper-case 8.3 names, which need no long name, from the rest", () => {
    for (const name of ["README", "A.SH", "RUN~1.SH", "X_Y-Z.$$$"])
      expect(isExactShortName(name), name).to.equal(true);
    for (const name of ["a.sh", "ABCDEFGHI", "A.TEXT", ".PROFILE", "A B", "A.B.C", "É"])
      expect(isExactShortName(name), name).to.equal(false);
  });

  it("compares names case-insensitively, one UTF-16 unit at a time, as FAT's up-case table does", () => {
    expect(caseFoldKey("Run.sh")).to.equal(caseFoldKey("RUN.SH"));
    expect(caseFoldKey("été")).to.equal(caseFoldKey("ÉTÉ"));
    expect(caseFoldKey("straße")).not.to.equal(caseFoldKey("STRASSE"));
  });

  it("derives 8.3 aliases as Windows does: upper case, '_' for what 8.3 cannot hold, ~n when lossy or truncated", () => {
    const cases: [string, string][] = [
      ["Makefile", "MAKEFILE"],
      ["lower.txt", "LOWER.TXT"],
      ["archive.tar.gz", "ARCHIV~1.GZ"],
      ["Program Files", "PROGRA~1"],
      [".bashrc", "BASHRC~1"],
      ["index.html", "INDEX~1.HTM"],
      ["a+b.txt", "A_B~1.TXT"],
      ["été.txt", "_T_~1.TXT"],
      ["日本語.md", "___~1.MD"],
    ];
    for (const [name, alias] of cases)
      expect(ShortNameAllocator.allocate([name]), name).to.deep.equal([alias]);
  });

  it("keeps aliases unique in a directory, shortening the base as the tail grows, and never takes an exact name", () => {
    const layers = Array.from(
      { length: 11 },
      (_, index) => `layer-${String(index + 1).padStart(5, "0")}.tar.gz`,
    );
    const aliases = ShortNameAllocator.allocate(["LAYER-~2.GZ", ...layers]);
    expect(aliases).to.deep.equal([
      "LAYER-~2.GZ",
      "LAYER-~1.GZ",
      "LAYER-~3.GZ",
      "LAYER-~4.GZ",
      "LAYER-~5.GZ",
      "LAYER-~6.GZ",
      "LAYER-~7.GZ",
      "LAYER-~8.GZ",
      "LAYER-~9.GZ",
      "LAYER~10.GZ",
      "LAYER~11.GZ",
      "LAYER~12.GZ",
    ]);
  });

  it("allocates unique aliases for 30 000 names that share a prefix", () => {
    const names = Array.from({ length: 30000 }, (_, index) => `container-layer-${index}.tar`);
    const aliases = ShortNameAllocator.allocate(names);
    expect(new Set(aliases).size).to.equal(names.length);
    expect(aliases[29999]).to.equal("CO~30000.TAR");
  });
});
