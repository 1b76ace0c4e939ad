import { expect } from "chai";
import { scriptedGuest, type ScriptedGuestOptions } from "../../emulator";
import { PROTOCOL_VERSION } from "../../components/guest/protocol";
import { eventually, startHarness, ZONE, type Harness } from "./harness";
import { attachDisk, cosBootDisk, getInstance, insertDisk, insertInstance } from "./harness";
import { instanceRef as ref, serialOutput, setMetadata, stopInstance } from "./harness";

/** Scenario per instance name. */
const SCENARIOS: Record<string, ScriptedGuestOptions> = {
  "build-ok": { statusLines: 3 },
  "build-fail": {
    statusLines: 2,
    outcome: "failure",
    failureStep: "step 2/3 runScript install.sh",
    failureReason: "exit status 7",
    failureShutdownMs: 0,
  },
  "build-hang": { statusLines: 2, outcome: "hang" },
  "build-reboot": { statusLines: 4, rebootAfterLines: 2 },
  "build-noack": { statusLines: 1, ackTimeoutMs: 0 },
  "build-nocidata": { statusLines: 1, cidataTimeoutMs: 0, failureShutdownMs: 0 },
  "build-long": { statusLines: 60, lineIntervalMs: 1 },
};

describe("emulator: scripted build guests end to end through the API", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      guestFor: (instance) =>
        SCENARIOS[instance.name] ? scriptedGuest(SCENARIOS[instance.name]) : undefined,
    });
    await insertDisk(h, { name: "template", sizeGb: "1" });
  });
  after(() => h.close());

  async function startBuild(name: string, buildId: string): Promise<void> {
    await insertInstance(h, {
      name,
      machineType: "e2-standard-2",
      labels: { "pci-build-id": buildId },
      metadata: {
        items: [
          { key: "pci-build-id", value: buildId },
          { key: "user-data", value: "#cloud-config\n" },
        ],
      },
      disks: [cosBootDisk({}, { autoDelete: true, deviceName: "boot" })],
    });
  }

  /** What the orchestrator does once the cidata image is imported: create the disk and hot-attach it. */
  async function attachCidata(name: string): Promise<void> {
    await insertDisk(h, { name: `${name}-cidata`, sizeGb: "1" });
    await attachDisk(h, name, {
      source: `zones/${ZONE}/disks/${name}-cidata`,
      deviceName: "cidata",
      mode: "READ_ONLY",
      autoDelete: true,
    });
  }

  /** Follows serial port 3 with start/next like the orchestrator, until `done(lines)`. */
  async function followSerial(name: string, done: (lines: string[]) => boolean): Promise<string[]> {
    let next = 0;
    let text = "";
    return eventually(async () => {
      const out = await serialOutput(h, name, 3, next);
      expect(Number(out.start)).to.equal(next);
      text += out.contents ?? "";
      next = Number(out.next);
      const lines = text.split("\n").filter(Boolean);
      return done(lines) ? lines : undefined;
    });
  }

  async function ack(name: string, value: string): Promise<void> {
    const vm = await getInstance(h, name);
    const kept = (vm.metadata?.items ?? [])
      .filter((i) => i.key !== "pci-build-ack")
      .map(({ key, value: v }) => ({ key, value: v }));
    const items = [...kept, { key: "pci-build-ack", value }];
    await setMetadata(h, name, { fingerprint: vm.metadata?.fingerprint, items });
  }

  async function status(name: string): Promise<string> {
    return String((await getInstance(h, name)).status);
  }

  /** Starts build `name`, attaches its cidata disk, and returns port 3's lines once `verdict` shows. */
  async function buildUntil(
    name: string,
    buildId: string,
    verdict: "BuildSucceeded:" | "BuildFailed:",
  ): Promise<string[]> {
    await startBuild(name, buildId);
    await attachCidata(name);
    return followSerial(name, (l) => l.some((x) => x.startsWith(verdict)));
  }

  it("success: waits for the hot-attached cidata disk, prints the protocol lines in order, powers off after the ack", async () => {
    await startBuild("build-ok", "b-ok");
    // Nothing on port 3 until the cidata disk is attached.
    const before = await serialOutput(h, "build-ok", 3);
    expect(before.contents ?? "").to.equal("");
    await attachCidata("build-ok");
    const lines = await followSerial("build-ok", (l) =>
      l.some((x) => x.startsWith("BuildSucceeded:")),
    );
    expect(lines).to.deep.equal([
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-ok`,
      "BuildStatus: step 1/3: working",
      "BuildStatus: step 2/3: working",
      "BuildStatus: step 3/3: working",
      "BuildSucceeded: Build completed with no errors; waiting for the acknowledgement",
    ]);
    // An ack for another build is ignored; the right one powers the guest off.
    await ack("build-ok", "someone-else");
    expect(await status("build-ok")).to.equal("RUNNING");
    await ack("build-ok", "b-ok");
    await h.emulator.untilInstanceStatus(ref("build-ok"), "TERMINATED");
    expect(await status("build-ok")).to.equal("TERMINATED");
    expect(h.emulator.instanceStatusHistory(ref("build-ok")).map((s) => s.status)).to.deep.equal([
      "PROVISIONING",
      "STAGING",
      "RUNNING",
      "STOPPING",
      "TERMINATED",
    ]);
    // Write times are recorded per line, in order, for detection-lag measurements.
    const written = h.emulator.serialLines(ref("build-ok"));
    expect(written.map((l) => l.text)).to.deep.equal(lines);
    for (let i = 1; i < written.length; i++)
      expect(written[i].writtenAt).to.be.at.least(written[i - 1].writtenAt);
  });

  it("failure: prints BuildFailed with step and reason, then powers off", async () => {
    expect(await buildUntil("build-fail", "b-fail", "BuildFailed:")).to.deep.equal([
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-fail`,
      "BuildStatus: step 1/2: working",
      "BuildStatus: step 2/2: working",
      "BuildFailed: step 2/3 runScript install.sh: exit status 7",
    ]);
    await h.emulator.untilInstanceStatus(ref("build-fail"), "TERMINATED");
  });

  it("hang: prints nothing after its status lines and runs until stopped", async () => {
    await startBuild("build-hang", "b-hang");
    await attachCidata("build-hang");
    await followSerial("build-hang", (l) => l.length === 3);
    expect(await status("build-hang")).to.equal("RUNNING");
    await stopInstance(h, "build-hang");
    expect(h.emulator.serialLines(ref("build-hang")).map((l) => l.text)).to.deep.equal([
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-hang`,
      "BuildStatus: step 1/2: working",
      "BuildStatus: step 2/2: working",
    ]);
  });

  it("reboot: the instance stays RUNNING, the guest announces itself again and resumes after the last step", async () => {
    const lines = await buildUntil("build-reboot", "b-reboot", "BuildSucceeded:");
    expect(lines).to.deep.equal([
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-reboot`,
      "BuildStatus: step 1/4: working",
      "BuildStatus: step 2/4: working",
      "BuildStatus: Rebooting...",
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-reboot`,
      "BuildStatus: step 3/4: working",
      "BuildStatus: step 4/4: working",
      "BuildSucceeded: Build completed with no errors; waiting for the acknowledgement",
    ]);
    expect(
      h.emulator.instanceStatusHistory(ref("build-reboot")).map((s) => s.status),
    ).to.deep.equal(["PROVISIONING", "STAGING", "RUNNING"]);
    const console1 = h.emulator.serialLines(ref("build-reboot"), 1).map((l) => l.text);
    expect(console1.some((l) => l.endsWith("boot 2"))).to.equal(true);
    await ack("build-reboot", "b-reboot");
    await h.emulator.untilInstanceStatus(ref("build-reboot"), "TERMINATED");
  });

  it("powers off anyway when nobody acknowledges within the bound", async () => {
    await startBuild("build-noack", "b-noack");
    await attachCidata("build-noack");
    await h.emulator.untilInstanceStatus(ref("build-noack"), "TERMINATED");
    expect(
      h.emulator
        .serialLines(ref("build-noack"))
        .map((l) => l.text)
        .pop(),
    ).to.match(/^BuildSucceeded:/);
  });

  it("fails in setup when the cidata disk never arrives", async () => {
    await startBuild("build-nocidata", "b-nocidata");
    await h.emulator.untilInstanceStatus(ref("build-nocidata"), "TERMINATED");
    expect(h.emulator.serialLines(ref("build-nocidata")).map((l) => l.text)).to.deep.equal([
      `BuildProtocol: ${PROTOCOL_VERSION} build=b-nocidata`,
      "BuildFailed: setup: the cidata disk was never attached",
    ]);
  });

  it("long run: paced status lines are all delivered through start/next", async () => {
    const lines = await buildUntil("build-long", "b-long", "BuildSucceeded:");
    expect(lines.filter((l) => l.startsWith("BuildStatus:"))).to.have.length(60);
    await ack("build-long", "b-long");
    await h.emulator.untilInstanceStatus(ref("build-long"), "TERMINATED");
  });

  it("gives build instances (metadata pci-build-id) the default scripted guest and others an idle one", async () => {
    const other = await startHarness({ defaultGuest: { statusLines: 1, waitForCidata: false } });
    try {
      for (const [name, metadata] of [
        ["default-build", [{ key: "pci-build-id", value: "b-d" }]],
        ["plain-vm", []],
      ] as const) {
        await insertInstance(other, {
          name,
          machineType: "e2-small",
          metadata: { items: [...metadata] },
          disks: [cosBootDisk()],
        });
      }
      const buildRef = ref("default-build");
      await eventually(() =>
        other.emulator.serialLines(buildRef).some((l) => l.text.startsWith("BuildSucceeded:"))
          ? true
          : undefined,
      );
      expect(other.emulator.serialLines(ref("plain-vm"))).to.deep.equal([]);
      expect(other.emulator.serialLines(ref("plain-vm"), 1).map((l) => l.text)).to.include(
        "plain-vm login: ",
      );
    } finally {
      await other.close();
    }
  });
});
