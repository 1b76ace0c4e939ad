import { expect } from "chai";
import * as fs from "node:fs";
import { PROTOCOL_VERSION } from "../../components/guest/protocol";
import { BUILD_ID, MACHINE_FILES, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine, serialLines } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

/** What cleaning does to each file of {@link MACHINE_FILES}. */
const AFTER_CLEANING: Record<string, "removed" | "emptied" | "kept"> = {
  "var/log/syslog": "emptied",
  "var/log/cloud-init.log": "emptied",
  "var/log/journal/0123/system.journal": "removed",
  "var/log/audit/audit.log": "removed",
  "var/lib/cloud/instance/user-data.txt": "removed",
  "var/lib/cloud/instances/build-0001/sem/config_runcmd": "removed",
  "etc/ssh/ssh_host_ed25519_key": "removed",
  "etc/ssh/ssh_host_ed25519_key.pub": "removed",
  "etc/ssh/sshd_config": "kept",
  "root/.bash_history": "removed",
  "root/.docker/config.json": "removed",
  "home/chronos/.bash_history": "removed",
  "etc/docker/key.json": "removed",
  "etc/machine-id": "emptied",
  "var/lib/systemd/random-seed": "removed",
  "var/lib/systemd/credential.secret": "removed",
  "var/lib/systemd/timers/stamp-apt-daily.timer": "kept",
  "tmp/leftover": "removed",
  "tmp/.hidden": "removed",
  "var/tmp/leftover": "removed",
  "var/cache/man/index.db": "removed",
  "var/cache/apt/pkgcache.bin": "kept",
  "var/lib/update_engine/prefs/last-check": "removed",
  "mnt/stateful_partition/etc/overlay": "removed",
  "etc/systemd/system/preloaded-cos-image.service": "removed",
  "etc/systemd/system/multi-user.target.wants/preloaded-cos-image.service": "removed",
  "etc/preloaded-cos-image/start.sh": "removed",
};

/** Directories that must still exist, empty, after cleaning. */
const EMPTIED_DIRS = ["var/lib/cloud", "var/log/journal", "var/log/audit", "tmp", "var/tmp"];

describe("provisioner: finishing a build", function () {
  this.timeout(30_000);
  const { metadata, sandbox } = useSandboxes();
  const oneScript = { type: "runScript", script: "s.sh", env: {}, allowReboot: false } as const;

  it("cleans the machine file by file before BuildSucceeded, then unmounts CIDATA", async () => {
    const box = sandbox({
      config: testConfig([oneScript]),
      context: { "s.sh": "echo hi" },
      env: { STUB_ACTIVE_UNITS: "systemd-journald.service systemd-random-seed.service" },
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    expect(MACHINE_FILES).to.have.all.keys(Object.keys(AFTER_CLEANING));
    for (const [file, fate] of Object.entries(AFTER_CLEANING)) {
      const full = box.machinePath(file);
      if (fate === "removed") expect(fs.existsSync(full), `${file} removed`).to.equal(false);
      else if (fate === "emptied")
        expect(fs.readFileSync(full, "utf8"), `${file} emptied`).to.equal("");
      else expect(fs.readFileSync(full, "utf8"), `${file} kept`).to.equal(MACHINE_FILES[file]);
    }
    for (const dir of EMPTIED_DIRS)
      expect(fs.readdirSync(box.machinePath(dir)), dir).to.deep.equal([]);
    expect(fs.existsSync(box.machinePath("var/lib/.preloaded-cos-image"))).to.equal(false);
    const stops = box.calls("systemctl").filter((call) => call.args[0] === "stop");
    expect(stops.map((call) => call.args[1])).to.deep.equal([
      "systemd-random-seed.service",
      "systemd-journald.service",
    ]);
    const unmounts = box.calls("umount").map((call) => call.args[0]);
    expect(unmounts).to.deep.equal([
      box.machinePath("root"),
      box.machinePath("var/lib/.preloaded-cos-image/context"),
      box.machinePath("mnt/disks/cidata"),
    ]);
    const mounts = box.calls("mount").map((call) => call.args);
    expect(mounts).to.deep.include([
      "-t",
      "tmpfs",
      "-o",
      "mode=0700",
      "tmpfs",
      box.machinePath("root"),
    ]);
    expect(mounts).to.deep.include([
      "-o",
      "remount,bind,exec",
      box.machinePath("var/lib/.preloaded-cos-image/context"),
    ]);
  });

  it("waits for the acknowledgement with wait-for-change requests, then powers off", async () => {
    const box = sandbox({
      config: testConfig([oneScript], { ackKey: "late-ack", ackTimeoutSeconds: 20 }),
      context: { "s.sh": "true" },
    });
    const before = metadata.requests.length;
    let acknowledged = 0;
    const run = box.run({ acknowledge: false });
    const timer = setInterval(() => {
      if (metadata.requests.slice(before).some((request) => request.path.endsWith("/late-ack"))) {
        clearInterval(timer);
        setTimeout(() => {
          metadata.setAttribute("late-ack", "some-other-build");
          setTimeout(
            () => ((acknowledged = Date.now()), metadata.setAttribute("late-ack", BUILD_ID)),
            2_000,
          );
        }, 300);
      }
    }, 50);
    const result = await run;
    clearInterval(timer);
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(serialLines(result.serial).pop()).to.match(/^BuildSucceeded: /);
    expect(box.calls("poweroff")).to.have.length(1);
    expect(acknowledged).to.be.greaterThan(0);
    expect(result.milliseconds).to.be.lessThan(10_000);
    const requests = metadata.requests
      .slice(before)
      .filter((request) => request.path.endsWith("/late-ack"));
    expect(
      requests.every(
        (request) => request.flavored && request.query.get("wait_for_change") === "true",
      ),
    ).to.equal(true);
    expect(
      requests.some((request) => request.query.get("last_etag")?.startsWith("etag-")),
    ).to.equal(true);
  });

  it("powers off after the bounded wait when nobody acknowledges", async () => {
    const box = sandbox({
      config: testConfig([oneScript], { ackKey: "never-set", ackTimeoutSeconds: 2 }),
      context: { "s.sh": "true" },
    });
    const result = await box.run({ acknowledge: false });
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    expect(box.calls("poweroff")).to.have.length(1);
    expect(result.milliseconds).to.be.within(2_000, 8_000);
  });

  it("powers off after failureShutdownSeconds on failure, whatever the orchestrator does", async () => {
    const box = sandbox({
      config: testConfig([{ ...oneScript, script: "missing.sh" }], { failureShutdownSeconds: 2 }),
    });
    const result = await box.run();
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 runScript missing.sh: the script is not in the build context",
    );
    expect(result.milliseconds).to.be.within(2_000, 8_000);
    expect(box.calls("poweroff")).to.have.length(1);
    expect(
      fs.existsSync(box.machinePath("etc/ssh/ssh_host_ed25519_key")),
      "no cleaning on failure",
    ).to.equal(true);
  });

  it("refuses a config of another protocol version, after announcing its own", async () => {
    const box = sandbox({ config: testConfig([], { protocol: PROTOCOL_VERSION + 1 }) });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.equal(
      `BuildFailed: setup: invalid config: protocol ${PROTOCOL_VERSION + 1} is not this provisioner's protocol ${PROTOCOL_VERSION}`,
    );
  });

  it("refuses a CIDATA disk made for another build", async () => {
    const box = sandbox({ config: testConfig([]), env: { PCI_BUILD_ID: "build-0002" } });
    const result = await box.run();
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: setup: invalid config: the CIDATA disk is for build build-0001, but this VM runs build build-0002",
    );
  });
});
