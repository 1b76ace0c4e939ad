import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  ACK_METADATA_KEY,
  PROTOCOL_VERSION,
  type ProvisionerConfig,
} from "../../components/guest/protocol";
import { renderProvisionerConfig } from "../../components/guest/provisionerConfig";
import { FIXTURES_DIR } from "./harness/paths";

/** A config with every step type and values that need care. */
const EVERY_STEP: ProvisionerConfig = {
  protocol: PROTOCOL_VERSION,
  buildId: "build-2024.06_x",
  ackKey: ACK_METADATA_KEY,
  ackTimeoutSeconds: 600,
  failureShutdownSeconds: 300,
  diskSizeGb: 11,
  diskResizeTimeoutSeconds: 600,
  steps: [
    {
      type: "runScript",
      script: "scripts/install me.sh",
      env: {
        Path: "lower and upper case names are values, not file names",
        PATH_EXTRA: "/opt/bin:/usr/bin",
        COMMAS: "a,b,,c",
        QUOTES: `'single' "double" \`back\``,
        DOLLAR: "$HOME ${X} $(id)",
        BACKSLASH: "\\n is not a newline \\",
        NEWLINES: "\nfirst\nsecond\n\n",
        CONTROL: "tab\there\rcr\u0001\u001f",
        UNICODE: "ünïcödé ✓ 日本 🚀",
        EMPTY: "",
      },
      allowReboot: true,
    },
    { type: "runScript", script: "plain.sh", env: {}, allowReboot: false },
    {
      type: "installGpuDriver",
      version: "535.183.01",
      md5sum: "0123456789abcdef0123456789ABCDEF",
      installDir: "/var/lib/nvidia",
      depsDir: "",
    },
    {
      type: "preloadImages",
      images: ["nginx:1.27", "us-docker.pkg.dev/p/r/app@sha256:" + "b".repeat(64)],
      runtimes: ["containerd", "docker"],
      useServiceAccount: false,
      credentials: [
        { registry: "ghcr.io", username: "robot", password: "p,a\"s's\nword" },
        { registry: "registry.example.com:5000", username: "", password: "" },
      ],
    },
    { type: "preloadImages", images: [], runtimes: [], useServiceAccount: true, credentials: [] },
    { type: "disableAutoUpdate" },
    { type: "extendOemPartition", sizeBytes: 2 * 1024 ** 3 },
    { type: "sealOemPartition" },
    { type: "reclaimRootPartition" },
  ],
};

/** Writes the rendered files under a fresh directory; returns the CIDATA root. */
function writeTree(config: ProvisionerConfig): string {
  const cidata = fs.mkdtempSync(path.join(os.tmpdir(), "pci-config-"));
  for (const file of renderProvisionerConfig(config)) {
    fs.mkdirSync(path.dirname(path.join(cidata, file.path)), { recursive: true });
    fs.writeFileSync(path.join(cidata, file.path), file.content);
  }
  return cidata;
}

/** Reads a config tree back with the provisioner's own bash loaders. */
function dump(cidata: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    "bash",
    [path.join(FIXTURES_DIR, "dump-config.sh"), path.join(cidata, "config")],
    {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" },
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("provisioner config", () => {
  const trees: string[] = [];
  afterEach(() =>
    trees.splice(0).forEach((tree) => fs.rmSync(tree, { recursive: true, force: true })),
  );

  it("round-trips every step type through the provisioner's bash loaders", () => {
    const tree = writeTree(EVERY_STEP);
    trees.push(tree);
    const result = dump(tree);
    expect(result.stderr).to.equal("");
    expect(result.status).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.equal(EVERY_STEP);
  });

  it("uses only fixed lowercase file names under config/, one value per file, no newline added", () => {
    const files = renderProvisionerConfig(EVERY_STEP);
    for (const file of files) expect(file.path).to.match(/^config\/[a-z0-9/-]+$/);
    expect(new Set(files.map((file) => file.path.toLowerCase())).size).to.equal(files.length);
    expect(files).to.deep.include({ path: "config/steps/0/env/0/name", content: "Path" });
    expect(files).to.deep.include({
      path: "config/steps/0/env/6/value",
      content: "\nfirst\nsecond\n\n",
    });
    expect(files).to.deep.include({ path: "config/steps/count", content: "9" });
    expect(files).to.deep.include({ path: "config/disk-size-gb", content: "11" });
    expect(files).to.deep.include({ path: "config/disk-resize-timeout-seconds", content: "600" });
  });

  it("rejects values the provisioner could not read back, naming the field", () => {
    const withEnv = (env: Record<string, string>): ProvisionerConfig => ({
      ...EVERY_STEP,
      steps: [{ type: "runScript", script: "s.sh", env, allowReboot: false }],
    });
    expect(() => renderProvisionerConfig(withEnv({ A: "nul\0byte" }))).to.throw(
      /steps\/0\/env\/0\/value contains a NUL/,
    );
    expect(() => renderProvisionerConfig(withEnv({ "BAD-NAME": "x" }))).to.throw(
      /steps\[0\]\.env name "BAD-NAME"/,
    );
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, buildId: "has space" })).to.throw(
      /buildId/,
    );
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, ackKey: "a/b" })).to.throw(/ackKey/);
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, ackTimeoutSeconds: -1 })).to.throw(
      /ackTimeoutSeconds/,
    );
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, failureShutdownSeconds: 1.5 })).to.throw(
      /failureShutdownSeconds/,
    );
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, diskSizeGb: 10.5 })).to.throw(
      /diskSizeGb must be a whole number/,
    );
    expect(() => renderProvisionerConfig({ ...EVERY_STEP, diskResizeTimeoutSeconds: -1 })).to.throw(
      /diskResizeTimeoutSeconds must be a whole number/,
    );
  });

  it("makes the bash loader name a malformed file", () => {
    const tree = writeTree(EVERY_STEP);
    trees.push(tree);
    fs.writeFileSync(path.join(tree, "config", "steps", "1", "allow-reboot"), "yes");
    const result = dump(tree);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.equal(
      "dump: invalid config: steps/1/allow-reboot is neither true nor false\n",
    );
    fs.rmSync(path.join(tree, "config", "ack-timeout-seconds"));
    expect(dump(tree).stderr).to.equal("dump: invalid config: missing ack-timeout-seconds\n");
    fs.writeFileSync(path.join(tree, "config", "ack-timeout-seconds"), "600");
    fs.writeFileSync(path.join(tree, "config", "disk-size-gb"), "11 GB");
    expect(dump(tree).stderr).to.equal(
      "dump: invalid config: disk-size-gb is not a whole number\n",
    );
  });
});
