/**
 * A build whose second script fails, on a real guest: the provider's error names the step and the
 * script's exit status, carries the end of serial port 3, and every temporary is gone.
 */
import { expect } from "chai";
import { expectNoTemporaries } from "../orchestration/buildHarness";
import { buildOncePerSuite } from "./helpers/qemuCloud";

const CONTEXT = {
  "ok.sh": 'echo "the first step works"\n',
  "broken.sh": 'echo "about to fail"\nexit 7\n',
};

describe("e2e: a build whose script fails, on QEMU guests", function () {
  const build = buildOncePerSuite("broken", CONTEXT, {
    steps: [{ runScript: { script: "ok.sh" } }, { runScript: { script: "broken.sh" } }],
  });

  it("fails with an error that names the step, the exit status and the script's last words", () => {
    const { failure } = build();
    expect(failure, "the build failed").to.be.instanceOf(Error);
    const message = failure!.message;
    expect(message).to.match(
      /^the image build failed in step 2\/2 runScript broken\.sh: the script exited with status 7\n/,
    );
    expect(message).to.include("| BuildStatus: about to fail");
  });

  it("leaves no VM, disk, image or object behind", () => {
    const { cloud } = build();
    expectNoTemporaries(cloud.emulator, []);
    expect(cloud.machineRuns, "the build VM's machine has ended").to.have.length(1);
  });
});
