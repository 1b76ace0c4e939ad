import { expect } from "chai";
import { localRunProblem, type HostProbe } from "../../localEngine/localPrerequisites";

/** A host with `installed` commands, running as root or not. */
function host(installed: string[], root: boolean): HostProbe {
  return {
    findCommand: (command) =>
      Promise.resolve(installed.includes(command) ? `/usr/bin/${command}` : undefined),
    isRoot: () => root,
  };
}

describe("local run prerequisites (npm start)", () => {
  // QEMU, and mtools for the launcher's reading of grub.cfg and the kernel from the EFI partition.
  const runTime = ["qemu-system-x86_64", "qemu-img", "mtype", "mcopy"];
  const everything = [...runTime, "debootstrap", "mkfs.ext4", "mkfs.vfat", "mmd", "sgdisk"];

  it("needs nothing more once QEMU is there and the guest image is built, root or not", async () => {
    expect(await localRunProblem(true, host(runTime, false))).to.equal(undefined);
    expect(await localRunProblem(true, host(["qemu-system-x86_64"], false))).to.include(
      "missing host commands: qemu-img, mtype, mcopy",
    );
  });

  it("names the missing commands, their packages and the whole apt-get line", async () => {
    const problem = await localRunProblem(true, host([], true));
    expect(problem).to.include(
      "missing host commands: qemu-system-x86_64, qemu-img, mtype, mcopy. " +
        "On Debian/Ubuntu: apt-get install qemu-system-x86 qemu-utils mtools",
    );
    expect(problem).to.include(
      "apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs dosfstools mtools gdisk",
    );
  });

  it("asks for debootstrap and root when the guest image must be built first", async () => {
    const problem = await localRunProblem(false, host(runTime, false));
    expect(problem).to.include(
      "missing host commands: debootstrap, mkfs.ext4, mkfs.vfat, mmd, sgdisk",
    );
    expect(problem).to.include("gdisk");
    expect(problem).to.match(/building it needs root/);
    expect(await localRunProblem(false, host(everything, true))).to.equal(undefined);
  });
});
