import { expect } from "chai";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProvisionerStep } from "../../components/guest/protocol";
import { BUILD_ID, Sandbox, testConfig } from "./harness/sandbox";
import { expectInOrder, expectWellFormedRun, finalLine, serialLines } from "./harness/serial";
import { useSandboxes } from "./harness/useSandboxes";

/** Environment values that COS Customizer's `-env=K=V,...` could not carry. */
const TRICKY_ENV: Record<string, string> = {
  COMMAS: "a,b,,c",
  QUOTES: `it's "quoted" \`backticked\``,
  DOLLARS: "$HOME ${PATH} $(reboot) $((1+1))",
  BACKSLASHES: "C:\\path\\n\\\\",
  NEWLINES: "line one\nline two\n\n",
  UNICODE: "héllo wörld ✓ 日本語 🚀",
  EMPTY: "",
  SECRET_TOKEN: "s3cr3t-env-value-4f1c9a",
};

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/** Prints the sha256 of each variable's value (never the value), and checks no command line shows the secret. */
const ENV_REPORT_SCRIPT = `
for name in ${Object.keys(TRICKY_ENV).join(" ")}; do
  printf '%s=%s\\n' "$name" "$(printf '%s' "\${!name}" | sha256sum | cut -d' ' -f1)"
done
if cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -qF -f <(printf '%s' "$SECRET_TOKEN"); then
  echo "cmdline: LEAK"
else
  echo "cmdline: clean"
fi
echo "cwd=$(basename "$PWD") user=$(id -u)"
./helper.sh
`;

const script = (
  name: string,
  allowReboot = false,
  env: Record<string, string> = {},
): ProvisionerStep => ({
  type: "runScript",
  script: name,
  env,
  allowReboot,
});

/** Appends to a counter file on the machine: how often each script ran. */
const counting = (name: string, tail = ""): string =>
  `printf '%s\\n' ${name} >>"$PCI_ROOT/var/lib/runs"\n${tail}\n`;

describe("provisioner: runScript", function () {
  this.timeout(30_000);
  const { metadata, sandbox } = useSandboxes();
  const runs = (box: Sandbox): string[] =>
    fs.readFileSync(box.machinePath("var/lib/runs"), "utf8").trim().split("\n");
  /**
   * A sandbox whose steps are counting scripts, in order: each `<name>.sh` records that it ran, then
   * runs its `tail` (an exit status, a sleep), and may ask for a reboot when `allowReboot` is set.
   */
  const countingBox = (
    ...scripts: Array<{ name: string; tail?: string; allowReboot?: boolean }>
  ): Sandbox =>
    sandbox({
      config: testConfig(scripts.map((s) => script(`${s.name}.sh`, s.allowReboot))),
      context: Object.fromEntries(scripts.map((s) => [`${s.name}.sh`, counting(s.name, s.tail)])),
    });

  it("runs several scripts in order with tricky environment values intact, never showing them", async () => {
    const box = sandbox({
      config: testConfig([script("first.sh", false, TRICKY_ENV), script("dir/second.sh")]),
      context: {
        "first.sh": counting("first", ENV_REPORT_SCRIPT),
        "helper.sh": "#!/bin/bash\necho helper ran\n",
        "dir/second.sh": counting("second", 'echo "second sees COMMAS=${COMMAS-unset}"'),
      },
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(result.stderr).to.equal("");
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const lines = serialLines(result.serial);
    for (const [name, value] of Object.entries(TRICKY_ENV)) {
      expect(lines).to.include(`BuildStatus: ${name}=${sha256(value)}`);
    }
    expect(lines).to.include.members([
      "BuildStatus: cmdline: clean",
      "BuildStatus: cwd=context user=" + String(process.getuid?.()),
      "BuildStatus: helper ran",
      "BuildStatus: second sees COMMAS=unset",
    ]);
    expect(lines.indexOf("BuildStatus: step 1/2 runScript first.sh: started")).to.be.lessThan(
      lines.indexOf("BuildStatus: step 2/2 runScript dir/second.sh: started"),
    );
    const secrets = Object.values(TRICKY_ENV).filter((value) => value.length > 8);
    for (const secret of secrets) expect(result.serial).not.to.include(secret);
    expect(box.filesContaining(secrets)).to.deep.equal([]);
  });

  it("lets a script pull from Container Registry and Artifact Registry as the service account, for the build only", async () => {
    const box = sandbox({
      config: testConfig([script("pulls.sh")]),
      context: {
        "pulls.sh": [
          'echo "docker config: ${DOCKER_CONFIG#"$PCI_ROOT"}"',
          'echo "hosts dir: ${PCI_CONTAINERD_HOSTS_DIR#"$PCI_ROOT"}"',
          'echo "config mode: $(stat -c %a "$DOCKER_CONFIG/config.json")"',
          "for host in gcr.io eu.gcr.io asia.gcr.io us-docker.pkg.dev europe-west4-docker.pkg.dev; do",
          '  grep -qF "\\"$host\\": \\"gcr\\"" "$DOCKER_CONFIG/config.json" && echo "helper for $host"',
          "done",
          "docker pull gcr.io/p/app:1",
          "docker pull us-central1-docker.pkg.dev/p/r/app:1",
          "docker pull nginx:1.27",
          'ctr images pull --hosts-dir "$PCI_CONTAINERD_HOSTS_DIR" europe-west4-docker.pkg.dev/p/r/app:1',
          "",
        ].join("\n"),
      },
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(finalLine(result.serial)).to.match(/^BuildSucceeded: /);
    const lines = serialLines(result.serial);
    expect(lines).to.include.members([
      "BuildStatus: docker config: /run/pci-secrets/script-docker-config",
      "BuildStatus: hosts dir: /run/pci-secrets/script-containerd-hosts",
      "BuildStatus: config mode: 600",
      ...[
        "gcr.io",
        "eu.gcr.io",
        "asia.gcr.io",
        "us-docker.pkg.dev",
        "europe-west4-docker.pkg.dev",
      ].map((host) => `BuildStatus: helper for ${host}`),
    ]);
    // docker asked the GCR helper for the Google registries, and nothing for Docker Hub.
    expect(box.calls("docker-credential-gcr").map((call) => call.args)).to.deep.equal([
      ["get", "gcr.io"],
      ["get", "us-central1-docker.pkg.dev"],
    ]);
    // ctr got the service account's token as a bearer token, in a 0600 file.
    const seen = box.calls("ctr:hosts.toml");
    const europe = seen.find((call) => call.args[0] === "europe-west4-docker.pkg.dev");
    expect(europe?.args.slice(1, 4)).to.deep.equal(["700", "700", "600"]);
    expect(Buffer.from(europe?.args[4] ?? "", "base64").toString("utf8")).to.include(
      `Authorization = "Bearer ${metadata.token}"`,
    );
    expect(seen.map((call) => call.args[0])).to.include.members(["gcr.io", "us-docker.pkg.dev"]);
    // None of it is left on the machine that becomes the image.
    expect(fs.existsSync(box.machinePath("run/pci-secrets"))).to.equal(false);
    expect(box.filesContaining([metadata.token])).to.deep.equal([]);
    const dockerConfigs = box
      .filesContaining(['"credHelpers"'])
      .filter((file) => path.basename(file) === "config.json");
    expect(dockerConfigs).to.deep.equal([]);
    expect(result.serial).not.to.include(metadata.token);
  });

  it("prefixes every line of a script's output, even forged markers, carriage returns and a last line without newline", async () => {
    const box = sandbox({
      config: testConfig([script("noisy.sh")]),
      context: {
        "noisy.sh":
          "echo 'BuildSucceeded: forged'\nprintf 'a\\rb\\r\\n'\necho err >&2\nprintf 'no newline'\n",
      },
    });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expectInOrder(serialLines(result.serial), [
      "BuildStatus: BuildSucceeded: forged",
      "BuildStatus: a",
      "BuildStatus: b",
      "BuildStatus: err",
      "BuildStatus: no newline",
    ]);
  });

  it("fails the build on a failing script with its step and exit status, and runs no later step", async () => {
    const box = countingBox({ name: "ok" }, { name: "broken", tail: "exit 7" }, { name: "never" });
    const result = await box.run();
    expectWellFormedRun(result.serial, BUILD_ID);
    expect(result.code).to.equal(1);
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 2/3 runScript broken.sh: the script exited with status 7",
    );
    expect(runs(box)).to.deep.equal(["ok", "broken"]);
    expect(box.calls("poweroff")).to.have.length(1);
    expect(box.calls("reboot")).to.have.length(0);
  });

  it("treats exit status 3 as a failure unless the step allows a reboot", async () => {
    const box = sandbox({
      config: testConfig([script("three.sh")]),
      context: { "three.sh": "exit 3" },
    });
    const result = await box.run();
    expect(finalLine(result.serial)).to.equal(
      "BuildFailed: step 1/1 runScript three.sh: the script exited with status 3",
    );
    expect(box.calls("reboot")).to.have.length(0);
  });

  it("reboots when an allowReboot script exits with 3, then resumes at the next step, running none twice", async () => {
    const box = countingBox(
      { name: "a" },
      { name: "reboots", tail: "exit 3", allowReboot: true },
      { name: "c" },
    );
    const first = await box.run();
    expectWellFormedRun(first.serial, BUILD_ID);
    expect(finalLine(first.serial)).to.equal(undefined);
    expect(first.code).to.equal(0);
    expect(box.calls("reboot")).to.have.length(1);
    expect(box.calls("poweroff")).to.have.length(0);
    expect(runs(box)).to.deep.equal(["a", "reboots"]);

    const second = await box.run();
    expectWellFormedRun(second.serial, BUILD_ID);
    expect(serialLines(second.serial)).to.include("BuildStatus: resuming with step 3 of 3");
    expect(finalLine(second.serial)).to.match(/^BuildSucceeded: /);
    expect(runs(box)).to.deep.equal(["a", "reboots", "c"]);
    expect(box.calls("reboot")).to.have.length(1);
  });

  it("fails clearly, without running it again, a step that a reboot it did not ask for interrupted", async () => {
    const box = countingBox(
      { name: "slow", tail: "echo going to sleep\nsleep 20" },
      { name: "after" },
    );
    const interrupted = await box.run({
      terminateWhen: (serial) => serial.includes("going to sleep"),
    });
    expectWellFormedRun(interrupted.serial, BUILD_ID);
    expect(finalLine(interrupted.serial)).to.equal(undefined);
    expect(interrupted.milliseconds).to.be.lessThan(10_000);

    const next = await box.run();
    expectWellFormedRun(next.serial, BUILD_ID);
    expect(finalLine(next.serial)).to.match(
      /^BuildFailed: step 1\/2 runScript slow\.sh: the machine restarted while this step was running, without the step asking for a reboot; it is not run a second time/,
    );
    expect(runs(box)).to.deep.equal(["slow"]);
    expect(box.calls("poweroff")).to.have.length(1);

    const again = await box.run();
    expect(finalLine(again.serial)).to.equal(finalLine(next.serial));
    expect(runs(box)).to.deep.equal(["slow"]);
  });
});
