import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  PROVISIONER_UNIT_NAME,
  START_SCRIPT_FILE,
  renderCloudConfig,
} from "../../components/guest/cloudConfig";
import {
  FETCH_CIDATA_METADATA_KEY,
  INLINE_CIDATA_METADATA_KEY,
  PROTOCOL_VERSION,
} from "../../components/guest/protocol";
import { FakeObjectServer } from "./harness/fakeObjectServer";
import { parsedCloudConfig, writtenFile } from "./harness/cloudConfigYaml";
import { ASSETS_DIR } from "./harness/paths";
import { BUILD_ID, Sandbox, testConfig } from "./harness/sandbox";
import { expectWellFormedRun, finalLine, serialLines } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

const UNIT_PATH = `/etc/systemd/system/${PROVISIONER_UNIT_NAME}`;
const START_PATH = "/etc/preloaded-cos-image/start.sh";

describe("cloud-config", function () {
  this.timeout(30_000);

  it("is YAML with a oneshot unit writing to serial port 3, enabled and started without blocking", () => {
    const rendered = renderCloudConfig({ buildId: BUILD_ID });
    expect(rendered.startsWith("#cloud-config\n")).to.equal(true);
    expect(rendered).not.to.include("{{");
    expect(Buffer.byteLength(rendered)).to.be.lessThan(16 * 1024);
    const config = parsedCloudConfig({ buildId: BUILD_ID });
    const unit = writtenFile(config, UNIT_PATH).split("\n");
    expect(unit).to.include.members([
      "Type=oneshot",
      `ExecStart=/bin/bash ${START_PATH}`,
      "StandardOutput=tty",
      "StandardError=tty",
      "TTYPath=/dev/ttyS2",
      "TimeoutStartSec=infinity",
      "WantedBy=multi-user.target",
    ]);
    expect(config.write_files.find((file) => file.path === START_PATH)?.permissions).to.equal(
      "0755",
    );
    expect(config.runcmd).to.deep.equal([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", PROVISIONER_UNIT_NAME],
      ["systemctl", "start", "--no-block", PROVISIONER_UNIT_NAME],
    ]);
    const start = writtenFile(config, START_PATH);
    expect(start).to.include(`readonly build_id='${BUILD_ID}'`);
    expect(start).to.include(
      `echo "BuildProtocol: ${PROTOCOL_VERSION} build=$build_id stage=boot"`,
    );
    expect(start).to.include("readonly wait_seconds=1800");
    // The script is start.sh, line for line, with its placeholders filled in.
    const template = fs.readFileSync(path.join(ASSETS_DIR, START_SCRIPT_FILE), "utf8").split("\n");
    const lines = start.split("\n");
    expect(lines).to.have.length(template.length);
    template.forEach((line, index) => {
      if (!line.includes("{{")) expect(lines[index], `line ${index + 1}`).to.equal(line);
    });
  });

  it("rejects options that could break the YAML or the script, naming them", () => {
    expect(() => renderCloudConfig({ buildId: "a'b" })).to.throw(/buildId/);
    expect(() => renderCloudConfig({ buildId: "" })).to.throw(/buildId/);
    expect(() => renderCloudConfig({ buildId: BUILD_ID, cidataWaitSeconds: -1 })).to.throw(
      /cidataWaitSeconds/,
    );
    expect(() => renderCloudConfig({ buildId: BUILD_ID, failureShutdownSeconds: 0.5 })).to.throw(
      /failureShutdownSeconds/,
    );
  });

  describe("start script", () => {
    const { metadata, sandbox } = useSandboxes();

    /** A sandbox whose start script is the rendered one, as cloud-init writes it. */
    const withStartScript = (
      buildId: string,
      options: { cidata: boolean; wait?: number },
    ): Sandbox => {
      const box = sandbox({
        config: testConfig([
          { type: "runScript", script: "hello.sh", env: {}, allowReboot: false },
        ]),
        context: { "hello.sh": 'echo "hello from CIDATA"' },
      });
      const config = parsedCloudConfig({
        buildId,
        cidataWaitSeconds: options.wait,
        failureShutdownSeconds: 0,
      });
      fs.writeFileSync(box.machinePath(START_PATH.slice(1)), writtenFile(config, START_PATH));
      const device = box.machinePath("dev/disk/by-label/CIDATA");
      if (options.cidata) {
        fs.mkdirSync(box.machinePath("dev/disk/by-label"), { recursive: true });
        fs.writeFileSync(device, "");
      }
      fs.writeFileSync(`${box.base}/mounts.map`, `${device}\t${box.cidata}\n`);
      return box;
    };

    it("mounts CIDATA read-only and runs the provisioner on it to the end", async () => {
      const box = withStartScript(BUILD_ID, { cidata: true });
      const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
      expectWellFormedRun(result.serial, BUILD_ID, true);
      expect(result.stderr).to.equal("");
      expect(serialLines(result.serial)).to.include("BuildStatus: hello from CIDATA");
      expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
      expect(box.calls("mount")[0].args).to.deep.equal([
        "-o",
        "ro",
        "-t",
        "vfat",
        box.machinePath("dev/disk/by-label/CIDATA"),
        box.machinePath("mnt/disks/cidata"),
      ]);
      expect(fs.existsSync(box.machinePath("mnt/disks"))).to.equal(false);
      expect(fs.existsSync(box.machinePath(START_PATH.slice(1)))).to.equal(false);
    });

    it("unpacks the CIDATA tree from metadata onto a tmpfs instead of waiting for a disk", async () => {
      const box = withStartScript(BUILD_ID, { cidata: false, wait: 2 });
      // What the orchestrator puts in the metadata: base64 of a gzip'd tar of the tree.
      const archive = execFileSync("tar", ["-czf", "-", "-C", box.cidata, "."]);
      metadata.setAttribute(INLINE_CIDATA_METADATA_KEY, archive.toString("base64"));
      // The real tmpfs is a stand-in directory here: the mount stub only records tmpfs mounts.
      fs.rmSync(box.cidata, { recursive: true });
      try {
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        expectWellFormedRun(result.serial, BUILD_ID, true);
        expect(serialLines(result.serial)).to.include("BuildStatus: hello from CIDATA");
        expect(serialLines(result.serial).join("\n")).not.to.include("waiting for the CIDATA disk");
        const mountPoint = box.machinePath("mnt/disks/cidata");
        // The start script's own mounts come first (the provisioner's follow).
        expect(
          box
            .calls("mount")
            .slice(0, 2)
            .map((c) => c.args),
        ).to.deep.equal([
          ["-t", "tmpfs", "-o", "mode=0700", "preloaded-cos-image-cidata", mountPoint],
          ["-o", "remount,ro", mountPoint],
        ]);
        expect(fs.existsSync(box.machinePath("run/preloaded-cos-image/cidata.b64"))).to.equal(
          false,
        );
      } finally {
        metadata.deleteAttribute(INLINE_CIDATA_METADATA_KEY);
      }
    });

    it("fails setup clearly when the CIDATA tree in metadata is damaged", async () => {
      const box = withStartScript(BUILD_ID, { cidata: false, wait: 2 });
      metadata.setAttribute(
        INLINE_CIDATA_METADATA_KEY,
        Buffer.from("not a tar archive").toString("base64"),
      );
      try {
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        expect(finalLine(result.serial)).to.match(
          /^BuildFailed: setup: could not unpack the CIDATA tree from metadata: /,
        );
        expect(box.calls("poweroff")).to.have.length(1);
      } finally {
        metadata.deleteAttribute(INLINE_CIDATA_METADATA_KEY);
      }
    });

    describe("fetching the CIDATA tree from Cloud Storage", () => {
      const storage = new FakeObjectServer();
      before(() => storage.start());
      after(() => storage.stop());
      afterEach(() => {
        metadata.deleteAttribute(FETCH_CIDATA_METADATA_KEY);
        storage.reset();
      });

      /** The tree of `box` as the orchestrator packs it, served by `storage`, named in metadata. */
      const publish = (box: Sandbox, served?: Buffer, base = storage.url): Buffer => {
        const archive = execFileSync("tar", ["-czf", "-", "-C", box.cidata, "."]);
        storage.objects.set("/storage/v1/b/scratch/o/pci%2Ftree.tar.gz", served ?? archive);
        const digest = crypto.createHash("sha256").update(archive).digest("hex");
        metadata.setAttribute(
          FETCH_CIDATA_METADATA_KEY,
          `${base}/storage/v1/b/scratch/o/pci%2Ftree.tar.gz?alt=media ${archive.length} ${digest}`,
        );
        return archive;
      };

      it("fetches it with the service-account token, checks size and digest, and runs from a tmpfs", async () => {
        const box = withStartScript(BUILD_ID, { cidata: false, wait: 2 });
        const archive = publish(box);
        fs.rmSync(box.cidata, { recursive: true });
        // The orchestrator's upload is still under way when the VM asks first.
        storage.notYet = 2;
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        expectWellFormedRun(result.serial, BUILD_ID, true);
        const lines = serialLines(result.serial);
        expect(lines).to.include(
          `BuildStatus: CIDATA tree fetched from Cloud Storage (${archive.length} bytes, sha256 verified)`,
        );
        expect(lines).to.include("BuildStatus: hello from CIDATA");
        expect(lines.join("\n")).not.to.include("waiting for the CIDATA disk");
        expect(storage.requests.map((r) => r.authorization)).to.deep.equal([
          `Bearer ${metadata.token}`,
          `Bearer ${metadata.token}`,
          `Bearer ${metadata.token}`,
        ]);
        expect(result.serial).not.to.include(metadata.token);
        const mountPoint = box.machinePath("mnt/disks/cidata");
        expect(box.calls("mount")[0].args).to.deep.equal([
          "-t",
          "tmpfs",
          "-o",
          "mode=0700",
          "preloaded-cos-image-cidata",
          mountPoint,
        ]);
        for (const left of ["cidata.tar.gz", "token.json", "cidata-fetch"])
          expect(fs.existsSync(box.machinePath(`run/preloaded-cos-image/${left}`)), left).to.equal(
            false,
          );
      });

      it("says why on serial port 3 and takes the CIDATA disk when the token is refused", async () => {
        const box = withStartScript(BUILD_ID, { cidata: true, wait: 2 });
        publish(box);
        storage.refuse = true;
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        expect(serialLines(result.serial)).to.include(
          "BuildStatus: CIDATA fetch failed: HTTP 403 from Cloud Storage; waiting for the CIDATA disk",
        );
        expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
        expect(box.calls("mount")[0].args.slice(0, 4)).to.deep.equal(["-o", "ro", "-t", "vfat"]);
      });

      it("refuses a tampered object (size or digest differ) and takes the CIDATA disk", async () => {
        const box = withStartScript(BUILD_ID, { cidata: true, wait: 2 });
        const archive = publish(box, Buffer.from("tampered"));
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        const digest = crypto.createHash("sha256").update(archive).digest("hex");
        const tampered = crypto.createHash("sha256").update("tampered").digest("hex");
        expect(serialLines(result.serial)).to.include(
          `BuildStatus: CIDATA fetch failed: the object is 8 bytes with sha256 ${tampered}, not the ${archive.length} bytes with sha256 ${digest} announced; waiting for the CIDATA disk`,
        );
        expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
        // Nothing of the object was unpacked: the first mount is the disk's.
        expect(box.calls("mount")[0].args.slice(0, 4)).to.deep.equal(["-o", "ro", "-t", "vfat"]);
      });

      it("gives up at once without a route to Cloud Storage, and takes the CIDATA disk", async () => {
        const box = withStartScript(BUILD_ID, { cidata: true, wait: 2 });
        // Nothing listens there: the connection is refused (on GCE it would time out).
        publish(box, undefined, `http://127.0.0.1:${await FakeObjectServer.closedPort()}`);
        const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
        const failure = serialLines(result.serial).find((l) => l.includes("CIDATA fetch failed"));
        expect(failure).to.match(
          /^BuildStatus: CIDATA fetch failed: Cloud Storage unreachable \(.*(Failed to connect|Couldn't connect).*\); waiting for the CIDATA disk$/,
        );
        expect(failure).not.to.include("/o/");
        expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
      });
    });

    it("refuses a CIDATA disk of another build", async () => {
      const box = withStartScript("build-9999", { cidata: true });
      const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
      expect(finalLine(result.serial)).to.equal(
        `BuildFailed: setup: invalid config: the CIDATA disk is for build ${BUILD_ID}, but this VM runs build build-9999`,
      );
    });

    it("waits a bounded time for CIDATA, then fails and powers off", async () => {
      const box = withStartScript(BUILD_ID, { cidata: false, wait: 2 });
      const result = await box.run({ script: box.machinePath(START_PATH.slice(1)) });
      expect(serialLines(result.serial)).to.deep.equal([
        `BuildProtocol: ${PROTOCOL_VERSION} build=${BUILD_ID} stage=boot`,
        "BuildStatus: waiting for the CIDATA disk (0s of at most 2s)",
        "BuildFailed: setup: no CIDATA disk appeared within 2s",
      ]);
      expect(result.milliseconds).to.be.within(1_500, 8_000);
      expect(box.calls("poweroff")).to.have.length(1);
      expect(box.calls("mount")).to.deep.equal([]);
    });
  });
});
