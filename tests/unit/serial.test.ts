import { expect } from "chai";
import { LastLines, SerialLineReader, parseBuildLine } from "../../components/guest/serialLines";

describe("serial port reading", () => {
  it("carries a line split across reads, and a marker split in two", () => {
    const reader = new SerialLineReader();
    expect(
      reader.push({ contents: "BuildStatus: one\nBuildSucc", start: 0, next: 26 }),
    ).to.deep.equal({ lines: ["BuildStatus: one"], gapBytes: 0 });
    expect(reader.nextOffset).to.equal(26);
    expect(reader.push({ contents: "eeded: done\r\n", start: 26, next: 39 }).lines).to.deep.equal([
      "BuildSucceeded: done",
    ]);
  });

  it("reports bytes that fell out of GCE's 1 MB window and drops the broken line", () => {
    const reader = new SerialLineReader();
    reader.push({ contents: "partial", start: 0, next: 7 });
    const poll = reader.push({
      contents: "tail of something\nBuildStatus: two\n",
      start: 5000,
      next: 5035,
    });
    expect(poll.gapBytes).to.equal(4993);
    expect(poll.lines).to.deep.equal(["tail of something", "BuildStatus: two"]);
  });

  it("keeps the unterminated rest for error reports", () => {
    const reader = new SerialLineReader();
    reader.push({ contents: "a\nlast words", start: 0, next: 12 });
    expect(reader.rest()).to.deep.equal(["last words"]);
  });

  it("parses the protocol's markers only at the start of a line", () => {
    expect(parseBuildLine("BuildProtocol: 1 build=abc123")).to.deep.equal({
      kind: "protocol",
      version: 1,
      buildId: "abc123",
      stage: "provisioner",
    });
    expect(parseBuildLine("BuildProtocol: 1 build=abc123 stage=boot")).to.deep.include({
      buildId: "abc123",
      stage: "boot",
    });
    expect(parseBuildLine("BuildStatus: step 1/2 runScript a.sh")).to.deep.equal({
      kind: "status",
      text: "step 1/2 runScript a.sh",
    });
    expect(parseBuildLine("BuildSucceeded: all done")).to.deep.equal({
      kind: "succeeded",
      text: "all done",
    });
    expect(parseBuildLine("BuildFailed: step 2/3 runScript b.sh: exit status 7")).to.deep.equal({
      kind: "failed",
      step: "step 2/3 runScript b.sh",
      reason: "exit status 7",
    });
    expect(parseBuildLine("BuildFailed: oops")).to.deep.equal({
      kind: "failed",
      step: "unknown step",
      reason: "oops",
    });
    // A user script printing a marker is wrapped in BuildStatus by the provisioner.
    expect(parseBuildLine("BuildStatus: BuildFailed: fake")).to.deep.equal({
      kind: "status",
      text: "BuildFailed: fake",
    });
    expect(parseBuildLine("[  OK  ] Started something")).to.deep.equal({
      kind: "other",
      text: "[  OK  ] Started something",
    });
    expect(parseBuildLine("BuildProtocol: x").kind).to.equal("protocol");
  });

  it("keeps only the last lines", () => {
    const last = new LastLines(3);
    for (let i = 0; i < 10; i++) last.add(`line ${i}`);
    expect(last.all).to.deep.equal(["line 7", "line 8", "line 9"]);
  });
});
