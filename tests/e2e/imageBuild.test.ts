/**
 * A whole build for real: the dynamic provider's check and create, the real Google clients, the
 * emulator with a QEMU machine behind every instance, real cloud-init and the real provisioner on
 * the Debian stand-in for COS. Two scripts: one writes /var/lib/hello, one checks an environment
 * value full of commas and quotes against a file of the build context. The build is small and has
 * no secrets, so its CIDATA tree travels in instance metadata. Then the image file is opened with
 * debugfs, and a VM booted from the image checks itself over serial port 2.
 */
import { expect } from "chai";
import type { ImageBuildOutputs } from "../../components/provider/inputs";
import { lookUpMachineType } from "../../emulator/compute/machineTypeCatalog";
import { guestSize, type GuestSize } from "../../emulator/qemu/guestSize";
import { ext4Files, ext4List, ext4ReadFile, ext4Stat } from "./helpers/ext4Image";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import {
  buildOncePerSuite,
  E2E_PROJECT,
  E2E_ZONE,
  successfulBuild,
  type QemuCloud,
} from "./helpers/qemuCloud";
import { verificationScript, verifyOnNewVm } from "./helpers/verificationVm";

/** A value that COS Customizer's comma-separated `-env` flag could not carry. */
const TRICKY_VALUE = `a, b,,c "double" 'single' $HOME \`tick\` back\\slash = x`;
const MESSAGE = "a file of the build context\n";

const CONTEXT = {
  "hello.sh": [
    "#!/bin/bash",
    "set -euo pipefail",
    'printf "%s\\n" "$GREETING" > /var/lib/hello',
    'echo "wrote /var/lib/hello"',
    // What a user's script can read of its machine type (checked against e2-standard-2's below).
    "echo \"the build VM has $(nproc) vCPUs and $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) kB of memory\"",
    // The cleaning must remove these (cloud-init made them at boot, as sshd does on COS).
    'echo "SSH host keys of the build VM: $(cd /etc/ssh && echo ssh_host_*)"',
    "",
  ].join("\n"),
  "check-env.sh": [
    "#!/bin/bash",
    "set -euo pipefail",
    'expected="$(cat expected/tricky.txt)"',
    'if [[ "$TRICKY" != "$expected" ]]; then',
    '  echo "TRICKY is <$TRICKY>, expected <$expected>" >&2',
    "  exit 1",
    "fi",
    "mkdir -p /var/lib/pci-e2e",
    'printf "%s" "$TRICKY" > /var/lib/pci-e2e/tricky',
    "cp data/message.txt /var/lib/pci-e2e/message.txt",
    'echo "the environment value matches the build context"',
    "",
  ].join("\n"),
  "expected/tricky.txt": TRICKY_VALUE,
  "data/message.txt": MESSAGE,
};

/**
 * The vCPUs and memory a guest of machine type `name` boots with here (its type's, capped by this
 * host: emulator/qemu/guestSize.ts), and a check of what `nproc` and `/proc/meminfo` show of them.
 */
function sizeOf(name: string): GuestSize {
  const found = lookUpMachineType(name, E2E_ZONE);
  if (!("shape" in found)) throw new Error(found.error);
  return guestSize(found.shape);
}

/**
 * `MemTotal` is what QEMU's `-m` gives less what the kernel keeps for itself (its image, reserved
 * ranges): a little under the size, never over it.
 */
function expectMemTotal(kB: number, size: GuestSize, what: string): void {
  const given = size.memoryMiB * 1024;
  expect(kB, `${what}: MemTotal of -m ${size.memoryMiB}`).to.be.within(given * 0.9, given);
}

describe("e2e: a build with two scripts, through the dynamic provider, on QEMU guests", function () {
  const build = buildOncePerSuite("hello", CONTEXT, {
    steps: [
      { runScript: { script: "hello.sh", env: { GREETING: "hello, world" } } },
      { runScript: { script: "check-env.sh", env: { TRICKY: TRICKY_VALUE } } },
    ],
    imageFamily: "hello-cos",
  });
  let cloud: QemuCloud | undefined;
  let outs: ImageBuildOutputs;
  let imageFile: string;

  before(() => ({ cloud, outs, imageFile } = successfulBuild(build())));

  it("sent the CIDATA tree in instance metadata (a small build without secrets): no disk", () => {
    const { emulator, progress } = cloud!;
    expect(progress.some((line) => line.startsWith("the CIDATA tree travels in instance metadata")))
      .to.be.true;
    expect(emulator.requestLog.count("compute.instances.attachDisk"), "disks attached").to.equal(0);
    expect(emulator.requestLog.count("compute.images.insert"), "only the output image").to.equal(1);
  });

  it("reports the image, ran both steps in order, and leaves nothing temporary", () => {
    const { emulator, progress } = cloud!;
    expect(outs.imageSelfLink).to.equal(
      `https://www.googleapis.com/compute/v1/projects/${E2E_PROJECT}/global/images/${outs.imageName}`,
    );
    expect(outs.sourceImage).to.match(/^projects\/cos-cloud\/global\/images\/cos-stable-local-/);
    expect(outs.imageFamily).to.equal("hello-cos");
    const wrote = progress.indexOf("| wrote /var/lib/hello");
    const matched = progress.indexOf("| the environment value matches the build context");
    expect(wrote, progress.join("\n")).to.be.greaterThan(-1);
    expect(matched, "the second script's line, after the first's").to.be.greaterThan(wrote);
    expect(progress.filter((line) => /^\| step \d\/2 .*: started$/.test(line))).to.deep.equal([
      "| step 1/2 runScript hello.sh: started",
      "| step 2/2 runScript check-env.sh: started",
    ]);
    const sized = /^\| the build VM has (\d+) vCPUs and (\d+) kB of memory$/.exec(
      progress.find((line) => line.startsWith("| the build VM has")) ?? "",
    );
    expect(sized, progress.join("\n")).to.not.equal(null);
    const buildVm = sizeOf("e2-standard-2");
    expect(Number(sized![1]), "nproc of the e2-standard-2 build VM").to.equal(buildVm.cpus);
    expectMemTotal(Number(sized![2]), buildVm, "the e2-standard-2 build VM");
    expect(imageFile, "the output image has a file").to.match(/\.raw$/);
    expectNoTemporaries(emulator, [outs.imageName]);
  });

  it("holds the customization in the image file", async () => {
    expect(await ext4ReadFile(imageFile, "/var/lib/hello")).to.equal("hello, world\n");
    expect(await ext4ReadFile(imageFile, "/var/lib/pci-e2e/tricky")).to.equal(TRICKY_VALUE);
    expect(await ext4ReadFile(imageFile, "/var/lib/pci-e2e/message.txt")).to.equal(MESSAGE);
  });

  it("keeps no trace of the build in the image file (provisioner-assets/lib/clean.sh)", async () => {
    const absent = [
      "/var/lib/.preloaded-cos-image", // provisioner state and the copied build context
      "/etc/systemd/system/preloaded-cos-image.service",
      "/etc/systemd/system/multi-user.target.wants/preloaded-cos-image.service",
      "/etc/preloaded-cos-image",
      "/var/lib/systemd/random-seed",
      "/root/.bash_history",
    ];
    for (const path of absent) expect(await ext4Stat(imageFile, path), path).to.equal(undefined);
    const emptied = ["/var/lib/cloud", "/var/log/journal", "/tmp", "/var/tmp"];
    for (const path of emptied) expect(await ext4List(imageFile, path), path).to.deep.equal([]);
    expect(cloud!.progress, "the build VM had host keys").to.include(
      "| SSH host keys of the build VM: ssh_host_ed25519_key ssh_host_ed25519_key.pub",
    );
    const sshEntries = (await ext4List(imageFile, "/etc/ssh")).map((entry) => entry.name);
    expect(
      sshEntries.filter((name) => name.startsWith("ssh_host_")),
      "SSH host keys",
    ).to.be.empty;
    expect((await ext4Stat(imageFile, "/etc/machine-id"))?.size, "machine-id").to.equal(0);
    const cidata = await ext4Stat(imageFile, "/mnt/disks/cidata");
    if (cidata) expect(await ext4List(imageFile, "/mnt/disks/cidata")).to.deep.equal([]);

    // Every log is empty, but wtmp: systemd records the shutdown there after the provisioner has
    // cleaned (utmp records of boot and shutdown, 384 bytes each, no build output).
    const logs = await ext4Files(imageFile, "/var/log");
    const written = logs.filter((log) => log.size > 0 && log.path !== "/var/log/wtmp");
    expect(written, "log files with content").to.deep.equal([]);
    const wtmp = logs.find((log) => log.path === "/var/log/wtmp");
    expect((wtmp?.size ?? 0) % 384, "wtmp holds whole utmp records").to.equal(0);
  });

  it("boots a VM from the image whose verification unit sees the customization (serial port 2)", async () => {
    const expectedTricky = Buffer.from(TRICKY_VALUE).toString("base64");
    // verifyOnNewVm's machine type.
    const verifier = sizeOf("e2-small");
    const result = await verifyOnNewVm(
      cloud!,
      outs.imageSelfLink,
      "verify-hello",
      verificationScript(
        [
          '[[ "$(cat /var/lib/hello)" == "hello, world" ]] || fail "/var/lib/hello: $(cat /var/lib/hello)"',
          `[[ "$(cat /var/lib/pci-e2e/tricky)" == "$(echo ${expectedTricky} | base64 -d)" ]] || fail "tricky value differs"`,
          '[[ ! -e /var/lib/.preloaded-cos-image ]] || fail "the provisioner state is in the image"',
          'if systemctl cat preloaded-cos-image.service >/dev/null 2>&1; then fail "the provisioner unit is in the image"; fi',
          '[[ -s /etc/machine-id ]] || fail "no machine id of its own"',
          '[[ -s /etc/ssh/ssh_host_ed25519_key ]] || fail "no SSH host key of its own"',
          'echo "TestStatus: machine id $(cat /etc/machine-id)"',
          `[[ "$(nproc)" == "${verifier.cpus}" ]] || fail "nproc is $(nproc), not ${verifier.cpus}"`,
          "echo \"TestStatus: memory $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) kB\"",
        ].join("\n"),
      ),
    );
    expect(result.verdict, result.port2).to.equal("TestPass");
    expect(result.port2).to.include("TestStatus: verifying the image");
    const memory = /^TestStatus: memory (\d+) kB$/m.exec(result.port2);
    expect(memory, result.port2).to.not.equal(null);
    expectMemTotal(Number(memory![1]), verifier, "the e2-small verification VM");
    expect(result.port3, "the provisioner did not start again").to.not.include("BuildProtocol");
    expectNoTemporaries(cloud!.emulator, [outs.imageName]);
  });
});
