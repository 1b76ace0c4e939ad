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
  const everything = ["qemu-system-x86_64", "debootstrap", "mkfs.ext4"];

  it("needs nothing more once QEMU is there and the guest image is built, root or not", async () => {
    expect(await localRunProblem(true, host(["qemu-system-x86_64"], false))).to.equal(undefined);
  });

  it("names the missing commands, their packages and the whole apt-get line", async () => {
    const problem = await localRunProblem(true, host([], true));
    expect(problem).to.include(
      "missing host command: qemu-system-x86_64. On Debian/Ubuntu: apt-get install qemu-system-x86",
    );
    expect(problem).to.include("apt-get install qemu-system-x86 qemu-utils debootstrap e2fsprogs");
  });

  it("asks for debootstrap and root when the guest image must be built first", async () => {
    const problem = await localRunProblem(false, host(["qemu-system-x86_64"], false));
    expect(problem).to.include("missing host commands: debootstrap, mkfs.ext4");
    expect(problem).to.match(/building it needs root/);
    expect(await localRunProblem(false, host(everything, true))).to.equal(undefined);
  });
});
