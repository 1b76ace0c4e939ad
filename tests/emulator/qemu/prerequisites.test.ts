import { expect } from "chai";
import { findCommand, requireCommands } from "../../../emulator/qemu/prerequisites";
import { missingCommandsMessage } from "../../../emulator/qemu/prerequisites";

describe("prerequisites", () => {
  it("names the Debian package of each missing command, once per package", () => {
    expect(missingCommandsMessage(["qemu-system-x86_64", "debugfs", "mkfs.ext4"])).to.equal(
      "missing host commands: qemu-system-x86_64, debugfs, mkfs.ext4. On Debian/Ubuntu: apt-get install qemu-system-x86 e2fsprogs",
    );
    expect(missingCommandsMessage(["debootstrap"])).to.equal(
      "missing host command: debootstrap. On Debian/Ubuntu: apt-get install debootstrap",
    );
  });

  it("finds installed commands and fails on missing ones with that message", async () => {
    expect(await findCommand("sh")).to.match(/\/sh$/);
    expect(await findCommand("no-such-command-pci")).to.equal(undefined);
    let error: unknown;
    await requireCommands(["sh", "no-such-command-pci"]).catch(
      (caught: unknown) => (error = caught),
    );
    expect((error as Error).message).to.equal(
      "missing host command: no-such-command-pci. On Debian/Ubuntu: apt-get install no-such-command-pci",
    );
  });
});
