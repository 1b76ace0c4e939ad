import { expect } from "chai";
import {
  LastLines,
  SerialLineReader,
  doneStepOf,
  parseBuildLine,
  startedStepOf,
} from "../../components/guest/serialLines";

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
    const parsed: Array<[string, ReturnType<typeof parseBuildLine>]> = [
      [
        "BuildProtocol: 1 build=abc123",
        { kind: "protocol", version: 1, buildId: "abc123", stage: "provisioner" },
      ],
      ["BuildStatus: step 1/2 runScript a.sh", { kind: "status", text: "step 1/2 runScript a.sh" }],
      ["BuildSucceeded: all done", { kind: "succeeded", text: "all done" }],
      [
        "BuildFailed: step 2/3 runScript b.sh: exit status 7",
        { kind: "failed", step: "step 2/3 runScript b.sh", reason: "exit status 7" },
      ],
      ["BuildFailed: oops", { kind: "failed", step: "unknown step", reason: "oops" }],
      // A user script printing a marker is wrapped in BuildStatus by the provisioner.
      ["BuildStatus: BuildFailed: fake", { kind: "status", text: "BuildFailed: fake" }],
      ["[  OK  ] Started something", { kind: "other", text: "[  OK  ] Started something" }],
    ];
    for (const [line, expected] of parsed)
      expect(parseBuildLine(line), line).to.deep.equal(expected);
    expect(parseBuildLine("BuildProtocol: 1 build=abc123 stage=boot")).to.deep.include({
      buildId: "abc123",
      stage: "boot",
    });
    expect(parseBuildLine("BuildProtocol: x").kind).to.equal("protocol");
  });

  it("parses a disk resize request, and a malformed one as NaN", () => {
    expect(parseBuildLine("BuildDiskResize: 11")).to.deep.equal({
      kind: "diskResize",
      sizeGb: 11,
      text: "11",
    });
    expect(parseBuildLine("BuildDiskResize: 11GB")).to.deep.include({
      kind: "diskResize",
      text: "11GB",
    });
    expect(parseBuildLine("BuildDiskResize: 11GB")).to.have.property("sizeGb").that.is.NaN;
    expect(parseBuildLine("BuildStatus: BuildDiskResize: 11")).to.deep.equal({
      kind: "status",
      text: "BuildDiskResize: 11",
    });
  });

  it("reads the step a status line says has started", () => {
    expect(startedStepOf("step 2/3 extendOemPartition: started")).to.equal(
      "step 2/3 extendOemPartition",
    );
    expect(startedStepOf("step 1/2 runScript a: b.sh: started")).to.equal(
      "step 1/2 runScript a: b.sh",
    );
    expect(startedStepOf("step 2/3 extendOemPartition: done")).to.equal(undefined);
    expect(startedStepOf("resuming with step 2 of 3")).to.equal(undefined);
    // The disk layout of a disk-layout step, made before the first step, says so in parentheses.
    expect(
      startedStepOf("step 1/2 sealOemPartition: started (its disk layout, before the first step)"),
    ).to.equal("step 1/2 sealOemPartition");
    expect(startedStepOf("step 1/2 runScript a.sh: started later")).to.equal(undefined);
  });

  it("reads the step a status line says is done", () => {
    expect(doneStepOf("step 1/2 runScript a: b.sh: done")).to.equal("step 1/2 runScript a: b.sh");
    expect(doneStepOf("step 1/2 runScript a.sh: started")).to.equal(undefined);
    expect(doneStepOf("disk layout at shutdown: done")).to.equal(undefined);
  });

  it("keeps only the last lines", () => {
    const last = new LastLines(3);
    for (let i = 0; i < 10; i++) last.add(`line ${i}`);
    expect(last.all).to.deep.equal(["line 7", "line 8", "line 9"]);
  });
});
